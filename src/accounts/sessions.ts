import { createHash, randomBytes } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { type Kysely, sql } from 'kysely';
import type { CoreDatabase, ReadModelDatabase } from '../db/schema.ts';
import { READ_MODEL_SCHEMA } from '../db/schema.ts';
import type { Role } from './events.ts';
import { ApiError } from '../http/problem.ts';

export const SESSION_COOKIE = 'kl_session';

/** The logged-in caller of the management API. */
export interface Account {
  readonly sub: number;
  readonly email: string;
  readonly name: string;
  readonly organisationId: string;
  readonly role: Role;
  readonly staffRole: string | null;
  readonly sessionHash: string;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export async function createSession(
  db: Kysely<CoreDatabase>,
  sub: number,
  ttlHours: number,
  now: Date,
  client: { ip: string | null; userAgent: string | null },
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + ttlHours * 3_600_000);
  await db
    .insertInto('sessions')
    .values({ id_hash: hashToken(token), user_sub: sub, created_at: now, expires_at: expiresAt, ip: client.ip, user_agent: client.userAgent })
    .execute();
  return { token, expiresAt };
}

export async function deleteSession(db: Kysely<CoreDatabase>, sessionHash: string): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', sessionHash).execute();
}

export async function findAccount(
  db: Kysely<CoreDatabase>,
  _rm: Kysely<ReadModelDatabase>,
  token: string,
  now: Date,
): Promise<Account | undefined> {
  const idHash = hashToken(token);
  // One round trip: the session, its user, and the user's role from the read model.
  const { rows } = await sql<{
    sub: number;
    email: string;
    name: string;
    organisation_id: string;
    staff_role: string | null;
    expires_at: Date;
    role: string | null;
  }>`SELECT u.sub, u.email, u.name, u.organisation_id, u.staff_role, s.expires_at, m.role
       FROM sessions s
       JOIN users u ON u.sub = s.user_sub
       LEFT JOIN ${sql.id(READ_MODEL_SCHEMA, 'members')} m ON m.organisation_id = u.organisation_id AND m.user_sub = u.sub
      WHERE s.id_hash = ${idHash}`.execute(db);
  const row = rows[0];
  if (!row || row.expires_at.getTime() <= now.getTime() || !row.role) return undefined;
  return {
    sub: row.sub,
    email: row.email,
    name: row.name,
    organisationId: row.organisation_id,
    role: row.role as Role,
    staffRole: row.staff_role,
    sessionHash: idHash,
  };
}

export function sessionToken(req: Request): string | undefined {
  const value = (req.cookies as Record<string, unknown> | undefined)?.[SESSION_COOKIE];
  return typeof value === 'string' && value.length > 0 && value.length < 200 ? value : undefined;
}

export function setSessionCookie(res: Response, token: string, expiresAt: Date, secure: boolean): void {
  res.cookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure, path: '/', expires: expiresAt });
}

export function clearSessionCookie(res: Response, secure: boolean): void {
  res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'lax', secure, path: '/' });
}

export const accountOf = (req: Request): Account => {
  const account = (req as Request & { account?: Account }).account;
  if (!account) throw new ApiError(401, 'login_required', 'Login required', 'log in first: this needs a session');
  return account;
};

/** Resolves the session cookie to an account; 401 without one. */
export function requireAccount(
  db: Kysely<CoreDatabase>,
  rm: Kysely<ReadModelDatabase>,
  now: () => Date,
): RequestHandler {
  return async (req, _res, next) => {
    const token = sessionToken(req);
    const account = token ? await findAccount(db, rm, token, now()) : undefined;
    if (!account) throw new ApiError(401, 'login_required', 'Login required', 'log in first: this needs a session');
    (req as Request & { account?: Account }).account = account;
    next();
  };
}

/** Whoever a session belongs to, organisation or not: end users have none (the hosted pages, /account). */
export interface SessionUser {
  readonly sub: number;
  readonly email: string;
  readonly name: string;
  readonly sessionHash: string;
}

export async function findSessionUser(db: Kysely<CoreDatabase>, token: string, now: Date): Promise<SessionUser | undefined> {
  const idHash = hashToken(token);
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.sub', 'sessions.user_sub')
    .select(['users.sub', 'users.email', 'users.name', 'sessions.expires_at'])
    .where('sessions.id_hash', '=', idHash)
    .executeTakeFirst();
  if (!row || row.expires_at.getTime() <= now.getTime()) return undefined;
  return { sub: row.sub, email: row.email, name: row.name, sessionHash: idHash };
}
