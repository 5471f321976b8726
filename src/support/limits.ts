import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { SupportActor } from './ability.ts';
import type { SupportLimits } from './channel.ts';
import { SupportError } from './protocol.ts';

/**
 * Messages per user per window, counted in Postgres so every node shares the count (table
 * `support_limits`); if the database cannot answer, each node still limits on its own.
 * Agents have a wider window than users: they answer many tickets.
 */
export function createMessageLimiter(pool: pg.Pool, limits: SupportLimits): (actor: SupportActor) => Promise<void> {
  const limiter = (name: string, rule: { points: number; seconds: number }) =>
    new RateLimiterPostgres({
      storeClient: pool,
      tableName: 'support_limits',
      tableCreated: true,
      keyPrefix: name,
      points: rule.points,
      duration: rule.seconds,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: name, points: rule.points, duration: rule.seconds }),
    });
  const users = limiter('support-user', limits.userMessages);
  const agents = limiter('support-agent', limits.agentMessages);

  return async (actor) => {
    try {
      await (actor.agent ? agents : users).consume(String(actor.sub));
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      const seconds = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      const rule = actor.agent ? limits.agentMessages : limits.userMessages;
      throw new SupportError(
        'rate_limited',
        `too many messages: at most ${rule.points} in ${rule.seconds} seconds; try again in ${seconds} second${seconds === 1 ? '' : 's'}`,
      );
    }
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

/**
 * One message against the sender's rate limit, started now; the command awaits it before it
 * decides (TicketService `allowed`), so the count and the ticket's read overlap.
 */
export function allowance(consume: (actor: SupportActor) => Promise<void>, actor: SupportActor): Promise<void> {
  const allowed = consume(actor);
  allowed.catch(() => {}); // awaited by the command; this only keeps an early refusal from counting as unhandled
  return allowed;
}
