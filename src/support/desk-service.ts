import { SUPPORT_LANES } from '../../projections/index.ts';
import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { CoreDatabase, ReadModelDatabase } from '../db/schema.ts';
import type { CommandHandler } from '../eventstore/command-handler.ts';
import type { EventMetadata } from '../eventstore/port.ts';
import type { ProjectionWatcher } from '../../projections/watcher.ts';
import type { SupportActor } from './ability.ts';
import { type BusinessHours, DESK_STREAM, type DeskCommand, DeskDomainError, type DeskEvent, type DeskState, deskAggregate, decideDesk } from './desk.ts';
import { SUPPORT_GROUP_IDS, type Language, type SupportGroupId } from './groups.ts';
import { isTimeZone, withinBusinessHours } from './hours.ts';
import { SupportError } from './protocol.ts';

export interface CannedAnswer {
  readonly cannedId: string;
  readonly title: string;
  readonly text: Record<Language, string>;
  readonly updatedAt: string;
}

export interface GroupAvailability {
  readonly group: SupportGroupId;
  /** inside business hours (a group without hours always is) */
  readonly withinHours: boolean;
  readonly hours: BusinessHours | null;
}

export interface ReportRow {
  readonly week: string;
  readonly key: string;
  readonly name: string;
  readonly tickets: number;
  readonly rated: number;
  readonly averageRating: number | null;
  readonly answered: number;
  /** seconds from opening to the first agent answer */
  readonly averageFirstResponseSeconds: number | null;
  readonly medianFirstResponseSeconds: number | null;
}

/** The desk's stream (canned answers, capacities, business hours) and its reports. */
export class DeskService {
  private hoursCache: { at: number; hours: Map<SupportGroupId, BusinessHours> } | undefined;

  constructor(
    private readonly deps: {
      commands: CommandHandler;
      watcher: ProjectionWatcher;
      db: Kysely<CoreDatabase>;
      rm: Kysely<ReadModelDatabase>;
      writeWaitMs: number;
      now: () => Date;
    },
  ) {}

  private async run(command: DeskCommand, metadata: EventMetadata): Promise<void> {
    try {
      const outcome = await this.deps.commands.handle<DeskState, DeskEvent>(DESK_STREAM, deskAggregate, { type: command.type, key: metadata.requestId, metadata }, (state) =>
        decideDesk(command, state),
      );
      if (outcome.append && !outcome.append.duplicate) await this.deps.watcher.waitFor(outcome.append.position, this.deps.writeWaitMs, SUPPORT_LANES);
      this.hoursCache = undefined;
    } catch (error) {
      if (error instanceof DeskDomainError) throw new SupportError(error.code, error.message);
      throw error;
    }
  }

  async saveCanned(actor: SupportActor, input: { cannedId?: string | undefined; title: string; en: string; nl: string }, metadata: EventMetadata): Promise<string> {
    const cannedId = input.cannedId ?? `cn_${randomBytes(9).toString('base64url')}`;
    await this.run({ type: 'SaveCannedAnswer', actor, cannedId, title: input.title.trim(), text: { en: input.en, nl: input.nl } }, metadata);
    return cannedId;
  }

  async removeCanned(actor: SupportActor, cannedId: string, metadata: EventMetadata): Promise<void> {
    await this.run({ type: 'RemoveCannedAnswer', actor, cannedId }, metadata);
  }

  async listCanned(): Promise<CannedAnswer[]> {
    const rows = await this.deps.rm.selectFrom('support_canned').selectAll().orderBy('title').orderBy('canned_id').limit(500).execute();
    return rows.map((r) => ({ cannedId: r.canned_id, title: r.title, text: { en: r.text_en, nl: r.text_nl }, updatedAt: r.updated_at.toISOString() }));
  }

  async findCanned(cannedId: string): Promise<CannedAnswer> {
    const row = await this.deps.rm.selectFrom('support_canned').selectAll().where('canned_id', '=', cannedId).executeTakeFirst();
    if (!row) throw new SupportError('canned_not_found', 'there is no such canned answer');
    return { cannedId: row.canned_id, title: row.title, text: { en: row.text_en, nl: row.text_nl }, updatedAt: row.updated_at.toISOString() };
  }

