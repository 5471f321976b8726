import type { Request, RequestHandler, Response, Router } from 'express';
import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import { type Access, access, createGuard } from '../accounts/guard.ts';
import { managementAbility, type ManagementAction, type ManagementSubject } from '../accounts/ability.ts';
import { type Account, type SessionUser, accountOf, attachedSession } from '../accounts/sessions.ts';
import { PLAN_LIMITS, type PlanName } from '../accounts/plans.ts';
import { type ClientDetails, clientDetails } from '../clients/queries.ts';
import { type ClientCommands, type CommandCall, StaleClient, clientCommands } from '../clients/commands.ts';
import { READ_MODEL_SCHEMA } from '../db/schema.ts';
import { clientStream } from '../clients/events.ts';
import { ApiError } from '../http/problem.ts';
import { type FormState, type MessageKey, type PageLayer, type Translator, assetUrl, pageLocals, renderPage, renderProblem, resubmittedForm, submittedIdempotencyKey } from '../web/layer.ts';

/** What every dashboard page module gets: the app, the page layer, the client commands and the page guard. */
export interface DashboardDeps {
  readonly ctx: AppContext;
  readonly pages: PageLayer;
  readonly router: Router;
  readonly run: ClientCommands;
  /** the management API's guard, answering with pages: login for 401, a page for 403 and 404 */
  readonly guard: (need: Access) => RequestHandler;
}

export type Can = (action: ManagementAction, subject: ManagementSubject) => boolean;

/** Fills the header of a logged-in page (navigation, organisation switcher, logout): session.ts. */
export type SignedIn = (req: Request, res: Response, user: SessionUser) => Promise<void>;

/** The caller's ability, for hiding controls: the same CASL ability the guard asks. */
export const canOf = (account: Account): Can => {
  const ability = managementAbility(account.role, account.sub);
  return (action, subject) => ability.can(action, subject);
};

export function createDashboardDeps(ctx: AppContext, pages: PageLayer, router: Router, signedIn: SignedIn): DashboardDeps {
  const apiGuard = createGuard(ctx);
  const guard = (need: Access): RequestHandler => {
    const check = apiGuard(need);
    return async (req, res, next) => {
      try {
        await (check(req, res, () => undefined) as unknown as Promise<void>);
      } catch (error) {
        const status = error instanceof ApiError ? error.status : undefined;
        if (status === 401) return res.redirect(303, `/dashboard/login?next=${encodeURIComponent(req.method === 'GET' ? req.originalUrl.slice(0, 190) : '/dashboard')}`);
        const user = attachedSession(req);
        if (user) await signedIn(req, res, user);
        if (status === 404) return renderProblem(req, res, 'notFound', 404);
        if (status === 403) {
          const reason = error instanceof ApiError && error.code === 'no_organisation' ? 'clients.noOrganisation' : 'clients.forbidden';
          return renderPage(req, res, 'clients/refused', { reason, styles: dashboardStyles() }, { status: 403, title: 'clients.forbiddenTitle' });
        }
        throw error;
      }
      const user = attachedSession(req);
      if (user) await signedIn(req, res, user);
      next();
    };
  };
  return { ctx, pages, router, run: clientCommands(ctx), guard };
}

/** The dashboard's own stylesheet, after layer.css. */
export const dashboardStyles = (): string[] => [assetUrl('dashboard/dashboard.css')];

export const readClient = access.member('read', 'Client');
export const manageClient = access.member('manage', 'Client');
export const manageSecret = access.member('manage', 'Secret');
export const deleteClient = access.member('delete', 'Client');

/** A form's command: keyed by its idempotency key, on the revision its page showed. */
export function formCall(req: Request): CommandCall {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const revision = typeof body.revision === 'string' && /^-?\d{1,19}$/.test(body.revision) ? BigInt(body.revision) : undefined;
  const key = submittedIdempotencyKey(req);
  return { req, account: accountOf(req), ...(key ? { key } : {}), ...(revision !== undefined ? { expectedRevision: revision } : {}) };
}

export interface ClientFrame {
  readonly client: ClientDetails;
  /** the client stream's revision the page shows: forms carry it, and a newer client refuses them (stale page) */
  readonly revision: string;
  readonly can: Can;
  readonly tab: TabName;
  readonly plan: { name: PlanName; status: string; limits: (typeof PLAN_LIMITS)[PlanName] } | null;
  /** one line above the tab: what the last action did, or why it did nothing */
  readonly notice?: string;
  readonly changes?: readonly string[];
}

