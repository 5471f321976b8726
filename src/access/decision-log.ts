import type { Logger } from 'pino';
import { sql } from 'kysely';
import type { Database } from '../db/database.ts';
import { type DenialCount, DenialSampler, type DenialSamplerOptions } from './denial-sampler.ts';

export interface Denial {
  readonly requestId: string;
  readonly at: Date;
  readonly clientId: string | null;
  readonly domain: string | null;
  readonly ip: string | null;
  readonly endpoint: string;
  /** SHA-256 (hex) of the presented secret — never the secret */
  readonly secretSha256: string | null;
  readonly reason: string;
  readonly status: number;
  /** the read-model position the decision was made at */
  readonly position: string | null;
  /**
   * true when clientId names an existing client (the denial was decided after the lookup);
   * otherwise the id as sent is unverified, and its denials are grouped in one bucket
   */
  readonly clientKnown?: boolean;
}

export interface DecisionLogOptions extends DenialSamplerOptions {
  readonly maxQueue?: number;
  readonly flushEveryMs?: number;
  readonly batchSize?: number;
  readonly retentionDays?: number;
  readonly pruneEveryMs?: number;
}

/**
 * Writes denials in batches, off the request path, through a bounded queue: when the queue is
 * full a denial is dropped and counted — a request never waits for the log. Every denial is
 * counted per (client, minute, reason, caller network) in `auth_denial_counts`; only the first
 * of each group are kept in full (see DenialSampler), so a flood cannot grow the log without
 * bound. Allows are only counted, per client, domain and minute. Old rows are pruned in batches.
 */
export class DecisionLog {
  private queue: Denial[] = [];
  private allows = new Map<string, number>();
  private readonly sampler: DenialSampler;
  private flushing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly pruneTimer: NodeJS.Timeout;
  dropped = 0;
  private readonly maxQueue: number;
  private readonly batchSize: number;
  private readonly retentionDays: number;

  constructor(
    private readonly database: Database,
    private readonly logger: Logger,
    options: DecisionLogOptions = {},
  ) {
    this.maxQueue = options.maxQueue ?? 10_000;
    this.batchSize = options.batchSize ?? 500;
    this.retentionDays = options.retentionDays ?? 30;
    this.sampler = new DenialSampler(options);
    this.timer = setInterval(() => void this.flush(), options.flushEveryMs ?? 100);
    this.timer.unref();
    this.pruneTimer = setInterval(() => void this.prune().catch(() => {}), options.pruneEveryMs ?? 3_600_000);
    this.pruneTimer.unref();
  }

  deny(denial: Denial): void {
    this.sampler.record(denial, () => this.enqueue(denial));
  }

  /** Queues a denial to be kept in full; false (and counted as dropped) when the queue is full. */
  private enqueue(denial: Denial): boolean {
    if (this.queue.length >= this.maxQueue) {
      this.dropped += 1;
      if (this.dropped % 1_000 === 1) this.logger.warn({ dropped: this.dropped }, 'decision log queue full; denials dropped');
      return false;
    }
    this.queue.push(denial);
    return true;
  }

  allow(clientId: string, domainId: string, at: Date): void {
    const minute = Math.floor(at.getTime() / 60_000) * 60_000;
    const key = `${clientId}\u0000${domainId}\u0000${minute}`;
    this.allows.set(key, (this.allows.get(key) ?? 0) + 1);
  }

  /** Writes what is queued; resolves when it is stored (or kept for a later try). */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  // While the database is unavailable, writes are retried with backoff (the flush timer keeps
  // ticking, but writes only once the backoff has passed); what failed stays queued, within the bound.
  private failures = 0;
  private retryAt = 0;

  /** denial counts whose write failed, written with the next batch */
  private unwrittenCounts: DenialCount[] = [];

