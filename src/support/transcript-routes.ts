import type { Router } from 'express';
import type { AppContext } from '../context.ts';
import { findAccount, sessionToken } from '../accounts/sessions.ts';
import { pageLocals } from '../web/layer.ts';
import { engine } from '../web/engine.ts';
import { TICKET_ID } from './protocol.ts';
import { summaryFromRow } from './service.ts';
import { SUPPORT_AGENT } from './staff.ts';
import { readTranscript, transcriptText, transcriptView } from './transcript.ts';

/**
 * `GET /support/tickets/:ticketId/transcript.txt|.html`: the conversation as a download, for its
 * opener (no private notes) or an agent (with them, marked). Anyone else: 404. Registered on the
 * `/support` page router, so its errors get the layer's pages.
 */
export function registerTranscriptRoutes(router: Router, ctx: AppContext): void {
  const { database } = ctx;
  for (const format of ['txt', 'html'] as const) {
    router.get(`/tickets/:ticketId/transcript.${format}`, async (req, res) => {
      const { lang, t } = pageLocals(res);
      const token = sessionToken(req);
      const account = token ? await findAccount(database.db, database.rm, token, ctx.now()) : undefined;
      if (!account) return void res.status(401).type('text').send(t('support.loginRequired'));
      const ticketId = String(req.params.ticketId);
      const agent = account.staffRole === SUPPORT_AGENT;
      const row = TICKET_ID.test(ticketId) ? await database.rm.selectFrom('tickets').selectAll().where('ticket_id', '=', ticketId).executeTakeFirst() : undefined;
      if (!row || (!agent && row.opened_by !== account.sub)) return void res.status(404).type('text').send(t('support.error_ticket_not_found'));
      const transcript = await readTranscript(database, summaryFromRow(row), agent && row.opened_by !== account.sub, lang, ctx.now());
      res.attachment(`${ticketId}.${format}`);
      if (format === 'txt') res.type('text/plain; charset=utf-8').send(transcriptText(transcript));
      else res.type('html').send(engine.render('./desk/transcript', transcriptView(transcript)));
    });
  }
}
