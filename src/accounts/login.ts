import { createHash } from 'node:crypto';
import { RateLimiterPostgres, type RateLimiterRes } from 'rate-limiter-flexible';
import type { Database } from '../db/database.ts';
import { verifyPassword } from './passwords.ts';

export type PasswordCheck =
  | { readonly ok: true; readonly user: { readonly sub: number; readonly email: string; readonly name: string } }
  | { readonly ok: false; readonly reason: 'invalid_credentials' }
  | { readonly ok: false; readonly reason: 'too_many_attempts'; readonly retryAfterSeconds: number };

const limiterKey = (...parts: string[]) => createHash('sha256').update(parts.join('\u0000')).digest('hex');

/**
 * Email + password check with the login throttle, shared by the management API's login and the
 * hosted sign-in page. Failed logins are counted by every node alike (the counts live in
 * Postgres): 5 in a row for one email (from anywhere) or 30 per IP per hour, then the caller
 * waits. A success clears the email's count.
 */
export function createPasswordCheck(database: Database) {
  const failuresByEmail = new RateLimiterPostgres({
    storeClient: database.pool,
    tableName: 'login_limits',
    tableCreated: true,
    keyPrefix: 'email',
    points: 5,
    duration: 15 * 60,
    blockDuration: 15 * 60,
  });
  const failuresByIp = new RateLimiterPostgres({
    storeClient: database.pool,
    tableName: 'login_limits',
    tableCreated: true,
    keyPrefix: 'ip',
    points: 30,
    duration: 60 * 60,
    blockDuration: 60 * 60,
  });

  const waitSeconds = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

  return async function checkPassword(input: { email: string; password: string; ip: string | undefined }): Promise<PasswordCheck> {
    const email = input.email.trim().toLowerCase();
    const emailKey = limiterKey(email);
    const ipKey = limiterKey(input.ip ?? 'unknown');
    const [byEmail, byIp] = await Promise.all([failuresByEmail.get(emailKey), failuresByIp.get(ipKey)]);
    for (const [state, limiter] of [[byEmail, failuresByEmail], [byIp, failuresByIp]] as const) {
      if (state && state.consumedPoints >= limiter.points) return { ok: false, reason: 'too_many_attempts', retryAfterSeconds: waitSeconds(state) };
    }
    const user = await database.db
      .selectFrom('users')
      .select(['sub', 'password_hash', 'name', 'email'])
      .where((eb) => eb(eb.fn('lower', [eb.ref('email')]), '=', email))
      .executeTakeFirst();
    const ok = await verifyPassword(user?.password_hash, input.password);
    if (!ok || !user) {
      await Promise.all([failuresByEmail.penalty(emailKey, 1).catch(() => {}), failuresByIp.penalty(ipKey, 1).catch(() => {})]);
      return { ok: false, reason: 'invalid_credentials' };
    }
    await failuresByEmail.delete(emailKey).catch(() => {});
    return { ok: true, user: { sub: user.sub, email: user.email, name: user.name } };
  };
}

export type CheckPassword = ReturnType<typeof createPasswordCheck>;
