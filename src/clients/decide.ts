import type { PlanLimits, PlanName } from '../accounts/plans.ts';
import { SCOPES, type ClientEvent, type ClientListing, type DomainSettings, type Scope } from './events.ts';
import { canonicalHost, domainLookupKey } from './domain-name.ts';
import {
  isLinked,
  linkedDomainIds,
  linkedSecretIds,
  primaryDomain,
  type ClientAggregateState,
  type ClientDomain,
  type ClientSecret,
  type ClientState,
} from './state.ts';

/**
 * The client aggregate's decisions: command + state → events, or a ClientDomainError. Pure: every
 * id, secret hash, clock reading and plan limit arrives in the command. Raw strings are validated
 * and normalised beforehand (validation.ts); here only rules about state are enforced.
 */

export const DEFAULT_SECRET_LABEL = 'Standard Key';
export const MAX_GRACE_SECONDS = 30 * 24 * 60 * 60;

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

interface At {
  /** ISO-8601 instant of the decision */
  readonly now: string;
}
interface UnderPlan {
  readonly limits: PlanLimits;
  /** named in limit messages when given */
  readonly plan?: PlanName | undefined;
}
/** A freshly generated secret: never the plaintext, only its hash and display hint. */
interface NewSecret {
  readonly secretId: string;
  readonly secretHash: string;
  readonly hint: string;
}

export interface RegisterClient extends At, NewSecret {
  readonly type: 'RegisterClient';
  readonly clientId: string;
  readonly organisationId: string;
  readonly name: string;
}
export interface RenameClient extends At {
  readonly type: 'RenameClient';
  readonly name: string;
}
export interface IssueSecret extends At, UnderPlan, NewSecret {
  readonly type: 'IssueSecret';
  /** default `Standard Key` */
  readonly label?: string | undefined;
  readonly expiresAt?: string | null | undefined;
  /** omitted: link to every current domain */
  readonly domainIds?: readonly string[] | undefined;
}
export interface RotateSecret extends At {
  readonly type: 'RotateSecret';
  readonly secretId: string;
  readonly newSecretId: string;
  readonly secretHash: string;
  readonly hint: string;
  /** 0 (default) = the old secret is rejected at once */
  readonly graceSeconds?: number | undefined;
}
export interface RevokeSecret extends At {
  readonly type: 'RevokeSecret';
  readonly secretId: string;
}
export interface LinkSecret extends At {
  readonly type: 'LinkSecret';
  readonly secretId: string;
  readonly domainId: string;
}
export interface UnlinkSecret extends At {
  readonly type: 'UnlinkSecret';
  readonly secretId: string;
  readonly domainId: string;
}
export interface AddRedirectUri extends At {
  readonly type: 'AddRedirectUri';
  readonly uri: string;
}
export interface RemoveRedirectUri extends At {
  readonly type: 'RemoveRedirectUri';
  readonly uri: string;
}
export interface AddDomain extends At, UnderPlan {
  readonly type: 'AddDomain';
  readonly domainId: string;
  readonly settings: DomainSettings;
  /** omitted: link every active secret */
  readonly secretIds?: readonly string[] | undefined;
}
export interface UpdateDomain extends At {
  readonly type: 'UpdateDomain';
  readonly domainId: string;
  /** fields absent or undefined are left as they are */
  readonly changes: { readonly [K in keyof DomainSettings]?: DomainSettings[K] | undefined };
}
export interface RemoveDomain extends At {
  readonly type: 'RemoveDomain';
  readonly domainId: string;
}
export interface ChangeScopes extends At {
  readonly type: 'ChangeScopes';
  readonly scopes: readonly Scope[];
}
export interface ChangeListing extends At {
  readonly type: 'ChangeListing';
  /** null: take the client out of the public directory */
  readonly listing: ClientListing | null;
}
export interface AddTestUser extends At {
  readonly type: 'AddTestUser';
  readonly sub: number;
}
export interface RemoveTestUser extends At {
  readonly type: 'RemoveTestUser';
  readonly sub: number;
}
export interface DisableClient extends At {
  readonly type: 'DisableClient';
}
export interface EnableClient extends At {
  readonly type: 'EnableClient';
}
export interface DeleteClient extends At {
  readonly type: 'DeleteClient';
}
/** Fences a client id whose creation died before registering (see ClientRegistrationAbandoned). */
export interface AbandonRegistration extends At {
  readonly type: 'AbandonRegistration';
  readonly clientId: string;
  readonly organisationId: string;
}

