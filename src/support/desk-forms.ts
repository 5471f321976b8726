import { randomUUID } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import type { AppContext } from '../context.ts';
import type { SessionUser as Account } from '../accounts/sessions.ts';
import { metadataFor } from '../http/request.ts';
import { publicBase } from '../http/origin.ts';
import { submittedIdempotencyKey } from '../web/layer.ts';
import type { SupportActor } from './ability.ts';
import { fillPlaceholders } from './desk.ts';
import { type DeskPlace, deskHref, placeOf } from './desk-pages.ts';
import type { SupportGateway } from './gateway.ts';
import {
  SupportError,
  cannedSaveSchema,
  checkMessageText,
  describeIssues,
  hoursSchema,
  prioritySchema,
  statusSchema,
  tagsSchema,
} from './protocol.ts';
import type { TicketChange } from './service.ts';
import { SUPPORT_GROUP_IDS } from './groups.ts';

type AgentOf = (req: Request, res: Response) => Promise<{ account: Account; actor: SupportActor } | undefined>;
const str = (body: Record<string, unknown>, name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');

/**
 * The desk's forms (each with the layer's CSRF token): they call the same services as the
 * socket events and fan out the same way, then go back to where the agent was (303).
 */
export function registerDeskForms(router: Router, ctx: AppContext, gateway: () => SupportGateway, agentOf: AgentOf): void {
  /** One form: the agent, the place to come back to, the action; a refusal comes back as a message. */
  function form(path: string, action: (input: { req: Request; body: Record<string, unknown>; actor: SupportActor; account: Account; place: DeskPlace; ticketId: string }) => Promise<Record<string, string> | void>) {
    router.post(path, async (req, res) => {
      const who = await agentOf(req, res);
      if (!who) return;
      const body = (req.body ?? {}) as Record<string, unknown>;
      const ticketId = typeof req.params.ticketId === 'string' ? req.params.ticketId : '';
      const place = placeOf({ ...body, ...(ticketId ? { ticket: ticketId } : {}) });
      try {
        const extra = (await action({ req, body, actor: who.actor, account: who.account, place, ticketId })) ?? {};
        res.redirect(303, deskHref({ ...place, ...(extra.ticket ? { ticket: extra.ticket } : {}) }, { done: '1' }));
      } catch (error) {
        if (!(error instanceof SupportError)) throw error;
        const name = error.details?.assignee && typeof error.details.assignee === 'object' ? String((error.details.assignee as { name?: unknown }).name ?? '') : '';
        res.redirect(303, deskHref(place, { error: error.code, message: error.message.slice(0, 300), ...(name ? { name } : {}) }));
      }
    });
  }

  const metadata = (req: Request, account: Account) => metadataFor(req, String(account.sub), ctx.now());
  const publish = (req: Request, change: TicketChange) => {
    if (!change.duplicate) gateway().publish(change, publicBase(ctx.config, req));
  };
  const parse = <T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: import('zod').ZodError } }, value: unknown): T => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new SupportError('invalid_payload', describeIssues(parsed.error));
    return parsed.data;
  };
  /** the form's idempotency key, so a double submit posts once */
  const messageId = (req: Request) => `desk-${submittedIdempotencyKey(req) ?? randomUUID()}`;

  form('/tickets/:ticketId/reply', async ({ req, body, actor, account, ticketId }) => {
    const text = str(body, 'text');
    checkMessageText(text);
    await gateway().consumeMessagePoint(actor);
    const { taken } = await gateway().service.postMessage(actor, ticketId, text, messageId(req), metadata(req, account), (stored) => publish(req, stored));
    if (taken && !taken.duplicate) publish(req, taken);
  });

  form('/tickets/:ticketId/note', async ({ req, body, actor, account, ticketId }) => {
    const text = str(body, 'text');
    checkMessageText(text);
    await gateway().consumeMessagePoint(actor);
    await gateway().service.addNote(actor, ticketId, text, messageId(req), metadata(req, account), (stored) => publish(req, stored));
  });

  form('/tickets/:ticketId/canned', async ({ req, body, actor, account, ticketId }) => {
    const support = gateway();
    const [ticket, canned] = await Promise.all([support.service.findTicket(actor, ticketId), support.desk.findCanned(str(body, 'cannedId'))]);
    const [withPeople] = await support.queries.withPeople([ticket]);
    const text = fillPlaceholders(canned.text[ticket.language], { customerName: withPeople?.customer?.name ?? '', clientId: ticket.clientId });
    checkMessageText(text);
    await support.consumeMessagePoint(actor);
    const { taken } = await support.service.postMessage(actor, ticketId, text, messageId(req), metadata(req, account), (stored) => publish(req, stored));
    if (taken && !taken.duplicate) publish(req, taken);
  });

  form('/tickets/:ticketId/take', async ({ req, actor, account, ticketId }) => {
    publish(req, await gateway().service.assign(actor, ticketId, actor.sub, 'take', metadata(req, account)));
  });

  form('/tickets/:ticketId/release', async ({ req, actor, account, ticketId }) => {
    publish(req, await gateway().service.assign(actor, ticketId, null, 'transfer', metadata(req, account)));
  });

  form('/tickets/:ticketId/status', async ({ req, body, actor, account, ticketId }) => {
    const { status } = parse(statusSchema, { ticketId, status: str(body, 'status') });
    publish(req, await gateway().service.changeStatus(actor, ticketId, status, metadata(req, account)));
  });

  form('/tickets/:ticketId/tags', async ({ req, body, actor, account, ticketId }) => {
    const raw = str(body, 'tags').split(',').map((t) => t.trim()).filter((t) => t !== '');
    const { tags } = parse(tagsSchema, { ticketId, tags: raw });
    const normal = [...new Set(tags.map((t) => t.toLowerCase()))].sort();
    publish(req, await gateway().service.setTags(actor, ticketId, normal, metadata(req, account)));
  });

  form('/tickets/:ticketId/priority', async ({ req, body, actor, account, ticketId }) => {
    const { priority } = parse(prioritySchema, { ticketId, priority: str(body, 'priority') });
    publish(req, await gateway().service.setPriority(actor, ticketId, priority, metadata(req, account)));
  });

  form('/auto-assign', async ({ req, actor, account }) => {
    const support = gateway();
    const ticketId = await support.queries.oldestWaiting();
    if (!ticketId) throw new SupportError('queue_empty', 'no ticket is waiting in the queue');
    const online = [...new Set((await support.namespace.in('agents').timeout(2_000).fetchSockets()).map((s) => (s.data as { sub: number }).sub))];
    if (!online.includes(actor.sub)) online.push(actor.sub); // the agent at the page is online, socket or not
    let best: { sub: number; free: number } | undefined;
    for (const [sub, { capacity, load }] of await support.service.workload(online)) {
      const free = capacity - load;
      if (free > 0 && (!best || free > best.free || (free === best.free && sub < best.sub))) best = { sub, free };
    }
    if (!best) throw new SupportError('no_agent_available', 'every online agent is at capacity');
    publish(req, await support.service.assign(actor, ticketId, best.sub, 'auto', metadata(req, account)));
    return { ticket: ticketId };
  });

  form('/canned', async ({ req, body, actor, account }) => {
    const input = parse(cannedSaveSchema, { title: str(body, 'title'), en: str(body, 'en'), nl: str(body, 'nl') });
    checkMessageText(input.en);
    checkMessageText(input.nl);
    await gateway().desk.saveCanned(actor, input, metadata(req, account));
  });

  form('/canned/:cannedId/remove', async ({ req, actor, account }) => {
    await gateway().desk.removeCanned(actor, String(req.params.cannedId).slice(0, 60), metadata(req, account));
  });

  form('/capacity', async ({ req, body, actor, account }) => {
    const capacity = Number(str(body, 'capacity'));
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > 100) throw new SupportError('invalid_payload', 'capacity is 0–100');
    await gateway().desk.setCapacity(actor, actor.sub, capacity, metadata(req, account));
  });

  form('/hours', async ({ req, body, actor, account }) => {
    const group = str(body, 'group');
    const days = ([] as unknown[]).concat(body.days ?? []).map(Number).filter((d) => Number.isInteger(d));
    const clear = str(body, 'clear') === '1';
    const input = parse(hoursSchema, {
      group: (SUPPORT_GROUP_IDS as readonly string[]).includes(group) ? group : '',
      hours: clear ? null : { timeZone: str(body, 'timeZone'), intervals: days.map((day) => ({ day, open: str(body, 'open'), close: str(body, 'close') })) },
    });
    await gateway().desk.setHours(actor, input.group, input.hours, metadata(req, account));
  });
}
