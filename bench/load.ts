/**
 * The load generator for sections 2 and 3, run as its own process (so its work does not share
 * the server's event loop): `node --import tsx bench/load.ts '<json LoadPlan>'`. Prints one
 * JSON line (LoadResult). Commands alternate between renaming a client and adding a redirect
 * URI, spread over the given clients, every name and URI unique; those of the measured window
 * carry the word `measured`.
 */
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { MEASURED } from './lib.ts';

export interface LoadPlan {
  readonly mode: 'closed' | 'open';
  readonly base: string;
  readonly cookie: string;
  readonly clientIds: readonly string[];
  /** closed: requests in flight */
  readonly connections?: number;
  /** open: requests started per second, on schedule, whatever the answers do */
  readonly rate?: number;
  readonly warmup: number;
  readonly seconds: number;
}

export interface LoadResult {
  /** completed 2xx requests per second in the measured window */
  readonly perSecond: number;
  readonly ok: number;
  /** 2xx answers, warm-up included */
  readonly allOk: number;
  readonly failed: number;
  readonly firstFailure?: string;
  /** ms; open loop: from the scheduled start, so a late start counts */
  readonly p50: number;
  readonly p99: number;
  /** open loop: worst delay between a request's scheduled and actual start, ms */
  readonly maxStartDelay?: number;
  /** the load generator's own CPU over its whole run (it shares the machine's cores), ms */
  readonly cpuMs?: number;
}

const tag = randomUUID().slice(0, 8);
let sequence = 0;

function nextCommand(clientIds: readonly string[], phase: 'warmup' | typeof MEASURED): { method: 'PATCH' | 'POST'; path: string; body: string } {
  const k = sequence++;
  const clientId = clientIds[Math.floor(k / 2) % clientIds.length]!;
  return k % 2 === 0
    ? { method: 'PATCH', path: `/manage/v1/clients/${clientId}`, body: JSON.stringify({ name: `Bench ${phase} ${tag} ${k}` }) }
    : { method: 'POST', path: `/manage/v1/clients/${clientId}/redirect-uris`, body: JSON.stringify({ uri: `https://bench.example.com/${phase}/${tag}/${k}` }) };
}

async function closed(plan: LoadPlan): Promise<LoadResult> {
  let firstFailure: string | undefined;
  const run = (duration: number, phase: 'warmup' | typeof MEASURED) =>
    autocannon({
      url: plan.base,
      connections: plan.connections ?? 32,
      duration,
      headers: { cookie: plan.cookie, 'content-type': 'application/json', accept: 'application/json' },
      requests: [
        {
          setupRequest: (request) => ({ ...request, ...nextCommand(plan.clientIds, phase) }),
          onResponse: (status, body) => {
            if (status >= 300 && !firstFailure) firstFailure = `${status} ${body.slice(0, 300)}`;
          },
        },
      ],
    });
  const warm = plan.warmup > 0 ? (await run(plan.warmup, 'warmup'))['2xx'] : 0;
  const r = await run(plan.seconds, MEASURED);
  return {
    perSecond: r['2xx'] / r.duration,
    ok: r['2xx'],
    allOk: warm + r['2xx'],
    failed: r.non2xx + r.errors,
    ...(firstFailure ? { firstFailure } : {}),
    p50: r.latency.p50,
    p99: r.latency.p99,
  };
}

async function open(plan: LoadPlan): Promise<LoadResult> {
  const rate = plan.rate ?? 500;
  const total = Math.round(rate * (plan.warmup + plan.seconds));
  const measuredFrom = Math.round(rate * plan.warmup);
  const latencies: number[] = [];
  let ok = 0;
  let allOk = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  let maxStartDelay = 0;
  const t0 = performance.now();
  const inFlight = new Set<Promise<void>>();

  const fire = (k: number) => {
    const scheduled = t0 + (k * 1000) / rate;
    maxStartDelay = Math.max(maxStartDelay, performance.now() - scheduled);
    const command = nextCommand(plan.clientIds, k < measuredFrom ? 'warmup' : MEASURED);
    const p = fetch(plan.base + command.path, {
      method: command.method,
      headers: { cookie: plan.cookie, 'content-type': 'application/json', accept: 'application/json' },
      body: command.body,
    })
      .then(async (res) => {
        const text = await res.text();
        if (res.ok) allOk += 1;
        if (k < measuredFrom) return;
        if (res.ok) {
          ok += 1;
          latencies.push(performance.now() - scheduled);
        } else {
          failed += 1;
          firstFailure ??= `${res.status} ${text.slice(0, 300)}`;
        }
      })
      .catch((error: unknown) => {
        if (k < measuredFrom) return;
        failed += 1;
        const cause = (error as { cause?: unknown }).cause;
        firstFailure ??= cause ? `${String(error)} (${String(cause)})` : String(error);
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
      while (sent < due) fire(sent++);
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all([...inFlight]);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil(q * latencies.length) - 1))] ?? Number.NaN;
  return {
    perSecond: ok / plan.seconds,
    ok,
    allOk,
    failed,
    ...(firstFailure ? { firstFailure } : {}),
    p50: at(0.5),
    p99: at(0.99),
    maxStartDelay,
  };
}

const plan = JSON.parse(process.argv[2] ?? '{}') as LoadPlan;
const result = plan.mode === 'open' ? await open(plan) : await closed(plan);
const cpu = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ ...result, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
