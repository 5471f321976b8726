import type { ClientEvent, ClientListing, DomainSettings, Scope } from './events.ts';

/** The client aggregate's state, folded from its stream. Pure: `evolve` never mutates its input. */

export type ClientStatus = 'active' | 'disabled' | 'deleted';
export type SecretStatus = 'active' | 'rotated' | 'revoked';

export interface ClientSecret {
  readonly secretId: string;
  readonly label: string;
  readonly hint: string;
  readonly secretHash: string;
  readonly expiresAt: string | null;
  readonly status: SecretStatus;
  /** set on rotation: until when the old secret is still accepted; null = rejected at once */
  readonly graceUntil: string | null;
  /** set on rotation: the secret that replaced this one */
  readonly replacedBy: string | null;
}

export interface ClientDomain extends DomainSettings {
  readonly domainId: string;
}

export type LinkKey = `${string}:${string}`;

export interface ClientState {
  readonly clientId: string;
  readonly organisationId: string;
  readonly name: string;
  readonly status: ClientStatus;
  /** in issue order */
  readonly secrets: ReadonlyMap<string, ClientSecret>;
  /** in the order they were added */
  readonly domains: ReadonlyMap<string, ClientDomain>;
  /** `${secretId}:${domainId}` */
  readonly links: ReadonlySet<LinkKey>;
  /** in the order they were added; matched exactly */
  readonly redirectUris: readonly string[];
  readonly scopes: readonly Scope[];
  readonly testUsers: ReadonlySet<number>;
  /** null: not in the public directory */
  readonly listing: ClientListing | null;
}

/** `null` = no client on this stream yet. A deleted client keeps its state with status `deleted`. */
export type ClientAggregateState = ClientState | null;

export const initialClientState: ClientAggregateState = null;

export const linkKey = (secretId: string, domainId: string): LinkKey => `${secretId}:${domainId}`;

export function isLinked(state: ClientState, secretId: string, domainId: string): boolean {
  return state.links.has(linkKey(secretId, domainId));
}

/** Domain ids linked to a secret, in domain order. */
export function linkedDomainIds(state: ClientState, secretId: string): string[] {
  return [...state.domains.keys()].filter((domainId) => isLinked(state, secretId, domainId));
}

/** Secret ids linked to a domain, in secret order. */
export function linkedSecretIds(state: ClientState, domainId: string): string[] {
  return [...state.secrets.keys()].filter((secretId) => isLinked(state, secretId, domainId));
}

export function primaryDomain(state: ClientState): ClientDomain | undefined {
  return [...state.domains.values()].find((domain) => domain.primary);
}

function withLinks(links: ReadonlySet<LinkKey>, add: readonly LinkKey[], remove: readonly LinkKey[] = []): ReadonlySet<LinkKey> {
  const next = new Set(links);
  for (const key of remove) next.delete(key);
  for (const key of add) next.add(key);
  return next;
}

function updateSecret(state: ClientState, secretId: string, patch: Partial<ClientSecret>): ClientState {
  const secret = state.secrets.get(secretId);
  if (!secret) return state;
  return { ...state, secrets: new Map(state.secrets).set(secretId, { ...secret, ...patch }) };
}

export function evolve(state: ClientAggregateState, event: ClientEvent): ClientAggregateState {
  if (event.type === 'ClientRegistered' || event.type === 'ClientRegistrationAbandoned') {
    return {
      clientId: event.data.clientId,
      organisationId: event.data.organisationId,
      // an abandoned id never was a client: it exists only as deleted, so nothing can use it
      name: event.type === 'ClientRegistered' ? event.data.name : '',
      status: event.type === 'ClientRegistered' ? 'active' : 'deleted',
      secrets: new Map(),
      domains: new Map(),
      links: new Set(),
      redirectUris: [],
      scopes: [],
      testUsers: new Set(),
      listing: null,
    };
  }
  // An event before registration cannot be folded into anything; the stream is ill-formed, ignore it.
  if (state === null) return state;

  switch (event.type) {
    case 'ClientRenamed':
      return { ...state, name: event.data.name };
    case 'ClientSecretIssued': {
      const { secretId, label, hint, secretHash, expiresAt } = event.data;
      const secret: ClientSecret = { secretId, label, hint, secretHash, expiresAt, status: 'active', graceUntil: null, replacedBy: null };
      return { ...state, secrets: new Map(state.secrets).set(secretId, secret) };
    }
    case 'ClientSecretRotated': {
      const { secretId, newSecretId, label, hint, secretHash, graceUntil, domainIds } = event.data;
      const rotated = updateSecret(state, secretId, { status: 'rotated', graceUntil, replacedBy: newSecretId });
      const fresh: ClientSecret = { secretId: newSecretId, label, hint, secretHash, expiresAt: null, status: 'active', graceUntil: null, replacedBy: null };
      return {
        ...rotated,
        secrets: new Map(rotated.secrets).set(newSecretId, fresh),
        links: withLinks(rotated.links, domainIds.map((domainId) => linkKey(newSecretId, domainId))),
      };
    }
    case 'ClientSecretRevoked':
      // Links stay as they are (as in the read model); a revoked secret is refused whatever it is linked to.
      return updateSecret(state, event.data.secretId, { status: 'revoked' });
    case 'SecretLinkedToDomain':
      return { ...state, links: withLinks(state.links, [linkKey(event.data.secretId, event.data.domainId)]) };
    case 'SecretUnlinkedFromDomain':
      return { ...state, links: withLinks(state.links, [], [linkKey(event.data.secretId, event.data.domainId)]) };
    case 'RedirectUriAdded':
      return state.redirectUris.includes(event.data.uri) ? state : { ...state, redirectUris: [...state.redirectUris, event.data.uri] };
    case 'RedirectUriRemoved':
      return { ...state, redirectUris: state.redirectUris.filter((uri) => uri !== event.data.uri) };
    case 'DomainAdded':
      return { ...state, domains: new Map(state.domains).set(event.data.domainId, { ...event.data }) };
    case 'DomainUpdated': {
      const domain = state.domains.get(event.data.domainId);
      if (!domain) return state;
      return { ...state, domains: new Map(state.domains).set(domain.domainId, { ...domain, ...event.data.changes, domainId: domain.domainId }) };
    }
    case 'DomainRemoved': {
      const domains = new Map(state.domains);
      domains.delete(event.data.domainId);
      const suffix = `:${event.data.domainId}`;
      return { ...state, domains, links: new Set([...state.links].filter((key) => !key.endsWith(suffix))) };
    }
    case 'ClientScopesChanged':
      return { ...state, scopes: [...event.data.scopes] };
    case 'TestUserAdded':
      return { ...state, testUsers: new Set(state.testUsers).add(event.data.sub) };
    case 'TestUserRemoved': {
      const testUsers = new Set(state.testUsers);
      testUsers.delete(event.data.sub);
      return { ...state, testUsers };
    }
    case 'ClientDisabled':
      return { ...state, status: 'disabled' };
    case 'ClientEnabled':
      return { ...state, status: 'active' };
    case 'ClientDeleted':
      return { ...state, status: 'deleted' };
    case 'ClientListingChanged':
      return { ...state, listing: event.data.listing };
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

export const clientAggregate = { initial: initialClientState, evolve };

/** Folds a whole stream. */
export function foldClient(events: readonly ClientEvent[]): ClientAggregateState {
  return events.reduce(evolve, initialClientState);
}
