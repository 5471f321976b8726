import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { SupportActor } from './ability.ts';
import type { SupportLimits } from './channel.ts';
import { SupportError } from './protocol.ts';

export interface MessageLimiter {
  /**
   * One message against the sender's limit, decided on this node at once (no round trip): the
   * promise rejects with `rate_limited`. Already handled, so it may be awaited later (after the
   * command's other work) without counting as an unhandled rejection.
   */
  take(actor: SupportActor): Promise<void>;
  /** messages and notes another node stored (its `support:stream` report): counted here too */
  observe(events: readonly { type: string; data: unknown }[]): void;
}

/**
 * Messages per user per window, counted in memory on every node. Each node counts what its own
 * sockets and forms send, and also every message and note the other nodes store: they report
 * each ticket append to all nodes (`support:stream`, in the same NOTIFY as the message itself, ahead
 * of it), and that report costs this node a point for the author. So a user who spreads their
 * messages over nodes is refused as soon as the reports arrive, without a query per message (the
 * shared count in Postgres was one more round trip per message, a quarter of a node's queries).
 * The slack: what a user sends on another node in the few milliseconds before its report
 * arrives. A node that starts late does not know the messages of the window before it; nothing
 * is lost if a report is. Agents have a wider window than users: they answer many tickets.
 */
export function createMessageLimiter(limits: SupportLimits): MessageLimiter {
  const limiter = (name: string, rule: { points: number; seconds: number }) => ({
    rule,
    counter: new RateLimiterMemory({ keyPrefix: name, points: rule.points, duration: rule.seconds }),
  });
  const users = limiter('support-user', limits.userMessages);
  const agents = limiter('support-agent', limits.agentMessages);

  const refusal = (rule: { points: number; seconds: number }, ms: number) => {
    const seconds = Math.max(1, Math.ceil(ms / 1000));
    return new SupportError('rate_limited', `too many messages: at most ${rule.points} in ${rule.seconds} seconds; try again in ${seconds} second${seconds === 1 ? '' : 's'}`);
  };

  function take(actor: SupportActor): Promise<void> {
    const { rule, counter } = actor.agent ? agents : users;
    const allowed = counter.consume(String(actor.sub)).then(
      () => {},
      (error: unknown) => {
        if (error instanceof RateLimiterRes) throw refusal(rule, error.msBeforeNext);
        throw error;
      },
    );
    allowed.catch(() => {});
    return allowed;
  }

  return {
    take,
    observe(events) {
      for (const event of events) {
        if (event.type !== 'TicketMessagePosted' && event.type !== 'TicketNoteAdded') continue;
        const data = event.data as { author?: unknown; authorRole?: unknown };
        if (typeof data.author !== 'number') continue;
        // the author's role in the ticket: an agent answering, or the customer (a note is always an agent's)
        const { counter } = event.type === 'TicketNoteAdded' || data.authorRole === 'agent' ? agents : users;
        void counter.penalty(String(data.author), 1).catch(() => {});
      }
    },
  };
}

/** A token bucket per socket for every event: a flood is answered, not served. `at`: the app clock, in ms. */
export function takeEventToken(state: { tokens: number; refilledAt: number }, limits: SupportLimits, at: number): boolean {
  state.tokens = Math.min(limits.eventBurst, state.tokens + ((at - state.refilledAt) / 1000) * limits.eventsPerSecond);
  state.refilledAt = at;
  if (state.tokens < 1) return false;
  state.tokens -= 1;
  return true;
}