  private writeFailed(error: unknown, batch: Denial[], allows: Map<string, number>, counts: DenialCount[]): void {
    this.failures += 1;
    this.retryAt = Date.now() + Math.min(100 * 2 ** this.failures, 5_000);
    if (this.failures === 1) this.logger.warn({ err: error, denials: batch.length }, 'decision log write failed; keeping the batch and retrying');
    const room = Math.max(0, this.maxQueue - this.queue.length);
    this.dropped += Math.max(0, batch.length - room);
    this.queue.unshift(...batch.slice(0, room));
    for (const [key, count] of allows) this.allows.set(key, (this.allows.get(key) ?? 0) + count);
    this.unwrittenCounts = counts;
  }

  private async write(force = false): Promise<void> {
    if (!force && Date.now() < this.retryAt) return;
    while (this.queue.length > 0 || this.allows.size > 0 || this.sampler.hasPending || this.unwrittenCounts.length > 0) {
      const batch = this.queue.splice(0, this.batchSize);
      const allows = this.allows;
      this.allows = new Map();
      const counts = [...this.unwrittenCounts, ...this.sampler.drain()];
      this.unwrittenCounts = [];
      try {
        if (batch.length > 0) {
          await this.database.db
            .insertInto('auth_denials')
            .values(
              batch.map((d) => ({
                request_id: d.requestId,
                at: d.at,
                client_id: d.clientId,
                domain: d.domain,
                ip: d.ip,
                endpoint: d.endpoint,
                secret_sha256: d.secretSha256,
                reason: d.reason,
                status: d.status,
                position: d.position,
              })),
            )
            .onConflict((oc) => oc.column('request_id').doNothing())
            .execute();
        }
        if (allows.size > 0) {
          const rows = [...allows].map(([key, count]) => {
            const [client_id, domain_id, minute] = key.split('\u0000') as [string, string, string];
            return { client_id, domain_id, minute: new Date(Number(minute)), count };
          });
          await this.database.db
            .insertInto('auth_allow_counts')
            .values(rows)
            .onConflict((oc) =>
              oc.columns(['client_id', 'domain_id', 'minute']).doUpdateSet({ count: sql`auth_allow_counts.count + excluded.count` }),
            )
            .execute();
        }
        for (let i = 0; i < counts.length; i += this.batchSize) await this.writeCounts(counts.slice(i, i + this.batchSize));
      } catch (error) {
        this.writeFailed(error, batch, allows, counts);
        return;
      }
      if (this.failures > 0) this.logger.info({ failures: this.failures }, 'decision log writes again');
      this.failures = 0;
      this.retryAt = 0;
    }
  }

  private async writeCounts(counts: readonly DenialCount[]): Promise<void> {
    await this.database.db
      .insertInto('auth_denial_counts')
      .values(counts.map((c) => ({ client_id: c.clientId, minute: c.minute, reason: c.reason, ip: c.ip, count: c.count, sampled: c.sampled })))
      .onConflict((oc) =>
        oc.columns(['client_id', 'minute', 'reason', 'ip']).doUpdateSet({
          count: sql`auth_denial_counts.count + excluded.count`,
          sampled: sql`auth_denial_counts.sampled + excluded.sampled`,
        }),
      )
      .execute();
  }

  /** Deletes rows past retention, a batch at a time; returns how many went. */
  async prune(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.retentionDays * 86_400_000);
    let total = 0;
    for (;;) {
      const result = await sql<{ n: number }>`
        WITH gone AS (
          DELETE FROM auth_denials WHERE request_id IN (SELECT request_id FROM auth_denials WHERE at < ${cutoff} LIMIT 5000)
          RETURNING 1
        ) SELECT count(*)::int AS n FROM gone`.execute(this.database.db);
      const n = result.rows[0]?.n ?? 0;
      total += n;
      if (n < 5_000) break;
    }
    await sql`DELETE FROM auth_allow_counts WHERE minute < ${cutoff}`.execute(this.database.db);
    await sql`DELETE FROM auth_denial_counts WHERE minute < ${cutoff}`.execute(this.database.db);
    return total;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.pruneTimer);
    await this.flushing;
    await this.write(true);
    // Whatever could not be written by now is lost with the process: count it.
    this.dropped += this.queue.length;
    this.queue = [];
  }
}
