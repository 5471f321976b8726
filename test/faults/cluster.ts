// A Postgres of the fault suite's own (the normal suite shares one across files running in
// parallel, which freezing or stopping would break) and app nodes on it, with the faults:
// terminate connections by application_name, freeze the server (SIGSTOP), stop and start it.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.ts';
import { startTestApp, type TestApp } from '../support/app.ts';

/** Short database timeouts, so that a frozen server is noticed quickly; generous next to a normal query. */
export const FAULT_ENV: Record<string, string> = {
  LOG_LEVEL: 'warn',
  WRITE_WAIT_MS: '10000',
  DB_CONNECT_TIMEOUT_MS: '2000',
  DB_STATEMENT_TIMEOUT_MS: '3000',
  DB_QUERY_TIMEOUT_MS: '4000',
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '5000',
  // the traffic sends wrong secrets and unknown ids from one address on purpose: the pre-lookup
  // throttle (tested on its own in access.test.ts) must not turn its valid calls into 429s
  AUTH_FAILURES_PER_IP: '1000000',
};

/** Every kind of connection a node keeps, by application_name. */
export const CONNECTION_KINDS = [
  'keyledger-app', // the request pool: sessions, read models, the event log, the decision log
  'keyledger-watcher', // LISTEN for projected batches (policy cache, read-your-writes)
  'keyledger-socket.io', // the Socket.IO Postgres adapter: its LISTEN connection and NOTIFYs
  'keyledger-projector', // the projector thread's pool
  'keyledger-projector-lock', // the projector's advisory-lock connection (leadership)
  'keyledger-projector-events', // the projector's LISTEN for appends
] as const;
export type ConnectionKind = (typeof CONNECTION_KINDS)[number];

export interface Cluster {
  readonly nodes: TestApp[];
  /** runs SQL as the embedded server's owner (only while it is up) */
  query<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  /** pg_terminate_backend on every connection with this application_name; how many */
  terminate(kind: ConnectionKind): Promise<number>;
  /** connections open now with this application_name (LISTENing ones only, if `listening`) */
  connections(kind: ConnectionKind, options?: { listening?: boolean }): Promise<number>;
  /** SIGSTOP the postmaster and every backend: it accepts TCP and answers nothing */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** a fast shutdown, as an operator's restart (every connection ends) */
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  close(): Promise<void>;
}

/** Polls `check` until it returns something other than undefined/false; the timeout is only a safety net. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The postmaster and its children (backends, background workers), from /proc. */
async function postgresPids(pgDir: string): Promise<number[]> {
  const postmaster = Number((await readFile(join(pgDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === postmaster) children.push(Number(entry));
  }
  return [postmaster, ...children];
}

export async function startCluster(options: { nodes?: number } = {}): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'keyledger-faults-'));
  const pgDir = join(dir, 'postgres');
  let server: EmbeddedDatabase = await startEmbeddedPostgres(dir);
  const databaseUrl = server.connectionString;
  const nodes: TestApp[] = [];
  // The first node projects; the others only serve (and share the Socket.IO adapter).
  for (let i = 0; i < (options.nodes ?? 1); i++) {
    nodes.push(await startTestApp({ databaseUrl, env: FAULT_ENV, runProjector: i === 0 }));
  }

  let frozen: number[] = [];
  function thaw(): void {
    for (const pid of frozen.reverse()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    frozen = [];
  }

  async function query<T>(text: string, values: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: databaseUrl, application_name: 'fault-injector', connectionTimeoutMillis: 5_000 });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query(text, values)).rows as T[];
    } finally {
      await client.end();
    }
  }

  return {
    nodes,
    query,
    async terminate(kind) {
      const rows = await query<{ terminated: boolean }>(
        'SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name = $1',
        [kind],
      );
      return rows.filter((r) => r.terminated).length;
    },
    async connections(kind, { listening = false } = {}) {
      const rows = await query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 ${listening ? "AND query LIKE 'LISTEN%'" : ''}`,
        [kind],
      );
      return rows[0]!.n;
    },
    async freeze() {
      const [postmaster] = await postgresPids(pgDir);
      // The postmaster first, so it forks nothing new while its children are stopped.
      process.kill(postmaster!, 'SIGSTOP');
      frozen = [postmaster!];
      for (let round = 0; round < 2; round++) {
        for (const pid of await postgresPids(pgDir)) {
          if (frozen.includes(pid)) continue;
          try {
            process.kill(pid, 'SIGSTOP');
            frozen.push(pid);
          } catch {
            // it exited meanwhile
          }
        }
      }
    },
    async thaw() {
      thaw();
    },
    async stopPostgres() {
      await server.stop();
    },
    async startPostgres() {
      // Same directory, same credentials, same port: the nodes' connection strings stay valid.
      server = await startEmbeddedPostgres(dir);
    },
    async close() {
      thaw();
      for (const node of nodes) await node.close().catch(() => {});
      await server.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
