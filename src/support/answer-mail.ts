import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { AppContext } from '../context.ts';
import { type SupportNamespace, rooms } from './channel.ts';
import type { Language } from './groups.ts';
import type { MessageView, TicketSummary } from './service.ts';

const MAIL = {
  en: {
    subject: (subject: string) => `Support answered: ${subject}`,
    body: (name: string, subject: string, link: string) =>
      `Hello ${name},\n\nA support agent answered your question "${subject}".\nRead the answer and reply here:\n${link}\n\nReplies to this email are not read: answer on the page.\n\nKeyledger support`,
  },
  nl: {
    subject: (subject: string) => `Support heeft geantwoord: ${subject}`,
    body: (name: string, subject: string, link: string) =>
      `Hallo ${name},\n\nEen supportmedewerker heeft je vraag "${subject}" beantwoord.\nLees het antwoord en reageer hier:\n${link}\n\nAntwoorden op deze e-mail worden niet gelezen: reageer op de pagina.\n\nKeyledger support`,
  },
} satisfies Record<Language, unknown>;

/**
 * An agent answered a question left offline (nobody could answer when it was asked) while the
 * customer has no support page open on any node: they get an email
 * with a link back to the ticket (the answer itself stays on the page; email replies are not
 * read). At most one mail per ticket until the customer has been back.
 */
export function createAnswerMailer(ctx: AppContext, nsp: SupportNamespace, logger: Logger) {
  const mailedTickets = new LRUCache<string, true>({ max: 10_000 });
  return {
    /** the customer joined the ticket again: the next unseen answer mails once more */
    seen(ticketId: string): void {
      mailedTickets.delete(ticketId);
    },
    answered(ticket: TicketSummary, message: MessageView, base: string | undefined): void {
      // Only questions left offline: asking every node about every answer would cost a cluster round trip each.
      if (!ticket.offline || message.private || message.authorRole !== 'agent' || mailedTickets.has(ticket.ticketId) || !base) return;
      void (async () => {
        const online = await nsp.in(rooms.user(ticket.openedBy)).timeout(2_000).fetchSockets().catch(() => []);
        if (online.length > 0 || mailedTickets.has(ticket.ticketId)) return;
        mailedTickets.set(ticket.ticketId, true);
        const user = await ctx.database.db.selectFrom('users').select(['email', 'name']).where('sub', '=', ticket.openedBy).executeTakeFirst();
        if (!user) return;
        const language = ticket.language;
        const link = `${base}/support?ticket=${encodeURIComponent(ticket.ticketId)}&lang=${language}`;
        const t = MAIL[language];
        await ctx.mailer.send({ kind: 'support-answer', to: user.email, subject: t.subject(ticket.subject), text: t.body(user.name, ticket.subject, link), language });
      })().catch((error: unknown) => {
        mailedTickets.delete(ticket.ticketId);
        logger.warn({ err: error, ticketId: ticket.ticketId }, 'could not mail the answer notice');
      });
    },
  };
}

export type AnswerMailer = ReturnType<typeof createAnswerMailer>;