export const TABS = ['overview', 'domains', 'secrets', 'redirects', 'scopes', 'users', 'testUsers', 'history', 'failures'] as const;
export type TabName = (typeof TABS)[number];
export const TAB_PATHS: Record<TabName, string> = {
  overview: '',
  domains: '/domains',
  secrets: '/secrets',
  redirects: '/redirect-uris',
  scopes: '/scopes',
  users: '/users',
  testUsers: '/test-users',
  history: '/history',
  failures: '/auth-failures',
};

/** The client of a guarded `:clientId` page (deleted clients have no pages: 404). */
export async function loadFrame(deps: DashboardDeps, req: Request, tab: TabName, extra: { notice?: string; changes?: readonly string[] } = {}): Promise<ClientFrame | undefined> {
  const { database } = deps.ctx;
  const account = accountOf(req);
  const clientId = String(req.params.clientId);
  const [client, organisation, revision, counts] = await Promise.all([
    // the guard found the client in the caller's organisation (deleted ones too: those have no pages)
    (HEADER_ONLY.has(tab) ? clientHeader(deps, clientId) : clientDetails(database.rm, clientId, database.db)).then((details) =>
      details && details.status !== 'deleted' ? details : undefined,
    ),
    database.rm.selectFrom('organisations').select(['plan', 'plan_status']).where('organisation_id', '=', account.organisationId).executeTakeFirst(),
    streamRevision(deps, clientId),
    tab === 'overview' ? usage(deps, clientId) : undefined,
  ]);
  if (!client) return undefined;
  const planName = (organisation?.plan ?? null) as PlanName | null;
  return {
    client: client as ClientDetails,
    revision,
    ...(counts ? { counts } : {}),
    can: canOf(account),
    tab,
    plan: planName ? { name: planName, status: organisation?.plan_status ?? 'cancelled', limits: PLAN_LIMITS[planName] } : null,
    ...extra,
  };
}

/** Tabs whose page shows only the client's name and status above its own content: they skip reading secrets, domains and URIs. */
const HEADER_ONLY: ReadonlySet<TabName> = new Set(['overview', 'users', 'testUsers', 'history', 'failures']);

async function clientHeader(deps: DashboardDeps, clientId: string) {
  const row = await deps.ctx.database.rm.selectFrom('clients').select(['client_id', 'name', 'status', 'created_at']).where('client_id', '=', clientId).executeTakeFirst();
  return row ? { clientId: row.client_id, name: row.name, status: row.status, createdAt: row.created_at.toISOString() } : undefined;
}

/** What the Overview counts against the plan's limits. */
async function usage(deps: DashboardDeps, clientId: string) {
  const { rm } = deps.ctx.database;
  const count = (query: { executeTakeFirst(): Promise<{ n: string | number | bigint } | undefined> }) => query.executeTakeFirst().then((r) => Number(r?.n ?? 0));
  const [domains, secrets, redirectUris] = await Promise.all([
    count(rm.selectFrom('client_domains').select((eb) => eb.fn.countAll().as('n')).where('client_id', '=', clientId)),
    count(rm.selectFrom('client_secrets').select((eb) => eb.fn.countAll().as('n')).where('client_id', '=', clientId).where('status', '!=', 'revoked')),
    count(rm.selectFrom('redirect_uris').select((eb) => eb.fn.countAll().as('n')).where('client_id', '=', clientId)),
  ]);
  return { domains, secrets, redirectUris };
}

/**
 * The revision of the client's stream as the read models have it (its last event in the audit
 * log; the clients row keeps only the revision of its own last change).
 */
