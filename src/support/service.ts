import { createHash, randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Logger } from 'pino';
import type { CoreDatabase, ReadModelDatabase } from '../db/schema.ts';
import type { CommandHandler } from '../eventstore/command-handler.ts';
import { type EventMetadata, type Position, START, comparePositions, formatPosition } from '../eventstore/port.ts';
import { inlineParameters } from '../db/inline.ts';
import type { ProjectionWatcher } from '../../projections/watcher.ts';
import { SUPPORT_LANES } from '../../projections/index.ts';
import { type SupportActor, supportAbility, ticketSubject } from './ability.ts';
import { type AuthorRole, type TicketEvent, type TicketPriority, type TicketStatus, ticketStream } from './events.ts';
import { type Language, isSupportGroup } from './groups.ts';
import { JOIN_PAGE, JOIN_PAGE_CHARS, SupportError } from './protocol.ts';
import { TicketDomainError, type TicketCommand, type TicketState, decideTicket, seqOfMessage, ticketAggregate } from './ticket.ts';
import { SUPPORT_AGENT } from './staff.ts';
import { DEFAULT_CAPACITY } from './desk.ts';
import type { AssigneeLock, AssignmentMark } from './assignee-lock.ts';

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
  readonly tags: readonly string[];
  readonly priority: TicketPriority;
  readonly language: Language;
  /** left while nobody could answer: answers are mailed to an absent customer */
  readonly offline: boolean;
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
  /** a private note (agents only) */
  readonly private?: true;
}

/** What a command changed, for the gateway to acknowledge and broadcast. */
export interface TicketChange {
  readonly ticket: TicketSummary;
  readonly messages: readonly MessageView[];
  /** status or assignee changed */
  readonly ticketChanged: boolean;
  /** nothing was written (a resend, or no change) */
  readonly duplicate: boolean;
  /** this change holds the ticket's first agent answer */
  readonly firstAnswer?: boolean;
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
  /** serialises assignments to one agent across nodes (capacity check + append), with each agent's mark */
  readonly assigneeLock: AssigneeLock;
}

const base64url = (bytes: Buffer) => bytes.toString('base64url').slice(0, 22);

/** A resent `ticket:open` (same opener, same clientMessageId) names the same ticket: opening is idempotent. */
export const ticketIdFor = (sub: number, clientMessageId: string | undefined): string =>
  `tk_${clientMessageId ? base64url(createHash('sha256').update(`${sub}\u0000${clientMessageId}`).digest()) : base64url(randomBytes(16))}`;

interface CapacityRow {
  capacity: number | null;
  load: string | number | null;
  current: number | null;
  projected_commit: string | null;
  projected_prepare: string | null;
}
interface Capacity {
  readonly capacity: number;
  readonly load: number;
  readonly current: number | null;
  /** the support lane's checkpoint when these were read */
  readonly projectedTo: Position;
}
const capacityOf = (row: CapacityRow): Capacity => ({
  capacity: row.capacity ?? DEFAULT_CAPACITY,
  load: Number(row.load ?? 0),
  current: row.current ?? null,
  projectedTo: row.projected_commit !== null && row.projected_prepare !== null ? { commit: BigInt(row.projected_commit), prepare: BigInt(row.projected_prepare) } : START,
});

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
  tags: state.tags,
  priority: state.priority,
  language: state.language,
  offline: state.offline,
});

export function summaryFromRow(row: {
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
  tags: string[];
  priority: TicketPriority;
  language: Language;
  offline: boolean;
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
    tags: row.tags,
    priority: row.priority,
    language: row.language,
    offline: row.offline,
  };
}

/** Called once a change is stored, before the read models have it: messages are delivered then. */
export type OnStored = (change: TicketChange) => void;

/**
 * Ticket commands (load → decide → append through the command handler) and the reads they
 * need. A write answers once its events are stored and projected (bounded by WRITE_WAIT_MS), so
 * its author can read it back with `ticket:join`; messages are delivered to the others as soon
 * as they are stored (`onStored`), so delivery never waits for the projector.
 */
export class TicketService {
  constructor(private readonly deps: TicketServiceDeps) {}