export type ClientCommand =
  | RegisterClient
  | RenameClient
  | IssueSecret
  | RotateSecret
  | RevokeSecret
  | LinkSecret
  | UnlinkSecret
  | AddRedirectUri
  | RemoveRedirectUri
  | AddDomain
  | UpdateDomain
  | RemoveDomain
  | ChangeScopes
  | ChangeListing
  | AddTestUser
  | RemoveTestUser
  | DisableClient
  | EnableClient
  | DeleteClient
  | AbandonRegistration;

export type ClientCommandType = ClientCommand['type'];

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

export type ClientErrorKind = 'not_found' | 'conflict' | 'invalid' | 'limit';

export const CLIENT_ERROR_KINDS = {
  client_not_found: 'not_found',
  client_already_exists: 'conflict',
  secret_not_found: 'not_found',
  secret_not_active: 'conflict',
  secret_already_revoked: 'conflict',
  secret_expiry_in_past: 'invalid',
  grace_period_invalid: 'invalid',
  domain_not_found: 'not_found',
  domain_already_exists: 'conflict',
  domain_conflict: 'conflict',
  primary_domain_required: 'invalid',
  redirect_uri_exists: 'conflict',
  redirect_uri_not_found: 'not_found',
  test_user_not_found: 'not_found',
  id_already_used: 'conflict',
  plan_limit_domains: 'limit',
  plan_limit_secrets: 'limit',
} as const satisfies Record<string, ClientErrorKind>;

export type ClientErrorCode = keyof typeof CLIENT_ERROR_KINDS;

const TITLES: Record<ClientErrorKind, string> = {
  not_found: 'Not found',
  conflict: 'Conflict',
  invalid: 'Invalid request',
  limit: 'Plan limit reached',
};

export class ClientDomainError extends Error {
  readonly kind: ClientErrorKind;
  readonly title: string;

  constructor(
    readonly code: ClientErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ClientDomainError';
    this.kind = CLIENT_ERROR_KINDS[code];
    this.title = TITLES[this.kind];
  }
}

const fail = (code: ClientErrorCode, message: string): never => {
  throw new ClientDomainError(code, message);
};

// ---------------------------------------------------------------------------------------------
// Decide
// ---------------------------------------------------------------------------------------------

