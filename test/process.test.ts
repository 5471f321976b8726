import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    env: { ...process.env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: '', EVENTSTORE_URL: '' },
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

async function waitReady(url: string): Promise<void> {
  // ready once a projector leads; the bound is only a safety net for a busy machine
  for (let i = 0; i < 1_200; i++) {
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('never ready');
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
  }, 120_000);
});
