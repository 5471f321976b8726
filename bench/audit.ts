/**
 * npm run bench:audit — the audit export's rate and memory.
 *
 * Starts the app on an embedded Postgres, signs an organisation up, writes N audit-log rows for
 * it (straight into the read model: the export reads only that), then
 *   1. exports them over HTTP (GET /manage/v1/audit/export) into a file, the client in a child
 *      process (so the CPU time and memory measured are the server's),
 *   2. verifies the file with the CLI's verifier,
 * and prints events/s and the process's peak RSS and heap above the level before each step.
 * It does so at N/5 and at N events: flat memory means the same peak for both.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { verifyFile } from '../src/audit/audit-cli.ts';
import { signUp } from '../test/support/http.ts';
import { int } from './lib.ts';
import { type BenchFigure, emitFigures } from './figures.ts';

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log(`npm run bench:audit [-- --events N] [-- --quick]

Exports N audit events of one organisation over HTTP and verifies the file; prints events/s
and peak memory above the starting level, at N/5 and at N events.
  --events N   default 1,000,000
  --quick      200,000 events`);
  process.exit(0);
}
const eventsArg = argv.indexOf('--events');
const total = eventsArg >= 0 ? Number(argv[eventsArg + 1]) : argv.includes('--quick') ? 200_000 : 1_000_000;
if (!Number.isInteger(total) || total < 10) throw new Error('--events must be a whole number ≥ 10');

/**
 * What `work` costs: wall time, this process's CPU time, and its peak RSS and heap above the
 * level when it started. `retained` is the heap still in use after a full collection (sampled
 * each second when run with --expose-gc, as npm run bench:audit does): flat memory means it
 * stays near zero however many events pass; the plain heap peak also counts garbage not yet
 * collected.
 */
async function measured<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number; cpu: number; rss: number; heap: number; retained: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  const cpuBefore = process.cpuUsage();
  let rss = before.rss;
  let heap = before.heapUsed;
  let retained = before.heapUsed;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  const timer = setInterval(sample, 20);
  const collector = gc
    ? setInterval(() => {
        gc();
        retained = Math.max(retained, process.memoryUsage().heapUsed);
      }, 1000)
    : undefined;
  const started = performance.now();
  try {
    const result = await work();
    sample();
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    return { result, seconds, cpu: (cpu.user + cpu.system) / 1e6, rss: rss - before.rss, heap: heap - before.heapUsed, retained: gc ? retained - before.heapUsed : Number.NaN };
  } finally {
    clearInterval(timer);
    clearInterval(collector);
  }
}

/** GET url with the session cookie into a file, from a child process; resolves when it exits. */
function download(url: string, cookie: string, file: string): Promise<void> {
  const script = `
    const { createWriteStream } = require('node:fs');
    const { Readable } = require('node:stream');
    const { pipeline } = require('node:stream/promises');
    fetch(process.argv[1], { headers: { cookie: process.argv[2] } }).then(async (res) => {
      if (res.status !== 200) throw new Error('export answered ' + res.status);
      await pipeline(Readable.fromWeb(res.body), createWriteStream(process.argv[3]));
    }).catch((e) => { console.error(e); process.exit(1); });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, url, cookie, file], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the download exited with ${code}`))));
  });
}

const mb = (bytes: number) => (Number.isNaN(bytes) ? 'n/a (run with --expose-gc)' : `${(bytes / 1024 / 1024).toFixed(1)} MB`);

