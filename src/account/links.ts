import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AccountLinkPurpose, CoreDatabase } from '../db/schema.ts';

/** Email verification links live a day, password reset links an hour. */
export const LINK_TTL_MS: Record<AccountLinkPurpose, number> = {
  verify_email: 24 * 3_600_000,
  reset_password: 3_600_000,
};

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;
const hashLinkToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** What a link's token turned out to be; only `valid` changes anything. */
export type LinkCheck =
  | { readonly kind: 'valid'; readonly sub: number; readonly tokenHash: string }
  | { readonly kind: 'invalid' | 'expired' | 'used' };

/**
 * Issues a single-use link token (32 random bytes, base64url). Only its SHA-256 is stored; the
 * token itself goes into the mail and nowhere else.
 */
export async function issueLink(db: Kysely<CoreDatabase>, sub: number, purpose: AccountLinkPurpose, now: Date): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await db
    .insertInto('account_links')
    .values({ token_hash: hashLinkToken(token), user_sub: sub, purpose, created_at: now, expires_at: new Date(now.getTime() + LINK_TTL_MS[purpose]) })
    .execute();
  return token;
}

/** Looks a token up without using it (a page showing the reset form). */
export async function checkLink(db: Kysely<CoreDatabase>, token: unknown, purpose: AccountLinkPurpose, now: Date): Promise<LinkCheck> {
  if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return { kind: 'invalid' };
  const tokenHash = hashLinkToken(token);
  const row = await db
    .selectFrom('account_links')
    .select(['user_sub', 'expires_at', 'used_at'])
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .executeTakeFirst();
  if (!row) return { kind: 'invalid' };
  if (row.used_at !== null) return { kind: 'used' };
  if (row.expires_at.getTime() <= now.getTime()) return { kind: 'expired' };
  return { kind: 'valid', sub: row.user_sub, tokenHash };
}

/**
 * Uses a link: one conditional UPDATE, so of two concurrent uses exactly one wins. Every other
 * open link of the same purpose for the user is used up with it (an older reset mail stops
 * working once one was used).
 */
export async function consumeLink(db: Kysely<CoreDatabase>, token: unknown, purpose: AccountLinkPurpose, now: Date): Promise<LinkCheck> {
  const check = await checkLink(db, token, purpose, now);
  if (check.kind !== 'valid') return check;
  const used = await db
    .updateTable('account_links')
    .set({ used_at: now })
    .where('token_hash', '=', check.tokenHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning('user_sub')
    .executeTakeFirst();
  if (!used) return { kind: 'used' };
  await db.updateTable('account_links').set({ used_at: now }).where('user_sub', '=', used.user_sub).where('purpose', '=', purpose).where('used_at', 'is', null).execute();
  return check;
}
