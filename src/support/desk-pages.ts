import { randomUUID } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import type { AppContext } from '../context.ts';
import { type SessionUser, findAccount, sessionToken } from '../accounts/sessions.ts';
import { type PageLayer, assetUrl, pageLocals, renderPage } from '../web/layer.ts';
import type { Explanation } from '../audit/explain.ts';
import type { SupportActor } from './ability.ts';
import { SUPPORT_NAMESPACE } from './channel.ts';
import type { TicketContext } from './context.ts';
import type { SupportGateway } from './gateway.ts';
import { SUPPORT_GROUPS } from './groups.ts';
import { SupportError, TICKET_ID } from './protocol.ts';
import type { DeskScope, DeskTicket } from './queries.ts';
import { SUPPORT_AGENT } from './staff.ts';
import { registerDeskForms } from './desk-forms.ts';

const SCOPES: readonly DeskScope[] = ['queue', 'mine', 'all'];
const DENIAL = /^den_[A-Za-z0-9-]{1,60}$/;
/** JSON inside <script type="application/json">: `<` escaped so `</script>` cannot close it. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/** Where the desk is: the list tab, the search, the open ticket — kept across every form's redirect. */
export interface DeskPlace {
  readonly tab: DeskScope;
  readonly q: string;
  readonly ticket: string | null;
}

export function placeOf(source: Record<string, unknown>): DeskPlace {
  const tab = SCOPES.includes(source.tab as DeskScope) ? (source.tab as DeskScope) : 'queue';
  const q = typeof source.q === 'string' ? source.q.trim().slice(0, 200) : '';
  const ticket = typeof source.ticket === 'string' && TICKET_ID.test(source.ticket) ? source.ticket : null;
  return { tab, q, ticket };
}

export function deskHref(place: DeskPlace, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams({ tab: place.tab, ...(place.q ? { q: place.q } : {}), ...(place.ticket ? { ticket: place.ticket } : {}), ...extra });
  return `/support/desk?${params}`;
}

/**
 * `/support/desk` (agents only): queue, mine and all with counts, search, the open ticket with its
 * conversation (notes included), the client at hand and its explanations, canned answers, the
 * tools; `/support/desk/report`. A customer is sent to `/support`; a visitor to the login.
 */
export function deskPages(ctx: AppContext, pages: PageLayer, gateway: () => SupportGateway): Router {
  const { database } = ctx;
  const router = pages.router();

  /** The logged-in agent, or a redirect (the role is re-read: a revoked agent loses the desk at once). */
  async function agentOf(req: Request, res: Response): Promise<{ account: SessionUser; actor: SupportActor } | undefined> {
    const token = sessionToken(req);
    const account = token ? await findAccount(database.db, database.rm, token, ctx.now()) : undefined;
    if (!account) {
      res.redirect(303, `/dashboard/login?${new URLSearchParams({ next: '/support/desk', lang: pageLocals(res).lang })}`);
      return undefined;
    }
    if (account.staffRole !== SUPPORT_AGENT) {
      res.redirect(303, '/support');
      return undefined;
    }
    const page = pageLocals(res);
    page.account = account;
    page.nav = [
      { href: '/support/desk', label: page.t('desk.title'), current: req.path === '/' },
      { href: '/support/desk/report', label: page.t('desk.report'), current: req.path === '/report' },
    ];
    return { account, actor: { sub: account.sub, agent: true } };
  }

  router.get('/', async (req, res) => {
    const who = await agentOf(req, res);
    if (!who) return;
    const { lang, t } = pageLocals(res);
    const place = placeOf(req.query as Record<string, unknown>);
    const support = gateway();
    const [tickets, counts, canned, groups, availability] = await Promise.all([
      support.queries.list(who.actor, place.tab, place.q),
      support.queries.counts(who.actor),
      support.desk.listCanned(),
      support.desk.groups(),
      support.availability(),
    ]);
    const groupName = (id: string) => SUPPORT_GROUPS.find((g) => g.id === id)?.name[lang] ?? id;
    let selected: { ticket: DeskTicket; messages: unknown[]; context: TicketContext; explanation: Explanation | null } | null = null;
    if (place.ticket) {
      try {
        const summary = await support.service.findTicket(who.actor, place.ticket);
        const [[ticket], { messages }, context] = await Promise.all([
          support.queries.withPeople([summary]),
          support.service.messagesAfter(place.ticket, 0, summary.openedBy !== who.account.sub),
          support.context.context(who.actor, who.account.organisationId, place.ticket),
        ]);
        const explainId = typeof req.query.explain === 'string' && DENIAL.test(req.query.explain) ? req.query.explain : null;
        const explanation = explainId ? await support.context.explain(who.actor, who.account.organisationId, place.ticket, explainId, lang).catch(() => null) : null;
        selected = { ticket: ticket!, messages, context, explanation };
      } catch (error) {
        if (!(error instanceof SupportError)) throw error;
      }
    }
    const flash = typeof req.query.done === 'string' ? { kind: 'done', text: t('desk.done') } : flashError(req, t);
    renderPage(
      req,
      res,
      'desk/desk',
      {
        place,
        href: (extra: Record<string, string>, base: Partial<DeskPlace> = {}) => deskHref({ ...place, ...base }, extra),
        tabs: SCOPES.map((scope) => ({ scope, count: counts[scope], current: scope === place.tab, href: deskHref({ tab: scope, q: place.q, ticket: null }) })),
        tickets,
        selected,
        canned,
        groups: groups.map((g) => ({ ...g, name: groupName(g.group) })),
        groupName,
        availability,
        me: who.account.sub,
        flash,
        key: () => randomUUID(),
        styles: [assetUrl('desk/desk.css')],
        scripts: ['/socket.io/socket.io.min.js', assetUrl('desk/desk.js')],
        configJson: scriptJson({ namespace: SUPPORT_NAMESPACE, ticket: place.ticket, me: who.account.sub, strings: t.area('desk') }),
      },
      { title: 'desk.title', here: deskHref(place) },
    );
  });

  router.get('/report', async (req, res) => {
    const who = await agentOf(req, res);
    if (!who) return;
    const { lang } = pageLocals(res);
    const report = await gateway().desk.report(8);
    const groupName = (id: string) => SUPPORT_GROUPS.find((g) => g.id === id)?.name[lang] ?? id;
    renderPage(req, res, 'desk/report', { report, groupName, styles: [assetUrl('desk/desk.css')] }, { title: 'desk.reportTitle' });
  });

  registerDeskForms(router, ctx, gateway, agentOf);
  return pages.finish(router);
}

function flashError(req: Request, t: ReturnType<typeof pageLocals>['t']): { kind: string; text: string } | null {
  const code = typeof req.query.error === 'string' ? req.query.error : undefined;
  if (!code) return null;
  const name = typeof req.query.name === 'string' ? req.query.name.slice(0, 100) : '';
  switch (code) {
    case 'ticket_taken':
      return { kind: 'error', text: t('desk.error_ticket_taken', { name }) };
    case 'over_capacity':
      return { kind: 'error', text: t('desk.error_over_capacity') };
    case 'queue_empty':
      return { kind: 'error', text: t('desk.error_queue_empty') };
    case 'no_agent_available':
      return { kind: 'error', text: t('desk.error_no_agent_available') };
    default:
      return { kind: 'error', text: t('desk.error_generic', { message: typeof req.query.message === 'string' ? req.query.message.slice(0, 300) : code.slice(0, 50) }) };
  }
}
