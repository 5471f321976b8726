import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { findAccount, sessionToken } from '../accounts/sessions.ts';
import { type PageLayer, assetUrl, pageLocals, renderPage } from '../web/layer.ts';
import { SUPPORT_GROUPS } from './groups.ts';
import { TICKET_ID } from './protocol.ts';
import { SUPPORT_AGENT } from './staff.ts';
import { SUPPORT_NAMESPACE } from './channel.ts';

/** JSON inside <script type="application/json">: `<` escaped so `</script>` cannot close it. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/**
 * `/support` on the page layer: the widget for a logged-in user, the login message for a visitor,
 * in English or Dutch. `/support/login` is the dashboard's login form, coming back here.
 */
export function supportPages(ctx: AppContext, pages: PageLayer): Router {
  const { database } = ctx;
  const router = pages.router();
  const styles = [assetUrl('support/support.css')];

  router.get('/', async (req, res) => {
    const { lang, t } = pageLocals(res);
    const groups = SUPPORT_GROUPS.map((g) => ({ id: g.id, name: g.name[lang] }));
    const token = sessionToken(req);
    const account = token ? await findAccount(database.db, database.rm, token, ctx.now()) : undefined;
    if (!account) {
      renderPage(req, res, 'support/visitor', { groups, styles }, { title: 'support.title' });
      return;
    }
    const agent = account.staffRole === SUPPORT_AGENT;
    let query = database.rm.selectFrom('tickets').select(['ticket_id', 'subject', 'status']);
    if (!agent) query = query.where('opened_by', '=', account.sub);
    const rows = await query.orderBy('updated_at', 'desc').orderBy('ticket_id').limit(50).execute();
    const requested = typeof req.query.ticket === 'string' && TICKET_ID.test(req.query.ticket) ? req.query.ticket : null;
    const tickets = rows.map((r) => ({ ticketId: r.ticket_id, subject: r.subject, status: r.status }));
    const config = { lang, namespace: SUPPORT_NAMESPACE, strings: t.area('support'), groups, me: { sub: account.sub, agent }, initialTicket: requested };
    pageLocals(res).account = account;
    renderPage(
      req,
      res,
      'support/widget',
      { groups, styles, agent, tickets, signedIn: { name: account.name }, configJson: scriptJson(config), scripts: ['/socket.io/socket.io.min.js', assetUrl('support/support.js')] },
      { title: 'support.title', here: '/support' },
    );
  });

  router.get('/login', (req, res) => {
    res.redirect(303, `/dashboard/login?${new URLSearchParams({ next: '/support', lang: pageLocals(res).lang })}`);
  });

  return pages.finish(router);
}
