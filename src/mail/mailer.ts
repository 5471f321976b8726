import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';

/**
 * Outgoing mail: through SMTP when `SMTP_URL` is set, otherwise into `DATA_DIR/outbox/` as one
 * `.eml` file a message, announced in the log — never silently lost. The log names the
 * recipient, subject and file, never the body: bodies carry single-use links.
 */
export interface OutgoingMail {
  /** what the mail is for, for logs and metrics: `invitation`, `verify-email`, … */
  readonly kind: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
  /** BCP 47 tag of the body's language */
  readonly language?: string;
}

export type MailOutcome =
  | { readonly delivered: true; readonly via: 'smtp'; readonly messageId: string }
  | { readonly delivered: false; readonly via: 'outbox'; readonly file: string };

export interface Mailer {
  /** `smtp` when SMTP_URL is set; `outbox` otherwise (mail is written to files, not sent) */
  readonly mode: 'smtp' | 'outbox';
  send(mail: OutgoingMail): Promise<MailOutcome>;
  close(): void;
}

export interface MailerOptions {
  readonly smtpUrl?: string | undefined;
  readonly from: string;
  readonly outboxDir: string;
  readonly logger: Logger;
}

export function createMailer(options: MailerOptions): Mailer {
  const { logger, from } = options;
  if (options.smtpUrl) {
    const transport = nodemailer.createTransport(options.smtpUrl);
    return {
      mode: 'smtp',
      async send(mail) {
        const info = await transport.sendMail(message(from, mail));
        logger.info({ mail: mail.kind, to: mail.to, messageId: info.messageId }, 'mail sent');
        return { delivered: true, via: 'smtp', messageId: info.messageId };
      },
      close: () => transport.close(),
    };
  }
  // nodemailer builds the RFC 5322 message exactly as it would send it; we keep it on disk.
  const builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    mode: 'outbox',
    async send(mail) {
      const info = await builder.sendMail(message(from, mail));
      await mkdir(options.outboxDir, { recursive: true, mode: 0o700 });
      const file = join(options.outboxDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.kind}-${randomUUID()}.eml`);
      await writeFile(file, info.message as Buffer, { mode: 0o600 });
      logger.warn({ mail: mail.kind, to: mail.to, subject: mail.subject, file }, 'mail not configured (SMTP_URL unset): written to the outbox');
      return { delivered: false, via: 'outbox', file };
    },
    close: () => builder.close(),
  };
}

function message(from: string, mail: OutgoingMail): nodemailer.SendMailOptions {
  return {
    from,
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    ...(mail.html === undefined ? {} : { html: mail.html }),
    ...(mail.language === undefined ? {} : { headers: { 'Content-Language': mail.language } }),
  };
}
