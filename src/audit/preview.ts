import { z } from 'zod';
import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import { ApiError, parseInput } from '../http/problem.ts';
import type { Account } from '../accounts/sessions.ts';
import { managementAbility } from '../accounts/ability.ts';
import { isOrganisationEventType, organisationStream, type OrganisationEvent } from '../accounts/events.ts';
import { OrganisationDomainError, decideOrganisation } from '../accounts/organisation.ts';
import { PLAN_LIMITS, type PlanName } from '../accounts/plans.ts';
import { cachedClient } from '../access/cache.ts';
import { evaluateCall } from '../access/evaluate.ts';
import type { DenialReason, EndpointKind } from '../access/policy.ts';
import { ClientDomainError, decide } from '../clients/decide.ts';
import { clientStream, type ClientEvent } from '../clients/events.ts';
import { STATUS_BY_KIND } from '../clients/routes.ts';
import type { Position, RecordedEvent } from '../eventstore/port.ts';
import { type Built, WRITES } from './preview-writes.ts';
import { accessSnapshotOf, foldHistory, type HistoryEvent, type ReplayState } from './fold.ts';
import type { HistoryCache } from './history.ts';
import { type ExplainLanguage, say } from './i18n.ts';

/**
 * Impact preview (DESIGN §11): a proposed client write is validated and decided exactly as the
 * real write would be — same schemas, same permissions, the real `decide` on the current state —
 * but nothing is appended. The callers the decision log saw allowed in the last 24 hours are then
 * decided against the state as it would be after the change.
 */

export const proposalSchema = z.strictObject({
  method: z.enum(['POST', 'PUT', 'PATCH', 'DELETE'], { message: 'must be POST, PUT, PATCH or DELETE' }),
  path: z.string().min(1).max(2_048),
  body: z.unknown().optional(),
});
export type Proposal = z.infer<typeof proposalSchema>;

export interface PreviewCaller {
  readonly secretId: string;
  readonly hint: string | null;
  readonly domain: string;
  readonly ip: string | null;
  readonly kind: EndpointKind;
  readonly scope: string | null;
  readonly reason: DenialReason;
  readonly lastSeenAt: string;
  readonly requests: number;
}

export interface PreviewResult {
  /** the events the change would append */
  readonly events: readonly string[];
  /** allowed now, refused after the change */
  readonly wouldRefuse: readonly PreviewCaller[];
  /** how many of the callers would still be allowed */
  readonly stillAllowed: number;
  /** refused already, with or without the change (e.g. a secret that expired since) */
  readonly alreadyRefused: readonly PreviewCaller[];
  readonly summary: string;
}

const invalidPath = (message: string) => new ApiError(400, 'validation_failed', 'Invalid request', `path: ${message}`, [{ field: 'path', message }]);

export async function previewChange(
  ctx: AppContext,
  histories: HistoryCache,
  account: Account,
  clientId: string,
  input: unknown,
  language: ExplainLanguage,
): Promise<PreviewResult> {
  const proposal = parseInput(proposalSchema, input);
  const requested = proposal.path.split('?')[0]!;
  let params: string[] | undefined;
  const write = WRITES.find((w) => {
    const match = w.method === proposal.method ? w.path.exec(requested) : null;
    params = match?.slice(1);
    return match !== null;
  });
  if (!write || !params) throw invalidPath('is not a client write of the management API (DESIGN §8), relative to /manage/v1');
  if (write.subject !== 'Organisation' && params[0] !== clientId) throw invalidPath(`must name this client (${clientId})`);

  // in the real write's order: the permission, then the body, then the state
  if (managementAbility(account.role).cannot(write.action, write.subject)) {
    throw new ApiError(403, 'forbidden', 'Forbidden', write.subject === 'Organisation' ? `a ${account.role} cannot change the plan` : `a ${account.role} may not ${write.action} ${write.subject.toLowerCase()}s`);
  }
  const now = ctx.now();
  const built = await write.build({
    params,
    body: proposal.body ?? {},
    now: now.toISOString(),
    async limits() {
      const organisation = await ctx.database.rm.selectFrom('organisations').select(['plan', 'plan_status']).where('organisation_id', '=', account.organisationId).executeTakeFirst();
      if (!organisation?.plan || organisation.plan_status !== 'active') {
        throw new ApiError(403, 'plan_inactive', 'No active plan', 'activate a plan (starter, pro or business) before creating clients, domains or secrets');
      }
      const plan = organisation.plan as PlanName;
      return { plan, limits: PLAN_LIMITS[plan] };
    },
    async userByEmail(email) {
      const user = await ctx.database.db
        .selectFrom('users')
        .select('sub')
        .where((eb) => eb(eb.fn('lower', [eb.ref('email')]), '=', email.toLowerCase()))
        .executeTakeFirst();
      if (!user) throw new ApiError(404, 'user_not_found', 'Not found', `no account with email ${email}; the test user must register first`);
      return user.sub;
    },
  });

  const history = await histories.history(clientId);
  const before = history.stateAfter(history.events.length);
  const owned = before.client;
  if (!owned || owned.organisationId !== account.organisationId || owned.status === 'deleted') {
    throw new ApiError(404, 'not_found', 'Not found', `client ${clientId} was not found`);
  }
  const proposed = decideProposal(built, before);
  const after = foldHistory(
    proposed.map((e, i) => syntheticEvent(e, i, before.position, now.toISOString(), clientId, owned.organisationId)),
    before,
  );
  return await judgeCallers(ctx, clientId, before, after, proposed.map((e) => e.type), language);
}

