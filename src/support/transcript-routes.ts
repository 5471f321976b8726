import { Router } from 'express';
import cookieParser from 'cookie-parser';
import type { AppContext } from '../context.ts';
import { findAccount, sessionToken } from '../accounts/sessions.ts';
import { refuseUnstorableInput } from '../http/input-guard.ts';
import { LANGUAGE_COOKIE, chooseLanguage } from './i18n.ts';
import { TICKET_ID } from './protocol.ts';
import { summaryFromRow } from './service.ts';
import { SUPPORT_AGENT } from './staff.ts';
import { readTranscript, transcriptText, transcriptView } from './transcript.ts';
import { escapeHtml } from './pages.ts';

const MESSAGES = {
  en: { login: 'You must be logged in to start a support ticket', missing: 'This ticket does not exist.' },
  nl: { login: 'Je moet ingelogd zijn om een supportticket te starten', missing: 'Dit ticket bestaat niet.' },
};

/**
 * `GET /support/tickets/:ticketId/transcript.txt|.html`: the conversation as a download, for its
 * opener (no private notes) or an agent (with them, marked). Anyone else: 404.
 */
export function transcriptRoutes(ctx: AppContext): Router {
  const { database } = ctx;
  const router = Router();
  router.use(refuseUnstorableInput, cookieParser());
  for (const format of ['txt', 'html'] as const) {
    router.get(`/tickets/:ticketId/transcript.${format}`, async (req, res) => {
      const lang = chooseLanguage(req.query.lang, (req.cookies as Record<string, unknown>)[LANGUAGE_COOKIE], req.get('accept-language'));
      res.set({ 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': "default-src 'none'; style-src 'self'" });
      const token = sessionToken(req);
      const account = token ? await findAccount(database.db, database.rm, token, ctx.now()) : undefined;
      if (!account) return void res.status(401).type('text').send(MESSAGES[lang].login);
      const ticketId = String(req.params.ticketId);
      const agent = account.staffRole === SUPPORT_AGENT;
      const row = TICKET_ID.test(ticketId) ? await database.rm.selectFrom('tickets').selectAll().where('ticket_id', '=', ticketId).executeTakeFirst() : undefined;
      if (!row || (!agent && row.opened_by !== account.sub)) return void res.status(404).type('text').send(MESSAGES[lang].missing);
      const transcript = await readTranscript(database, summaryFromRow(row), agent && row.opened_by !== account.sub, lang, ctx.now());
      res.attachment(`${ticketId}.${format}`);
      if (format === 'txt') res.type('text/plain; charset=utf-8').send(transcriptText(transcript));
      else res.type('html').send(transcriptHtml(transcriptView(transcript)));
    });
  }
  return router;
}

function transcriptHtml(view: ReturnType<typeof transcriptView>): string {
  const meta = view.meta.map((m) => `<dt>${escapeHtml(m.label)}</dt><dd>${escapeHtml(m.value)}</dd>`).join('');
  const lines = view.lines
    .map(
      (l) =>
        `<li${l.private ? ' class="note"' : ''}><p class="who">${escapeHtml(l.who)}${l.private ? ` <em>(${escapeHtml(view.noteLabel)})</em>` : ''} <time datetime="${escapeHtml(l.at)}">${escapeHtml(l.at)}</time></p><p class="text">${escapeHtml(l.text)}</p></li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="${view.lang}"><head><meta charset="utf-8"><title>${escapeHtml(view.title)}</title></head>
<body><main><h1>${escapeHtml(view.subject)}</h1><p>${escapeHtml(view.title)}</p><dl>${meta}</dl><ol>${lines}</ol></main></body></html>`;
}
