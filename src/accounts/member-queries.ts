import type { Kysely } from 'kysely';
import type { Database } from '../db/database.ts';
import type { ReadModelDatabase } from '../db/schema.ts';
import { notFound } from '../http/problem.ts';
import type { Role } from './events.ts';
import { selectOrganisation, type SessionUser } from './sessions.ts';

/** Reads of the membership and invitation read models, shared by the API and the dashboard. */

export interface MemberView {
  readonly sub: number;
  readonly email: string;
  readonly name: string;
  readonly role: Role;
  /** when they joined (ISO-8601) */
  readonly since: string;
}

export interface InvitationView {
  readonly invitationId: string;
  readonly email: string;
  readonly role: Role;
  readonly invitedBy: number;
  readonly invitedAt: string;
  readonly expiresAt: string;
}

export interface MembershipView {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly since: string;
}

export async function organisationSummary(rm: Kysely<ReadModelDatabase>, organisationId: string) {
  return await rm.selectFrom('organisations').selectAll().where('organisation_id', '=', organisationId).executeTakeFirst();
}

/** The organisation's members, owners first, then by when they joined. */
/** Clients of the organisation that are not deleted (what blocks deleting it). */
export async function countLiveClients(rm: Kysely<ReadModelDatabase>, organisationId: string): Promise<number> {
  const row = await rm
    .selectFrom('clients')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('organisation_id', '=', organisationId)
    .where('status', '!=', 'deleted')
    .executeTakeFirst();
  return Number(row?.count ?? 0);
}

export async function listMembers(database: Database, organisationId: string): Promise<MemberView[]> {
  const members = await database.rm
    .selectFrom('members')
    .select(['user_sub', 'role', 'added_at'])
    .where('organisation_id', '=', organisationId)
    .orderBy('added_at')
    .orderBy('user_sub')
    .execute();
  if (members.length === 0) return [];
  // users are core rows (erasable), memberships a read model: two reads, joined here
  const users = await database.db
    .selectFrom('users')
    .select(['sub', 'email', 'name'])
    .where('sub', 'in', members.map((m) => m.user_sub))
    .execute();
  const bySub = new Map(users.map((u) => [u.sub, u]));
  const rank = (role: string) => (role === 'owner' ? 0 : 1);
  return members
    .map((m) => ({
      sub: m.user_sub,
      email: bySub.get(m.user_sub)?.email ?? '',
      name: bySub.get(m.user_sub)?.name ?? '',
      role: m.role as Role,
      since: m.added_at.toISOString(),
    }))
    .sort((a, b) => rank(a.role) - rank(b.role));
}

/** Invitations still waiting for their invitee (not accepted, revoked or expired). No token, no hash. */
export async function listPendingInvitations(rm: Kysely<ReadModelDatabase>, organisationId: string, now: Date): Promise<InvitationView[]> {
  const rows = await rm
    .selectFrom('invitations')
    .select(['invitation_id', 'email', 'role', 'invited_by', 'invited_at', 'expires_at'])
    .where('organisation_id', '=', organisationId)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .orderBy('invited_at')
    .orderBy('invitation_id')
    .execute();
  return rows.map((r) => ({
    invitationId: r.invitation_id,
    email: r.email,
    role: r.role as Role,
    invitedBy: r.invited_by,
    invitedAt: r.invited_at.toISOString(),
    expiresAt: r.expires_at.toISOString(),
  }));
}

/** Every organisation the user belongs to (for the switcher), oldest membership first. */
export async function membershipsOf(rm: Kysely<ReadModelDatabase>, sub: number): Promise<MembershipView[]> {
  const rows = await rm
    .selectFrom('members')
    .innerJoin('organisations', 'organisations.organisation_id', 'members.organisation_id')
    .select(['members.organisation_id', 'organisations.name', 'members.role', 'members.added_at'])
    .where('members.user_sub', '=', sub)
    .orderBy('members.added_at')
    .orderBy('members.organisation_id')
    .execute();
  return rows.map((r) => ({ id: r.organisation_id, name: r.name, role: r.role as Role, since: r.added_at.toISOString() }));
}

/** Whether the account with this email is a member of the organisation. */
export async function emailIsMember(database: Database, organisationId: string, email: string): Promise<boolean> {
  const user = await database.db
    .selectFrom('users')
    .select('sub')
    .where((eb) => eb(eb.fn('lower', [eb.ref('email')]), '=', email.toLowerCase()))
    .executeTakeFirst();
  if (!user) return false;
  const member = await database.rm
    .selectFrom('members')
    .select('user_sub')
    .where('organisation_id', '=', organisationId)
    .where('user_sub', '=', user.sub)
    .executeTakeFirst();
  return member !== undefined;
}

/**
 * Makes the session act in `organisationId` from now on. Not a member (or no such organisation):
 * 404, the same answer for both, so organisation ids cannot be probed.
 */
export async function selectSessionOrganisation(
  database: Database,
  user: SessionUser,
  organisationId: string,
): Promise<{ organisation: { id: string; name: string }; role: Role }> {
  const membership = await database.rm
    .selectFrom('members')
    .innerJoin('organisations', 'organisations.organisation_id', 'members.organisation_id')
    .select(['members.role', 'organisations.name'])
    .where('members.organisation_id', '=', organisationId)
    .where('members.user_sub', '=', user.sub)
    .executeTakeFirst();
  if (!membership) throw notFound(`organisation ${organisationId}`);
  await selectOrganisation(database.db, user.sessionHash, organisationId);
  return { organisation: { id: organisationId, name: membership.name }, role: membership.role as Role };
}