async function streamRevision(deps: DashboardDeps, clientId: string): Promise<string> {
  const row = await deps.ctx.database.rm
    .selectFrom('audit_log')
    .select('stream_revision')
    .where('client_id', '=', clientId)
    .where('stream', '=', clientStream(clientId))
    .orderBy('commit_position', 'desc')
    .orderBy('prepare_position', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? String(row.stream_revision) : '-1';
}

/** Renders a client tab, or the 404 page for a deleted client. */
export async function renderTab(deps: DashboardDeps, req: Request, res: Response, tab: TabName, view: string, data: Record<string, unknown> = {}, status = 200): Promise<void> {
  const notice = typeof req.query.done === 'string' && /^[a-zA-Z]{1,40}$/.test(req.query.done) ? doneMessage(pageLocals(res).t, req.query.done) : undefined;
  const frame = await loadFrame(deps, req, tab, { ...(notice ? { notice } : {}), ...((data.frameExtra as object | undefined) ?? {}) });
  if (!frame) return renderProblem(req, res, 'notFound', 404);
  renderPage(req, res, view, { ...frame, ...data, styles: dashboardStyles() }, { status, title: { key: `clients.tab_${tab}` as MessageKey, vars: { name: frame.client.name } } });
}

const DONE = ['saved', 'added', 'removed', 'linked', 'unlinked', 'revoked', 'renamed', 'disabled', 'enabled', 'already'] as const;
function doneMessage(t: Translator, done: string): string | undefined {
  return (DONE as readonly string[]).includes(done) ? t(`clients.done_${done}` as MessageKey) : undefined;
}

/** Where a form goes after its command: the tab, with what happened (`?done=`). */
export const tabUrl = (clientId: string, tab: TabName, done?: (typeof DONE)[number]) =>
  `/dashboard/clients/${encodeURIComponent(clientId)}${TAB_PATHS[tab]}${done ? `?done=${done}` : ''}`;

const KNOWN_CODES = new Set([
  'plan_inactive', 'plan_limit_clients', 'plan_limit_domains', 'plan_limit_secrets', 'secret_not_active', 'secret_already_revoked', 'secret_expiry_in_past',
  'grace_period_invalid', 'domain_already_exists', 'domain_conflict', 'primary_domain_required', 'redirect_uri_exists', 'redirect_uri_not_found',
  'user_not_found', 'test_user_not_found', 'secret_not_found', 'domain_not_found',
]);

/** A refused command as one sentence in the page's language (the API's detail is English). */
export function refusalMessage(t: Translator, error: ApiError): string {
  return KNOWN_CODES.has(error.code) ? t(`clients.error_${error.code}` as MessageKey) : t('clients.refused', { code: error.code });
}

/**
 * What changed since the revision a stale form carried: one line per event (type, who, when),
 * from the audit log; at most ten.
 */
export async function changesSince(deps: DashboardDeps, t: Translator, clientId: string, revision: bigint): Promise<string[]> {
  const { rows } = await sql<{ type: string; actor: string; at: Date; name: string | null }>`
    SELECT a.type, a.actor, a.at, u.name
      FROM ${sql.table(`${READ_MODEL_SCHEMA}.audit_log`)} a
      LEFT JOIN users u ON a.actor ~ '^[1-9][0-9]{0,8}$' AND u.sub = a.actor::int
     WHERE a.client_id = ${clientId} AND a.stream = ${clientStream(clientId)} AND a.stream_revision > ${revision.toString()}::bigint
     ORDER BY a.commit_position, a.prepare_position
     LIMIT 10`.execute(deps.ctx.database.db);
  return rows.map((r) => t('clients.changeLine', { event: eventLabel(t, r.type), actor: r.name ?? r.actor, time: readable(r.at.toISOString()) }));
}

export const eventLabel = (t: Translator, type: string): string => {
  const key = `clients.event_${type}` as MessageKey;
  try {
    return t(key);
  } catch {
    return type;
  }
};

/** `2026-03-01 10:00 UTC`: one format in both languages. */
export const readable = (iso: string | null): string => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : '');

/**
 * Runs a form's command; on a refusal re-shows the form (via `again`) with a message instead of
 * an error page: a stale page says what changed, a double submit says it was already done.
 */
export async function submit<T>(
  deps: DashboardDeps,
  req: Request,
  res: Response,
  work: () => Promise<T>,
  outcome: { done: (result: T) => void | Promise<void>; again: (form: FormState, status: number, changes?: readonly string[]) => Promise<void> | void; fields: readonly string[]; duplicate?: () => void },
): Promise<void> {
  const { t } = pageLocals(res);
  try {
    const result = await work();
    return await outcome.done(result);
  } catch (error) {
    if (error instanceof StaleClient) {
      const changes = await changesSince(deps, t, String(req.params.clientId), error.expected);
      return await outcome.again(resubmittedForm(req, outcome.fields, {}, t('clients.stale')), 409, changes);
    }
    if (error instanceof ApiError && error.code === 'duplicate_request') {
      if (outcome.duplicate) return outcome.duplicate();
      return res.redirect(303, tabUrl(String(req.params.clientId), 'overview', 'already'));
    }
    if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 401) {
      if (error.code === 'not_found') return renderProblem(req, res, 'notFound', 404);
      return await outcome.again(resubmittedForm(req, outcome.fields, {}, refusalMessage(t, error)), error.status);
    }
    throw error;
  }
}
