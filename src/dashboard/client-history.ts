import type { Request } from 'express';
import { accountOf } from '../accounts/sessions.ts';
import { CLIENT_EVENT_TYPES } from '../clients/events.ts';
import { authFailures } from '../access/routes.ts';
import { auditPage, type AuditActor } from '../audit/audit-trail.ts';
import { trailQuery } from '../audit/audit-routes.ts';
import { clientStateAt, parseStateQuery } from '../audit/state.ts';
import { explainRequest } from '../audit/denials.ts';
import { HistoryCache } from '../audit/history.ts';
import { pageLocals, renderProblem, type Translator } from '../web/layer.ts';
import { type DashboardDeps, eventLabel, readClient, readable, renderTab } from './context.ts';

export const HISTORY_PAGE_SIZE = 50;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const actorText = (t: Translator, actor: AuditActor): string =>
  actor.kind === 'user' ? (actor.name ? `${actor.name} (${actor.email})` : t('clients.userSub', { sub: actor.sub })) : actor.kind === 'cli' ? t('clients.actorCli') : t('clients.actorSystem');

/** History (every event with actor and time, filtered, paged, and the client as it was), Auth failures and their explanations (DESIGN §11). */
export function clientHistoryPages(deps: DashboardDeps): void {
  const { router, ctx } = deps;
  const { database, store } = ctx;
  const histories = new HistoryCache(store);
  const clientId = (req: Request) => String(req.params.clientId);

  router.get('/clients/:clientId/history', deps.guard(readClient), async (req, res) => {
    const { t } = pageLocals(res);
    const raw = (name: string) => (typeof req.query[name] === 'string' && req.query[name] !== '' ? (req.query[name] as string) : undefined);
    const filter = { type: raw('type'), actor: raw('actor'), after: raw('after') };
    const parsed = trailQuery.safeParse(Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)));
    const errors: Record<string, string> = {};
    if (!parsed.success) for (const issue of parsed.error.issues) errors[String(issue.path[0])] ??= t(issue.path[0] === 'actor' ? 'clients.errorActor' : 'clients.errorFilter');
    const q = parsed.success ? parsed.data : { after: undefined, type: undefined, actor: undefined };
    const page = await auditPage(
      database.db,
      {
        organisationId: accountOf(req).organisationId,
        clientId: clientId(req),
        ...(q.after ? { after: q.after } : {}),
        ...(q.type ? { types: q.type } : {}),
        ...(q.actor !== undefined ? { actor: q.actor } : {}),
      },
      HISTORY_PAGE_SIZE,
    );
    const entries = page.entries.map((e) => ({ ...e, label: eventLabel(t, e.type), who: actorText(t, e.actor), when: readable(e.at) }));
    const query = (extra: Record<string, string>) => new URLSearchParams({ ...(filter.type ? { type: filter.type } : {}), ...(filter.actor ? { actor: filter.actor } : {}), ...extra }).toString();
    await renderTab(deps, req, res, 'history', 'clients/history', {
      entries,
      types: CLIENT_EVENT_TYPES.filter((type) => type !== 'ClientRegistrationAbandoned').map((type) => ({ type, label: eventLabel(t, type) })),
      filter,
      form: { values: { actor: filter.actor ?? '' }, errors },
      next: page.next ? `?${query({ after: page.next })}` : null,
      first: filter.after ? `?${query({})}` : null,
    }, Object.keys(errors).length > 0 ? 400 : 200);
  });

  router.get('/clients/:clientId/history/state', deps.guard(readClient), async (req, res) => {
    const query = parseStateQuery({ position: req.query.position }, ctx.now());
    if ('field' in query) return renderProblem(req, res, 'badRequest', 400);
    const outcome = await clientStateAt({ database, store, histories }, clientId(req), query, accountOf(req).organisationId);
    if (outcome.kind !== 'state') return renderProblem(req, res, outcome.kind === 'no_such_position' ? 'badRequest' : 'notFound', outcome.kind === 'no_such_position' ? 400 : 404);
    await renderTab(deps, req, res, 'history', 'clients/state', { past: outcome.state, when: readable(outcome.state.asOf.at) });
  });

  router.get('/clients/:clientId/auth-failures', deps.guard(readClient), async (req, res) => {
    const { t } = pageLocals(res);
    const { failures } = await authFailures(database.db, clientId(req), 100);
    await renderTab(deps, req, res, 'failures', 'clients/failures', {
      failures: failures.map((f) => ({ ...f, when: readable(f.at), why: reasonText(t, f.reason) })),
    });
  });

  router.get('/clients/:clientId/auth-failures/:requestId', deps.guard(readClient), async (req, res) => {
    const { t, lang } = pageLocals(res);
    const requestId = String(req.params.requestId);
    if (!REQUEST_ID.test(requestId)) return renderProblem(req, res, 'notFound', 404);
    const outcome = await explainRequest({ database, store, histories }, requestId, { organisationId: accountOf(req).organisationId, language: lang, now: ctx.now() });
    if (outcome.kind !== 'explained' || outcome.explanation.presented.clientId !== clientId(req)) return renderProblem(req, res, 'notFound', 404);
    const e = outcome.explanation;
    await renderTab(deps, req, res, 'failures', 'clients/explain', {
      e,
      when: readable(e.at),
      why: reasonText(t, e.decision.reason),
      checks: e.checks.map((c) => ({ ...c, label: checkText(t, c.check) })),
      causeWhen: e.cause ? readable(e.cause.event.at) : null,
      causeType: e.cause ? eventLabel(t, e.cause.event.type) : null,
    });
  });
}

const reasonText = (t: Translator, reason: string) => labelOr(t, `clients.reason_${reason}`, reason);
const checkText = (t: Translator, check: string) => labelOr(t, `clients.check_${check}`, check);
function labelOr(t: Translator, key: string, fallback: string): string {
  try {
    return t(key as Parameters<Translator>[0]);
  } catch {
    return fallback;
  }
}

