import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { CoreDatabase, ReadModelDatabase } from '../db/schema.ts';
import type { CommandHandler } from '../eventstore/command-handler.ts';
import { type EventMetadata, type Position, formatPosition } from '../eventstore/port.ts';
import type { ProjectionWatcher } from '../../projections/watcher.ts';
import { type SupportActor, supportAbility, ticketSubject } from './ability.ts';
import { type AuthorRole, type TicketEvent, type TicketStatus, ticketStream } from './events.ts';
import { isSupportGroup } from './groups.ts';
import { JOIN_PAGE, JOIN_PAGE_CHARS, SupportError } from './protocol.ts';
import { TicketDomainError, type TicketCommand, type TicketState, decideTicket, seqOfMessage, ticketAggregate } from './ticket.ts';
import { SUPPORT_AGENT } from './staff.ts';

export interface TicketSummary {
  readonly ticketId: string;
  readonly subject: string;
  readonly group: string;
  readonly clientId: string | null;
  readonly status: TicketStatus;
  readonly openedBy: number;
  readonly assignee: number | null;
  readonly lastSeq: number;
  readonly rating: number | null;
  readonly updatedAt: string;
  readonly openedAt?: string;
  readonly firstResponseAt?: string | null;
  /** agents only: the opener's name */
  readonly openedByName?: string;
}

export interface MessageView {
  readonly ticketId: string;
  readonly seq: number;
  readonly author: number;
  readonly authorRole: AuthorRole;
  readonly text: string;
  readonly at: string;
  readonly clientMessageId: string;
}

/** What a command changed, for the gateway to acknowledge and broadcast. */
export interface TicketChange {
  readonly ticket: TicketSummary;
  readonly messages: readonly MessageView[];
  /** status or assignee changed */
  readonly ticketChanged: boolean;
  /** nothing was written (a resend, or no change) */
  readonly duplicate: boolean;
  readonly position: string | null;
}

export type TicketListScope = 'mine' | 'queue' | 'assigned' | 'all';

export interface TicketServiceDeps {
  readonly commands: CommandHandler;
  readonly watcher: ProjectionWatcher;
  readonly db: Kysely<CoreDatabase>;
  readonly rm: Kysely<ReadModelDatabase>;
  readonly logger: Logger;
  readonly writeWaitMs: number;
}

const base64url = (bytes: Buffer) => bytes.toString('base64url').slice(0, 22);

/** A resent `ticket:open` (same opener, same clientMessageId) names the same ticket: opening is idempotent. */
export const ticketIdFor = (sub: number, clientMessageId: string | undefined): string =>
  `tk_${clientMessageId ? base64url(createHash('sha256').update(`${sub}\u0000${clientMessageId}`).digest()) : base64url(randomBytes(16))}`;

const summaryOf = (state: TicketState, updatedAt: string): TicketSummary => ({
  ticketId: state.ticketId!,
  subject: state.subject,
  group: state.group!,
  clientId: state.clientId,
  status: state.status,
  openedBy: state.openedBy!,
  assignee: state.assignee,
  lastSeq: state.lastSeq,
  rating: state.rating,
  updatedAt,
});

function summaryFromRow(row: {
  ticket_id: string;
  subject: string;
  support_group: string;
  client_id: string | null;
  status: TicketStatus;
  opened_by: number;
  assignee: number | null;
  last_seq: number;
  rating: number | null;
  opened_at: Date;
  updated_at: Date;
  first_response_at: Date | null;
}): TicketSummary {
  return {
    ticketId: row.ticket_id,
    subject: row.subject,
    group: row.support_group,
    clientId: row.client_id,
    status: row.status,
    openedBy: row.opened_by,
    assignee: row.assignee,
    lastSeq: row.last_seq,
    rating: row.rating,
    openedAt: row.opened_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    firstResponseAt: row.first_response_at?.toISOString() ?? null,
  };
}