  async openTicket(
    actor: SupportActor,
    input: {
      subject: string;
      group: string;
      clientId: string | null;
      text: string;
      clientMessageId: string | undefined;
      organisationId: string | null;
      language: Language;
      offline: boolean;
    },
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
    // A new ticket is announced only once projected: an agent who opens it from the desk finds it.
    return await this.run(ticketId, ticketId, metadata, {
      type: 'OpenTicket',
      actor,
      ticketId,
      subject: input.subject,
      group: input.group,
      clientId: input.clientId,
      text: input.text,
      clientMessageId,
      language: input.language,
      offline: input.offline,
    });
  }

  /**
   * `allowed`: the sender's rate limit, checked while the ticket's stream is read; nothing is stored if it fails.
   *
   * An agent's first answer to a ticket nobody has takes it, in the same append (one command,
   * two events), when the agent is within capacity: counted under the agent's assignment lock,
   * like any take. An agent at capacity answers, and the ticket stays in the queue.
   */
  async postMessage(
    actor: SupportActor,
    ticketId: string,
    text: string,
    clientMessageId: string,
    metadata: EventMetadata,
    onStored?: OnStored,
    allowed?: Promise<void>,
  ): Promise<TicketChange & { seq: number; taken?: TicketChange }> {
    // The command's key is the message's identity: a retried append is stored once.
    const key = `${actor.sub}:${clientMessageId}`;
    const command = { type: 'PostMessage', actor, text, clientMessageId } as const;
    let takeDecided = false;
    if (actor.agent && (await this.answersUnassigned(actor, ticketId))) {
      takeDecided = true;
      // a refused message is refused before the lock is asked for
      if (allowed) await allowed;
      const answered = await this.answerAndTake(actor, ticketId, key, metadata, command, onStored, allowed).catch((error: unknown) => {
        // A refusal of the message is the answer's; a failure of the lock is not: the answer is
        // posted on its own (a retry of the same command, so at most once) and stays in the queue.
        if (error instanceof SupportError) throw error;
        this.deps.logger.warn({ err: error, ticketId }, 'taking the ticket with its first answer failed; the answer is posted on its own');
        return undefined;
      });
      if (answered) return answered;
    }
    const change = (await this.run(ticketId, key, metadata, command, onStored, allowed)) as TicketChange & { seq: number };
    if (takeDecided || !change.firstAnswer || change.ticket.assignee !== null) return change;
    // The ticket became one nobody has between the look and the answer (handed back, say): the
    // take follows the answer, as a command of its own, again only within capacity.
    try {
      const taken = await this.assign(actor, ticketId, actor.sub, 'take', { ...metadata, requestId: `${metadata.requestId}:take` });
      return { ...change, ticket: taken.ticket, taken };
    } catch (error) {
      if (!(error instanceof SupportError && (error.code === 'over_capacity' || error.code === 'ticket_taken' || error.code === 'database_unavailable'))) {
        this.deps.logger.warn({ err: error, ticketId }, 'the first answer was posted; taking the ticket failed');
      }
      return change;
    }
  }

  /** The ticket exists, no agent has answered it and nobody has it: an agent's message would be its first answer. */
  private async answersUnassigned(actor: SupportActor, ticketId: string): Promise<boolean> {
    // This node's cached fold, as a rule (no round trip); the command decides again on its own.
    const state = await this.deps.commands.peek(ticketStream(ticketId), ticketAggregate);
    return state.exists && !state.answered && state.assignee === null && state.openedBy !== actor.sub;
  }

  /**
   * The answer and its take in one append, under the agent's lock. Undefined when the agent is at
   * capacity (or the desk is still catching up with their assignments): nothing was written, and
   * the answer goes out on its own.
   */
  private async answerAndTake(
    actor: SupportActor,
    ticketId: string,
    key: string,
    metadata: EventMetadata,
    command: TicketCommand & { type: 'PostMessage' },
    onStored?: OnStored,
    allowed?: Promise<void>,
  ): Promise<(TicketChange & { seq: number }) | undefined> {
    return await this.underAgentLock(actor.sub, ticketId, async (counted) => {
      if (!counted || (counted.current !== actor.sub && counted.load >= counted.capacity)) return { result: undefined };
      const { stored, ...posted } = await this.run(ticketId, key, metadata, { ...command, take: true }, onStored, allowed, false);
      return { result: posted as TicketChange & { seq: number }, stored, assigned: posted.ticket.assignee === actor.sub };
    });
  }

