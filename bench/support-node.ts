/**
 * A second app node for `npm run bench:support`: its own process (its own event loop and CPU,
 * as a second server would have), the same Postgres, no projector. Reports memory and CPU on request.
 */
import { Writable } from 'node:stream';
import { writeFile } from 'node:fs/promises';
import inspector from 'node:inspector/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { tuneGarbageCollector } from '../src/runtime.ts';
import { createLogger } from '../src/logger.ts';
import { type StageSamples, instrumentSupport } from './support-phases.ts';

export type NodeCommand = { type: 'memory' } | { type: 'cpu' } | { type: 'phases' } | { type: 'stop' };
export type NodeReport =
  | { type: 'ready'; url: string }
  | { type: 'memory'; heapUsed: number; rss: number; sockets: number }
  | { type: 'cpu'; userMicros: number; systemMicros: number }
  | { type: 'phases'; samples: StageSamples };

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const databaseUrl = process.argv[2]!;
const silent = new Writable({ write: (_c, _e, cb) => cb() });
const config = loadConfig({ LOG_LEVEL: 'warn', WRITE_WAIT_MS: '5000', SUPPORT_HANDBACK_SECONDS: '3600', GC_HEAP_GROWING_PERCENT: process.env.GC_HEAP_GROWING_PERCENT });
// the garbage collector as a server has it (src/main.ts); GC_HEAP_GROWING_PERCENT=0 compares with V8's own
tuneGarbageCollector(config.GC_HEAP_GROWING_PERCENT);
const app = await createApp({ config, databaseUrl, logger: createLogger({ level: 'warn', destination: silent }), runProjector: false });
const phases = instrumentSupport(app);
const address = await app.listen(0, '127.0.0.1');
const send = (report: NodeReport) => process.send!(report);
// BENCH_ALLOC_PROF=file: what this node allocates during the runs (sampled, collected objects
// included), written when the bench stops it: a heap profile for Chrome DevTools.
const allocations = process.env.BENCH_ALLOC_PROF ? new inspector.Session() : undefined;
let sampling = false;
async function startSampling(): Promise<void> {
  if (!allocations || sampling) return;
  sampling = true;
  allocations.connect();
  await allocations.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.BENCH_ALLOC_MINOR !== '0' } as never);
}
async function writeSamples(): Promise<void> {
  if (!allocations || !sampling) return;
  const { profile } = (await allocations.post('HeapProfiler.stopSampling')) as { profile: unknown };
  await writeFile(process.env.BENCH_ALLOC_PROF!, JSON.stringify(profile));
}
// BENCH_SURVIVORS=prefix: every 10 s during the runs, what this node allocated in 3 s and still
// holds after two scavenges (what it promotes: objects that outlive the young generation), sampled;
// written to <prefix>-<n>.json (heap profiles).
const survivors = process.env.BENCH_SURVIVORS;
let survivorTimer: NodeJS.Timeout | undefined;
async function survivorWindow(n: number): Promise<void> {
  const session = new inspector.Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 4096 });
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const minor = gc as unknown as (options: { type: 'minor' }) => void;
  minor({ type: 'minor' });
  minor({ type: 'minor' });
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: unknown };
  session.disconnect();
  await writeFile(`${survivors}-${n}.json`, JSON.stringify(profile));
}
process.on('message', (command: NodeCommand) => {
  if (survivors && command.type === 'phases' && !survivorTimer) {
    let n = 0;
    survivorTimer = setInterval(() => void survivorWindow(++n), 10_000);
  }
  if (command.type === 'stop') clearInterval(survivorTimer);
  switch (command.type) {
    case 'memory': {
      for (let i = 0; i < 3; i++) gc();
      const m = process.memoryUsage();
      send({ type: 'memory', heapUsed: m.heapUsed, rss: m.rss, sockets: app.support.namespace.sockets.size });
      break;
    }
    case 'cpu': {
      const c = process.cpuUsage();
      send({ type: 'cpu', userMicros: c.user, systemMicros: c.system });
      break;
    }
    case 'phases':
      void startSampling();
      send({ type: 'phases', samples: phases.take() });
      break;
    case 'stop':
      void writeSamples()
        .then(() => app.close())
        .then(() => process.exit(0));
      break;
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
});
send({ type: 'ready', url: `http://127.0.0.1:${address.port}` });
