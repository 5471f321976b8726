import type { Projection } from './projection.ts';
import { organisationsProjection } from './organisations.ts';
import { clientsProjection } from './clients.ts';
import { secretsProjection } from './secrets.ts';
import { domainsProjection } from './domains.ts';
import { clientSettingsProjection } from './client-settings.ts';
import { auditLogProjection } from './audit-log.ts';
import { ticketsProjection } from './tickets.ts';
import { userAccountsProjection } from './user-accounts.ts';
import { listingsProjection } from './listings.ts';
import { deskProjection } from './desk.ts';
import { DESK_STREAM } from '../src/support/desk.ts';

/**
 * A projection group: read models that share one checkpoint and one lane (its own reader and
 * its own transactions). Groups never read each other's tables, so a busy or new group never
 * holds back another: support traffic cannot delay a policy change, and a new group catches
 * up from position zero while the others serve.
 */
export interface ProjectionGroup {
  /** the checkpoint's name, and the lane's name in notifications and waits */
  readonly name: LaneName;
  readonly projections: readonly Projection[];
  /** whether events of `stream` change this group's tables (read-your-writes waits on these lanes) */
  readonly projects: (stream: string) => boolean;
  /** its notifications name the changed clients and organisations (the policy caches drop them) */
  readonly invalidatesPolicies: boolean;
  /**
   * After a batch, the lane waits this long (from the batch's start) before it reads again, so
   * what arrives meanwhile becomes one batch: fewer, larger transactions for a busy lane, at the
   * price of that much more latency for its read-your-writes waits. 0: at once.
   */
  readonly lingerMs: number;
}

export type LaneName = 'policy' | 'audit' | 'support';

/** The support lane's linger (see ProjectionGroup.lingerMs). */
export const SUPPORT_LINGER_MS = 20;

/** ticket conversations and the agents' desk (canned answers, capacity, business hours) */
const isSupport = (stream: string) => stream.startsWith('ticket-') || stream === DESK_STREAM;
const isClientOrOrganisation = (stream: string) => stream.startsWith('client-') || stream.startsWith('organisation-');

export const PROJECTION_GROUPS: readonly ProjectionGroup[] = [
  {
    // everything the access pipeline decides from: its lane carries the policy invalidations
    name: 'policy',
    projections: [organisationsProjection, clientsProjection, secretsProjection, domainsProjection, clientSettingsProjection, listingsProjection],
    projects: isClientOrOrganisation,
    invalidatesPolicies: true,
    // a credential change is answered once projected: no waiting here
    lingerMs: 0,
  },
  // user streams: the account life cycle, and the erasure that scrubs the audit log (same lane)
  { name: 'audit', projections: [auditLogProjection, userAccountsProjection], projects: (stream) => !isSupport(stream), invalidatesPolicies: false, lingerMs: 0 },
  // Live messages are delivered as soon as they are stored; only their acks wait for this lane. At
  // hundreds of messages a second, a batch at most every 20 ms halves its transactions.
  { name: 'support', projections: [ticketsProjection, deskProjection], projects: isSupport, invalidatesPolicies: false, lingerMs: SUPPORT_LINGER_MS },
];

export const LANES: readonly LaneName[] = PROJECTION_GROUPS.map((g) => g.name);

/** The lanes whose read models change with a write to `stream`: a read-your-writes wait needs only these. */
export function lanesOf(stream: string): LaneName[] {
  return PROJECTION_GROUPS.filter((g) => g.projects(stream)).map((g) => g.name);
}

/** What a management write (clients, organisations, accounts) can change: not the support lane. */
export const MANAGEMENT_LANES: readonly LaneName[] = ['policy', 'audit'];

/** What a ticket write changes. */
export const SUPPORT_LANES: readonly LaneName[] = ['support'];

export function groupNamed(name: LaneName): ProjectionGroup {
  const group = PROJECTION_GROUPS.find((g) => g.name === name);
  if (!group) throw new Error(`no projection group ${name}`);
  return group;
}
