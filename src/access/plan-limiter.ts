import type pg from 'pg';
import type { Logger } from 'pino';

/**
 * The plan rate limit (DESIGN §6 check 13), counted across every node on the database without a
 * round trip per request. Windows are fixed minutes of the app's clock. Each node keeps a local
 * bucket per client and leases shares of the window's budget from Postgres (`kl_rate_lease`,
 * migration 060), never more than the window has left; a request spends a local token
 * synchronously. A node tops its bucket up before it runs dry, and gives back what an idle
 * bucket holds (`kl_rate_return`), so budget stranded on a quiet node goes back to the others.
 *
 * While the database does not answer, each node counts alone for a while (the plan's whole rate
 * per node, as before this limiter): refusing every partner because the limiter's table is away
 * would turn an outage of the counter into an outage of the API.
 */
export interface PlanLimiterOptions {
  readonly pool: pg.Pool;
  readonly now: () => Date;
  readonly logger: Logger;
  readonly windowMs?: number;
  /** a lease is this share of the plan's rate (at least 1 request) */
  readonly leaseShare?: number;
  /** a bucket unused this long gives its tokens back */
  readonly idleReturnMs?: number;
}

interface Bucket {
  readonly clientId: string;
  readonly window: number;
  readonly limit: number;
  readonly chunk: number;
  tokens: number;
  /** the window's budget is spent (as of the last lease); re-asked after `recheckAt` */
  exhausted: boolean;
  recheckAt: number;
  lastUse: number;
  leasing: Promise<void> | undefined;
}

/** What a request gets: 0 (go on) or the milliseconds until the window ends (refused). */
export type RateVerdict = number | Promise<number>;

const DEGRADED_MS = 5_000;
const EXHAUSTED_RECHECK_MS = 1_000;

export class PlanLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly windowMs: number;
  private readonly leaseShare: number;
  private readonly idleReturnMs: number;
  private degradedUntil = 0;
  private lastWarning = 0;
  private readonly timer: NodeJS.Timeout;
  private lastPrune = 0;
  /** leases asked of Postgres (tests and benches: what the limit costs) */
  leases = 0;

  constructor(private readonly options: PlanLimiterOptions) {
    this.windowMs = options.windowMs ?? 60_000;
    this.leaseShare = options.leaseShare ?? 0.02;
    this.idleReturnMs = options.idleReturnMs ?? 2_000;
    this.timer = setInterval(() => void this.housekeeping(), 1_000);
    this.timer.unref();
  }

  /** One request of `clientId` against `limit` requests per window. */
  take(clientId: string, limit: number): RateVerdict {
    const now = this.options.now().getTime();
    const window = now - (now % this.windowMs);
    let bucket = this.buckets.get(clientId);
    if (!bucket || bucket.window !== window || bucket.limit !== limit) {
      if (bucket && bucket.window === window && bucket.tokens > 0) void this.giveBack(bucket, bucket.tokens);
      bucket = {
        clientId,
        window,
        limit,
        chunk: Math.max(1, Math.ceil(limit * this.leaseShare)),
        tokens: 0,
        exhausted: false,
        recheckAt: 0,
        lastUse: now,
        leasing: undefined,
      };
      this.buckets.set(clientId, bucket);
    }
    bucket.lastUse = now;
    if (bucket.tokens > 0) {
      bucket.tokens -= 1;
      // top up before it runs dry, so requests rarely wait for a lease
      if (bucket.tokens * 4 < bucket.chunk && !bucket.leasing && !bucket.exhausted) void this.lease(bucket);
      return 0;
    }
    if (bucket.exhausted && now < bucket.recheckAt) return window + this.windowMs - now;
    return this.waitForToken(bucket, now);
  }

  private async waitForToken(bucket: Bucket, now: number): Promise<number> {
    for (;;) {
      await this.lease(bucket);
      if (bucket.tokens > 0) {
        bucket.tokens -= 1;
        return 0;
      }
      if (bucket.exhausted || this.buckets.get(bucket.clientId) !== bucket) return bucket.window + this.windowMs - now;
    }
  }

  /** One lease at a time per bucket; concurrent requests wait for the same one. */
  private lease(bucket: Bucket): Promise<void> {
    bucket.leasing ??= this.askForTokens(bucket).finally(() => {
      bucket.leasing = undefined;
    });
    return bucket.leasing;
  }

  private async askForTokens(bucket: Bucket): Promise<void> {
    const want = bucket.chunk;
    if (Date.now() < this.degradedUntil) {
      bucket.tokens += this.localShare(bucket);
      return;
    }
    try {
      this.leases += 1;
      const { rows } = await this.options.pool.query<{ n: number }>('SELECT kl_rate_lease($1, $2, $3, $4) AS n', [
        bucket.clientId,
        new Date(bucket.window),
        bucket.limit,
        want,
      ]);
      const granted = rows[0]?.n ?? 0;
      bucket.tokens += granted;
      bucket.exhausted = granted < want;
      bucket.recheckAt = this.options.now().getTime() + EXHAUSTED_RECHECK_MS;
    } catch (error) {
      this.degradedUntil = Date.now() + DEGRADED_MS;
      const now = Date.now();
      if (now - this.lastWarning > 60_000) {
        this.lastWarning = now;
        this.options.logger.warn({ err: error }, 'plan rate limit: leases unavailable; counting per node for now');
      }
      bucket.tokens += this.localShare(bucket);
    }
  }

  /** Without the database: this node counts alone, up to the plan's rate per window. */
  private localShare(bucket: Bucket & { localGiven?: number }): number {
    const given = bucket.localGiven ?? 0;
    const share = Math.max(0, Math.min(bucket.chunk, bucket.limit - given));
    bucket.localGiven = given + share;
    if (share === 0) {
      bucket.exhausted = true;
      bucket.recheckAt = this.options.now().getTime() + EXHAUSTED_RECHECK_MS;
    }
    return share;
  }

  private async giveBack(bucket: Bucket, unused: number): Promise<void> {
    if (unused <= 0 || Date.now() < this.degradedUntil) return;
    bucket.tokens -= unused;
    try {
      await this.options.pool.query('SELECT kl_rate_return($1, $2, $3)', [bucket.clientId, new Date(bucket.window), unused]);
    } catch {
      // lost with the window: it only makes the cluster stricter until the window ends
    }
  }

  /** Gives back what idle buckets hold; forgets past windows; prunes old rows now and then. */
  private async housekeeping(): Promise<void> {
    const now = this.options.now().getTime();
    const current = now - (now % this.windowMs);
    const returns: Promise<void>[] = [];
    for (const [clientId, bucket] of this.buckets) {
      if (bucket.window < current) this.buckets.delete(clientId);
      else if (!bucket.leasing && bucket.tokens > 0 && now - bucket.lastUse >= this.idleReturnMs) returns.push(this.giveBack(bucket, bucket.tokens));
    }
    await Promise.all(returns);
    if (Date.now() - this.lastPrune > 600_000 && Date.now() >= this.degradedUntil) {
      this.lastPrune = Date.now();
      await this.options.pool
        .query('DELETE FROM rate_limit_leases WHERE window_start < $1', [new Date(current - 10 * this.windowMs)])
        .catch(() => {});
    }
  }

  /** Gives back every unused token (a node shutting down). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    const now = this.options.now().getTime();
    const current = now - (now % this.windowMs);
    await Promise.all([...this.buckets.values()].filter((b) => b.window === current && !b.leasing).map((b) => this.giveBack(b, b.tokens)));
    this.buckets.clear();
  }
}
