import { fileURLToPath } from 'node:url';
import express, { Router, type Request, type Response } from 'express';
import cookieParser from 'cookie-parser';
import type { AppContext } from '../context.ts';
import { findAccount, sessionToken, type SessionUser } from '../accounts/sessions.ts';
import { SUPPORT_GROUPS, type Language } from './groups.ts';
import { LANGUAGE_COOKIE, STRINGS, chooseLanguage } from './i18n.ts';
import { TICKET_ID } from './protocol.ts';
import { SUPPORT_AGENT } from './staff.ts';
import { SUPPORT_NAMESPACE } from './channel.ts';
import { refuseUnstorableInput } from '../http/input-guard.ts';

const ASSETS = fileURLToPath(new URL('../web/support/', import.meta.url));

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Everything interpolated into HTML goes through here: user content is text, never markup. */
export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
/** JSON inside <script type="application/json">: `<` escaped so `</script>` cannot close it. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

interface TicketLine {
  ticketId: string;
  subject: string;
  status: 'open' | 'pending' | 'resolved';
}

function layout(lang: Language, title: string, body: string, scripts: string[], path: string): string {
  const t = STRINGS[lang];
  const switchLink = (to: Language, label: string) =>
    to === lang ? `<strong aria-current="true">${label}</strong>` : `<a href="${escapeHtml(path)}?lang=${to}" hreflang="${to}" lang="${to}">${label}</a>`;
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Keyledger</title>
<link rel="stylesheet" href="/support/assets/support.css">
</head>
<body>
<header class="bar">
  <span class="brand">Keyledger</span>
  <nav class="lang" aria-label="${escapeHtml(t.language)}">${escapeHtml(t.language)}: ${switchLink('en', 'English')} · ${switchLink('nl', 'Nederlands')}</nav>
</header>
${body}
${scripts.map((src) => `<script src="${src}"></script>`).join('\n')}
</body>
</html>`;
}

function groupsList(lang: Language): string {
  const t = STRINGS[lang];
  return `<section class="groups"><h2>${escapeHtml(t.supportGroups)}</h2><ul>${SUPPORT_GROUPS.map((g) => `<li>${escapeHtml(g.name[lang])}</li>`).join('')}</ul></section>`;
}

function visitorPage(lang: Language): string {
  const t = STRINGS[lang];
  const body = `<main class="support">
<h1>${escapeHtml(t.title)}</h1>
<p class="login-required" role="alert">${escapeHtml(t.loginRequired)}</p>
<p><a class="button" href="/support/login?lang=${lang}">${escapeHtml(t.login)}</a></p>
${groupsList(lang)}
</main>`;
  return layout(lang, t.title, body, [], '/support');
}

function statusLabel(lang: Language, status: TicketLine['status']): string {
  return STRINGS[lang][`status_${status}`];
}

function widgetPage(lang: Language, account: SessionUser, agent: boolean, tickets: TicketLine[], initialTicket: string | null): string {
  const t = STRINGS[lang];
  const config = {
    lang,
    namespace: SUPPORT_NAMESPACE,
    strings: t,
    groups: SUPPORT_GROUPS.map((g) => ({ id: g.id, name: g.name[lang] })),
    me: { sub: account.sub, agent },
    initialTicket,
  };
  const items = tickets
    .map(
      (ticket) =>
        `<li data-ticket-id="${escapeHtml(ticket.ticketId)}"><a href="/support?ticket=${encodeURIComponent(ticket.ticketId)}">${escapeHtml(ticket.subject)}</a> <span class="status status-${ticket.status}">${escapeHtml(statusLabel(lang, ticket.status))}</span></li>`,
    )
    .join('\n');
  const body = `<main class="support" id="support">
<h1>${escapeHtml(t.title)}</h1>
<p class="welcome">${escapeHtml(t.welcome)}</p>
<p class="who">${escapeHtml(t.signedInAs)} <span class="name">${escapeHtml(account.name)}</span></p>
<p id="presence" class="presence" role="status" aria-live="polite">${escapeHtml(t.connecting)}</p>
<p id="notice" class="notice" role="alert" hidden></p>
<div class="columns">
<section id="list" class="list">
  <h2 id="list-title">${escapeHtml(agent ? t.allTickets : t.yourTickets)}</h2>
  ${agent ? `<nav class="tabs"><button type="button" data-scope="queue">${escapeHtml(t.queue)}</button><button type="button" data-scope="assigned">${escapeHtml(t.assigned)}</button><button type="button" data-scope="all">${escapeHtml(t.allTickets)}</button></nav>` : ''}
  <ul id="tickets">${items}</ul>
  <p id="no-tickets" class="empty"${tickets.length > 0 ? ' hidden' : ''}>${escapeHtml(t.noTickets)}</p>
</section>
<section id="new" class="new">
  <h2>${escapeHtml(t.newTicket)}</h2>
  <form id="new-ticket">
    <label>${escapeHtml(t.group)}
      <select name="group" required>${SUPPORT_GROUPS.map((g) => `<option value="${g.id}">${escapeHtml(g.name[lang])}</option>`).join('')}</select>
    </label>
    <label>${escapeHtml(t.subject)} <input name="subject" required maxlength="200" autocomplete="off"></label>
    <label>${escapeHtml(t.question)} <textarea name="message" required maxlength="4000" rows="5"></textarea></label>
    <button type="submit">${escapeHtml(t.startTicket)}</button>
  </form>
</section>
<section id="conversation" class="conversation" hidden>
  <p><button type="button" id="back" class="link">← ${escapeHtml(t.back)}</button></p>
  <h2 id="ticket-subject"></h2>
  <p class="ticket-meta"><span id="ticket-status" class="status"></span>
  ${agent ? `<label>${escapeHtml(t.status)} <select id="status-select"><option value="open">${escapeHtml(t.status_open)}</option><option value="pending">${escapeHtml(t.status_pending)}</option><option value="resolved">${escapeHtml(t.status_resolved)}</option></select></label> <button type="button" id="assign-me">${escapeHtml(t.assignToMe)}</button>` : ''}</p>
  <ol id="messages" class="messages" aria-live="polite"></ol>
  <p id="typing" class="typing" aria-live="polite"></p>
  <form id="reply">
    <label class="sr-only" for="reply-text">${escapeHtml(t.typeMessage)}</label>
    <textarea id="reply-text" name="text" maxlength="4000" rows="3" placeholder="${escapeHtml(t.typeMessage)}"></textarea>
    <button type="submit">${escapeHtml(t.send)}</button>
  </form>
  <form id="rate" hidden><label>${escapeHtml(t.rate)} <select name="rating"><option>5</option><option>4</option><option>3</option><option>2</option><option>1</option></select></label> <button type="submit">OK</button></form>
</section>
</div>
${groupsList(lang)}
</main>
<script type="application/json" id="support-config">${scriptJson(config)}</script>`;
  return layout(lang, t.title, body, ['/socket.io/socket.io.min.js', '/support/assets/support.js'], '/support');
}

function loginPage(lang: Language): string {
  const t = STRINGS[lang];
  const body = `<main class="support login">
<h1>${escapeHtml(t.loginTitle)}</h1>
<form id="login" data-failed="${escapeHtml(t.loginFailed)}" data-throttled="${escapeHtml(t.tooManyAttempts)}">
  <label>${escapeHtml(t.email)} <input name="email" type="email" required autocomplete="username"></label>
  <label>${escapeHtml(t.password)} <input name="password" type="password" required autocomplete="current-password"></label>
  <p id="login-error" class="notice" role="alert" hidden></p>
  <button type="submit">${escapeHtml(t.login)}</button>
</form>
</main>`;
  return layout(lang, t.loginTitle, body, ['/support/assets/login.js'], '/support/login');
}

/** `/support`: the widget for a logged-in user, the login message for a visitor, in English or Dutch. */
export function supportPages(ctx: AppContext): Router {
  const { database } = ctx;
  const router = Router();
  router.use(refuseUnstorableInput, cookieParser());
  router.use('/assets', express.static(ASSETS, { index: false, maxAge: '1h' }));

  function language(req: Request, res: Response): Language {
    const query = typeof req.query.lang === 'string' ? req.query.lang : undefined;
    const lang = chooseLanguage(query, (req.cookies as Record<string, unknown>)[LANGUAGE_COOKIE], req.get('accept-language'));
    // An explicit choice is remembered: the switch is sticky.
    if (query === lang) {
      res.cookie(LANGUAGE_COOKIE, lang, { maxAge: 365 * 24 * 3_600_000, sameSite: 'lax', path: '/', httpOnly: false, secure: ctx.config.COOKIE_SECURE ?? req.secure });
    }
    res.vary('Accept-Language').vary('Cookie');
    return lang;
  }

  router.get('/', async (req, res) => {
    const lang = language(req, res);
    res.set(SECURITY_HEADERS);
    const token = sessionToken(req);
    const account = token ? await findAccount(database.db, database.rm, token, ctx.now()) : undefined;
    if (!account) {
      res.type('html').send(visitorPage(lang));
      return;
    }
    const agent = account.staffRole === SUPPORT_AGENT;
    let query = database.rm.selectFrom('tickets').select(['ticket_id', 'subject', 'status']);
    if (!agent) query = query.where('opened_by', '=', account.sub);
    const rows = await query.orderBy('updated_at', 'desc').orderBy('ticket_id').limit(50).execute();
    const requested = typeof req.query.ticket === 'string' && TICKET_ID.test(req.query.ticket) ? req.query.ticket : null;
    const tickets = rows.map((r) => ({ ticketId: r.ticket_id, subject: r.subject, status: r.status }));
    res.type('html').send(widgetPage(lang, account, agent, tickets, requested));
  });

  router.get('/login', (req, res) => {
    const lang = language(req, res);
    res.set(SECURITY_HEADERS).type('html').send(loginPage(lang));
  });

  return router;
}
