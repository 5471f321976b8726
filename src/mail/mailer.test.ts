import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.ts';
import { createMailer } from './mailer.ts';
import { startTestSmtp, type TestSmtp } from '../../test/support/smtp.ts';

function capturedLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  return { lines, logger: createLogger({ destination }) };
}

const mail = {
  kind: 'invitation',
  to: 'dev@example.com',
  subject: 'Join Acme on Keyledger',
  text: 'Open https://id.example.com/invitations/SECRET-LINK-TOKEN to join.',
  language: 'en',
};

describe('the mailer', () => {
  let smtp: TestSmtp;
  beforeAll(async () => {
    smtp = await startTestSmtp();
  });
  afterAll(() => smtp.close());

  it('when SMTP_URL is set, then the mail reaches the SMTP server', async () => {
    const { logger, lines } = capturedLogger();
    const mailer = createMailer({ smtpUrl: smtp.url, from: 'Keyledger <no-reply@example.com>', outboxDir: '/nonexistent', logger });
    const outcome = await mailer.send(mail);
    mailer.close();
    expect(outcome).toMatchObject({ delivered: true, via: 'smtp' });
    const received = await smtp.waitFor((m) => m.to.includes('dev@example.com'));
    expect(received.subject).toBe('Join Acme on Keyledger');
    expect(received.text).toContain('SECRET-LINK-TOKEN');
    expect(received.headers.get('content-language')).toBe('en');
    expect(lines.join('')).not.toContain('SECRET-LINK-TOKEN');
  });

  it('when SMTP_URL is unset, then the mail is written to the outbox as .eml and the log says so without the body', async () => {
    const { logger, lines } = capturedLogger();
    const outboxDir = join(await mkdtemp(join(tmpdir(), 'kl-outbox-')), 'outbox');
    const mailer = createMailer({ from: 'Keyledger <no-reply@example.com>', outboxDir, logger });
    const outcome = await mailer.send(mail);
    expect(outcome).toMatchObject({ delivered: false, via: 'outbox' });
    const files = await readdir(outboxDir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/-invitation-.*\.eml$/);
    const eml = await readFile(join(outboxDir, files[0]!), 'utf8');
    expect(eml).toContain('Subject: Join Acme on Keyledger');
    expect(eml).toContain('SECRET-LINK-TOKEN');
    const log = lines.join('');
    expect(log).toContain('mail not configured');
    expect(log).toContain(files[0]);
    expect(log).not.toContain('SECRET-LINK-TOKEN');
  });
});
