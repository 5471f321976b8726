import { type SupportActor, supportAbility } from './ability.ts';
import { rooms } from './channel.ts';
import { fillPlaceholders } from './desk.ts';
import type { SocketScope } from './handlers.ts';
import {
  SupportError,
  assignSchema,
  cannedRemoveSchema,
  cannedSaveSchema,
  cannedSendSchema,
  capacitySchema,
  checkMessageText,
  checkTicketId,
  hoursSchema,
  noteSchema,
  prioritySchema,
  reportSchema,
  searchSchema,
  statusSchema,
  tagsSchema,
} from './protocol.ts';
import { z } from 'zod';

/** The agents' events: notes, assignment, status, tags, priority, canned answers, the desk's lists, settings and report. */
export function registerDeskHandlers(scope: SocketScope): void {
  const { socket, deps, bind } = scope;
  const { service, queries, desk, nsp } = deps;
  const { on } = bind;

  async function agent(what: string): Promise<SupportActor> {
    const actor = await deps.actorOf(socket);
    if (supportAbility(actor).cannot('viewQueue', 'Ticket')) throw new SupportError('forbidden', `only a support agent can ${what}`);
    return actor;
  }

  on('ticket:note', noteSchema, async (input) => {
    const actor = await agent('add a private note');
    checkTicketId(input.ticketId);
    // A note has a message's limits: the same length, storable text and rate.
    checkMessageText(input.text);
    const change = await service.addNote(actor, input.ticketId, input.text, input.clientMessageId, bind.metadata(), (stored) => scope.publish(stored, true), deps.consumeMessagePoint(actor));
    scope.join(input.ticketId, change.ticket.openedBy, true);
    return { ticketId: input.ticketId, seq: change.seq, duplicate: change.duplicate };
  });

  on('ticket:canned', cannedSendSchema, async (input) => {
    const actor = await agent('send a canned answer');
    checkTicketId(input.ticketId);
    // one round trip before the append: the ticket with its customer's name, beside the answer
    const [ticket, canned] = await Promise.all([service.findTicketWithOpener(actor, input.ticketId), desk.findCanned(input.cannedId)]);
    const text = fillPlaceholders(canned.text[ticket.language], { customerName: ticket.openedByName, clientId: ticket.clientId });
    checkMessageText(text);
    const change = await service.postMessage(actor, input.ticketId, text, input.clientMessageId, bind.metadata(), (stored) => scope.publish(stored, true), deps.consumeMessagePoint(actor));
    if (change.taken && !change.taken.duplicate) scope.publish(change.taken, false);
    scope.join(input.ticketId, change.ticket.openedBy, true);
    return { ticketId: input.ticketId, seq: change.seq, text, duplicate: change.duplicate };
  });

  on('ticket:assign', assignSchema, async (input) => {
    const actor = await agent('assign tickets');
    checkTicketId(input.ticketId);
    const take = input.assignee === undefined;
    const change = await service.assign(actor, input.ticketId, take ? actor.sub : input.assignee!, take ? 'take' : 'transfer', bind.metadata());
    if (!change.duplicate) scope.publish(change, false);
    return { ticket: change.ticket };
  });

  on('ticket:status', statusSchema, async (input) => {
    const actor = await agent('change the status');
    checkTicketId(input.ticketId);
    const change = await service.changeStatus(actor, input.ticketId, input.status, bind.metadata());
    if (!change.duplicate) scope.publish(change, false);
    return { ticket: change.ticket };
  });

  on('ticket:tags', tagsSchema, async (input) => {
    const actor = await agent('tag tickets');
    checkTicketId(input.ticketId);
    const tags = [...new Set(input.tags.map((t) => t.trim().toLowerCase()))].sort();
    const change = await service.setTags(actor, input.ticketId, tags, bind.metadata());
    if (!change.duplicate) scope.publish(change, false);
    return { ticket: change.ticket };
  });

  on('ticket:priority', prioritySchema, async (input) => {
    const actor = await agent('set a priority');
    checkTicketId(input.ticketId);
    const change = await service.setPriority(actor, input.ticketId, input.priority, bind.metadata());
    if (!change.duplicate) scope.publish(change, false);
    return { ticket: change.ticket };
  });

  on('desk:list', searchSchema, async (input) => {
    const actor = await agent('see the desk');
    const [tickets, counts] = await Promise.all([queries.list(actor, input?.scope ?? 'queue', input?.q), queries.counts(actor)]);
    return { tickets, counts };
  });

  /** The oldest waiting ticket to the online agent with the most free capacity. */
  on('desk:auto-assign', z.object({}).nullish(), async () => {
    const actor = await agent('assign tickets');
    const ticketId = await queries.oldestWaiting();
    if (!ticketId) throw new SupportError('queue_empty', 'no ticket is waiting in the queue');
    const online = [...new Set((await nsp.in(rooms.agents).timeout(2_000).fetchSockets()).map((s) => s.data.sub))];
    const workload = await service.workload(online);
    let best: { sub: number; free: number } | undefined;
    for (const [sub, { capacity, load }] of workload) {
      const free = capacity - load;
      if (free > 0 && (!best || free > best.free || (free === best.free && sub < best.sub))) best = { sub, free };
    }
    if (!best) throw new SupportError('no_agent_available', 'every online agent is at capacity');
    const change = await service.assign(actor, ticketId, best.sub, 'auto', bind.metadata());
    if (!change.duplicate) scope.publish(change, false);
    return { ticket: change.ticket, assignee: best.sub };
  });

  on('desk:canned:list', z.object({}).nullish(), async () => {
    await agent('see canned answers');
    return { canned: await desk.listCanned() };
  });

  on('desk:canned:save', cannedSaveSchema, async (input) => {
    const actor = await agent('manage canned answers');
    checkMessageText(input.en);
    checkMessageText(input.nl);
    const cannedId = await desk.saveCanned(actor, input, bind.metadata());
    return { cannedId };
  });

  on('desk:canned:remove', cannedRemoveSchema, async (input) => {
    const actor = await agent('manage canned answers');
    await desk.removeCanned(actor, input.cannedId, bind.metadata());
    return {};
  });

  on('desk:capacity', capacitySchema, async (input) => {
    const actor = await agent('set a capacity');
    const sub = input.sub ?? actor.sub;
    await desk.setCapacity(actor, sub, input.capacity, bind.metadata());
    return { sub, capacity: input.capacity };
  });

  on('desk:hours', hoursSchema, async (input) => {
    const actor = await agent('set business hours');
    await desk.setHours(actor, input.group, input.hours, bind.metadata());
    return { groups: await desk.groups() };
  });

  on('desk:report', reportSchema, async (input) => {
    await agent('see the report');
    return { report: await desk.report(input?.weeks ?? 8) };
  });
}