/**
 * Ticket commands (load → decide → append through the command handler) and queries (the read
 * models). A write answers once its events are stored and projected (bounded by WRITE_WAIT_MS),
 * so whoever is told about a message can read it back with `ticket:join`.
 */
export class TicketService {
  constructor(private readonly deps: TicketServiceDeps) {}

  async openTicket(
    actor: SupportActor,
    input: { subject: string; group: string; clientId: string | null; text: string; clientMessageId: string | undefined; organisationId: string | null },
    metadata: EventMetadata,
  ): Promise<TicketChange> {
    if (!isSupportGroup(input.group)) throw new SupportError('unknown_group', `there is no support group "${input.group.slice(0, 100)}"`);
    if (input.clientId !== null) {
      if (input.organisationId === null) throw new SupportError('client_not_found', 'your organisation has no such client');
      const client = await this.deps.rm
        .selectFrom('clients')
        .select('client_id')
        .where('client_id', '=', input.clientId)
        .where('organisation_id', '=', input.organisationId)
        .where('status', '!=', 'deleted')
        .executeTakeFirst();
      if (!client) throw new SupportError('client_not_found', 'your organisation has no such client');
    }
    const clientMessageId = input.clientMessageId ?? `open-${randomBytes(9).toString('base64url')}`;
    const ticketId = ticketIdFor(actor.sub, input.clientMessageId);
    return await this.run(ticketId, ticketId, metadata, {
      type: 'OpenTicket',
      actor,
      ticketId,
      subject: input.subject,
      group: input.group,
      clientId: input.clientId,
      text: input.text,
      clientMessageId,
    });
  }

  async postMessage(actor: SupportActor, ticketId: string, text: string, clientMessageId: string, metadata: EventMetadata): Promise<TicketChange & { seq: number }> {
    // The command's key is the message's identity: a retried append is stored once.
    const change = await this.run(ticketId, `${actor.sub}:${clientMessageId}`, metadata, {
      type: 'PostMessage',
      actor,
      text,
      clientMessageId,
    });
    return change as TicketChange & { seq: number };
  }

  async assign(actor: SupportActor, ticketId: string, assignee: number | null, metadata: EventMetadata): Promise<TicketChange> {
    if (assignee !== null && assignee !== actor.sub) {
      const user = await this.deps.db.selectFrom('users').select('staff_role').where('sub', '=', assignee).executeTakeFirst();
      if (user?.staff_role !== SUPPORT_AGENT) throw new SupportError('assignee_not_agent', 'a ticket can only be assigned to a support agent');
    }
    return await this.run(ticketId, metadata.requestId, metadata, { type: 'AssignTicket', actor, assignee });
  }

  async changeStatus(actor: SupportActor, ticketId: string, status: TicketStatus, metadata: EventMetadata): Promise<TicketChange> {
    return await this.run(ticketId, metadata.requestId, metadata, { type: 'ChangeStatus', actor, status });
  }

  async rate(actor: SupportActor, ticketId: string, rating: number, metadata: EventMetadata): Promise<TicketChange> {
    return await this.run(ticketId, metadata.requestId, metadata, { type: 'RateTicket', actor, rating });
  }

  /** `key`: the command's idempotency key (the command handler scopes it to the ticket's stream and the command type). */
  private async run(ticketId: string, key: string, metadata: EventMetadata, command: TicketCommand): Promise<TicketChange & { seq?: number }> {
    let outcome;
    try {
      outcome = await this.deps.commands.handle<TicketState, TicketEvent>(ticketStream(ticketId), ticketAggregate, { type: command.type, key, metadata }, (state) =>
        decideTicket(command, state),
      );
    } catch (error) {
      if (error instanceof TicketDomainError) {
        throw new SupportError(error.code === 'ticket_exists' ? 'ticket_not_found' : error.code, error.message);
      }
      throw error;
    }
    const position = outcome.append && !outcome.append.duplicate ? outcome.append.position : undefined;
    if (position) await this.settle(position);
    const messages: MessageView[] = [];
    let ticketChanged = false;
    for (const event of outcome.events) {
      if (event.type === 'TicketMessagePosted') messages.push({ ticketId, ...event.data, at: metadata.at });
      else if (event.type !== 'TicketOpened') ticketChanged = true;
    }
    const author = command.actor.sub;
    const clientMessageId = command.type === 'PostMessage' || command.type === 'OpenTicket' ? command.clientMessageId : undefined;
    return {
      ticket: summaryOf(outcome.state, metadata.at),
      messages,
      ticketChanged,
      duplicate: outcome.events.length === 0,
      position: position ? formatPosition(position) : null,
      ...(clientMessageId === undefined ? {} : { seq: seqOfMessage(outcome.state, author, clientMessageId) ?? outcome.state.lastSeq }),
    };
  }

