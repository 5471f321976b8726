import type { OrganisationEvent } from '../accounts/events.ts';
import { evolveOrganisation, initialOrganisationState, type OrganisationState } from '../accounts/organisation.ts';
import { PLAN_LIMITS } from '../accounts/plans.ts';
import { domainFacts, type ClientSnapshot } from '../access/snapshot.ts';
import type { ClientEvent } from '../clients/events.ts';
import type { ClientDetailsSource } from '../clients/queries.ts';
import { evolve, type ClientAggregateState } from '../clients/state.ts';
import { type Position, type RecordedEvent, formatPosition } from '../eventstore/port.ts';

/**
 * Replays: the client's stream and its organisation's stream, merged in global order, folded
 * with the live aggregates' own `evolve` functions. On top of the aggregates' state the fold
 * keeps what only the read models record (when things happened, the client row's revision), so
 * it yields the same access snapshot as `loadClientSnapshot` and the same GET /clients/:clientId
 * as the read models. Pure.
 */

export type HistoryEvent = Omit<RecordedEvent, 'type' | 'data'> & (ClientEvent | OrganisationEvent);

interface SecretTimes {
  readonly issuedAt: string;
  readonly revokedAt: string | null;
  /** when it was rotated: the read models end an ungraced rotation's grace then */
  readonly rotatedAt: string | null;
}

export interface ReplayState {
  readonly client: ClientAggregateState;
  readonly organisation: OrganisationState;
  readonly createdAt: string | null;
  /** time and stream revision of the client row's last change (as the read model counts them) */
  readonly updatedAt: string | null;
  readonly revision: bigint | null;
  readonly secretTimes: ReadonlyMap<string, SecretTimes>;
  readonly domainsAddedAt: ReadonlyMap<string, string>;
  readonly redirectUrisAddedAt: ReadonlyMap<string, string>;
  readonly testUsersAddedAt: ReadonlyMap<number, string>;
  /** position and time of the last event folded; null before any */
  readonly position: Position | null;
  readonly at: string | null;
  readonly events: number;
}

export const initialReplayState: ReplayState = {
  client: null,
  organisation: initialOrganisationState,
  createdAt: null,
  updatedAt: null,
  revision: null,
  secretTimes: new Map(),
  domainsAddedAt: new Map(),
  redirectUrisAddedAt: new Map(),
  testUsersAddedAt: new Map(),
  position: null,
  at: null,
  events: 0,
};

const isClientEvent = (event: HistoryEvent): event is Omit<RecordedEvent, 'type' | 'data'> & ClientEvent => event.stream.startsWith('client-');

function withEntry<K, V>(map: ReadonlyMap<K, V>, key: K, value: V): ReadonlyMap<K, V> {
  return new Map(map).set(key, value);
}
function withoutEntry<K, V>(map: ReadonlyMap<K, V>, key: K): ReadonlyMap<K, V> {
  if (!map.has(key)) return map;
  const next = new Map(map);
  next.delete(key);
  return next;
}
/** Rows are inserted ON CONFLICT DO NOTHING in the read models: the first time stays. */
const firstTime = <K>(map: ReadonlyMap<K, string>, key: K, at: string) => (map.has(key) ? map : withEntry(map, key, at));

function evolveTimes(state: ReplayState, event: Omit<RecordedEvent, 'type' | 'data'> & ClientEvent): ReplayState {
  const at = event.metadata.at;
  switch (event.type) {
    case 'ClientRegistered':
      return state.createdAt === null ? { ...state, createdAt: at, updatedAt: at, revision: event.revision } : state;
    case 'ClientRenamed':
    case 'ClientDisabled':
    case 'ClientEnabled':
    case 'ClientDeleted':
      return { ...state, updatedAt: at, revision: event.revision };
    case 'ClientSecretIssued':
      if (state.secretTimes.has(event.data.secretId)) return state;
      return { ...state, secretTimes: withEntry(state.secretTimes, event.data.secretId, { issuedAt: at, revokedAt: null, rotatedAt: null }) };
    case 'ClientSecretRotated': {
      let secretTimes = state.secretTimes;
      const old = secretTimes.get(event.data.secretId);
      if (old) secretTimes = withEntry(secretTimes, event.data.secretId, { ...old, rotatedAt: at });
      if (!secretTimes.has(event.data.newSecretId)) secretTimes = withEntry(secretTimes, event.data.newSecretId, { issuedAt: at, revokedAt: null, rotatedAt: null });
      return { ...state, secretTimes };
    }
    case 'ClientSecretRevoked': {
      const times = state.secretTimes.get(event.data.secretId);
      return times ? { ...state, secretTimes: withEntry(state.secretTimes, event.data.secretId, { ...times, revokedAt: at }) } : state;
    }
    case 'DomainAdded':
      return { ...state, domainsAddedAt: firstTime(state.domainsAddedAt, event.data.domainId, at) };
    case 'DomainRemoved':
      return { ...state, domainsAddedAt: withoutEntry(state.domainsAddedAt, event.data.domainId) };
    case 'RedirectUriAdded':
      return { ...state, redirectUrisAddedAt: firstTime(state.redirectUrisAddedAt, event.data.uri, at) };
    case 'RedirectUriRemoved':
      return { ...state, redirectUrisAddedAt: withoutEntry(state.redirectUrisAddedAt, event.data.uri) };
    case 'TestUserAdded':
      return { ...state, testUsersAddedAt: firstTime(state.testUsersAddedAt, event.data.sub, at) };
    case 'TestUserRemoved':
      return { ...state, testUsersAddedAt: withoutEntry(state.testUsersAddedAt, event.data.sub) };
    case 'SecretLinkedToDomain':
    case 'SecretUnlinkedFromDomain':
    case 'DomainUpdated':
    case 'ClientScopesChanged':
    case 'ClientListingChanged':
    case 'ClientRegistrationAbandoned':
      return state;
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

/** One event of either stream. */
export function evolveReplay(state: ReplayState, event: HistoryEvent): ReplayState {
  const base = { position: event.position, at: event.metadata.at, events: state.events + 1 };
  if (isClientEvent(event)) {
    const client = evolve(state.client, { type: event.type, data: event.data } as ClientEvent);
    return { ...evolveTimes({ ...state, client }, event), ...base };
  }
  const organisation = evolveOrganisation(state.organisation, { type: event.type, data: event.data } as OrganisationEvent);
  return { ...state, organisation, ...base };
}

export function foldHistory(events: readonly HistoryEvent[], from: ReplayState = initialReplayState): ReplayState {
  let state = from;
  for (const event of events) state = evolveReplay(state, event);
  return state;
}

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));

