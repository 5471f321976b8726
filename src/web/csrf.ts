import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Request, Response } from 'express';
import { doubleCsrf } from 'csrf-csrf';
import type { CoreDatabase } from '../db/schema.ts';
import { sessionToken } from '../accounts/sessions.ts';

const KEY_NAME = 'page_csrf';
export const CSRF_COOKIE = 'kl_csrf';
/** The hidden field every form carries (the sign-in tests and pages have always called it `csrf`). */
export const CSRF_FIELD = 'csrf';

/** The server key lives in Postgres so every node accepts every other node's forms; the first node to start creates it. */
async function loadKey(db: Kysely<CoreDatabase>): Promise<string> {
  await db
    .insertInto('server_keys')
    .values({ name: KEY_NAME, key: randomBytes(32).toString('base64url') })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.selectFrom('server_keys').select('key').where('name', '=', KEY_NAME).executeTakeFirstOrThrow();
  return row.key;
}

/**
 * CSRF for every page form: csrf-csrf's signed double-submit cookie. The token is an HMAC over
 * the browser's session (the hash of its session cookie, or "visitor" before logging in) and a
 * random value; the form's hidden `csrf` field must equal the `kl_csrf` cookie and verify. A
 * page of another site can neither read the cookie nor the token, so it cannot post a form here.
 * After logging in or out the session part changes, so the next page issues a fresh token.
 */
export async function createPageCsrf(db: Kysely<CoreDatabase>, secureCookie: (req: Request) => boolean) {
  const secret = await loadKey(db);
  const csrf = doubleCsrf({
    getSecret: () => secret,
    getSessionIdentifier: (req) => {
      const token = sessionToken(req);
      return token ? createHash('sha256').update(token).digest('hex') : 'visitor';
    },
    cookieName: CSRF_COOKIE,
    cookieOptions: { sameSite: 'lax', path: '/', httpOnly: true, secure: false },
    getCsrfTokenFromRequest: (req) => {
      const value = (req.body as Record<string, unknown> | undefined)?.[CSRF_FIELD];
      return typeof value === 'string' && value.length <= 200 ? value : undefined;
    },
  });
  return {
    /** The token for this response's forms (reused while the browser's cookie still verifies). */
    token: (req: Request, res: Response): string =>
      csrf.generateCsrfToken(req, res, { cookieOptions: { sameSite: 'lax', path: '/', httpOnly: true, secure: secureCookie(req) } }),
    /** True when a write carries a valid token; GET/HEAD/OPTIONS need none. */
    accepts: (req: Request): boolean => ['GET', 'HEAD', 'OPTIONS'].includes(req.method) || csrf.validateRequest(req),
  };
}

export type PageCsrf = Awaited<ReturnType<typeof createPageCsrf>>;
