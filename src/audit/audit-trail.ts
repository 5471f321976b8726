import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { CoreDatabase } from '../db/schema.ts';
import { READ_MODEL_SCHEMA } from '../db/schema.ts';
import type { Position } from '../eventstore/port.ts';
import { CLIENT_EVENT_TYPES } from '../clients/events.ts';
import { ORGANISATION_EVENT_TYPES } from '../accounts/events.ts';

/**
 * The organisation's audit trail: every event of its clients and of its own stream (plan,
 * members), oldest first, from the `audit_log` read model (projections/audit-log.ts, which keeps
 * secret material out). One query shape serves the paged trail and the streamed export.
 */


/** Every event type an organisation's trail can hold (support tickets are not audit events). */
export const AUDIT_EVENT_TYPES: readonly string[] = [...CLIENT_EVENT_TYPES, ...ORGANISATION_EVENT_TYPES];

export type AuditActor =
  | { readonly kind: 'user'; readonly sub: number; readonly email: string | null; readonly name: string | null }
  | { readonly kind: 'cli' }
  | { readonly kind: 'system'; readonly id?: string };

export interface AuditEntry {
  /** opaque; pass it as `after` to continue after this entry */
  readonly cursor: string;
  readonly type: string;
  readonly at: string;
  readonly actor: AuditActor;
  readonly stream: string;
  readonly position: string;
  readonly clientId: string | null;
  readonly data: Record<string, unknown>;
  readonly requestId: string;
  readonly correlationId: string;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

export interface AuditFilter {
  readonly organisationId: string;
  /** strictly after this position */
  readonly after?: Position;
  readonly types?: readonly string[];
  /** a user's sub (as text), `cli`, `system`, or a user's email */
  readonly actor?: string;
  readonly clientId?: string;
  /** event time, inclusive */
  readonly from?: Date;
  /** event time, exclusive */
  readonly to?: Date;
}

// ---- cursor ----

const CURSOR_TEXT = /^(\d{1,19})\.(\d{1,19})$/;
const MAX_BIGINT = 2n ** 63n - 1n;

/** Opaque to callers; a position underneath, so it stays valid under any filter. */
export const encodeCursor = (p: Position): string => Buffer.from(`${p.commit}.${p.prepare}`).toString('base64url');

export function decodeCursor(cursor: string): Position | undefined {
  if (!/^[A-Za-z0-9_-]{1,60}$/.test(cursor)) return undefined;
  const m = CURSOR_TEXT.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (!m) return undefined;
  const position = { commit: BigInt(m[1]!), prepare: BigInt(m[2]!) };
  // positions are Postgres bigints: anything larger was not issued here
  return position.commit <= MAX_BIGINT && position.prepare <= MAX_BIGINT ? position : undefined;
}

// ---- query ----

/** A row of the trail query, as pg returns it. */
export interface AuditRow {
  commit_position: string;
  prepare_position: string;
  stream: string;
  type: string;
  client_id: string | null;
  data: Record<string, unknown>;
  actor: string;
  at: Date;
  correlation_id: string;
  request_id: string;
  ip: string | null;
  user_agent: string | null;
}

const auditLog = sql.table(`${READ_MODEL_SCHEMA}.audit_log`);

/** The trail's SELECT for a filter, oldest first; `limit` for a page, none for the export's cursor. */
export function auditQuery(filter: AuditFilter, limit?: number): RawBuilder<AuditRow> {
  const where: RawBuilder<unknown>[] = [sql`a.organisation_id = ${filter.organisationId}`];
  if (filter.after) {
    where.push(sql`(a.commit_position, a.prepare_position) > (${filter.after.commit.toString()}::bigint, ${filter.after.prepare.toString()}::bigint)`);
  }
  if (filter.types && filter.types.length > 0) where.push(sql`a.type IN (${sql.join(filter.types)})`);
  if (filter.actor !== undefined) {
    where.push(
      filter.actor.includes('@')
        ? sql`a.actor = (SELECT sub::text FROM users WHERE lower(email) = lower(${filter.actor}))`
        : sql`a.actor = ${filter.actor}`,
    );
  }
  if (filter.clientId !== undefined) where.push(sql`a.client_id = ${filter.clientId}`);
  if (filter.from) where.push(sql`a.at >= ${filter.from.toISOString()}::timestamptz`);
  if (filter.to) where.push(sql`a.at < ${filter.to.toISOString()}::timestamptz`);
  return sql<AuditRow>`SELECT a.commit_position, a.prepare_position, a.stream, a.type, a.client_id, a.data, a.actor, a.at,
           a.correlation_id, a.request_id, a.ip, a.user_agent
      FROM ${auditLog} a
     WHERE ${sql.join(where, sql` AND `)}
     ORDER BY a.commit_position, a.prepare_position
     ${limit === undefined ? sql`` : sql`LIMIT ${limit}`}`;
}

const USER_ACTOR = /^[1-9][0-9]{0,8}$/;

/**
 * Who the actors are: their current email and name. Users are ordinary rows (erasable), so they
 * are looked up, never copied into events; an erased user shows its sub with null email and
 * name. An organisation's trail has few distinct actors, so each is fetched once per request
 * (a join would look the user up again for every one of a million rows).
 */
export class ActorDirectory {
  readonly #users = new Map<number, { email: string; name: string } | null>();
  constructor(private readonly db: Kysely<CoreDatabase>) {}

