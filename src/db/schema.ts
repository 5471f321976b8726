import type { ColumnType, Generated } from 'kysely';

/** Postgres returns int8 as string (pg's default; exact for bigint positions). */
type Int8 = ColumnType<string, string | bigint | number, string | bigint | number>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;
/** a timestamp the database fills in when omitted */
type DefaultedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;

// ---- core tables (schema public) ----

export interface UsersTable {
  sub: Generated<number>;
  email: string;
  name: string;
  password_hash: string;
  organisation_id: string;
  staff_role: string | null;
  /** the revision of `user-<sub>` that staff_role reflects (null: never changed) */
  staff_revision: Int8 | null;
  created_at: DefaultedTimestamp;
  given_name: string | null;
  family_name: string | null;
  picture: string | null;
  email_verified: Generated<boolean>;
  /** a `date`: select it as text (to_char … 'YYYY-MM-DD'), pg would parse it in local time */
  birth_date: ColumnType<Date | null, string | null | undefined, string | null>;
  /** ISO 3166-1 alpha-2 */
  country: string | null;
}

export interface SessionsTable {
  id_hash: string;
  user_sub: number;
  created_at: DefaultedTimestamp;
  expires_at: Timestamp;
  ip: string | null;
  user_agent: string | null;
}

export interface AuthDenialsTable {
  request_id: string;
  at: Timestamp;
  client_id: string | null;
  domain: string | null;
  ip: string | null;
  endpoint: string;
  secret_sha256: string | null;
  reason: string;
  status: number;
  position: string | null;
}

/** denials per (client or '' for unknown ids, minute, reason, caller network); `sampled` of them in auth_denials */
export interface AuthDenialCountsTable {
  client_id: string;
  minute: Timestamp;
  reason: string;
  ip: string;
  count: Int8;
  sampled: Int8;
}

export interface AuthAllowCountsTable {
  client_id: string;
  domain_id: string;
  minute: Timestamp;
  count: Int8;
}

export interface AddressesTable {
  address_id: string;
  user_sub: number;
  label: string | null;
  name: string;
  company: string | null;
  street: string;
  house_number: string | null;
  addition: string | null;
  postal_code: string | null;
  city: string;
  state: string | null;
  /** ISO 3166-1 alpha-2 */
  country: string;
  phone: string | null;
  is_default: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type SignInTokenStatus = 'pending' | 'approved' | 'denied' | 'used' | 'void';

export interface SignInTokensTable {
  /** SHA-256 (hex) of the token; the token itself is never stored */
  token_hash: string;
  client_id: string;
  domain_id: string;
  redirect_url: string;
  status: SignInTokenStatus;
  user_sub: number | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  approved_at: Timestamp | null;
  used_at: Timestamp | null;
}

export interface ServerKeysTable {
  name: string;
  key: string;
  created_at: DefaultedTimestamp;
}

export interface ClientUsersTable {
  client_id: string;
  user_sub: number;
  first_signed_in_at: Timestamp;
  last_signed_in_at: Timestamp;
  sign_in_count: number;
}

export interface CoreDatabase {
  users: UsersTable;
  sessions: SessionsTable;
  auth_denials: AuthDenialsTable;
  auth_allow_counts: AuthAllowCountsTable;
  auth_denial_counts: AuthDenialCountsTable;
  addresses: AddressesTable;
  signin_tokens: SignInTokensTable;
  server_keys: ServerKeysTable;
  client_users: ClientUsersTable;
}

// ---- read models (schema rm, swapped by rebuild) ----

export interface CheckpointsTable {
  projection: string;
  commit_position: Int8;
  prepare_position: Int8;
}

export interface OrganisationsTable {
  organisation_id: string;
  name: string;
  plan: string | null;
  plan_status: 'none' | 'active' | 'cancelled';
  plan_activated_at: Timestamp | null;
  plan_cancelled_at: Timestamp | null;
  created_at: Timestamp;
}

export interface MembersTable {
  organisation_id: string;
  user_sub: number;
  role: string;
  added_at: Timestamp;
}

export interface ClientsTable {
  client_id: string;
  organisation_id: string;
  name: string;
  status: 'active' | 'disabled' | 'deleted';
  created_at: Timestamp;
  updated_at: Timestamp;
  revision: Int8;
}

export interface ClientSecretsTable {
  secret_id: string;
  client_id: string;
  label: string;
  hint: string;
  secret_hash: string;
  status: 'active' | 'rotated' | 'revoked';
  expires_at: Timestamp | null;
  grace_until: Timestamp | null;
  replaced_by: string | null;
  issued_at: Timestamp;
  revoked_at: Timestamp | null;
}

export interface ClientDomainsTable {
  domain_id: string;
  client_id: string;
  domain: string;
  server_ips: Json<string[]>;
  internal_name: string | null;
  logo: string | null;
  fallback_uri: string | null;
  allow_login: boolean;
  allow_api: boolean;
  active: boolean;
  primary: boolean;
  test_mode: boolean;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SecretLinksTable {
  secret_id: string;
  domain_id: string;
  client_id: string;
  linked_at: Timestamp;
}

export interface RedirectUrisTable {
  client_id: string;
  uri: string;
  added_at: Timestamp;
}

export interface ClientScopesTable {
  client_id: string;
  scope: string;
}

export interface TestUsersTable {
  client_id: string;
  user_sub: number;
  added_at: Timestamp;
}

export interface AuditLogTable {
  commit_position: Int8;
  prepare_position: Int8;
  event_id: string;
  stream: string;
  stream_revision: Int8;
  type: string;
  client_id: string | null;
  organisation_id: string | null;
  data: Json<Record<string, unknown>>;
  actor: string;
  at: Timestamp;
  correlation_id: string;
  causation_id: string;
  request_id: string;
  ip: string | null;
  user_agent: string | null;
}

export interface TicketsTable {
  ticket_id: string;
  subject: string;
  support_group: string;
  client_id: string | null;
  status: 'open' | 'pending' | 'resolved';
  opened_by: number;
  assignee: number | null;
  last_seq: number;
  rating: number | null;
  opened_at: Timestamp;
  updated_at: Timestamp;
  first_response_at: Timestamp | null;
}

export interface TicketMessagesTable {
  ticket_id: string;
  seq: number;
  author: number;
  author_role: 'user' | 'agent';
  text: string;
  client_message_id: string;
  at: Timestamp;
}

export interface ReadModelDatabase {
  checkpoints: CheckpointsTable;
  organisations: OrganisationsTable;
  members: MembersTable;
  clients: ClientsTable;
  client_secrets: ClientSecretsTable;
  client_domains: ClientDomainsTable;
  secret_links: SecretLinksTable;
  redirect_uris: RedirectUrisTable;
  client_scopes: ClientScopesTable;
  test_users: TestUsersTable;
  audit_log: AuditLogTable;
  tickets: TicketsTable;
  ticket_messages: TicketMessagesTable;
}

/** Live read-model schema; `rebuild` builds a fresh one beside it and swaps names. */
export const READ_MODEL_SCHEMA = 'rm';
