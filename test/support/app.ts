import { Writable } from 'node:stream';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { createTestDatabase } from './database.ts';

export interface TestApp {
  readonly app: App;
  readonly url: string;
  readonly databaseUrl: string;
  /** every log line the app wrote, as text */
  readonly logs: string[];
  close(): Promise<void>;
}

/** The real app on port 0 against a fresh database (or a given one, to share it between nodes). */
export async function startTestApp(
  options: { databaseUrl?: string; env?: Record<string, string>; runProjector?: boolean; now?: () => Date } = {},
): Promise<TestApp> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase());
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(String(chunk));
      callback();
    },
  });
  const config = loadConfig({ LOG_LEVEL: 'info', WRITE_WAIT_MS: '5000', ...options.env });
  const app = await createApp({
    config,
    databaseUrl,
    logger: createLogger({ level: config.LOG_LEVEL, destination }),
    runProjector: options.runProjector ?? true,
    poolSize: 10,
    ...(options.now ? { now: options.now } : {}),
  });
  const address = await app.listen(0, '127.0.0.1');
  // A write answers once projected, within WRITE_WAIT_MS; a projector thread still starting on a
  // busy machine would make the first writes answer early. On a fresh database it must lead:
  // wait for it (bounded).
  if ((options.runProjector ?? true) && !options.databaseUrl) {
    const deadline = Date.now() + 60_000;
    while (!app.projector.isLeader() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
  return { app, url: `http://127.0.0.1:${address.port}`, databaseUrl, logs, close: () => app.close() };
}
