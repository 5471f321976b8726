import type { AppContext } from '../context.ts';
import type { Language } from '../web/i18n.ts';
import { type AccountMailKind, accountMail } from './mail-text.ts';

/**
 * Sends an account mail without making the request wait for it: a refusal to register, a reset
 * of an unknown address and a real one answer alike and at the same pace, and a mail server
 * that is down shows in the log, not as a failed registration. The log never holds the link.
 */
export function sendAccountMail(
  ctx: AppContext,
  mail: { kind: AccountMailKind; to: string; language: Language; link: string; name?: string },
): void {
  const text = accountMail(mail.kind, mail.language, { link: mail.link, ...(mail.name === undefined ? {} : { name: mail.name }) });
  void ctx.mailer
    .send({ kind: mail.kind, to: mail.to, subject: text.subject, text: text.text, language: mail.language })
    .catch((error: unknown) => ctx.logger.error({ err: error, mail: mail.kind }, 'an account mail could not be sent'));
}
