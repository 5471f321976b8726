import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import { hashPassword, verifyPassword } from '../accounts/passwords.ts';
import type { SessionUser } from '../accounts/sessions.ts';
import type { Position } from '../eventstore/port.ts';
import { READ_MODEL_SCHEMA } from '../db/schema.ts';
import type { Language } from '../web/i18n.ts';
import { consumeLink, checkLink, type LinkCheck, issueLink } from './links.ts';
import { sendAccountMail } from './mailing.ts';
import { linkBase, recordOnUserStream } from './registration.ts';
import { type WeakPasswordReason, weakPasswordReason } from './password-policy.ts';
import { changedFields } from './profile.ts';
import { type ProfileUpdate, readProfile, setEmailVerified, updateProfile as writeProfile } from '../users/profile-store.ts';

/** The refusals of the account service: a closed set, each shown on a page in en/nl. */
export type AccountRefusal = 'wrong_password' | 'weak_password' | 'member_of_organisation' | 'not_found';

export class AccountError extends Error {
  constructor(
    readonly code: AccountRefusal,
    readonly reason?: WeakPasswordReason,
  ) {
    super(code);
  }
}

/** A session shown on /account: never its hash, only a reference derived from it. */
export const sessionRef = (sessionHash: string) => createHash('sha256').update(`session-ref\u0000${sessionHash}`).digest('base64url').slice(0, 22);

async function passwordFor(ctx: AppContext, sub: number) {
  return await ctx.database.db.selectFrom('users').select(['password_hash', 'email', 'name']).where('sub', '=', sub).executeTakeFirst();
}

/** Ends sessions of a user (all, or all but one), and the live connections made with them. */
async function endSessions(ctx: AppContext, sub: number, keep?: string): Promise<number> {
  let query = ctx.database.db.deleteFrom('sessions').where('user_sub', '=', sub);
  if (keep) query = query.where('id_hash', '!=', keep);
  const ended = await query.returning('id_hash').execute();
  for (const { id_hash } of ended) ctx.sessionEnded?.(id_hash);
  return ended.length;
}

/** Email verification by link: the user row says verified, and `EmailVerified` is recorded. */
export async function verifyEmail(ctx: AppContext, req: Request, token: unknown): Promise<LinkCheck & { position?: Position | undefined }> {
  const used = await consumeLink(ctx.database.db, token, 'verify_email', ctx.now());
  if (used.kind !== 'valid') return used;
  await setEmailVerified(ctx.database.db, used.sub, true);
  const outcome = await recordOnUserStream(ctx, req, used.sub, { type: 'VerifyEmail', sub: used.sub });
  return { ...used, position: outcome.append?.position };
}

/**
 * "Forgot password": one mail to the address whether or not it has an account (a reset link, or
 * a note that there is none), so the answer on the page tells the requester nothing.
 */
export async function requestPasswordReset(ctx: AppContext, req: Request, email: string, language: Language): Promise<void> {
  const user = await ctx.database.db
    .selectFrom('users')
    .select(['sub', 'email', 'name', 'preferred_language'])
    .where(sql<string>`lower(email)`, '=', email.trim().toLowerCase())
    .executeTakeFirst();
  const base = linkBase(ctx, req);
  if (!user) {
    sendAccountMail(ctx, { kind: 'reset-no-account', to: email, language, link: `${base}/account/register?lang=${language}` });
    return;
  }
  const mailLanguage = user.preferred_language === 'en' || user.preferred_language === 'nl' ? user.preferred_language : language;
  const token = await issueLink(ctx.database.db, user.sub, 'reset_password', ctx.now());
  sendAccountMail(ctx, {
    kind: 'reset-password',
    to: user.email,
    language: mailLanguage,
    name: user.name,
    link: `${base}/account/reset?${new URLSearchParams({ token, lang: mailLanguage })}`,
  });
}

export const checkResetLink = (ctx: AppContext, token: unknown) => checkLink(ctx.database.db, token, 'reset_password', ctx.now());

/** A new password by reset link: every session of the user ends (whoever had one is out). */
export async function resetPassword(ctx: AppContext, req: Request, token: unknown, password: string): Promise<LinkCheck> {
  const check = await checkResetLink(ctx, token);
  if (check.kind !== 'valid') return check;
  const user = await passwordFor(ctx, check.sub);
  if (!user) return { kind: 'invalid' };
  const weak = weakPasswordReason(password, [user.email, user.name]);
  if (weak) throw new AccountError('weak_password', weak);
  const passwordHash = await hashPassword(password);
  const used = await consumeLink(ctx.database.db, token, 'reset_password', ctx.now());
  if (used.kind !== 'valid') return used;
  await ctx.database.db.updateTable('users').set({ password_hash: passwordHash }).where('sub', '=', used.sub).execute();
  const sessionsEnded = await endSessions(ctx, used.sub);
  await recordOnUserStream(ctx, req, used.sub, { type: 'RecordPasswordChange', sub: used.sub, via: 'reset', sessionsEnded });
  return used;
}

/** A new password, knowing the current one: every other session ends, this one stays. */
export async function changePassword(ctx: AppContext, req: Request, user: SessionUser, current: string, next: string): Promise<Position | undefined> {
  const row = await passwordFor(ctx, user.sub);
  if (!row || !(await verifyPassword(row.password_hash, current))) throw new AccountError('wrong_password');
  const weak = weakPasswordReason(next, [row.email, row.name]);
  if (weak) throw new AccountError('weak_password', weak);
  await ctx.database.db.updateTable('users').set({ password_hash: await hashPassword(next) }).where('sub', '=', user.sub).execute();
  const sessionsEnded = await endSessions(ctx, user.sub, user.sessionHash);
  const outcome = await recordOnUserStream(ctx, req, user.sub, { type: 'RecordPasswordChange', sub: user.sub, via: 'change', sessionsEnded });
  return outcome.append?.position;
}

