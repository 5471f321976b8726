import { createHash } from 'node:crypto';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Database } from '../db/database.ts';
import type { Config } from '../config.ts';

const key = (...parts: string[]) => createHash('sha256').update(parts.join('\u0000')).digest('hex');

export type LimitedAction = 'signup' | 'reset';

export type LimitOutcome = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

/**
 * Sign-up and password-reset requests, counted per IP and per email address on every node alike
 * (Postgres): each one mails somebody, so a caller may not flood a mailbox or probe many
 * addresses. The count is the same whether or not the address has an account.
 */
export function createAccountLimits(database: Database, config: Pick<Config, 'ACCOUNT_REQUESTS_PER_IP_PER_HOUR' | 'ACCOUNT_MAILS_PER_EMAIL_PER_HOUR'>) {
  const limiter = (prefix: string, points: number) =>
    new RateLimiterPostgres({ storeClient: database.pool, tableName: 'login_limits', tableCreated: true, keyPrefix: prefix, points, duration: 3_600 });
  const limiters = {
    signup: { ip: limiter('signup-ip', config.ACCOUNT_REQUESTS_PER_IP_PER_HOUR), email: limiter('signup-email', config.ACCOUNT_MAILS_PER_EMAIL_PER_HOUR) },
    reset: { ip: limiter('reset-ip', config.ACCOUNT_REQUESTS_PER_IP_PER_HOUR), email: limiter('reset-email', config.ACCOUNT_MAILS_PER_EMAIL_PER_HOUR) },
  };

  /** Takes one request of `action` from the IP's and the email's allowance. */
  return async function consume(action: LimitedAction, ip: string | undefined, email: string): Promise<LimitOutcome> {
    const { ip: byIp, email: byEmail } = limiters[action];
    try {
      await byIp.consume(key(ip ?? 'unknown'));
      await byEmail.consume(key(email.trim().toLowerCase()));
      return { ok: true };
    } catch (error) {
      if (error instanceof RateLimiterRes) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(error.msBeforeNext / 1000)) };
      throw error;
    }
  };
}

export type ConsumeAccountLimit = ReturnType<typeof createAccountLimits>;
