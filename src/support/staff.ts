import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { CoreDatabase } from '../db/schema.ts';
import type { Database } from '../db/database.ts';
import type { CommandHandler } from '../eventstore/command-handler.ts';
import type { EventMetadata, Position } from '../eventstore/port.ts';
import type { UserEvent } from '../account/events.ts';

/** Staff roles are held on the user, not in an organisation (DESIGN §4). */
export const SUPPORT_AGENT = 'support_agent';
export type StaffRole = typeof SUPPORT_AGENT;

/** Security-relevant changes of a user (stream `user-<sub>`): who may answer every ticket. */
export type StaffEvent =
  | { type: 'StaffRoleGranted'; data: { sub: number; role: StaffRole } }
  | { type: 'StaffRoleRevoked'; data: { sub: number; role: StaffRole } };

export const userStream = (sub: number): string => `user-${sub}`;

export interface StaffState {
  readonly role: StaffRole | null;
}

/** Folds the whole `user-<sub>` stream: the account's own events change nothing here. */
export function evolveStaff(state: StaffState, event: UserEvent): StaffState {
  switch (event.type) {
    case 'StaffRoleGranted':
      return { role: event.data.role };
    case 'StaffRoleRevoked':
      return { role: null };
    case 'UserRegistered':
    case 'EmailVerified':
    case 'PasswordChanged':
    case 'ProfileUpdated':
    case 'SessionSignedOut':
    case 'ClientAccessRevoked':
    case 'UserErased':
      return state;
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

export const staffAggregate = { initial: { role: null } as StaffState, evolve: evolveStaff };

export type StaffCommand = { type: 'GrantStaffRole'; sub: number; role: StaffRole } | { type: 'RevokeStaffRole'; sub: number };

export function decideStaff(command: StaffCommand, state: StaffState): StaffEvent[] {
  switch (command.type) {
    case 'GrantStaffRole':
      return state.role === command.role ? [] : [{ type: 'StaffRoleGranted', data: { sub: command.sub, role: command.role } }];
    case 'RevokeStaffRole':
      return state.role === null ? [] : [{ type: 'StaffRoleRevoked', data: { sub: command.sub, role: state.role } }];
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

export class StaffError extends Error {
  constructor(readonly code: 'user_not_found', message: string) {
    super(message);
  }
}

export function cliMetadata(now: Date): EventMetadata {
  const id = `cli-${randomUUID()}`;
  return { actor: 'cli', correlationId: id, causationId: id, requestId: id, ip: null, userAgent: 'keyledger-cli', at: now.toISOString() };
}

/**
 * Grants or revokes `support_agent`: the event first, then the user row (what sessions read).
 * No transaction spans the two: the append takes a pooled connection of its own, and holding one
 * here while waiting for it deadlocks a burst as large as the pool. The row is written from the
 * stream's state with the revision it reflects, so of two racing changes the later event wins,
 * and repeating a change whose row write failed repairs the row.
 */
export async function changeStaffRole(
  database: Database,
  commands: CommandHandler,
  change: { email: string; grant: boolean; metadata: EventMetadata },
): Promise<{ sub: number; name: string; changed: boolean; position: Position | undefined }> {
  const user = await database.db
    .selectFrom('users')
    .select(['sub', 'name'])
    .where(sql<string>`lower(email)`, '=', change.email.trim().toLowerCase())
    .executeTakeFirst();
  if (!user) throw new StaffError('user_not_found', `no account with the email ${change.email}`);
  const command: StaffCommand = change.grant
    ? { type: 'GrantStaffRole', sub: user.sub, role: SUPPORT_AGENT }
    : { type: 'RevokeStaffRole', sub: user.sub };
  const outcome = await commands.handle(userStream(user.sub), staffAggregate, { type: command.type, key: change.metadata.requestId, metadata: change.metadata }, (state) =>
    decideStaff(command, state),
  );
  await database.db
    .updateTable('users')
    .set({ staff_role: outcome.state.role, staff_revision: outcome.revision.toString() })
    .where('sub', '=', user.sub)
    .where(sql<string>`coalesce(staff_revision, -1)`, '<=', outcome.revision.toString())
    .execute();
  return { sub: user.sub, name: user.name, changed: outcome.events.length > 0, position: outcome.append?.position };
}

/** Whether a user holds `support_agent` now, read from the user row at most every `ttlMs`; `forget` drops one answer. */
export function createStaffCheck(
  db: Kysely<CoreDatabase>,
  ttlMs = 5_000,
): ((sub: number) => Promise<boolean>) & { forget(sub: number): void; remember(sub: number, agent: boolean): void } {
  const cache = new LRUCache<number, boolean>({ max: 10_000, ttl: ttlMs });
  const check = async (sub: number) => {
    const cached = cache.get(sub);
    if (cached !== undefined) return cached;
    const row = await db.selectFrom('users').select('staff_role').where('sub', '=', sub).executeTakeFirst();
    const agent = row?.staff_role === SUPPORT_AGENT;
    cache.set(sub, agent);
    return agent;
  };
  return Object.assign(check, {
    forget: (sub: number) => void cache.delete(sub),
    /** an answer read elsewhere (the gateway's sweep re-reads every connected agent each second) */
    remember: (sub: number, agent: boolean) => void cache.set(sub, agent),
  });
}