/** A validated profile change (profileUpdateSchema), written through the profile store; `ProfileUpdated` names the fields. */
export async function updateProfile(ctx: AppContext, req: Request, user: SessionUser, profile: ProfileUpdate): Promise<Position | undefined> {
  const before = await readProfile(ctx.database.db, user.sub);
  if (!before) throw new AccountError('not_found');
  const fields = changedFields(before, profile);
  if (fields.length === 0) return undefined;
  await writeProfile(ctx.database.db, user.sub, profile, ctx.now());
  const outcome = await recordOnUserStream(ctx, req, user.sub, { type: 'RecordProfileUpdate', sub: user.sub, fields });
  return outcome.append?.position;
}

export interface SessionView {
  readonly ref: string;
  readonly current: boolean;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

export async function listSessions(ctx: AppContext, user: SessionUser): Promise<SessionView[]> {
  const rows = await ctx.database.db
    .selectFrom('sessions')
    .select(['id_hash', 'created_at', 'expires_at', 'ip', 'user_agent'])
    .where('user_sub', '=', user.sub)
    .where('expires_at', '>', ctx.now())
    .orderBy('created_at', 'desc')
    .execute();
  return rows.map((r) => ({
    ref: sessionRef(r.id_hash),
    current: r.id_hash === user.sessionHash,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    ip: r.ip,
    userAgent: r.user_agent,
  }));
}

/** Signs one of the user's sessions out by its reference; false when there is no such session. */
export async function signOutSession(ctx: AppContext, req: Request, user: SessionUser, ref: string): Promise<boolean> {
  const rows = await ctx.database.db.selectFrom('sessions').select('id_hash').where('user_sub', '=', user.sub).execute();
  const target = rows.find((r) => sessionRef(r.id_hash) === ref);
  if (!target) return false;
  await ctx.database.db.deleteFrom('sessions').where('id_hash', '=', target.id_hash).where('user_sub', '=', user.sub).execute();
  ctx.sessionEnded?.(target.id_hash);
  await recordOnUserStream(ctx, req, user.sub, { type: 'RecordSignOut', sub: user.sub });
  return true;
}

export interface PartnerView {
  readonly clientId: string;
  readonly name: string;
  readonly firstSignedInAt: Date;
  readonly lastSignedInAt: Date;
}

/** The partners (clients) the user signed in to, which may read their data until revoked. */
export async function listPartners(ctx: AppContext, sub: number): Promise<PartnerView[]> {
  const { rows } = await sql<{ client_id: string; name: string | null; first_signed_in_at: Date; last_signed_in_at: Date }>`
    SELECT cu.client_id, c.name, cu.first_signed_in_at, cu.last_signed_in_at
      FROM client_users cu
      LEFT JOIN ${sql.id(READ_MODEL_SCHEMA, 'clients')} c ON c.client_id = cu.client_id
     WHERE cu.user_sub = ${sub}
     ORDER BY cu.last_signed_in_at DESC`.execute(ctx.database.db);
  return rows.map((r) => ({ clientId: r.client_id, name: r.name ?? r.client_id, firstSignedInAt: r.first_signed_in_at, lastSignedInAt: r.last_signed_in_at }));
}

/**
 * Revokes a partner's access: the user no longer counts as signed in through it (the partner
 * API answers `user_not_found` for them) until they sign in there again. Sign-ins approved but
 * not yet redeemed are void too.
 */
export async function revokePartner(ctx: AppContext, req: Request, sub: number, clientId: string): Promise<boolean> {
  const { db } = ctx.database;
  const exists = await db.selectFrom('client_users').select('client_id').where('user_sub', '=', sub).where('client_id', '=', clientId).executeTakeFirst();
  if (!exists) return false;
  await recordOnUserStream(ctx, req, sub, { type: 'RevokeClientAccess', sub, clientId });
  await db.deleteFrom('client_users').where('user_sub', '=', sub).where('client_id', '=', clientId).execute();
  await db.updateTable('signin_tokens').set({ status: 'void' }).where('user_sub', '=', sub).where('client_id', '=', clientId).where('status', 'in', ['pending', 'approved']).execute();
  return true;
}

/**
 * Deletes the account: the erasure marker `UserErased` first, then the user's row, which takes
 * every row of theirs with it (sessions, profile, picture, socials, addresses, links, sign-ins).
 * A member of an organisation leaves it (or hands it over) first: the organisation's clients
 * must keep an owner.
 */
export async function deleteAccount(ctx: AppContext, req: Request, user: SessionUser, password: string): Promise<Position | undefined> {
  const row = await passwordFor(ctx, user.sub);
  if (!row || !(await verifyPassword(row.password_hash, password))) throw new AccountError('wrong_password');
  const membership = await ctx.database.rm.selectFrom('members').select('organisation_id').where('user_sub', '=', user.sub).executeTakeFirst();
  if (membership) throw new AccountError('member_of_organisation');
  const outcome = await recordOnUserStream(ctx, req, user.sub, { type: 'EraseUser', sub: user.sub });
  const sessions = await ctx.database.db.selectFrom('sessions').select('id_hash').where('user_sub', '=', user.sub).execute();
  await ctx.database.db.deleteFrom('users').where('sub', '=', user.sub).execute();
  for (const { id_hash } of sessions) ctx.sessionEnded?.(id_hash);
  return outcome.append?.position;
}
