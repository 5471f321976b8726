import type pg from 'pg';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
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

/** How long a node gathers the messages it counted before adding them to the shared count in one statement. */
export const SHARED_COUNT_MS = 20;

/**
 * Messages per user per window. The decision is taken from this node's own count (memory, no
 * round trip, so a message needs no query before its append); the same message is then added to
 * the count every node shares (table `support_limits`, rate-limiter-flexible's layout), gathered
 * for SHARED_COUNT_MS and written in one statement — one query per node every 20 ms at most,
 * instead of one per message. When the shared count says a user is over (they spread their
 * messages over nodes), this node refuses their next messages until the window frees a point.
 * The slack: on each node at most `points` per window, and in all at most `points` plus what a
 * user sends while their last shared count is on its way (the sender's ack waits for that count,
 * so a client that waits for acks gets no slack at all). If the database cannot answer, each node
 * still limits on its own. Agents have a wider window than users: they answer many tickets.
 */
export function createMessageLimiter(pool: pg.Pool, limits: SupportLimits): MessageLimiter {
  const limiter = (name: string, rule: { points: number; seconds: number }) => ({
    name,
    rule,
    local: new RateLimiterMemory({ keyPrefix: name, points: rule.points, duration: rule.seconds }),
  });
  const users = limiter('support-user', limits.userMessages);
  const agents = limiter('support-agent', limits.agentMessages);
  /** users the shared count found over their limit (`<prefix>:<sub>`) → until when (ms) */
  const over = new Map<string, number>();
  const shared = createSharedCount(pool, over);

  const refusal = (rule: { points: number; seconds: number }, ms: number) => {
    const seconds = Math.max(1, Math.ceil(ms / 1000));
    return new SupportError('rate_limited', `too many messages: at most ${rule.points} in ${rule.seconds} seconds; try again in ${seconds} second${seconds === 1 ? '' : 's'}`);
  };

  function take(actor: SupportActor): MessagePoint {
    const { name, rule, local } = actor.agent ? agents : users;
    const key = `${name}:${actor.sub}`;
    const until = over.get(key);
    if (until !== undefined && until <= Date.now()) over.delete(key);
    else if (until !== undefined) return { allowed: Promise.reject(refusal(rule, until - Date.now())), counted: Promise.resolve() };
    const allowed = local.consume(String(actor.sub)).then(
      () => {},
      (error: unknown) => {
        if (error instanceof RateLimiterRes) throw refusal(rule, error.msBeforeNext);
        throw error;
      },
    );
    allowed.catch(() => {}); // awaited by the command; this only keeps an early refusal from counting as unhandled
    return { allowed, counted: allowed.then(() => shared.add(key, rule), () => {}) };
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

/**
 * The count every node shares, one statement per SHARED_COUNT_MS: each key's messages since the
 * last flush are added (a window that has ended starts again), and a key found past its limit is
 * put in `over` until its window ends. Database errors are swallowed: the local count still holds.
 */
function createSharedCount(pool: pg.Pool, over: Map<string, number>) {
  let pending = new Map<string, { n: number; rule: { points: number; seconds: number }; done: (() => void)[] }>();
  let timer: NodeJS.Timeout | undefined;

  async function flush(): Promise<void> {
    timer = undefined;
    const batch = pending;
    pending = new Map();
    const now = Date.now();
    const keys = [...batch.keys()];
    try {
      const { rows } = await pool.query<{ key: string; points: number; expire: string }>({
        name: 'support-limits-add',
        text: `INSERT INTO support_limits (key, points, expire)
                 SELECT k, n, $4::bigint + s * 1000 FROM unnest($1::text[], $2::int[], $3::int[]) AS t(k, n, s)
               ON CONFLICT (key) DO UPDATE SET
                 points = CASE WHEN support_limits.expire <= $4 THEN EXCLUDED.points ELSE support_limits.points + EXCLUDED.points END,
                 expire = CASE WHEN support_limits.expire <= $4 THEN EXCLUDED.expire ELSE support_limits.expire END
               RETURNING key, points, expire::text`,
        values: [keys, keys.map((k) => batch.get(k)!.n), keys.map((k) => batch.get(k)!.rule.seconds), now],
      });
      for (const row of rows) {
        if (row.points > batch.get(row.key)!.rule.points) over.set(row.key, Number(row.expire));
      }
    } catch {
      // the database cannot count now: each node limits on its own meanwhile
    } finally {
      for (const entry of batch.values()) for (const done of entry.done) done();
    }
  }

  return {
    add(key: string, rule: { points: number; seconds: number }): Promise<void> {
      return new Promise((resolve) => {
        const entry = pending.get(key);
        if (entry) {
          entry.n += 1;
          entry.done.push(resolve);
        } else pending.set(key, { n: 1, rule, done: [resolve] });
        timer ??= setTimeout(() => void flush(), SHARED_COUNT_MS);
      });
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
