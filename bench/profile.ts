/**
 * npm run bench:profile — where a request's CPU goes: GET /api/whoami (the whole access path)
 * and GET /healthz (a bare route) on the same server, each loaded with autocannon (32
 * connections, a separate process) while V8's sampling profiler (the one `node --cpu-prof`
 * uses) records the server's main thread.
 *
 * Writes, per route, a `.cpuprofile` (open in Chrome DevTools or speedscope.app) and a folded
 * stack file (`flamegraph.pl` / speedscope input) under bench/profiles/, and prints the top of
 * each profile: self time by function, and time by package (express, pino, our code…), per request.
 */
import { Session } from 'node:inspector/promises';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { benchLogger } from './logging.ts';
import { partnerSetup } from '../test/support/partner.ts';
import { autocannon, waitUntilReady } from './autocannon.ts';
import { injectCost } from './inject.ts';

const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log(`npm run bench:profile [-- --seconds N] [-- --top N] [-- --inject]

Profiles the server's main thread under 32 connections of GET /api/whoami, then of
GET /healthz, and prints the top of each profile; writes bench/profiles/*.cpuprofile
and *.folded (flame graph input). --inject: 20,000 requests injected in process
(light-my-request) one at a time instead of sockets: the server's own code, steadier
on a busy machine.`);
  process.exit(0);
}
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const seconds = option('--seconds', 8);
/** requests injected in process (light-my-request) instead of autocannon over sockets */
const injectMode = args.includes('--inject');
const top = option('--top', 25);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const shortUrl = (url: string) => {
  const at = url.indexOf('/node_modules/');
  if (at >= 0) return url.slice(at + '/node_modules/'.length);
  const src = url.search(/\/(src|projections|bench)\//);
  return src >= 0 ? url.slice(src + 1) : url.replace(/^node:/, 'node:');
};

/** What a frame belongs to: a package, our code, Node's own code, or V8 (GC, idle, program). */
function bucketOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const at = url.lastIndexOf('/node_modules/');
  if (at >= 0) {
    const rest = url.slice(at + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const src = /\/(src|projections)\/([^/]+)/.exec(url);
  return src ? `keyledger ${src[1]}/${src[2]}` : url;
}

function summarise(profile: CpuProfile, requests: number) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
  const fnSelf = new Map<string, number>();
  const bucketSelf = new Map<string, number>();
  const folded = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || '(anonymous)'}  ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fnSelf.set(key, (fnSelf.get(key) ?? 0) + us);
    const bucket = bucketOf(f.url, f.functionName);
    bucketSelf.set(bucket, (bucketSelf.get(bucket) ?? 0) + us);
    const stack: string[] = [];
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const cf = byId.get(n)!.callFrame;
      stack.push(`${cf.functionName || '(anonymous)'} ${shortUrl(cf.url)}:${cf.lineNumber + 1}`.replaceAll(';', ','));
    }
    const line = stack.reverse().join(';');
    folded.set(line, (folded.get(line) ?? 0) + us);
  }
  const busy = total - idle;
  return { total, idle, busy, perRequestUs: busy / requests, fnSelf, bucketSelf, folded };
}

function print(title: string, s: ReturnType<typeof summarise>, requests: number) {
  console.log(`\n${title}: ${requests.toLocaleString('en-US')} requests, main thread busy ${(s.busy / 1000).toFixed(0)} ms of ${(s.total / 1000).toFixed(0)} ms → ${s.perRequestUs.toFixed(1)} µs CPU per request`);
  console.log('  by package (self time, µs per request, share of busy time):');
  for (const [bucket, us] of [...s.bucketSelf].filter(([b]) => b !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 14)) {
    console.log(`    ${(us / requests).toFixed(2).padStart(7)} µs  ${((us / s.busy) * 100).toFixed(1).padStart(5)} %  ${bucket}`);
  }
  console.log(`  top ${top} functions by self time:`);
  for (const [name, us] of [...s.fnSelf].filter(([n]) => !n.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`    ${(us / requests).toFixed(2).padStart(7)} µs  ${((us / s.busy) * 100).toFixed(1).padStart(5)} %  ${name}`);
  }
}

interface Frame {
  us: number;
  readonly children: Map<string, Frame>;
}

/**
 * The flame graph as text (top-down: each line a frame with its inclusive time per request and
 * share of busy time), for a note or a terminal. Frames under `minShare` of busy time are left
 * out; a frame's only child is printed beside it rather than a level deeper, so long chains of
 * framework calls stay readable.
 */