  async setCapacity(actor: SupportActor, sub: number, capacity: number, metadata: EventMetadata): Promise<void> {
    if (sub !== actor.sub) {
      const user = await this.deps.db.selectFrom('users').select('staff_role').where('sub', '=', sub).executeTakeFirst();
      if (user?.staff_role !== 'support_agent') throw new SupportError('assignee_not_agent', 'capacity is set for support agents only');
    }
    await this.run({ type: 'SetCapacity', actor, sub, capacity }, metadata);
  }

  async setHours(actor: SupportActor, group: SupportGroupId, hours: BusinessHours | null, metadata: EventMetadata): Promise<void> {
    if (hours) {
      if (!isTimeZone(hours.timeZone)) throw new SupportError('invalid_payload', `hours.timeZone: ${hours.timeZone.slice(0, 64)} is not an IANA time zone (e.g. Europe/Amsterdam)`);
      const bad = hours.intervals.find((i) => i.open >= i.close);
      if (bad) throw new SupportError('invalid_payload', `hours.intervals: ${bad.open}–${bad.close} closes before it opens`);
    }
    await this.run({ type: 'SetBusinessHours', actor, group, hours }, metadata);
  }

  private async allHours(): Promise<Map<SupportGroupId, BusinessHours>> {
    // Read at most once a second: the customer page asks on every connection.
    const at = Date.now();
    if (this.hoursCache && at - this.hoursCache.at < 1_000) return this.hoursCache.hours;
    const rows = await this.deps.rm.selectFrom('support_hours').selectAll().execute();
    const hours = new Map(rows.map((r) => [r.support_group as SupportGroupId, { timeZone: r.time_zone, intervals: r.intervals }]));
    this.hoursCache = { at, hours };
    return hours;
  }

  async groups(): Promise<GroupAvailability[]> {
    const hours = await this.allHours();
    const now = this.deps.now();
    return SUPPORT_GROUP_IDS.map((group) => {
      const h = hours.get(group) ?? null;
      return { group, withinHours: withinBusinessHours(h, now), hours: h };
    });
  }

  /**
   * Ratings and first-response times per week and agent, and per week and group (weeks start on
   * Monday, UTC), over the tickets opened in the last `weeks` weeks.
   */
  async report(weeks: number): Promise<{ byAgent: ReportRow[]; byGroup: ReportRow[] }> {
    const since = new Date(this.deps.now().getTime() - weeks * 7 * 24 * 3_600_000);
    const query = (key: 'assignee' | 'support_group') =>
      this.deps.rm
        .selectFrom('tickets')
        .select([
          sql<string>`to_char(date_trunc('week', opened_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`.as('week'),
          sql<string>`${sql.ref(key)}::text`.as('key'),
          sql<string>`count(*)`.as('tickets'),
          sql<string>`count(rating)`.as('rated'),
          sql<string | null>`avg(rating)`.as('average_rating'),
          sql<string>`count(first_response_at)`.as('answered'),
          sql<string | null>`avg(extract(epoch FROM first_response_at - opened_at))`.as('average_first'),
          sql<string | null>`percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_response_at - opened_at))`.as('median_first'),
        ])
        .where('opened_at', '>=', since)
        .where(sql.ref(key), 'is not', null)
        .groupBy([sql`1`, sql`2`])
        .orderBy(sql`1`, 'desc')
        .orderBy(sql`2`)
        .execute();
    const [agents, groups] = await Promise.all([query('assignee'), query('support_group')]);
    const subs = [...new Set(agents.map((r) => Number(r.key)))];
    const names = new Map(subs.length === 0 ? [] : (await this.deps.db.selectFrom('users').select(['sub', 'name']).where('sub', 'in', subs).execute()).map((u) => [String(u.sub), u.name]));
    const num = (v: string | null) => (v === null ? null : Math.round(Number(v) * 100) / 100);
    const row = (r: (typeof agents)[number], name: string): ReportRow => ({
      week: r.week,
      key: r.key,
      name,
      tickets: Number(r.tickets),
      rated: Number(r.rated),
      averageRating: num(r.average_rating),
      answered: Number(r.answered),
      averageFirstResponseSeconds: num(r.average_first),
      medianFirstResponseSeconds: num(r.median_first),
    });
    return { byAgent: agents.map((r) => row(r, names.get(r.key) ?? r.key)), byGroup: groups.map((r) => row(r, r.key)) };
  }
}