/**
 * The access snapshot the pipeline would have read from the read models at this state's
 * position (`loadClientSnapshot`): undefined when there is no client — or no organisation row
 * to join it to.
 */
export function accessSnapshotOf(state: ReplayState): ClientSnapshot | undefined {
  const { client, organisation } = state;
  if (!client || !organisation.exists) return undefined;
  const linked = new Map<string, Set<string>>();
  for (const key of client.links) {
    const split = key.indexOf(':');
    const secretId = key.slice(0, split);
    let domains = linked.get(secretId);
    if (!domains) linked.set(secretId, (domains = new Set()));
    domains.add(key.slice(split + 1));
  }
  const plan = organisation.plan;
  return {
    clientId: client.clientId,
    organisationId: client.organisationId,
    status: client.status,
    planActive: organisation.planActive && plan !== null,
    plan,
    requestsPerMinute: plan ? PLAN_LIMITS[plan].requestsPerMinute : 0,
    scopes: [...client.scopes],
    secrets: [...client.secrets.values()].map((s) => ({
      secretId: s.secretId,
      hash: Buffer.from(s.secretHash, 'hex'),
      status: s.status,
      expiresAt: ms(s.expiresAt),
      // the read model ends an ungraced rotation's grace at the rotation itself, and keeps it
      // when the rotated secret is revoked later
      graceUntil: ms(s.graceUntil ?? state.secretTimes.get(s.secretId)?.rotatedAt ?? null),
      linkedDomainIds: linked.get(s.secretId) ?? new Set(),
    })),
    domains: [...client.domains.values()].map((d) =>
      domainFacts({
        domain_id: d.domainId,
        domain: d.domain,
        active: d.active,
        allow_api: d.allowApi,
        allow_login: d.allowLogin,
        test_mode: d.testMode,
        server_ips: [...d.serverIps],
      }),
    ),
    testUsers: new Set(client.testUsers),
    position: state.position ? formatPosition(state.position) : '0/0',
  };
}

const date = (iso: string) => new Date(iso);
const dateOrNull = (iso: string | null) => (iso === null ? null : new Date(iso));

/** What GET /clients/:clientId would have shown at this state (serialised by the same serialiser). */
export function clientDetailsSourceOf(state: ReplayState): ClientDetailsSource | undefined {
  const { client } = state;
  if (!client || state.createdAt === null) return undefined;
  return {
    client: {
      clientId: client.clientId,
      name: client.name,
      status: client.status,
      createdAt: date(state.createdAt),
      updatedAt: date(state.updatedAt ?? state.createdAt),
      revision: String(state.revision ?? 0n),
    },
    secrets: [...client.secrets.values()].map((s) => {
      const times = state.secretTimes.get(s.secretId);
      return {
        secretId: s.secretId,
        label: s.label,
        hint: s.hint,
        status: s.status,
        expiresAt: dateOrNull(s.expiresAt),
        graceUntil: dateOrNull(s.graceUntil ?? times?.rotatedAt ?? null),
        replacedBy: s.replacedBy,
        issuedAt: date(times?.issuedAt ?? state.createdAt!),
        revokedAt: dateOrNull(times?.revokedAt ?? null),
      };
    }),
    domains: [...client.domains.values()].map((d) => ({
      domainId: d.domainId,
      domain: d.domain,
      serverIps: d.serverIps,
      internalName: d.internalName,
      logo: d.logo,
      fallbackUri: d.fallbackUri,
      allowLogin: d.allowLogin,
      allowApi: d.allowApi,
      active: d.active,
      primary: d.primary,
      testMode: d.testMode,
      createdAt: date(state.domainsAddedAt.get(d.domainId) ?? state.createdAt!),
    })),
    links: [...client.links].map((key) => {
      const split = key.indexOf(':');
      return { secretId: key.slice(0, split), domainId: key.slice(split + 1) };
    }),
    redirectUris: client.redirectUris.map((uri) => ({ uri, addedAt: date(state.redirectUrisAddedAt.get(uri) ?? state.createdAt!) })),
    scopes: [...client.scopes],
    testUsers: [...client.testUsers].map((sub) => ({ sub, addedAt: date(state.testUsersAddedAt.get(sub) ?? state.createdAt!) })),
  };
}
