/**
 * npm run bench:explain — explain and time travel on a client with 10,000 events.
 *
 * Starts the app on an embedded Postgres, writes a client with 10,000 events (a random but
 * valid history: rotations, links, domain changes, plan changes, … made by the real `decide`),
 * lets the projector catch up, makes a denial, then times over HTTP, one request at a time:
 *   - GET /manage/v1/auth-decisions/:id/explain (200 runs),
 *   - GET /manage/v1/clients/:id/state?at=<random time in the history> (200 runs),
 * and prints p50 and p99 of each (target p99 ≤ 100 ms).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import type { NewEvent, Position } from '../src/eventstore/port.ts';
import { PASSWORD, signUp } from '../test/support/http.ts';
import { HistoryBuilder, stepArbitrary } from '../test/support/histories.ts';
import { ms, quantile } from './lib.ts';
import { findDenial } from '../src/audit/denials.ts';
import { explainDecision } from '../src/audit/explain.ts';
import { HistoryCache, readClientHistory } from '../src/audit/history.ts';
import { clientStateAt } from '../src/audit/state.ts';
import { emitFigures } from './figures.ts';
import { initialOrganisationState } from '../src/accounts/organisation.ts';

const args = new Set(process.argv.slice(2));
if (args.has('--help')) {
  console.log(`npm run bench:explain [-- --events N] [-- --runs N]

Times GET /manage/v1/auth-decisions/:id/explain and GET /manage/v1/clients/:id/state?at=
on a client with 10,000 events (p50 and p99 over 200 runs each; target p99 ≤ 100 ms).`);
  process.exit(0);
}
const option = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const EVENTS = option('events', 10_000);
const RUNS = option('runs', 200);

async function timed(runs: number, op: (i: number) => Promise<void>): Promise<number[]> {
  for (let i = 0; i < 10; i++) await op(i); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await op(i);
    samples.push(performance.now() - started);
  }
  return samples;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'keyledger-bench-explain-'));
  const pg = await startEmbeddedPostgres(dir, { database: 'bench' });
  // the history is written a month in the past, then the clock is set right: every event lies
  // before "now", as in a real month of changes
  let skew = -30 * 86_400_000;
  const app = await createApp({
    config: loadConfig({ LOG_LEVEL: 'silent' }),
    databaseUrl: pg.connectionString,
    logger: createLogger({ level: 'silent' }),
    now: () => new Date(Date.now() + skew),
  });
  try {
    const { port } = await app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${port}`;
    // the first writes answer once projected: let the projector thread start first
    while (!app.projector.isLeader()) await new Promise((r) => setTimeout(r, 20));
    const ada = await signUp(base, { name: 'Ada Lovelace', plan: null });
    const me = (await ada.caller.get('/manage/v1/account/me')).body as { organisation: { id: string } };

    // A history for one client of Ada's organisation, appended straight to the event store in
    // batches (the commands themselves are decided by the real `decide`, as the live system does).
    const builder = new HistoryBuilder(Date.now() + skew + 1_000, () => String(ada.sub), {
      organisationId: me.organisation.id,
      state: { ...initialOrganisationState, exists: true, plan: null, planActive: false, members: new Map([[ada.sub, 'owner']]), invitations: new Map(), clientSlots: new Map() },
    });
    const started = performance.now();
    const pending: { stream: string; events: NewEvent[] }[] = [];
    let written = 0;
    let head: Position | undefined;
    const flush = async () => {
      for (const batch of pending.splice(0)) {
        head = (await app.ctx.store.append(batch.stream, batch.events, { expectedRevision: 'any' })).position;
      }
    };
    const queue = (batches: ReturnType<HistoryBuilder['apply']>) => {
      for (const batch of batches) {
        if (batch.stream.startsWith('client-')) written += batch.events.length;
        const events = batch.events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata: batch.metadata }));
        const last = pending.at(-1);
        if (last && last.stream === batch.stream && last.events.length < 200) last.events.push(...events);
        else pending.push({ stream: batch.stream, events });
      }
    };
    // the organisation exists already (Ada's): its plan, then the client
    queue(builder.start('business'));
    const steps = fc.sample(stepArbitrary.filter((s) => s.op !== 'delete' && s.op !== 'other' && !s.op.startsWith('member')), { numRuns: EVENTS * 4, seed: 42 });
    for (const step of steps) {
      if (written >= EVENTS) break;
      queue(builder.apply({ ...step, delta: Math.min(step.delta, 60_000) }));
      if (pending.length > 50) await flush();
    }
    // end with the client usable, so a refusal has a specific cause
    queue(builder.apply({ op: 'enable', a: 0, b: 0, c: 0, flags: 0, delta: 1_000 }));
    queue(builder.apply({ op: 'activatePlan', a: 2, b: 0, c: 0, flags: 0, delta: 1_000 }));
    await flush();
    skew = 0;
    await ada.caller.post('/manage/v1/account/login', { email: ada.email, password: PASSWORD });
    const events = (await app.ctx.store.readStream(`client-${builder.clientId}`)).length;
    console.log(`client ${builder.clientId}: ${events.toLocaleString('en-US')} events written in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const projected = performance.now();
    if (!(await app.ctx.watcher.waitFor(head!, 600_000))) throw new Error('the projector did not catch up');
    console.log(`projected in ${((performance.now() - projected) / 1000).toFixed(1)} s`);
    const first = Date.parse((await app.ctx.store.readStream(`client-${builder.clientId}`, {}))[0]!.metadata.at);

    // a denial: a rotated secret of the client, on one of its domains
    const state = builder.state!;
    const rotated = builder.secrets.find((s) => state.secrets.get(s.secretId)?.status === 'rotated') ?? builder.secrets[0]!;
    const domain = [...state.domains.values()][0]?.domain ?? 'shop.example';
    const refused = await fetch(`${base}/api/whoami`, { headers: { 'X-Client-Id': builder.clientId, 'X-Client-Secret': rotated.secret, 'X-Client-Domain': domain } });
    const refusal = (await refused.json()) as { code: string };
    const denialId = refused.headers.get('x-request-id')!;
    await app.access.log.flush();
    const probe = await ada.caller.get(`/manage/v1/auth-decisions/${denialId}/explain`);
    if (probe.status !== 200) throw new Error(`explain answered ${probe.status}: ${probe.text}`);
    console.log(`denial ${denialId}: ${refusal.code}; cause ${probe.body.cause?.event.type ?? 'none'}; replay agrees: ${probe.body.replay.agrees}`);

    // where the time goes, in process (no HTTP): a cold replay reads and folds everything; the
    // server keeps each client's history and folded checkpoints (HistoryCache) between requests
    const parts = { read: [] as number[], fold: [] as number[], warm: [] as number[] };
    const denial = (await findDenial(app.ctx.database, denialId))!;
    const cache = new HistoryCache(app.ctx.store);
    for (let i = 0; i < 10; i++) {
      let t0 = performance.now();
      const history = await readClientHistory(app.ctx.store, builder.clientId);
      parts.read.push(performance.now() - t0);
      t0 = performance.now();
      history.stateAfter(history.events.length);
      parts.fold.push(performance.now() - t0);
      t0 = performance.now();
      explainDecision({ denial, history: await cache.history(builder.clientId), actors: new Map(), language: 'en', now: new Date() });
      parts.warm.push(performance.now() - t0);
    }
    console.log(
      `in process, median of 10: read both streams ${ms(quantile(parts.read, 0.5))}, fold them all ${ms(quantile(parts.fold, 0.5))} (cold, once per node and client); explain with the kept checkpoints ${ms(quantile(parts.warm, 0.5))}`,
    );

    const inProcess = await timed(RUNS, async (i) => {
      const at = first + ((i * 7_919) % 1_000) * ((builder.clock - first) / 1_000);
      await clientStateAt({ database: app.ctx.database, store: app.ctx.store, histories: cache }, builder.clientId, { at });
    });
    console.log(`in process, ${RUNS} runs: state at a random time p50 ${ms(quantile(inProcess, 0.5))}, p99 ${ms(quantile(inProcess, 0.99))}`);

    const explain = await timed(RUNS, async () => {
      const reply = await ada.caller.get(`/manage/v1/auth-decisions/${denialId}/explain`);
      if (reply.status !== 200) throw new Error(`explain ${reply.status}`);
    });
    const span = builder.clock - first;
    const stateAt = await timed(RUNS, async (i) => {
      const at = new Date(first + ((i * 7_919) % 1_000) * (span / 1_000)).toISOString();
      const reply = await ada.caller.get(`/manage/v1/clients/${builder.clientId}/state?at=${at}`);
      if (reply.status !== 200) throw new Error(`state ${reply.status}: ${reply.text}`);
    });

    const line = (name: string, samples: number[]) => {
      const p99 = quantile(samples, 0.99);
      return `  ${name.padEnd(34)} p50 ${ms(quantile(samples, 0.5)).padStart(9)}   p99 ${ms(p99).padStart(9)}   target p99 ≤ 100 ms  ${p99 <= 100 ? 'met' : 'MISSED'}`;
    };
    console.log(`\n${RUNS} runs each, one request at a time, over HTTP, on a client with ${events.toLocaleString('en-US')} events`);
    console.log(line('GET …/auth-decisions/:id/explain', explain));
    console.log(line('GET …/clients/:id/state?at=', stateAt));
    emitFigures('bench:explain', [
      { name: `explain p99 (${events} events)`, value: quantile(explain, 0.99), unit: 'ms', floor: 'target', floorValue: 100, target: '≤ 100 ms', met: quantile(explain, 0.99) <= 100 },
      { name: `state at a time p99 (${events} events)`, value: quantile(stateAt, 0.99), unit: 'ms', floor: 'target', floorValue: 100, target: '≤ 100 ms', met: quantile(stateAt, 0.99) <= 100 },
    ]);
  } finally {
    await app.close();
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
