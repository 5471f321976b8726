import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { SupportActor } from './ability.ts';
import type { SupportLimits } from './channel.ts';
import { SupportError } from './protocol.ts';

/** One message against the sender's limit: the verdict, and the shared count that follows it. */
export interface MessagePoint {
  /** this node's verdict (no round trip): refused with `rate_limited`, or allowed */
  readonly allowed: Promise<void>;
  /** the count shared by every node has this message (never rejects) */
  readonly counted: Promise<void>;
}

export interface MessageLimiter {
  take(actor: SupportActor): MessagePoint;
  /** `take`, and wait for the shared count too (for paths where one round trip does not matter) */
  consume(actor: SupportActor): Promise<void>;
}

/**
 * Messages per user per window. The decision is taken from this node's own count (memory, no
 * round trip, so a message needs no query before its append); the same message is then counted
 * in Postgres (table `support_limits`), the count every node shares. When the shared count says a
 * user is over (they spread their messages over nodes), this node refuses their next messages
 * until the window frees a point. The slack: on each node at most `points` per window, and in all
 * at most `points` plus what a user sends while their last shared count is still on its way (the
 * sender's ack waits for that count, so a client that waits for acks gets no slack at all). If
 * the database cannot answer, each node still limits on its own. Agents have a wider window than
 * users: they answer many tickets.
 */
export function createMessageLimiter(pool: pg.Pool, limits: SupportLimits): MessageLimiter {
  const limiter = (name: string, rule: { points: number; seconds: number }) => ({
    rule,
    local: new RateLimiterMemory({ keyPrefix: name, points: rule.points, duration: rule.seconds }),
    shared: new RateLimiterPostgres({ storeClient: pool, tableName: 'support_limits', tableCreated: true, keyPrefix: name, points: rule.points, duration: rule.seconds }),
  });
  const users = limiter('support-user', limits.userMessages);
  const agents = limiter('support-agent', limits.agentMessages);
  /** users the shared count found over their limit → until when (ms) */
  const over = new Map<string, number>();

  const refusal = (rule: { points: number; seconds: number }, ms: number) => {
    const seconds = Math.max(1, Math.ceil(ms / 1000));
    return new SupportError('rate_limited', `too many messages: at most ${rule.points} in ${rule.seconds} seconds; try again in ${seconds} second${seconds === 1 ? '' : 's'}`);
  };

  function take(actor: SupportActor): MessagePoint {
    const { rule, local, shared } = actor.agent ? agents : users;
    const key = String(actor.sub);
    const overKey = `${actor.agent ? 'agent' : 'user'}:${key}`;
    const until = over.get(overKey);
    if (until !== undefined && until <= Date.now()) over.delete(overKey);
    else if (until !== undefined) {
      const refused = Promise.reject(refusal(rule, until - Date.now()));
      refused.catch(() => {}); // awaited by the command, maybe after another await: not an unhandled rejection
      return { allowed: refused, counted: Promise.resolve() };
    }
    let count: () => Promise<void> = () => Promise.resolve();
    const allowed = local.consume(key).then(
      () => {
        count = () =>
          shared.consume(key).then(
            () => {},
            (error: unknown) => {
              // over on all nodes together: refuse from the next message on (a database error: the local count still holds)
              if (error instanceof RateLimiterRes) over.set(overKey, Date.now() + error.msBeforeNext);
            },
          );
      },
      (error: unknown) => {
        if (error instanceof RateLimiterRes) throw refusal(rule, error.msBeforeNext);
        throw error;
      },
    );
    allowed.catch(() => {}); // awaited by the command; this only keeps an early refusal from counting as unhandled
    return { allowed, counted: allowed.then(() => count(), () => {}) };
  }

  return {
    take,
    async consume(actor) {
      const point = take(actor);
      await point.allowed;
      await point.counted;
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