export function decide(command: ClientCommand, state: ClientAggregateState): ClientEvent[] {
  if (command.type === 'RegisterClient') {
    if (state !== null) fail('client_already_exists', `client ${command.clientId} already exists`);
    const { clientId, organisationId, name, secretId, secretHash, hint } = command;
    return [
      { type: 'ClientRegistered', data: { clientId, organisationId, name } },
      { type: 'ClientSecretIssued', data: { secretId, label: DEFAULT_SECRET_LABEL, hint, secretHash, expiresAt: null } },
    ];
  }
  if (command.type === 'AbandonRegistration') {
    // Registered (or fenced) meanwhile: nothing to abandon; the caller reads the state.
    if (state !== null) return [];
    return [{ type: 'ClientRegistrationAbandoned', data: { clientId: command.clientId, organisationId: command.organisationId } }];
  }
  // A deleted client no longer exists for anyone.
  if (state === null || state.status === 'deleted') return fail('client_not_found', 'the client was not found');

  switch (command.type) {
    case 'RenameClient':
      if (command.name === state.name) return [];
      return [{ type: 'ClientRenamed', data: { name: command.name, previousName: state.name } }];
    case 'IssueSecret':
      return issueSecret(command, state);
    case 'RotateSecret':
      return rotateSecret(command, state);
    case 'RevokeSecret': {
      const secret = secretOf(state, command.secretId);
      if (secret.status === 'revoked') fail('secret_already_revoked', `secret ${secret.secretId} is already revoked`);
      return [{ type: 'ClientSecretRevoked', data: { secretId: secret.secretId } }];
    }
    case 'LinkSecret': {
      const secret = secretOf(state, command.secretId);
      const domain = domainOf(state, command.domainId);
      if (isLinked(state, secret.secretId, domain.domainId)) return [];
      if (secret.status === 'revoked') fail('secret_not_active', `secret ${secret.secretId} is revoked and cannot be linked`);
      return [{ type: 'SecretLinkedToDomain', data: { secretId: secret.secretId, domainId: domain.domainId } }];
    }
    case 'UnlinkSecret': {
      const secret = secretOf(state, command.secretId);
      const domain = domainOf(state, command.domainId);
      if (!isLinked(state, secret.secretId, domain.domainId)) return [];
      return [{ type: 'SecretUnlinkedFromDomain', data: { secretId: secret.secretId, domainId: domain.domainId } }];
    }
    case 'AddRedirectUri':
      if (state.redirectUris.includes(command.uri)) fail('redirect_uri_exists', `redirect URI ${command.uri} is already registered`);
      return [{ type: 'RedirectUriAdded', data: { uri: command.uri } }];
    case 'RemoveRedirectUri':
      if (!state.redirectUris.includes(command.uri)) fail('redirect_uri_not_found', `redirect URI ${command.uri} is not registered`);
      return [{ type: 'RedirectUriRemoved', data: { uri: command.uri } }];
    case 'AddDomain':
      return addDomain(command, state);
    case 'UpdateDomain':
      return updateDomain(command, state);
    case 'RemoveDomain':
      return removeDomain(command, state);
    case 'ChangeScopes': {
      const scopes = SCOPES.filter((scope) => command.scopes.includes(scope));
      const previous = SCOPES.filter((scope) => state.scopes.includes(scope));
      if (scopes.length === previous.length && scopes.every((scope) => previous.includes(scope))) return [];
      return [{ type: 'ClientScopesChanged', data: { scopes, previous } }];
    }
    case 'ChangeListing':
      return changeListing(command, state);
    case 'AddTestUser':
      if (state.testUsers.has(command.sub)) return [];
      return [{ type: 'TestUserAdded', data: { sub: command.sub } }];
    case 'RemoveTestUser':
      if (!state.testUsers.has(command.sub)) fail('test_user_not_found', `user ${command.sub} is not a test user of this client`);
      return [{ type: 'TestUserRemoved', data: { sub: command.sub } }];
    case 'DisableClient':
      return state.status === 'disabled' ? [] : [{ type: 'ClientDisabled', data: {} }];
    case 'EnableClient':
      return state.status === 'active' ? [] : [{ type: 'ClientEnabled', data: {} }];
    case 'DeleteClient':
      return [{ type: 'ClientDeleted', data: {} }];
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

function secretOf(state: ClientState, secretId: string): ClientSecret {
  return state.secrets.get(secretId) ?? fail('secret_not_found', `secret ${secretId} was not found`);
}

const isExpired = (secret: ClientSecret, now: string) => secret.expiresAt !== null && Date.parse(secret.expiresAt) <= Date.parse(now);

/** Secrets that count against the plan: active and not expired. */
function usableSecretCount(state: ClientState, now: string): number {
  return [...state.secrets.values()].filter((secret) => secret.status === 'active' && !isExpired(secret, now)).length;
}

function planName(command: UnderPlan): string {
  return command.plan ? `the ${command.plan} plan` : 'your plan';
}

function issueSecret(command: IssueSecret, state: ClientState): ClientEvent[] {
  const { secretId, secretHash, hint, now } = command;
  if (state.secrets.has(secretId)) fail('id_already_used', `secret id ${secretId} is already used`);
  const expiresAt = command.expiresAt ?? null;
  if (expiresAt !== null && !(Date.parse(expiresAt) > Date.parse(now))) {
    fail('secret_expiry_in_past', `expiresAt ${expiresAt} must be in the future`);
  }
  const limit = command.limits.secretsPerClient;
  if (usableSecretCount(state, now) >= limit) {
    fail('plan_limit_secrets', `${planName(command)} allows ${limit} active secrets per client; revoke one or upgrade`);
  }
  const domainIds = command.domainIds ? unique(command.domainIds).map((id) => domainOf(state, id).domainId) : [...state.domains.keys()];
  return [
    { type: 'ClientSecretIssued', data: { secretId, label: command.label ?? DEFAULT_SECRET_LABEL, hint, secretHash, expiresAt } },
    ...domainIds.map((domainId): ClientEvent => ({ type: 'SecretLinkedToDomain', data: { secretId, domainId } })),
  ];
}

function rotateSecret(command: RotateSecret, state: ClientState): ClientEvent[] {
  const old = secretOf(state, command.secretId);
  if (old.status !== 'active') fail('secret_not_active', `secret ${old.secretId} is ${old.status}; only an active secret can be rotated`);
  if (state.secrets.has(command.newSecretId)) fail('id_already_used', `secret id ${command.newSecretId} is already used`);
  const graceSeconds = command.graceSeconds ?? 0;
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_GRACE_SECONDS) {
    fail('grace_period_invalid', `graceSeconds must be a whole number from 0 to ${MAX_GRACE_SECONDS} (30 days)`);
  }
  const graceUntil = graceSeconds === 0 ? null : new Date(Date.parse(command.now) + graceSeconds * 1000).toISOString();
  return [
    {
      type: 'ClientSecretRotated',
      data: {
        secretId: old.secretId,
        newSecretId: command.newSecretId,
        label: old.label,
        hint: command.hint,
        secretHash: command.secretHash,
        graceSeconds,
        graceUntil,
        domainIds: linkedDomainIds(state, old.secretId),
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Domains
// ---------------------------------------------------------------------------------------------

function domainOf(state: ClientState, domainId: string): ClientDomain {
  return state.domains.get(domainId) ?? fail('domain_not_found', `domain ${domainId} was not found`);
}

/*
 * The access pipeline finds a call's domain by its lookup key (case, IDN spelling, a trailing dot
 * and a leading `www.` ignored), so two domains of one client sharing a key would leave the call
 * to whichever row it met last, with that row's IP allowlist and switches. Refuse the second one.
 * Keys are computed for the stored domains too: old streams may hold spellings from before.
 */
const keyOf = (domain: string) => domainLookupKey(domain) ?? domain.toLowerCase();

/** Refuses `domain` when another domain of the client (not `exceptId`) has its lookup key. */
function refuseSharedKey(state: ClientState, domain: string, exceptId?: string): void {
  const key = keyOf(domain);
  const clash = [...state.domains.values()].find((existing) => existing.domainId !== exceptId && keyOf(existing.domain) === key);
  if (!clash) return;
  const named = `${clash.domain} (domainId ${clash.domainId})`;
  if ((canonicalHost(clash.domain) ?? clash.domain) === (canonicalHost(domain) ?? domain)) {
    fail('domain_already_exists', `domain ${domain} is already added to this client as ${named}`);
  }
  fail(
    'domain_conflict',
    `domain ${domain} has the same lookup key as ${named}: X-Client-Domain names a domain with or without a leading "www.", in any letter case and with or without a trailing dot, so one client cannot have both; change the settings of ${clash.domain} instead`,
  );
}

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

const demote = (domain: ClientDomain): ClientEvent => ({ type: 'DomainUpdated', data: { domainId: domain.domainId, changes: { primary: false } } });

function addDomain(command: AddDomain, state: ClientState): ClientEvent[] {
  const { domainId, settings } = command;
  if (state.domains.has(domainId)) fail('id_already_used', `domain id ${domainId} is already used`);
  refuseSharedKey(state, settings.domain);
  const limit = command.limits.domainsPerClient;
  if (state.domains.size >= limit) fail('plan_limit_domains', `${planName(command)} allows ${limit} domains per client; remove one or upgrade`);

  const secretIds = command.secretIds
    ? unique(command.secretIds).map((id) => {
        const secret = secretOf(state, id);
        if (secret.status === 'revoked') fail('secret_not_active', `secret ${id} is revoked and cannot be linked`);
        return id;
      })
    : [...state.secrets.values()].filter((secret) => secret.status === 'active').map((secret) => secret.secretId);

  // The first domain is the primary one; a new primary takes over from the previous.
  const previousPrimary = primaryDomain(state);
  const primary = settings.primary || previousPrimary === undefined;
  return [
    ...(primary && previousPrimary ? [demote(previousPrimary)] : []),
    { type: 'DomainAdded', data: { domainId, ...settings, serverIps: [...settings.serverIps], primary } },
    ...secretIds.map((secretId): ClientEvent => ({ type: 'SecretLinkedToDomain', data: { secretId, domainId } })),
  ];
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => item === b[i]);
  return a === b;
}

function updateDomain(command: UpdateDomain, state: ClientState): ClientEvent[] {
  const domain = domainOf(state, command.domainId);
  const changes: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(command.changes) as [keyof DomainSettings, unknown][]) {
    if (value !== undefined && !sameValue(domain[key], value)) changes[key] = Array.isArray(value) ? [...(value as unknown[])] : value;
  }
  if (Object.keys(changes).length === 0) return [];

  if (typeof changes.domain === 'string') refuseSharedKey(state, changes.domain, domain.domainId);
  if (changes.primary === false) {
    fail('primary_domain_required', `domain ${domain.domain} is the primary domain; make another domain primary instead`);
  }
  const previousPrimary = changes.primary === true ? primaryDomain(state) : undefined;
  return [
    ...(previousPrimary ? [demote(previousPrimary)] : []),
    { type: 'DomainUpdated', data: { domainId: domain.domainId, changes: changes as Partial<DomainSettings> } },
  ];
}

function removeDomain(command: RemoveDomain, state: ClientState): ClientEvent[] {
  const domain = domainOf(state, command.domainId);
  const { domainId } = domain;
  // Keep one primary domain while any domain is left: the oldest remaining one takes over.
  const successor = domain.primary ? [...state.domains.values()].find((other) => other.domainId !== domainId) : undefined;
  return [
    ...linkedSecretIds(state, domainId).map((secretId): ClientEvent => ({ type: 'SecretUnlinkedFromDomain', data: { secretId, domainId } })),
    { type: 'DomainRemoved', data: { domainId, domain: domain.domain } },
    ...(successor ? [{ type: 'DomainUpdated', data: { domainId: successor.domainId, changes: { primary: true } } } satisfies ClientEvent] : []),
  ];
}

// ---------------------------------------------------------------------------------------------
// Public directory
// ---------------------------------------------------------------------------------------------

function changeListing(command: ChangeListing, state: ClientState): ClientEvent[] {
  const { listing } = command;
  if (listing === null) return state.listing === null ? [] : [{ type: 'ClientListingChanged', data: { listing: null } }];
  if (!primaryDomain(state)) fail('primary_domain_required', 'add a domain first: the directory links to the primary domain');
  if (state.listing !== null && JSON.stringify(state.listing) === JSON.stringify(listing)) return [];
  return [{ type: 'ClientListingChanged', data: { listing: { ...listing, categories: [...listing.categories] } } }];
}