  private async settle(position: Position): Promise<void> {
    const projected = await this.deps.watcher.waitFor(position, this.deps.writeWaitMs);
    if (!projected) this.deps.logger.warn({ position: formatPosition(position) }, 'support write answered before the read models reached it');
  }

  /** The ticket if the actor may read it; another user's ticket is `ticket_not_found`. */
  async findTicket(actor: SupportActor, ticketId: string): Promise<TicketSummary> {
    const row = await this.deps.rm.selectFrom('tickets').selectAll().where('ticket_id', '=', ticketId).executeTakeFirst();
    if (!row || supportAbility(actor).cannot('read', ticketSubject(row.opened_by))) {
      throw new SupportError('ticket_not_found', 'there is no such ticket');
    }
    return summaryFromRow(row);
  }

  /** Messages after `afterSeq`, oldest first, one page at a time (bounded in count and in size). */
  async messagesAfter(ticketId: string, afterSeq: number): Promise<{ messages: MessageView[]; more: boolean }> {
    const rows = await this.deps.rm
      .selectFrom('ticket_messages')
      .selectAll()
      .where('ticket_id', '=', ticketId)
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(JOIN_PAGE + 1)
      .execute();
    const messages: MessageView[] = [];
    let chars = 0;
    for (const r of rows) {
      chars += r.text.length;
      if (messages.length === JOIN_PAGE || (messages.length > 0 && chars > JOIN_PAGE_CHARS)) break;
      messages.push({
        ticketId: r.ticket_id,
        seq: r.seq,
        author: r.author,
        authorRole: r.author_role,
        text: r.text,
        at: r.at.toISOString(),
        clientMessageId: r.client_message_id,
      });
    }
    return { messages, more: messages.length < rows.length };
  }

  /** A user's own tickets; for agents also the queue (open, unassigned, oldest first), their own assignments, or all. */
  async listTickets(actor: SupportActor, scope: TicketListScope): Promise<TicketSummary[]> {
    const ability = supportAbility(actor);
    let query = this.deps.rm.selectFrom('tickets').selectAll();
    if (scope === 'mine' || ability.cannot('viewQueue', 'Ticket')) {
      query = query.where('opened_by', '=', actor.sub).orderBy('updated_at', 'desc');
    } else if (scope === 'queue') {
      query = query.where('status', '=', 'open').where('assignee', 'is', null).orderBy('opened_at', 'asc');
    } else if (scope === 'assigned') {
      query = query.where('assignee', '=', actor.sub).where('status', '!=', 'resolved').orderBy('updated_at', 'desc');
    } else {
      query = query.orderBy('updated_at', 'desc');
    }
    const rows = await query.orderBy('ticket_id').limit(200).execute();
    const tickets = rows.map(summaryFromRow);
    if (!actor.agent || tickets.length === 0) return tickets;
    const subs = [...new Set(tickets.map((t) => t.openedBy))];
    const names = new Map(
      (await this.deps.db.selectFrom('users').select(['sub', 'name']).where('sub', 'in', subs).execute()).map((u) => [u.sub, u.name]),
    );
    return tickets.map((t) => ({ ...t, openedByName: names.get(t.openedBy) ?? '' }));
  }
}
