import { spawn } from 'node:child_process';

export interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** autocannon in its own process, so the load does not share the server's event loop. */
export function autocannon(
  url: string,
  headers: Record<string, string>,
  options: { connections: number; duration: number; rate?: number },
): Promise<Load> {
  const argv = ['node_modules/autocannon/autocannon.js', '--json', '-c', String(options.connections), '-d', String(options.duration)];
  if (options.rate) argv.push('-R', String(options.rate));
  for (const [k, v] of Object.entries(headers)) argv.push('-H', `${k}=${v}`);
  argv.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}`));
      const r = JSON.parse(out) as { requests: { average: number }; latency: { p50: number; p99: number }; errors: number; non2xx: number };
      resolve({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx });
    });
  });
}

/** Waits for GET /readyz (a projector leads and caught up): on a busy machine the projector thread starts slowly. */
export async function waitUntilReady(base: string, timeoutMs = 120_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; (await fetch(`${base}/readyz`).then((r) => r.status)) !== 200; ) {
    if (Date.now() > deadline) throw new Error('the app never became ready');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