  /** Fetches, in one query, the users among these rows' actors not seen yet. */
  async load(rows: readonly AuditRow[]): Promise<void> {
    const unknown = new Set<number>();
    for (const row of rows) {
      if (!USER_ACTOR.test(row.actor)) continue;
      const sub = Number(row.actor);
      if (!this.#users.has(sub)) unknown.add(sub);
    }
    if (unknown.size === 0) return;
    const found = await this.db.selectFrom('users').select(['sub', 'email', 'name']).where('sub', 'in', [...unknown]).execute();
    for (const sub of unknown) this.#users.set(sub, null);
    for (const user of found) this.#users.set(user.sub, { email: user.email, name: user.name });
  }

  /** The actor of a row whose users were loaded. */
  actor(raw: string): AuditActor {
    if (USER_ACTOR.test(raw)) {
      const sub = Number(raw);
      const user = this.#users.get(sub);
      return { kind: 'user', sub, email: user?.email ?? null, name: user?.name ?? null };
    }
    if (raw === 'cli') return { kind: 'cli' };
    if (raw === 'system') return { kind: 'system' };
    return { kind: 'system', id: raw };
  }
}

/** An entry as the export writes it: everything but the paging cursor. */
export function auditEntryLine(row: AuditRow, actors: ActorDirectory): Omit<AuditEntry, 'cursor'> {
  return {
    type: row.type,
    at: row.at.toISOString(),
    actor: actors.actor(row.actor),
    stream: row.stream,
    // pg returns int8 as canonical decimal text: the same as formatPosition of the bigints
    position: `${row.commit_position}/${row.prepare_position}`,
    clientId: row.client_id,
    data: row.data,
    requestId: row.request_id,
    correlationId: row.correlation_id,
    ip: row.ip,
    userAgent: row.user_agent,
  };
}

export function auditEntry(row: AuditRow, actors: ActorDirectory): AuditEntry {
  const cursor = encodeCursor({ commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) });
  return { cursor, ...auditEntryLine(row, actors) };
}

export interface AuditPage {
  readonly entries: AuditEntry[];
  /** the cursor to pass as `after` for the next page; null when this page reached the end */
  readonly next: string | null;
}

export async function auditPage(db: Kysely<CoreDatabase>, filter: AuditFilter, limit: number): Promise<AuditPage> {
  const { rows } = await auditQuery(filter, limit + 1).execute(db);
  const page = rows.slice(0, limit);
  const actors = new ActorDirectory(db);
  await actors.load(page);
  const entries = page.map((row) => auditEntry(row, actors));
  const more = rows.length > limit;
  return { entries, next: more ? entries[entries.length - 1]!.cursor : null };
}
