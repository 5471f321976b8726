/**
 * "Where does a command's time go": times, inside the server process, the parts of a command
 * the bench can see from outside the code — the session lookup, the command handler (queue
 * behind the same stream, aggregate load, decide, kl_append) and the projection wait — and
 * reports them beside the HTTP latency; the rest is express, zod, JSON, logging and the socket.
 */
import pg from 'pg';
import type { App } from '../src/app.ts';
import { ms, quantile } from './lib.ts';

type Phase = 'session lookup' | 'aggregate load' | 'kl_append' | 'command handler' | 'projection wait';
// 'kl_append': the event store's append as a command sees it (group commit queueing included)
const PHASES: readonly Phase[] = ['session lookup', 'command handler', 'aggregate load', 'kl_append', 'projection wait'];

// kysely awaits pg's promise (timed here); the event store goes through pool.query's callback
// form, so it is timed at the store instead.
function classify(text: string): Phase | undefined {
  return text.includes('FROM sessions s') ? 'session lookup' : undefined;
}

export function timePhases(app: App): { stop(): void; report(commands: number, httpP50: number): string } {
  const samples = new Map<Phase, number[]>(PHASES.map((p) => [p, []]));
  const record = (phase: Phase, started: number) => samples.get(phase)!.push(performance.now() - started);
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const originalQuery = prototype.query;
  prototype.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0] as string | { text?: string } | undefined;
    const phase = classify(typeof q === 'string' ? q : (q?.text ?? ''));
    const result = originalQuery.apply(this, args);
    if (phase && result instanceof Promise) {
      const started = performance.now();
      result.then(() => record(phase, started), () => {});
    }
    return result;
  };
  const { commands, watcher, store } = app.ctx;
  const originalAppend = store.append;
  store.append = async (...args) => {
    const started = performance.now();
    try {
      return await originalAppend.apply(store, args);
    } finally {
      record('kl_append', started);
    }
  };
  const originalRead = store.readStream;
  store.readStream = async (...args) => {
    const started = performance.now();
    try {
      return await originalRead.apply(store, args);
    } finally {
      record('aggregate load', started);
    }
  };
  const originalHandle = commands.handle;
  commands.handle = async function (this: typeof commands, ...args: Parameters<typeof commands.handle>) {
    const started = performance.now();
    try {
      return await originalHandle.apply(this, args);
    } finally {
      record('command handler', started);
    }
  } as typeof commands.handle;
  const originalWait = watcher.waitFor;
  watcher.waitFor = async (...args) => {
    const started = performance.now();
    try {
      return await originalWait(...args);
    } finally {
      record('projection wait', started);
    }
  };
  return {
    stop() {
      prototype.query = originalQuery;
      commands.handle = originalHandle;
      store.append = originalAppend;
      store.readStream = originalRead;
      watcher.waitFor = originalWait;
    },
    report(count, httpP50) {
      const lines = PHASES.map((phase) => {
        const list = samples.get(phase)!;
        const total = list.reduce((a, b) => a + b, 0);
        const indent = phase === 'aggregate load' || phase === 'kl_append' ? '    of which ' : '  ';
        return `    ${`${indent}${phase}`.padEnd(30)} ${(list.length / count).toFixed(2)} per command, p50 ${ms(quantile(list, 0.5))}, mean per command ${ms(total / count)}`;
      });
      const median = (phase: Phase) => quantile(samples.get(phase)!, 0.5);
      const rest = httpP50 - median('session lookup') - median('command handler') - median('projection wait');
      return [
        `  where the median command's time goes (server side, warm-up included; HTTP p50 ${ms(httpP50)}):`,
        ...lines,
        `    ${'  rest (HTTP, express, zod, JSON, logging, event loop)'.padEnd(30)} ≈ ${ms(rest)} (HTTP p50 less the three medians)`,
      ].join('\n');
    },
  };
}
