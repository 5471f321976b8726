import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { CoreDatabase } from '../db/schema.ts';

const KEY_NAME = 'signin_csrf';

export type CsrfPurpose = 'login' | 'decide' | 'logout';

/**
 * Per-page CSRF tokens for the hosted forms: an HMAC, with a server key, of the form's purpose,
 * what the browser is bound by (the session for decisions, a pre-login cookie for the login
 * form) and the sign-in token. The key lives in Postgres so every node accepts every other
 * node's pages; the first node to start creates it.
 */
export function createCsrf(db: Kysely<CoreDatabase>) {
  let key: Promise<Buffer> | undefined;

  async function load(): Promise<Buffer> {
    await db
      .insertInto('server_keys')
      .values({ name: KEY_NAME, key: randomBytes(32).toString('base64url') })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const row = await db.selectFrom('server_keys').select('key').where('name', '=', KEY_NAME).executeTakeFirstOrThrow();
    return Buffer.from(row.key, 'base64url');
  }

  const keyOf = () =>
    (key ??= load().catch((error: unknown) => {
      key = undefined;
      throw error;
    }));

  async function sign(purpose: CsrfPurpose, binding: string, tokenHash: string): Promise<string> {
    return createHmac('sha256', await keyOf()).update(`${purpose}\u0000${binding}\u0000${tokenHash}`).digest('base64url');
  }

  async function verify(purpose: CsrfPurpose, binding: string | undefined, tokenHash: string, presented: unknown): Promise<boolean> {
    if (!binding || typeof presented !== 'string' || presented.length > 100) return false;
    const expected = Buffer.from(await sign(purpose, binding, tokenHash));
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  return { sign, verify };
}

export type Csrf = ReturnType<typeof createCsrf>;
