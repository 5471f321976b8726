import pg from 'pg';
import type { Logger } from 'pino';

/**
 * How long anything may wait on Postgres. A stopped server refuses connections at once, but a
 * frozen one (SIGSTOP, a stalled disk, a partition) accepts TCP and then answers nothing:
 * only client-side limits bound that.
 */
export interface DatabaseTimeouts {
  /** connecting, and waiting for a free pooled connection */
  readonly connectMs: number;
  /** server side: a statement running longer is cancelled (0: none) */
  readonly statementMs: number;
  /** client side: a query without an answer fails and its connection is dropped (0: none) */
  readonly queryMs: number;
  /** server side: a session idle inside a transaction is ended (0: none) */
  readonly idleInTransactionMs: number;
}

/** No statement limits (rebuilds and migrations run long statements), but never wait for ever to connect. */
export const LONG_RUNNING: DatabaseTimeouts = { connectMs: 10_000, statementMs: 0, queryMs: 0, idleInTransactionMs: 0 };

/** The pg client settings every pool and long-lived client of one database shares; `name` tells connections apart in pg_stat_activity. */
export function clientConfigFor(connectionString: string, name: string, timeouts: DatabaseTimeouts): pg.ClientConfig {
  return {
    connectionString,
    application_name: name,
    connectionTimeoutMillis: timeouts.connectMs,
    ...(timeouts.statementMs > 0 ? { statement_timeout: timeouts.statementMs } : {}),
    ...(timeouts.queryMs > 0 ? { query_timeout: timeouts.queryMs } : {}),
    ...(timeouts.idleInTransactionMs > 0 ? { idle_in_transaction_session_timeout: timeouts.idleInTransactionMs } : {}),
    // A peer that vanished without closing (a partition) is noticed by the kernel, not never.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

/**
 * A pg client that hangs up when one of its queries times out on the client side. pg fails the
 * query but keeps the connection, whose server may still be working on it: every later query
 * (a ROLLBACK, the next borrower's) would queue behind it and time out in turn. Ending it lets
 * the pool open a fresh one.
 */
export class GuardedClient extends pg.Client {
  // The overloads of pg's query() all end up here; the arguments are passed on untouched.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as (error: Error | undefined, result: unknown) => void;
      args[last] = (error: Error | undefined, result: unknown) => {
        this.dropIfTimedOut(error);
        callback(error, result);
      };
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
    const result = (super.query as (...a: unknown[]) => unknown)(...args);
    if (result instanceof Promise) result.catch((error: unknown) => this.dropIfTimedOut(error));
    return result;
  }

  private dropIfTimedOut(error: unknown): void {
    if (error instanceof Error && error.message === 'Query read timeout') this.end().catch(() => {});
  }
}

/**
 * A connection that drops must never become an uncaught `error` event. pg-pool listens for
 * errors only on idle clients; a checked-out client (a kysely transaction, a LISTEN connection
 * held for ever) has no listener, and its error would end the process. Every client of `pool`
 * gets a permanent listener that logs instead: the query in flight fails on its own, and the
 * pool discards the broken client when it is released.
 *
 * `releaseAbandoned`: for borrowers that never release a client that died (the Socket.IO
 * Postgres adapter keeps its LISTEN client and takes a new one on `end`), release it for them,
 * or each lost connection would hold a pool slot for ever.
 */
export function guardPool(pool: pg.Pool, name: string, logger: Logger | undefined, options: { releaseAbandoned?: boolean } = {}): void {
  const checkedOut = new Set<pg.PoolClient>();
  let warned = false;
  const lost = (error: Error) => {
    // One line per outage, not one per connection; back to warning once a connection succeeds.
    if (warned) return;
    warned = true;
    logger?.warn({ pool: name, err: { message: error.message, code: (error as { code?: string }).code } }, 'database connection lost');
  };
  pool.on('error', lost);
  pool.on('connect', (client) => {
    warned = false;
    client.on('error', lost);
    if (!options.releaseAbandoned) return;
    client.on('end', () => {
      if (!checkedOut.has(client)) return;
      checkedOut.delete(client);
      try {
        client.release(new Error('connection ended while checked out'));
      } catch {
        // its borrower released it after all
      }
    });
  });
  if (options.releaseAbandoned) {
    pool.on('acquire', (client) => checkedOut.add(client));
    pool.on('release', (_error, client) => checkedOut.delete(client));
  }
}

/** A pool whose clients are GuardedClients, guarded as above. */
export function createPool(
  config: pg.ClientConfig & { max: number; idleTimeoutMillis?: number },
  logger: Logger | undefined,
  options: { releaseAbandoned?: boolean } = {},
): pg.Pool {
  const pool = new pg.Pool({ idleTimeoutMillis: 30_000, ...config, Client: GuardedClient as unknown as new () => pg.ClientBase });
  guardPool(pool, config.application_name ?? 'keyledger', logger, options);
  return pool;
}
