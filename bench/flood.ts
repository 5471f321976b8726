/**
 * npm run bench:flood — what a pre-authentication denial flood costs (issue 7, finding 8).
 *
 * Starts the app on an embedded Postgres, then (from a separate process, so the load does not
 * share the server's event loop) sends N calls to GET /api/whoami, each with a random client id
 * and a well-formed random secret, from one address. Prints the answers by code, how many
 * database lookups the policy cache made, how many decision-log rows were written in full and
 * per second, and how many denials were counted.
 *
 *   npm run bench:flood [-- --requests 6000 --connections 50]
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { generateSecret } from '../src/clients/secret-format.ts';
import { emitFigures } from './figures.ts';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};

interface FloodResult {
  readonly seconds: number;
  readonly codes: Record<string, number>;
}

/** The load generator (child process): N requests with random ids, `connections` at a time. */
async function flood(url: string, requests: number, connections: number): Promise<FloodResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const codes: Record<string, number> = {};
  let next = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const headers = {
        'X-Client-Id': `kc_${randomBytes(12).toString('hex')}`,
        'X-Client-Secret': generateSecret().secret,
        'X-Client-Domain': 'shop.example.com',
        Accept: 'application/json',
      };
      const req = http.get(`${url}/api/whoami`, { agent, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          const code = (JSON.parse(body) as { code?: string }).code ?? String(res.statusCode);
          codes[code] = (codes[code] ?? 0) + 1;
          resolve();
        });
      });
      req.on('error', () => {
        codes.network_error = (codes.network_error ?? 0) + 1;
        resolve();
      });
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < requests) {
        next += 1;
        await one();
      }
    }),
  );
  agent.destroy();
  return { seconds: (performance.now() - started) / 1000, codes };
}

if (argv[0] === '--client') {
  const result = await flood(argv[1]!, Number(argv[2]), Number(argv[3]));
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
}

async function main(): Promise<void> {
  if (argv.includes('--help')) {
    console.log('npm run bench:flood [-- --requests 6000 --connections 50]');
    return;
  }
  const requests = option('requests', 6_000);
  const connections = option('connections', 50);
  const { startEmbeddedPostgres } = await import('../src/db/embedded.ts');
  const { createApp } = await import('../src/app.ts');
  const { loadConfig } = await import('../src/config.ts');
  const { createLogger } = await import('../src/logger.ts');

  const dir = await mkdtemp(join(tmpdir(), 'keyledger-bench-flood-'));
  const pg = await startEmbeddedPostgres(dir, { database: 'bench' });
  const app = await createApp({ config: loadConfig({ LOG_LEVEL: 'silent' }), databaseUrl: pg.connectionString, logger: createLogger({ level: 'silent' }) });
  try {
    const { port } = await app.listen(0, '127.0.0.1');
    const cache = app.access.cache as unknown as { lookups?: number };
    const lookupsBefore = cache.lookups;
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/flood.ts', '--client', `http://127.0.0.1:${port}`, String(requests), String(connections)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((resolve) => child.on('exit', resolve));
    const result = JSON.parse(out) as FloodResult;
    await app.access.log.flush();

    const db = app.ctx.database.db;
    const rows = Number((await sql<{ n: string }>`SELECT count(*) AS n FROM auth_denials`.execute(db)).rows[0]!.n);
    const counted = await sql<{ n: string }>`SELECT coalesce(sum(count), 0) AS n FROM auth_denial_counts`
      .execute(db)
      .then((r) => Number(r.rows[0]!.n))
      .catch(() => undefined); // before the aggregate table existed
    const lookups = lookupsBefore === undefined ? undefined : cache.lookups! - lookupsBefore;

    console.log(`GET /api/whoami with random client ids: ${requests.toLocaleString('en-US')} requests, ${connections} connections, one address`);
    console.log(`  took                  ${result.seconds.toFixed(2)} s (${Math.round(requests / result.seconds).toLocaleString('en-US')} requests/s)`);
    console.log(`  answers               ${Object.entries(result.codes).map(([code, n]) => `${code} ${n}`).join(', ')}`);
    console.log(`  policy lookups        ${lookups === undefined ? 'not counted (every request looks up)' : lookups.toLocaleString('en-US')}`);
    console.log(`  decision-log rows     ${rows.toLocaleString('en-US')} in full (${Math.round(rows / result.seconds).toLocaleString('en-US')} rows/s)`);
    console.log(`  denials counted       ${counted === undefined ? 'n/a (no aggregate table)' : counted.toLocaleString('en-US')}`);
    emitFigures('bench:flood', [
      { name: 'random-id flood requests/s', value: requests / result.seconds, unit: 'req/s' },
      ...(lookups === undefined ? [] : [{ name: 'policy lookups during the flood', value: lookups, unit: 'lookups', floor: 'requests', floorValue: requests }]),
      { name: 'decision-log rows kept in full', value: rows, unit: 'rows', floor: 'requests', floorValue: requests },
    ]);
  } finally {
    await app.close();
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