  async addNote(
    actor: SupportActor,
    ticketId: string,
    text: string,
    clientMessageId: string,
    metadata: EventMetadata,
    onStored?: OnStored,
    allowed?: Promise<void>,
  ): Promise<TicketChange & { seq: number }> {
    const change = await this.run(ticketId, `${actor.sub}:${clientMessageId}`, metadata, { type: 'AddNote', actor, text, clientMessageId }, onStored, allowed);
    return change as TicketChange & { seq: number };
  }

  /**
   * `take`/`auto`: only while nobody has it, and within the assignee's capacity (open and pending
   * tickets assigned to them; a limit across streams, so read from the read model).
   */
  async assign(actor: SupportActor, ticketId: string, assignee: number | null, mode: 'take' | 'auto' | 'transfer', metadata: EventMetadata): Promise<TicketChange> {
    if (assignee !== null && assignee !== actor.sub) {
      const user = await this.deps.db.selectFrom('users').select('staff_role').where('sub', '=', assignee).executeTakeFirst();
      if (user?.staff_role !== SUPPORT_AGENT) throw new SupportError('assignee_not_agent', 'a ticket can only be assigned to a support agent');
    }
    if (assignee === null) return await this.assignNow(actor, ticketId, null, mode, metadata);
    return await this.underAgentLock(assignee, ticketId, async (counted) => {
      if (!counted) throw new SupportError('database_unavailable', 'the desk is still catching up with the latest assignments: try again in a moment');
      const { capacity, load, current } = counted;
      if (current !== assignee && load >= capacity) {
        throw new SupportError(
          'over_capacity',
          assignee === actor.sub
            ? `you already have ${load} open tickets, your capacity is ${capacity}: resolve or hand one back first`
            : `that agent already has ${load} open tickets, their capacity is ${capacity}`,
        );
      }
      const { stored, ...change } = await this.assignNow(actor, ticketId, assignee, mode, metadata, false);
      return { result: change, stored, assigned: true };
    });
  }

  /**
   * `work` under the agent's assignment lock, with their capacity and load counted (undefined: the
   * read models did not reach their last assignment in time). Exact under concurrency: a second
   * assignment to the agent (any node) counts the first. What `work` stored becomes the agent's
   * mark when it `assigned` them a ticket, written with the lock's release; the next holder waits
   * for the read models to reach it — not for the head of the whole log — and nobody waits for
   * the projector while holding the lock: the write settles after it.
   */
  private async underAgentLock<T>(
    agent: number,
    ticketId: string,
    work: (counted: Capacity | undefined) => Promise<{ result: T; stored?: Position; assigned?: boolean }>,
  ): Promise<T> {
    let stored: Position | undefined;
    const result = await this.deps.assigneeLock(
      agent,
      async (mark) => {
        const outcome = await work(await this.countUnderLock(agent, ticketId, mark));
        stored = outcome.stored;
        if (outcome.stored && outcome.assigned) mark.record(outcome.stored);
        return outcome.result;
      },
      inlineParameters(this.capacityQuery(agent, ticketId).compile()),
    );
    if (stored) await this.settle(stored);
    return result;
  }

  /**
   * The agent's capacity and load under their lock. The counts ride on the lock's round trip
   * (`capacityQuery` alongside); they hold if the read model had the agent's last assignment when
   * they were read (the support lane's checkpoint, read with them). Else: wait for it, count
   * again. Undefined if the read models do not reach it in time.
   */
  private async countUnderLock(assignee: number, ticketId: string, mark: AssignmentMark): Promise<Capacity | undefined> {
    const counted = mark.alongside?.[0] ? capacityOf(mark.alongside[0] as unknown as CapacityRow) : undefined;
    if (counted && (!mark.last || comparePositions(counted.projectedTo, mark.last) >= 0)) return counted;
    if (mark.last && !(await this.deps.watcher.waitFor(mark.last, this.deps.writeWaitMs, SUPPORT_LANES))) return undefined;
    return await this.capacityCheck(assignee, ticketId);
  }

  /** `settled`: false leaves waiting for the projection to the caller (the change carries what it stored). */
  private async assignNow(
    actor: SupportActor,
    ticketId: string,
    assignee: number | null,
    mode: 'take' | 'auto' | 'transfer',
    metadata: EventMetadata,
    settled = true,
  ): Promise<TicketChange & { stored?: Position }> {
    try {
      return await this.run(ticketId, metadata.requestId, metadata, { type: 'AssignTicket', actor, assignee, mode }, undefined, undefined, settled);
    } catch (error) {
      if (error instanceof SupportError && error.code === 'ticket_taken' && error.details?.assignee !== undefined) {
        const sub = error.details.assignee as number;
        const taker = await this.deps.db.selectFrom('users').select('name').where('sub', '=', sub).executeTakeFirst();
        throw new SupportError('ticket_taken', `${taker?.name ?? `agent ${sub}`} has already taken this ticket`, { assignee: { sub, name: taker?.name ?? null } });
      }
      throw error;
    }
  }

