import type { ReadModelDatabase } from '../src/db/schema.ts';

/** A read-model table the projections write (checkpoints are the runner's). */
export type TableName = Exclude<keyof ReadModelDatabase, 'checkpoints'>;
export type ColumnOf<T extends TableName> = keyof ReadModelDatabase[T] & string;

/** Postgres types as written in a `jsonb_to_recordset(…) AS s(column type, …)` definition. */
export type ColumnType = 'text' | 'integer' | 'bigint' | 'boolean' | 'timestamptz' | 'jsonb' | 'uuid' | 'text[]';

export interface TableSpec<T extends TableName = TableName> {
  readonly key: readonly ColumnOf<T>[];
  readonly columns: { readonly [C in ColumnOf<T>]: ColumnType };
  /** an insert fills `column` when NULL from table `from`, matched on `on` (rows of earlier batches) */
  readonly lookup?: { readonly column: ColumnOf<T>; readonly from: TableName; readonly on: ColumnOf<T> };
}

/**
 * Every projected table's primary key and column types, the same as the migrations in
 * projections/migrations (a test compares them with the migrated schema). The set-based
 * statements read a batch's rows from one JSON parameter through these definitions.
 */
export const TABLES: { readonly [T in TableName]: TableSpec<T> } = {
  organisations: {
    key: ['organisation_id'],
    columns: {
      organisation_id: 'text',
      name: 'text',
      plan: 'text',
      plan_status: 'text',
      plan_activated_at: 'timestamptz',
      plan_cancelled_at: 'timestamptz',
      created_at: 'timestamptz',
    },
  },
  members: {
    key: ['organisation_id', 'user_sub'],
    columns: { organisation_id: 'text', user_sub: 'integer', role: 'text', added_at: 'timestamptz' },
  },
  clients: {
    key: ['client_id'],
    columns: {
      client_id: 'text',
      organisation_id: 'text',
      name: 'text',
      status: 'text',
      created_at: 'timestamptz',
      updated_at: 'timestamptz',
      revision: 'bigint',
    },
  },
  client_secrets: {
    key: ['secret_id'],
    columns: {
      secret_id: 'text',
      client_id: 'text',
      label: 'text',
      hint: 'text',
      secret_hash: 'text',
      status: 'text',
      expires_at: 'timestamptz',
      grace_until: 'timestamptz',
      replaced_by: 'text',
      issued_at: 'timestamptz',
      revoked_at: 'timestamptz',
    },
  },
  client_domains: {
    key: ['domain_id'],
    columns: {
      domain_id: 'text',
      client_id: 'text',
      domain: 'text',
      server_ips: 'jsonb',
      internal_name: 'text',
      logo: 'text',
      fallback_uri: 'text',
      allow_login: 'boolean',
      allow_api: 'boolean',
      active: 'boolean',
      primary: 'boolean',
      test_mode: 'boolean',
      created_at: 'timestamptz',
      updated_at: 'timestamptz',
    },
  },
  secret_links: {
    key: ['secret_id', 'domain_id'],
    columns: { secret_id: 'text', domain_id: 'text', client_id: 'text', linked_at: 'timestamptz' },
  },
  redirect_uris: {
    key: ['client_id', 'uri'],
    columns: { client_id: 'text', uri: 'text', added_at: 'timestamptz' },
  },
  client_scopes: {
    key: ['client_id', 'scope'],
    columns: { client_id: 'text', scope: 'text' },
  },
  test_users: {
    key: ['client_id', 'user_sub'],
    columns: { client_id: 'text', user_sub: 'integer', added_at: 'timestamptz' },
  },
  audit_log: {
    key: ['commit_position', 'prepare_position'],
    columns: {
      commit_position: 'bigint',
      prepare_position: 'bigint',
      event_id: 'uuid',
      stream: 'text',
      stream_revision: 'bigint',
      type: 'text',
      client_id: 'text',
      organisation_id: 'text',
      data: 'jsonb',
      actor: 'text',
      at: 'timestamptz',
      correlation_id: 'text',
      causation_id: 'text',
      request_id: 'text',
      ip: 'text',
      user_agent: 'text',
    },
    lookup: { column: 'organisation_id', from: 'audit_client_organisations', on: 'client_id' },
  },
  audit_client_organisations: {
    key: ['client_id'],
    columns: { client_id: 'text', organisation_id: 'text' },
  },
  tickets: {
    key: ['ticket_id'],
    columns: {
      ticket_id: 'text',
      subject: 'text',
      support_group: 'text',
      client_id: 'text',
      status: 'text',
      opened_by: 'integer',
      assignee: 'integer',
      last_seq: 'integer',
      rating: 'integer',
      opened_at: 'timestamptz',
      updated_at: 'timestamptz',
      first_response_at: 'timestamptz',
      tags: 'text[]',
      priority: 'text',
      rating_comment: 'text',
      rated_at: 'timestamptz',
      language: 'text',
      offline: 'boolean',
    },
  },
  ticket_messages: {
    key: ['ticket_id', 'seq'],
    columns: {
      ticket_id: 'text',
      seq: 'integer',
      author: 'integer',
      author_role: 'text',
      text: 'text',
      client_message_id: 'text',
      at: 'timestamptz',
      private: 'boolean',
    },
  },
  invitations: {
    key: ['invitation_id'],
    columns: {
      invitation_id: 'text',
      organisation_id: 'text',
      email: 'text',
      role: 'text',
      token_hash: 'text',
      invited_by: 'integer',
      invited_at: 'timestamptz',
      expires_at: 'timestamptz',
      status: 'text',
      accepted_by: 'integer',
      settled_at: 'timestamptz',
    },
  },
  support_canned: {
    key: ['canned_id'],
    columns: { canned_id: 'text', title: 'text', text_en: 'text', text_nl: 'text', updated_by: 'integer', updated_at: 'timestamptz' },
  },
  support_agents: {
    key: ['sub'],
    columns: { sub: 'integer', capacity: 'integer' },
  },
  support_hours: {
    key: ['support_group'],
    columns: { support_group: 'text', time_zone: 'text', intervals: 'jsonb' },
  },
  client_listings: {
    key: ['client_id'],
    columns: {
      client_id: 'text',
      project_id: 'bigint',
      listed: 'boolean',
      title: 'text',
      description: 'text',
      categories: 'jsonb',
      image: 'text',
      direct_redirect: 'boolean',
      published_at: 'timestamptz',
      updated_at: 'timestamptz',
    },
  },
  user_accounts: {
    key: ['user_sub'],
    columns: {
      user_sub: 'integer',
      status: 'text',
      registered_at: 'timestamptz',
      email_verified_at: 'timestamptz',
      password_changed_at: 'timestamptz',
      profile_updated_at: 'timestamptz',
      erased_at: 'timestamptz',
    },
  },
};
