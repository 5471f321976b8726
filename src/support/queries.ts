import { type Kysely, sql } from 'kysely';
import type { CoreDatabase, ReadModelDatabase } from '../db/schema.ts';
import { type SupportActor, supportAbility } from './ability.ts';
import { type TicketSummary, summaryFromRow } from './service.ts';

/** What the desk shows of a ticket's customer. */
export interface CustomerView {
  readonly sub: number;
  readonly name: string;
  readonly email: string;
  readonly organisation: { readonly organisationId: string; readonly name: string; readonly plan: string | null } | null;
}

export type DeskTicket = TicketSummary & { readonly customer?: CustomerView; readonly assigneeName?: string | null };

export type DeskScope = 'queue' | 'mine' | 'all';
/** `assigned` is the older name of `mine` for agents */
export type TicketListScope = DeskScope | 'assigned';

const LIST_LIMIT = 200;

/**
 * Ticket lists for the widget and the desk. A user sees their own tickets; an agent the queue
 * (open, nobody has it, oldest first), their own (assigned, not resolved) or all — searchable by
 * subject, customer email, ticket id and client id, with the customer and the counts per tab.
 */
export class TicketQueries {
  constructor(private readonly deps: { db: Kysely<CoreDatabase>; rm: Kysely<ReadModelDatabase> }) {}

  async list(actor: SupportActor, scope: TicketListScope, q?: string): Promise<DeskTicket[]> {
    const { rm } = this.deps;
    const agent = supportAbility(actor).can('viewQueue', 'Ticket');
    let query = rm.selectFrom('tickets').selectAll();
    if (!agent || (scope === 'mine' && !actor.agent)) {
      query = query.where('opened_by', '=', actor.sub).orderBy('updated_at', 'desc');
    } else {
      query = this.scoped(query, actor, scope === 'assigned' ? 'mine' : scope);
      const search = q?.trim();
      if (search) query = await this.searched(query, search);
    }
    const rows = await query.orderBy('ticket_id').limit(LIST_LIMIT).execute();
    const tickets = rows.map(summaryFromRow);
    if (!agent) return tickets;
    return await this.withPeople(tickets);
  }

  /** Tickets per tab, for the desk's counts. */
  async counts(actor: SupportActor): Promise<Record<DeskScope, number>> {
    const row = await this.deps.rm
      .selectFrom('tickets')
      .select([
        sql<string>`count(*) FILTER (WHERE status = 'open' AND assignee IS NULL)`.as('queue'),
        sql<string>`count(*) FILTER (WHERE assignee = ${actor.sub} AND status <> 'resolved')`.as('mine'),
        sql<string>`count(*)`.as('all'),
      ])
      .executeTakeFirstOrThrow();
    return { queue: Number(row.queue), mine: Number(row.mine), all: Number(row.all) };
  }

  /** The oldest ticket in the queue. */
  async oldestWaiting(): Promise<string | undefined> {
    const row = await this.deps.rm
      .selectFrom('tickets')
      .select('ticket_id')
      .where('status', '=', 'open')
      .where('assignee', 'is', null)
      .orderBy('opened_at')
      .orderBy('ticket_id')
      .executeTakeFirst();
    return row?.ticket_id;
  }

  /** Tickets `sub` has that nobody answered yet: handed back when they go offline. */
  async unansweredOf(sub: number): Promise<string[]> {
    const rows = await this.deps.rm
      .selectFrom('tickets')
      .select('ticket_id')
      .where('assignee', '=', sub)
      .where('status', '=', 'open')
      .where('first_response_at', 'is', null)
      .limit(LIST_LIMIT)
      .execute();
    return rows.map((r) => r.ticket_id);
  }

  private scoped<Q extends ReturnType<Kysely<ReadModelDatabase>['selectFrom']>>(query: any, actor: SupportActor, scope: DeskScope): Q {
    switch (scope) {
      case 'queue':
        return query.where('status', '=', 'open').where('assignee', 'is', null).orderBy('opened_at', 'asc');
      case 'mine':
        return query.where('assignee', '=', actor.sub).where('status', '!=', 'resolved').orderBy('updated_at', 'desc');
      case 'all':
        return query.orderBy('updated_at', 'desc');
      default: {
        const _exhaustive: never = scope;
        return _exhaustive;
      }
    }
  }

  /** Subject (contains), customer email (contains), ticket id or client id (exact). */
  private async searched(query: any, search: string): Promise<any> {
    const like = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const customers = await this.deps.db.selectFrom('users').select('sub').where('email', 'ilike', like).limit(LIST_LIMIT).execute();
    const subs = customers.map((c) => c.sub);
    return query.where((eb: any) =>
      eb.or([
        eb('subject', 'ilike', like),
        eb('ticket_id', '=', search),
        eb('client_id', '=', search),
        ...(subs.length > 0 ? [eb('opened_by', 'in', subs)] : []),
      ]),
    );
  }

  /** Customers (name, email, organisation, plan) and assignee names, for agents. */
  async withPeople(tickets: TicketSummary[]): Promise<DeskTicket[]> {
    if (tickets.length === 0) return [];
    const subs = [...new Set(tickets.flatMap((t) => (t.assignee === null ? [t.openedBy] : [t.openedBy, t.assignee])))];
    const users = await this.deps.db.selectFrom('users').select(['sub', 'name', 'email', 'organisation_id']).where('sub', 'in', subs).execute();
    const byId = new Map(users.map((u) => [u.sub, u]));
    const clientIds = [...new Set(tickets.map((t) => t.clientId).filter((c): c is string => c !== null))];
    const clientOrgs = new Map(
      clientIds.length === 0
        ? []
        : (await this.deps.rm.selectFrom('clients').select(['client_id', 'organisation_id']).where('client_id', 'in', clientIds).execute()).map((c) => [
            c.client_id,
            c.organisation_id,
          ]),
    );
    const orgIds = [...new Set([...users.map((u) => u.organisation_id), ...clientOrgs.values()])];
    const orgs = new Map(
      (await this.deps.rm.selectFrom('organisations').select(['organisation_id', 'name', 'plan', 'plan_status']).where('organisation_id', 'in', orgIds).execute()).map((o) => [
        o.organisation_id,
        o,
      ]),
    );
    return tickets.map((t) => {
      const user = byId.get(t.openedBy);
      const orgId = (t.clientId !== null ? clientOrgs.get(t.clientId) : undefined) ?? user?.organisation_id ?? undefined;
      const org = orgId !== undefined ? orgs.get(orgId) : undefined;
      return {
        ...t,
        openedByName: user?.name ?? '',
        customer: {
          sub: t.openedBy,
          name: user?.name ?? '',
          email: user?.email ?? '',
          organisation: org ? { organisationId: org.organisation_id, name: org.name, plan: org.plan_status === 'active' ? org.plan : null } : null,
        },
        assigneeName: t.assignee === null ? null : (byId.get(t.assignee)?.name ?? null),
      };
    });
  }
}
