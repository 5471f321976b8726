import { createHash, randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { type Kysely, sql } from 'kysely';
import type { CoreDatabase } from '../db/schema.ts';
import { READ_MODEL_SCHEMA } from '../db/schema.ts';
import type { Role } from './events.ts';
import { ApiError } from '../http/problem.ts';

export const SESSION_COOKIE = 'kl_session';

/** A logged-in user, and the organisation their session acts in (null: a member of none, or no longer of the selected one). */
export interface SessionUser {
  readonly sub: number;
  readonly email: string;
  readonly name: string;
  readonly organisationId: string | null;
  readonly role: Role | null;
  readonly staffRole: string | null;
  readonly sessionHash: string;
}

/** The logged-in caller of the management API, as a member of the session's organisation. */
export interface Account extends SessionUser {
  readonly organisationId: string;
  readonly role: Role;
}

export const isMember = (user: SessionUser): user is Account => user.organisationId !== null && user.role !== null;

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

/**
 * The session's user and their membership, in one round trip. The session's selected
 * organisation counts only while the user is a member of it; a session that selected none acts
 * in the organisation made at registration while the user belongs to it, else in their oldest
 * membership.
 */
export async function findSession(db: Kysely<CoreDatabase>, token: string, now: Date): Promise<SessionUser | undefined> {
  const idHash = hashToken(token);
  const { rows } = await sql<{
    sub: number;
    email: string;
    name: string;
    staff_role: string | null;
    expires_at: Date;
    organisation_id: string | null;
    role: string | null;
  }>`SELECT u.sub, u.email, u.name, u.staff_role, s.expires_at, m.organisation_id, m.role
       FROM sessions s
       JOIN users u ON u.sub = s.user_sub
       LEFT JOIN LATERAL (
         SELECT m.organisation_id, m.role
           FROM ${sql.id(READ_MODEL_SCHEMA, 'members')} m
          WHERE m.user_sub = u.sub AND (s.organisation_id IS NULL OR m.organisation_id = s.organisation_id)
          ORDER BY (m.organisation_id = u.organisation_id) DESC, m.added_at, m.organisation_id
          LIMIT 1
       ) m ON true
      WHERE s.id_hash = ${idHash}`.execute(db);
  const row = rows[0];
  if (!row || row.expires_at.getTime() <= now.getTime()) return undefined;
  return {
    sub: row.sub,
    email: row.email,
    name: row.name,
    organisationId: row.organisation_id,
    role: row.role as Role | null,
    staffRole: row.staff_role,
    sessionHash: idHash,
  };
}

/** @deprecated the session user: use findSession (kept for callers that only need who is logged in) */
export async function findAccount(db: Kysely<CoreDatabase>, _rm: unknown, token: string, now: Date): Promise<SessionUser | undefined> {
  return await findSession(db, token, now);
}

/** The organisation this session acts in from now on (the caller checked the membership). */
export async function selectOrganisation(db: Kysely<CoreDatabase>, sessionHash: string, organisationId: string | null): Promise<void> {
  await db.updateTable('sessions').set({ organisation_id: organisationId }).where('id_hash', '=', sessionHash).execute();
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

const SESSION_USER = Symbol('sessionUser');
type WithSession = Request & { [SESSION_USER]?: SessionUser };

/** Remembers the request's session user (the guard resolves it once a request). */
export const attachSession = (req: Request, user: SessionUser): void => {
  (req as WithSession)[SESSION_USER] = user;
};
export const attachedSession = (req: Request): SessionUser | undefined => (req as WithSession)[SESSION_USER];

export const loginRequired = () => new ApiError(401, 'login_required', 'Login required', 'log in first: this needs a session');

/** The logged-in user of a route guarded with at least `access.session` (src/accounts/guard.ts). */
export const sessionOf = (req: Request): SessionUser => {
  const user = attachedSession(req);
  if (!user) throw loginRequired();
  return user;
};

/** The member calling a route guarded with `access.member(…)` (src/accounts/guard.ts). */
export const accountOf = (req: Request): Account => {
  const user = sessionOf(req);
  if (!isMember(user)) throw noOrganisation();
  return user;
};

export const noOrganisation = () =>
  new ApiError(
    403,
    'no_organisation',
    'No organisation',
    'you are not a member of an organisation in this session: choose one with POST /manage/v1/account/organisation, or accept an invitation',
  );

/** The request's session user, resolved from its cookie once a request; 401 without a live session. */
export async function resolveSession(db: Kysely<CoreDatabase>, req: Request, now: Date): Promise<SessionUser> {
  const attached = attachedSession(req);
  if (attached) return attached;
  const token = sessionToken(req);
  const user = token ? await findSession(db, token, now) : undefined;
  if (!user) throw loginRequired();
  attachSession(req, user);
  return user;
}