function decideProposal(built: Built, state: ReplayState): (ClientEvent | OrganisationEvent)[] {
  try {
    if (built.stream === 'client') return decide(built.command, state.client);
    return decideOrganisation(built.command, state.organisation);
  } catch (error) {
    if (error instanceof ClientDomainError) throw new ApiError(STATUS_BY_KIND[error.kind], error.code, error.title, error.message);
    if (error instanceof OrganisationDomainError) throw new ApiError(409, error.code, 'Conflict', error.message);
    throw error;
  }
}

const isOrganisationEvent = (event: ClientEvent | OrganisationEvent): event is OrganisationEvent => isOrganisationEventType(event.type);

/** A proposed event as if recorded after everything there is (it never is). */
function syntheticEvent(
  event: ClientEvent | OrganisationEvent,
  index: number,
  head: Position | null,
  at: string,
  clientId: string,
  organisationId: string,
): HistoryEvent {
  const recorded: Omit<RecordedEvent, 'type' | 'data'> = {
    id: `proposed-${index}`,
    stream: isOrganisationEvent(event) ? organisationStream(organisationId) : clientStream(clientId),
    revision: -1n,
    position: { commit: (head?.commit ?? 0n) + 1n, prepare: BigInt(index) },
    metadata: { actor: 'system', correlationId: 'preview', causationId: 'preview', requestId: 'preview', ip: null, userAgent: null, at },
  };
  return { ...recorded, ...event } as HistoryEvent;
}

/** The distinct callers allowed in the last 24 hours, decided before and after the change. */
async function judgeCallers(
  ctx: AppContext,
  clientId: string,
  before: ReplayState,
  after: ReplayState,
  events: readonly string[],
  language: ExplainLanguage,
): Promise<PreviewResult> {
  const now = ctx.now();
  const since = new Date(now.getTime() - 86_400_000);
  const rows = await ctx.database.db
    .selectFrom('auth_allow_callers')
    .select(['secret_id', 'domain', 'ip', 'kind', 'scope'])
    .select((eb) => [eb.fn.sum<string>('count').as('requests'), eb.fn.max('last_at').as('last_seen')])
    .where('client_id', '=', clientId)
    .where('hour', '>=', new Date(Math.floor(since.getTime() / 3_600_000) * 3_600_000))
    .where('last_at', '>=', since)
    .groupBy(['secret_id', 'domain', 'ip', 'kind', 'scope'])
    .orderBy(sql`max(last_at)`, 'desc')
    .execute();
  const beforeSnapshot = accessSnapshotOf(before);
  const afterSnapshot = accessSnapshotOf(after);
  const beforeClient = beforeSnapshot ? cachedClient(beforeSnapshot) : undefined;
  const afterClient = afterSnapshot ? cachedClient(afterSnapshot) : undefined;
  const wouldRefuse: PreviewCaller[] = [];
  const alreadyRefused: PreviewCaller[] = [];
  let stillAllowed = 0;
  for (const row of rows) {
    const secret = before.client?.secrets.get(row.secret_id);
    const call = {
      secretSha256: secret ? Buffer.from(secret.secretHash, 'hex') : null,
      domain: row.domain,
      ip: row.ip === '' ? null : row.ip,
      kind: (row.kind === 'login' ? 'login' : 'api') as EndpointKind,
      scope: row.scope === '' ? null : row.scope,
      now: now.getTime(),
    };
    const was = evaluateCall(beforeClient, call).decision;
    const will = evaluateCall(afterClient, call).decision;
    const caller = (reason: DenialReason): PreviewCaller => ({
      secretId: row.secret_id,
      hint: secret?.hint ?? null,
      domain: row.domain,
      ip: call.ip,
      kind: call.kind,
      scope: call.scope,
      reason,
      lastSeenAt: new Date(row.last_seen as Date).toISOString(),
      requests: Number(row.requests),
    });
    if (!was.allowed) alreadyRefused.push(caller(was.reason));
    else if (!will.allowed) wouldRefuse.push(caller(will.reason));
    else stillAllowed += 1;
  }
  return {
    events,
    wouldRefuse,
    stillAllowed,
    alreadyRefused,
    summary: say(language, 'preview.summary', { refused: wouldRefuse.length, allowed: stillAllowed }),
  };
}
