import type http from 'node:http';
import { inject } from 'light-my-request';

export interface InjectCost {
  /** process CPU time per request, µs (getrusage: not inflated by waiting for a core) */
  readonly cpuUs: number;
  /** wall time per request, µs */
  readonly wallUs: number;
}

/**
 * Requests injected into the server's request handler (light-my-request: no sockets, no load
 * generator), one at a time: what a request costs the server's code itself, from the edge
 * middleware to the written answer, on a machine too busy for socket figures to be steady.
 */
export async function injectCost(server: http.Server, url: string, headers: Record<string, string>, requests: number): Promise<InjectCost> {
  const handler = server.listeners('request')[0] as http.RequestListener;
  const one = async () => {
    const reply = await inject(handler, { method: 'GET', url, headers, remoteAddress: '127.0.0.1' });
    if (reply.statusCode !== 200) throw new Error(`${url} answered ${reply.statusCode}: ${reply.body.slice(0, 200)}`);
  };
  for (let i = 0; i < Math.min(2_000, requests); i++) await one();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < requests; i++) await one();
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / requests, wallUs: ((performance.now() - started) * 1000) / requests };
}

/** Alternating rounds of both, so drift on the machine favours neither; the medians per side. */
export async function injectPair(
  server: http.Server,
  a: { url: string; headers: Record<string, string> },
  b: { url: string; headers: Record<string, string> },
  options: { rounds: number; requests: number },
): Promise<{ a: InjectCost; b: InjectCost }> {
  const runs: { a: InjectCost[]; b: InjectCost[] } = { a: [], b: [] };
  for (let i = 0; i < options.rounds; i++) {
    for (const side of i % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)) {
      const target = side === 'a' ? a : b;
      runs[side].push(await injectCost(server, target.url, target.headers, options.requests));
    }
  }
  const median = (xs: InjectCost[], key: keyof InjectCost) => [...xs.map((x) => x[key])].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
  return {
    a: { cpuUs: median(runs.a, 'cpuUs'), wallUs: median(runs.a, 'wallUs') },
    b: { cpuUs: median(runs.b, 'cpuUs'), wallUs: median(runs.b, 'wallUs') },
  };
}