/** Adds rows numbered [from, to) to the organisation's audit log: a mix of real event shapes and actors. */
async function addEvents(client: pg.Client, organisationId: string, sub: number, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += 200_000) {
    const end = Math.min(to, start + 200_000);
    await client.query(
      `INSERT INTO rm.audit_log (commit_position, prepare_position, event_id, stream, stream_revision, type, client_id, organisation_id,
                                 data, actor, at, correlation_id, causation_id, request_id, ip, user_agent)
       SELECT 1000000000 + i, i, gen_random_uuid(), 'client-kc_bench' || (i % 50), i / 50,
              (ARRAY['DomainUpdated','ClientSecretRotated','SecretLinkedToDomain','ClientRenamed'])[1 + i % 4],
              'kc_bench' || (i % 50), $1,
              CASE i % 4
                WHEN 0 THEN jsonb_build_object('domainId', 'dom_' || i, 'changes', jsonb_build_object('serverIps', jsonb_build_array('203.0.113.0/24', '2001:db8::/32'), 'active', true))
                WHEN 1 THEN jsonb_build_object('secretId', 'sec_' || i, 'newSecretId', 'sec_n' || i, 'label', 'Production', 'hint', 'klsk_…a1B2', 'graceSeconds', 3600, 'graceUntil', '2026-01-01T01:00:00.000Z', 'domainIds', jsonb_build_array('dom_1'))
                WHEN 2 THEN jsonb_build_object('secretId', 'sec_' || i, 'domainId', 'dom_' || i)
                ELSE jsonb_build_object('name', 'Webshop ' || i, 'previousName', 'Webshop')
              END,
              CASE WHEN i % 10 = 0 THEN 'cli' ELSE $2 END,
              timestamptz '2025-01-01T00:00:00Z' + i * interval '1 second',
              'corr-' || i, 'req-' || i, 'req-' || i, '203.0.113.7', 'Mozilla/5.0 (bench)'
         FROM generate_series($3::bigint, $4::bigint - 1) AS i`,
      [organisationId, String(sub), start, end],
    );
  }
  await client.query('ANALYZE rm.audit_log');
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'keyledger-bench-audit-'));
  const pgServer = await startEmbeddedPostgres(dir, { database: 'bench' });
  // Interrupted: stop the embedded Postgres and remove its data rather than leave them behind.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void pgServer
        .stop()
        .then(() => rm(dir, { recursive: true, force: true }))
        .finally(() => process.exit(130));
    });
  }
  const app = await createApp({ config: loadConfig({ LOG_LEVEL: 'silent', WRITE_WAIT_MS: '60000' }), databaseUrl: pgServer.connectionString, logger: createLogger({ level: 'silent' }) });
  const client = new pg.Client({ connectionString: pgServer.connectionString });
  try {
    const { port } = await app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${port}`;
    const { caller, sub } = await signUp(base);
    const organisationId = (await caller.get('/manage/v1/account/me')).body.organisation.id as string;
    const cookie = [...caller.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    await client.connect();

    console.log(`audit export over HTTP and verify, one organisation (Node ${process.version}, embedded Postgres)`);
    let written = 0;
    const figures: BenchFigure[] = [];
    for (const size of [Math.floor(total / 5), total]) {
      process.stdout.write(`  writing ${int(size - written)} audit-log rows… `);
      await addEvents(client, organisationId, sub, written, size);
      written = size;
      console.log('done');
      const file = join(dir, `audit-${size}.ndjson`);
      // The client runs in its own process, so what is measured here is the server's work.
      const exported = await measured(() => download(`${base}/manage/v1/audit/export`, cookie, file));
      const bytes = (await stat(file)).size;
      const verified = await measured(() => verifyFile(file));
      if (!verified.result.ok) throw new Error(`the export does not verify: ${JSON.stringify(verified.result)}`);
      const events = verified.result.events;
      // the org's own sign-up events are in the file too
      if (events < size) throw new Error(`exported ${events} events, expected at least ${size}`);
      console.log(`  ${int(events)} events, ${mb(bytes)}`);
      console.log(
        `    export  ${int(events / exported.seconds).padStart(7)} events/s (${exported.seconds.toFixed(1)} s; server busy ${((exported.cpu / exported.seconds) * 100).toFixed(0)} % of a core, ` +
          `${((exported.cpu / events) * 1e6).toFixed(1)} µs CPU an event)   peak +${mb(exported.rss)} RSS, +${mb(exported.heap)} heap, +${mb(exported.retained)} retained`,
      );
      console.log(
        `    verify  ${int(events / verified.seconds).padStart(7)} events/s (${verified.seconds.toFixed(1)} s; ${((verified.cpu / events) * 1e6).toFixed(1)} µs CPU an event)` +
          `   peak +${mb(verified.rss)} RSS, +${mb(verified.heap)} heap, +${mb(verified.retained)} retained`,
      );
      await rm(file);
      figures.push({ name: `audit export of ${int(events)} events`, value: events / exported.seconds, unit: 'events/s', floor: 'target', floorValue: 50_000, target: '≥ 50,000/s', met: events / exported.seconds >= 50_000 });
      figures.push({ name: `audit verify of ${int(events)} events`, value: events / verified.seconds, unit: 'events/s' });
      figures.push({ name: `audit export peak RSS growth, ${int(events)} events`, value: exported.rss / 2 ** 20, unit: 'MB' });
    }
    console.log('  (target: export ≥ 50,000 events/s; memory flat: the same peak at both sizes)');
    emitFigures('bench:audit', figures);
  } finally {
    await client.end().catch(() => {});
    await app.close();
    await pgServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main().catch((error: unknown) => {
  console.error("bench failed:", error);
  process.exit(1);
});
