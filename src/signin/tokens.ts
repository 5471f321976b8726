import { createHash, randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { CoreDatabase, SignInTokenStatus } from '../db/schema.ts';
import { READ_MODEL_SCHEMA } from '../db/schema.ts';

/**
 * Sign-in tokens: opaque (32 random bytes, base64url), single-use, valid for 10 minutes, bound
 * to the client, the domain and the redirect URL they were issued for. Only their SHA-256 is
 * stored. Life cycle: pending → approved | denied → used; pending/approved → void when the
 * client is disabled or deleted.
 */
export const SIGN_IN_TOKEN_TTL_MS = 10 * 60 * 1000;

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export const hashSignInToken = (token: string): string => createHash('sha256').update(token).digest('hex');
export const isTokenShaped = (value: unknown): value is string => typeof value === 'string' && TOKEN_SHAPE.test(value);

export interface SignInToken {
  readonly tokenHash: string;
  readonly clientId: string;
  readonly domainId: string;
  readonly redirectUrl: string;
  readonly status: SignInTokenStatus;
  readonly userSub: number | null;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

export async function issueSignInToken(
  db: Kysely<CoreDatabase>,
  binding: { clientId: string; domainId: string; redirectUrl: string },
  now: Date,
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + SIGN_IN_TOKEN_TTL_MS);
  await db
    .insertInto('signin_tokens')
    .values({
      token_hash: hashSignInToken(token),
      client_id: binding.clientId,
      domain_id: binding.domainId,
      redirect_url: binding.redirectUrl,
      status: 'pending',
      created_at: now,
      expires_at: expiresAt,
    })
    .execute();
  return { token, expiresAt };
}

export async function findSignInToken(db: Kysely<CoreDatabase>, token: string): Promise<SignInToken | undefined> {
  if (!isTokenShaped(token)) return undefined;
  const row = await db.selectFrom('signin_tokens').selectAll().where('token_hash', '=', hashSignInToken(token)).executeTakeFirst();
  if (!row) return undefined;
  return {
    tokenHash: row.token_hash,
    clientId: row.client_id,
    domainId: row.domain_id,
    redirectUrl: row.redirect_url,
    status: row.status,
    userSub: row.user_sub,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

/** The user's decision on the hosted page; false when the token was no longer pending (or expired). */
export async function decideSignInToken(
  db: Kysely<CoreDatabase>,
  tokenHash: string,
  decision: { approve: true; userSub: number } | { approve: false; userSub: number | null },
  now: Date,
): Promise<boolean> {
  const result = await db
    .updateTable('signin_tokens')
    .set(
      decision.approve
        ? { status: 'approved', user_sub: decision.userSub, approved_at: now }
        : { status: 'denied', user_sub: decision.userSub },
    )
    .where('token_hash', '=', tokenHash)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/**
 * Redeems an approved token for the client and domain that present it — one conditional UPDATE,
 * so of two concurrent verifies exactly one gets the row. It fails for a token that is unknown,
 * not approved, used, expired, bound elsewhere, or older than the client's last disable/delete
 * (that also covers a token issued while the disable was being written).
 */
export async function redeemSignInToken(
  db: Kysely<CoreDatabase>,
  token: string,
  binding: { clientId: string; domainId: string; redirectUrl?: string },
  now: Date,
): Promise<{ userSub: number } | undefined> {
  if (!isTokenShaped(token)) return undefined;
  let query = db
    .updateTable('signin_tokens')
    .set({ status: 'used', used_at: now })
    .where('token_hash', '=', hashSignInToken(token))
    .where('status', '=', 'approved')
    .where('expires_at', '>', now)
    .where('client_id', '=', binding.clientId)
    .where('domain_id', '=', binding.domainId)
    .where(
      sql<boolean>`NOT EXISTS (SELECT 1 FROM ${sql.id(READ_MODEL_SCHEMA, 'audit_log')} a
        WHERE a.client_id = signin_tokens.client_id
          AND a.type IN ('ClientDisabled', 'ClientDeleted')
          AND a.at >= signin_tokens.created_at)`,
    );
  if (binding.redirectUrl !== undefined) query = query.where('redirect_url', '=', binding.redirectUrl);
  const row = await query.returning('user_sub').executeTakeFirst();
  return row?.user_sub != null ? { userSub: row.user_sub } : undefined;
}

/** Tokens are kept a day past their expiry (to tell "expired" from "unknown"), then deleted, a batch at a time. */
export async function pruneSignInTokens(db: Kysely<CoreDatabase>, now: Date, batch = 100): Promise<void> {
  const cutoff = new Date(now.getTime() - 24 * 3_600_000);
  await db
    .deleteFrom('signin_tokens')
    .where('token_hash', 'in', (eb) => eb.selectFrom('signin_tokens').select('token_hash').where('expires_at', '<', cutoff).limit(batch))
    .execute();
}

/** A disabled or deleted client's open tokens can no longer be approved or redeemed. */
export async function voidOpenSignInTokens(db: Kysely<CoreDatabase>, clientId: string): Promise<number> {
  const result = await db
    .updateTable('signin_tokens')
    .set({ status: 'void' })
    .where('client_id', '=', clientId)
    .where('status', 'in', ['pending', 'approved'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Records a completed sign-in: the user now counts as signed in through the client. */
export async function recordClientUser(db: Kysely<CoreDatabase>, clientId: string, userSub: number, now: Date): Promise<void> {
  await db
    .insertInto('client_users')
    .values({ client_id: clientId, user_sub: userSub, first_signed_in_at: now, last_signed_in_at: now, sign_in_count: 1 })
    .onConflict((oc) =>
      oc.columns(['client_id', 'user_sub']).doUpdateSet({
        last_signed_in_at: now,
        sign_in_count: sql`client_users.sign_in_count + 1`,
      }),
    )
    .execute();
}

export async function hasSignedIn(db: Kysely<CoreDatabase>, clientId: string, userSub: number): Promise<boolean> {
  const row = await db
    .selectFrom('client_users')
    .select('user_sub')
    .where('client_id', '=', clientId)
    .where('user_sub', '=', userSub)
    .executeTakeFirst();
  return row !== undefined;
}