  /** Back to the queue, if `from` still has it and nobody answered it. */
  async handBack(actor: SupportActor, ticketId: string, from: number, metadata: EventMetadata): Promise<TicketChange> {
    return await this.run(ticketId, metadata.requestId, metadata, { type: 'HandBackTicket', actor, from });
  }

  async changeStatus(actor: SupportActor, ticketId: string, status: TicketStatus, metadata: EventMetadata): Promise<TicketChange> {
    return await this.run(ticketId, metadata.requestId, metadata, { type: 'ChangeStatus', actor, status });
  }

  async setTags(actor: SupportActor, ticketId: string, tags: string[], metadata: EventMetadata): Promise<TicketChange> {
    return await this.run(ticketId, metadata.requestId, metadata, { type: 'SetTags', actor, tags });
  }

  async setPriority(actor: SupportActor, ticketId: string, priority: TicketPriority, metadata: EventMetadata): Promise<TicketChange> {
    return await this.run(ticketId, metadata.requestId, metadata, { type: 'SetPriority', actor, priority });
  }

  async rate(actor: SupportActor, ticketId: string, rating: number, comment: string | null, metadata: EventMetadata): Promise<TicketChange> {
    return await this.run(ticketId, metadata.requestId, metadata, { type: 'RateTicket', actor, rating, comment });
  }

  /**
   * One agent's capacity and load, who has the ticket now, and how far the support lane had
   * projected when they were read (one statement, one snapshot).
   */
  private capacityQuery(assignee: number, ticketId: string) {
    return this.deps.rm.selectNoFrom((eb) => [
      eb.selectFrom('support_agents').select('capacity').where('sub', '=', assignee).as('capacity'),
      eb
        .selectFrom('tickets')
        .select((inner) => inner.fn.countAll<string>().as('load'))
        .where('assignee', '=', assignee)
        .where('status', '!=', 'resolved')
        .as('load'),
      eb.selectFrom('tickets').select('assignee').where('ticket_id', '=', ticketId).as('current'),
      eb.selectFrom('checkpoints').select(sql<string>`commit_position::text`.as('c')).where('projection', '=', 'support').as('projected_commit'),
      eb.selectFrom('checkpoints').select(sql<string>`prepare_position::text`.as('p')).where('projection', '=', 'support').as('projected_prepare'),
    ]);
  }

  private async capacityCheck(assignee: number, ticketId: string): Promise<Capacity> {
    return capacityOf(await this.capacityQuery(assignee, ticketId).executeTakeFirstOrThrow());
  }

  async workload(subs: readonly number[]): Promise<Map<number, { capacity: number; load: number }>> {
    const result = new Map(subs.map((sub) => [sub, { capacity: DEFAULT_CAPACITY, load: 0 }]));
    if (subs.length === 0) return result;
    const [capacities, loads] = await Promise.all([
      this.deps.rm.selectFrom('support_agents').select(['sub', 'capacity']).where('sub', 'in', [...subs]).execute(),
      this.deps.rm
        .selectFrom('tickets')
        .select(['assignee', (eb) => eb.fn.countAll<string>().as('load')])
        .where('assignee', 'in', [...subs])
        .where('status', '!=', 'resolved')
        .groupBy('assignee')
        .execute(),
    ]);
    for (const row of capacities) result.get(row.sub)!.capacity = row.capacity;
    for (const row of loads) if (row.assignee !== null) result.get(row.assignee)!.load = Number(row.load);
    return result;
  }