function flameText(folded: ReadonlyMap<string, number>, busyUs: number, requests: number, minShare = 0.02): string {
  const root: Frame = { us: 0, children: new Map() };
  for (const [stack, us] of folded) {
    const frames = stack.split(';').filter((f) => !f.startsWith('(root)'));
    if (frames[0]?.startsWith('(idle)')) continue;
    let node = root;
    node.us += us;
    for (const name of frames) {
      let child = node.children.get(name);
      if (!child) node.children.set(name, (child = { us: 0, children: new Map() }));
      child.us += us;
      node = child;
    }
  }
  const lines: string[] = [];
  const label = (name: string, f: Frame) => `${(f.us / requests).toFixed(1)} µs ${((100 * f.us) / busyUs).toFixed(0)}% ${name.replace(/ :0$/, '')}`;
  const walk = (node: Frame, depth: number) => {
    for (const [name, child] of [...node.children].sort((a, b) => b[1].us - a[1].us)) {
      if (child.us < busyUs * minShare) continue;
      let text = label(name, child);
      let next = child;
      // a chain of single significant children reads as one line: a › b › c
      for (;;) {
        const big = [...next.children].filter(([, c]) => c.us >= busyUs * minShare);
        if (big.length !== 1 || big[0]![1].us < next.us * 0.9) break;
        text += ` › ${big[0]![0].replace(/ :0$/, '').split(' ')[0]}`;
        next = big[0]![1];
      }
      lines.push(`${'  '.repeat(depth)}${text}`);
      if (depth < 14) walk(next, depth + 1);
    }
  };
  walk(root, 2);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'keyledger-bench-profile-'));
  const pg = await startEmbeddedPostgres(dir, { database: 'bench' });
  const app = await createApp({ config: loadConfig({ LOG_LEVEL: 'info', METRICS_PORT: '0' }), databaseUrl: pg.connectionString, logger: benchLogger() });
  const session = new Session();
  session.connect();
  try {
    const { port } = await app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${port}`;
    await waitUntilReady(base);
    const p = await partnerSetup(base, { plan: 'business' });
    const headers = { 'X-Client-Id': p.clientId, 'X-Client-Secret': p.secret, 'X-Client-Domain': p.domain, Accept: 'application/json' };
    await mkdir('bench/profiles', { recursive: true });
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    const perRequest: Record<string, number> = {};
    // process CPU time (getrusage) per request: unlike samples, not inflated by waiting for a core
    const cpuPerRequest: Record<string, number> = {};
    for (const [name, path] of [['whoami', '/api/whoami'], ['healthz', '/healthz']] as const) {
      if (!injectMode) await autocannon(`${base}${path}`, headers, { connections: 32, duration: 2 });
      else await injectCost(app.server, path, headers, 2_000);
      const cpuBefore = process.cpuUsage();
      await session.post('Profiler.start');
      const injected = injectMode ? 20_000 : 0;
      const load = injectMode ? { rps: 0, p99: 0, non2xx: 0 } : await autocannon(`${base}${path}`, headers, { connections: 32, duration: seconds });
      if (injectMode) await injectCost(app.server, path, headers, injected);
      const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
      const cpu = process.cpuUsage(cpuBefore);
      const requests = injectMode ? injected : Math.round(load.rps * seconds);
      cpuPerRequest[name] = (cpu.user + cpu.system) / requests;
      const summary = summarise(profile, requests);
      perRequest[name] = summary.perRequestUs;
      print(`GET ${path} (${Math.round(load.rps)} req/s, p99 ${load.p99} ms, non-2xx ${load.non2xx})`, summary, requests);
      console.log(`  flame graph, top-down (inclusive µs per request and share of busy time; frames ≥ 2 %):\n${flameText(summary.folded, summary.busy, requests)}`);
      await writeFile(`bench/profiles/${name}.cpuprofile`, JSON.stringify(profile));
      await writeFile(`bench/profiles/${name}.folded`, [...summary.folded].map(([stack, us]) => `${stack} ${Math.round(us)}`).join('\n') + '\n');
    }
    console.log(`\nprocess CPU per request (getrusage): whoami ${cpuPerRequest.whoami!.toFixed(1)} µs, healthz ${cpuPerRequest.healthz!.toFixed(1)} µs → healthz ÷ whoami ${(cpuPerRequest.healthz! / cpuPerRequest.whoami!).toFixed(3)}`);
    console.log(`sampled CPU per request: whoami ${perRequest.whoami!.toFixed(1)} µs, healthz ${perRequest.healthz!.toFixed(1)} µs → healthz ÷ whoami ${(perRequest.healthz! / perRequest.whoami!).toFixed(3)} (the throughput ratio it allows)`);
    console.log('profiles: bench/profiles/{whoami,healthz}.cpuprofile, .folded (flamegraph.pl or speedscope)');
  } finally {
    session.disconnect();
    await app.close();
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
