import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Caller, PASSWORD, signUp } from './support/http.ts';

const run = promisify(execFile);

interface Server {
  child: ChildProcess;
  url: string;
  lines: string[];
  exited: Promise<number | null>;
}

/** `npm start` as a user runs it: the real entry point, no configuration but a data dir. */
async function startServer(dataDir: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    // WRITE_WAIT_MS: a write answers once projected; here that bound is only a safety net, so a
    // session made right after registering is recognised however busy the machine is
    env: { ...process.env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: '', EVENTSTORE_URL: '', WRITE_WAIT_MS: '30000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        const port = /"port":(\d+)/.exec(line);
        if (port && line.includes('listening')) resolve(`http://127.0.0.1:${port[1]}`);
      }
    });
    void exited.then((code) => reject(new Error(`server exited with ${code}: ${lines.join('\n')}`)));
  });
  return { child, url, lines, exited };
}

/** Polls /readyz until it answers 200; the timeout is only a safety net. */
async function waitReady(url: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const res = await fetch(`${url}/readyz`).catch(() => undefined);
      if (res?.status !== 200) throw new Error(`not ready yet (${res?.status ?? 'no answer'})`);
    },
    { timeout: 120_000, interval: 50 },
  );
}

/** The running postmaster of a data dir (line 1 of postmaster.pid), if any. */
async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = text ? Number(text.split('\n')[0]) : NaN;
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Alive and not a zombie. */
async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat === undefined || stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

/** Polls a condition until it holds; the timeout is only a safety net. */
async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const cli = (dataDir: string, ...args: string[]) =>
  run(process.execPath, ['bin/keyledger.js', ...args], { env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '', EVENTSTORE_URL: '' } });

describe('the process: npm start with no configuration', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'keyledger-start-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('boots the embedded Postgres, serves, shuts down in order on SIGTERM, keeps data across a restart, and the CLI reads the same data with or without it', async () => {
    const first = await startServer(dataDir);
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    await waitReady(first.url);
    const { caller, email } = await signUp(first.url);
    const { clientId } = (await caller.post('/manage/v1/clients', { name: 'Survivor' })).body;

    // every request log line carries the request id
    const requestLines = first.lines.filter((l) => l.includes('"res":'));
    expect(requestLines.length).toBeGreaterThan(0);
    for (const line of requestLines) expect(JSON.parse(line).requestId).toMatch(/.{8,}/);

    // the CLI attaches to the running server's database
    const whileRunning = await cli(dataDir, 'history', clientId);
    expect(whileRunning.stdout).toContain('ClientRegistered');

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.lines.some((l) => l.includes('shutting down'))).toBe(true);

    // the CLI starts the embedded Postgres itself when no server runs
    const stopped = await cli(dataDir, 'history', clientId, '--json');
    expect(stopped.stdout.trim().split('\n').map((l) => JSON.parse(l).type)).toEqual(['ClientRegistered', 'ClientSecretIssued']);
    const rebuilt = await cli(dataDir, 'rebuild', '--no-progress');
    expect(rebuilt.stdout).toMatch(/rebuilt read models from \d+ events/);
    const help = await cli(dataDir, '--help');
    expect(help.stdout).toContain('rebuild');
    expect(help.stdout).toContain('history');

    const second = await startServer(dataDir);
    try {
      await waitReady(second.url);
      const again = new Caller(second.url);
      expect((await again.post('/manage/v1/account/login', { email, password: PASSWORD })).status).toBe(200);
      const clients = (await again.get('/manage/v1/clients')).body.clients;
      expect(clients.map((c: { name: string }) => c.name)).toEqual(['Survivor']);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  }, 300_000);
});

describe('the process: a kill -9 leaves the embedded Postgres behind (issue 7, finding 9)', () => {
  let dataDir: string;
  const started: number[] = [];
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'keyledger-orphan-'));
  });
  afterAll(async () => {
    // whatever happened, leave no Postgres running
    for (const pid of started) if (await alive(pid)) process.kill(pid, 'SIGQUIT');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('when the server was killed with -9, then the next start takes the orphaned Postgres over and its SIGTERM stops it; the CLI still attaches to a live server without stopping it', async () => {
    const first = await startServer(dataDir);
    await waitReady(first.url);
    const { caller, email } = await signUp(first.url);
    expect((await caller.post('/manage/v1/clients', { name: 'Orphan test' })).status).toBe(201);
    const orphan = (await postmasterPid(dataDir))!;
    started.push(orphan);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(await alive(orphan)).toBe(true); // what a kill -9 leaves: a Postgres nobody will stop

    const second = await startServer(dataDir);
    let own: number | undefined;
    try {
      await waitReady(second.url);
      await until('the orphan to be gone', async () => !(await alive(orphan)));
      own = (await postmasterPid(dataDir))!;
      started.push(own);
      expect(own).not.toBe(orphan);
      expect(second.lines.some((l) => l.includes('"orphanPid":' + orphan))).toBe(true);
      // the data survived the takeover
      const again = new Caller(second.url);
      expect((await again.post('/manage/v1/account/login', { email, password: PASSWORD })).status).toBe(200);
      expect((await again.get('/manage/v1/clients')).body.clients.map((c: { name: string }) => c.name)).toEqual(['Orphan test']);

      // the CLI attaches to a server whose owner lives, and leaves it running
      expect((await cli(dataDir, 'history', (await again.get('/manage/v1/clients')).body.clients[0].clientId)).stdout).toContain('ClientRegistered');
      expect(await alive(own)).toBe(true);
      expect((await again.get('/manage/v1/clients')).status).toBe(200);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
    await until('the Postgres of the second server to stop', async () => !(await alive(own!)));
  }, 180_000);
});