  /** `key`: the command's idempotency key (the command handler scopes it to the ticket's stream and the command type). */
  private async run(
    ticketId: string,
    key: string,
    metadata: EventMetadata,
    command: TicketCommand,
    onStored?: OnStored,
    precondition?: Promise<void>,
    settled = true,
  ): Promise<TicketChange & { seq?: number; stored?: Position }> {
    let outcome;
    let answeredBefore = true;
    try {
      const envelope = { type: command.type, key, metadata, ...(precondition ? { precondition } : {}) };
      outcome = await this.deps.commands.handle<TicketState, TicketEvent>(ticketStream(ticketId), ticketAggregate, envelope, (state) => {
        answeredBefore = state.answered;
        return decideTicket(command, state);
      });
    } catch (error) {
      if (error instanceof TicketDomainError) {
        throw new SupportError(
          error.code === 'ticket_exists' ? 'ticket_not_found' : error.code,
          error.message,
          error.assignee === undefined ? undefined : { assignee: error.assignee },
        );
      }
      throw error;
    }
    const position = outcome.append && !outcome.append.duplicate ? outcome.append.position : undefined;
    const messages: MessageView[] = [];
    let ticketChanged = false;
    for (const event of outcome.events) {
      if (event.type === 'TicketMessagePosted') messages.push({ ticketId, ...event.data, at: metadata.at });
      else if (event.type === 'TicketNoteAdded') messages.push({ ticketId, ...event.data, authorRole: 'agent', at: metadata.at, private: true });
      else if (event.type !== 'TicketOpened') ticketChanged = true;
    }
    const author = command.actor.sub;
    const clientMessageId = command.type === 'PostMessage' || command.type === 'OpenTicket' || command.type === 'AddNote' ? command.clientMessageId : undefined;
    const change = {
      ticket: summaryOf(outcome.state, metadata.at),
      messages,
      ticketChanged,
      duplicate: outcome.events.length === 0,
      firstAnswer: !answeredBefore && outcome.state.answered,
      position: position ? formatPosition(position) : null,
      ...(clientMessageId === undefined ? {} : { seq: seqOfMessage(outcome.state, author, clientMessageId) ?? outcome.state.lastSeq }),
    };
    if (onStored && !change.duplicate) onStored(change);
    if (!settled) return position ? { ...change, stored: position } : change;
    if (position) await this.settle(position);
    return change;
  }

  private async settle(position: Position): Promise<void> {
    const projected = await this.deps.watcher.waitFor(position, this.deps.writeWaitMs, SUPPORT_LANES);
    if (!projected) this.deps.logger.warn({ position: formatPosition(position) }, 'support write answered before the read models reached it');
  }

  /** The ticket if the actor may read it; another user's ticket is `ticket_not_found`. */
  async findTicket(actor: SupportActor, ticketId: string): Promise<TicketSummary & { organisationId?: string }> {
    const row = await this.deps.rm.selectFrom('tickets').selectAll().where('ticket_id', '=', ticketId).executeTakeFirst();
    if (!row || supportAbility(actor).cannot('read', ticketSubject(row.opened_by))) {
      throw new SupportError('ticket_not_found', 'there is no such ticket');
    }
    return summaryFromRow(row);
  }

  /** `findTicket` with the opener's name, in one round trip (a canned answer's placeholders). */
  async findTicketWithOpener(actor: SupportActor, ticketId: string): Promise<TicketSummary & { openedByName: string }> {
    const row = await this.deps.rm
      .selectFrom('tickets')
      .selectAll()
      // users is a core table (the default schema): a subquery, not a join through the read-model schema
      .select(sql<string | null>`(SELECT name FROM users WHERE users.sub = tickets.opened_by)`.as('opener_name'))
      .where('ticket_id', '=', ticketId)
      .executeTakeFirst();
    if (!row || supportAbility(actor).cannot('read', ticketSubject(row.opened_by))) {
      throw new SupportError('ticket_not_found', 'there is no such ticket');
    }
    return { ...summaryFromRow(row), openedByName: row.opener_name ?? '' };
  }

  /** Messages after `afterSeq`, oldest first, one page at a time (bounded in count and in size); notes only for agents. */
  async messagesAfter(ticketId: string, afterSeq: number, withNotes: boolean): Promise<{ messages: MessageView[]; more: boolean }> {
    let query = this.deps.rm
      .selectFrom('ticket_messages')
      .selectAll()
      .where('ticket_id', '=', ticketId)
      .where('seq', '>', afterSeq);
    if (!withNotes) query = query.where('private', '=', false);
    const rows = await query.orderBy('seq').limit(JOIN_PAGE + 1).execute();
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
        ...(r.private ? { private: true as const } : {}),
      });
    }
    return { messages, more: messages.length < rows.length };
  }
}
