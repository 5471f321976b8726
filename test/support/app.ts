import { Writable } from 'node:stream';
import { createApp, type App, type AppOptions } from '../../src/app.ts';
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
  options: {
    databaseUrl?: string;
    env?: Record<string, string>;
    runProjector?: boolean;
    now?: () => Date;
    partnerApiExtensions?: AppOptions['partnerApiExtensions'];
  } = {},
): Promise<TestApp> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase());
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(String(chunk));
      callback();
    },
  });
  // A write answers once the read models have it, or after WRITE_WAIT_MS: in tests that bound is
  // only a safety net (a GET right after a write must see it however busy the machine is).
  const config = loadConfig({ LOG_LEVEL: 'info', WRITE_WAIT_MS: '30000', ...options.env });
  const app = await createApp({
    config,
    databaseUrl,
    logger: createLogger({ level: config.LOG_LEVEL, destination }),
    runProjector: options.runProjector ?? true,
    poolSize: 10,
    ...(options.now ? { now: options.now } : {}),
    ...(options.partnerApiExtensions ? { partnerApiExtensions: options.partnerApiExtensions } : {}),
  });
  // A fresh projector thread starts cold (a worker loading its code): on a busy machine that can
  // take longer than WRITE_WAIT_MS, and a test's first write would be answered unprojected (its
  // sign-up then logs in before its membership exists). Wait for it to lead; the bound is only a
  // safety net.
  if (options.runProjector ?? true) {
    for (const started = Date.now(); !app.projector.isLeader(); await new Promise((r) => setTimeout(r, 10))) {
      if (Date.now() - started > 60_000) throw new Error('the projector did not take the lead within 60 s');
    }
  }
  const address = await app.listen(0, '127.0.0.1');
  // The projector's worker thread starts slowly on a busy machine; a write answered before it
  // leads would wait out WRITE_WAIT_MS and leave the next request without its read model.
  if (options.runProjector ?? true) await projectorLeading(app);
  return { app, url: `http://127.0.0.1:${address.port}`, databaseUrl, logs, close: () => app.close() };
}

async function projectorLeading(app: App): Promise<void> {
  for (const started = Date.now(); !app.projector.isLeader(); ) {
    if (Date.now() - started > 60_000) throw new Error('the projector did not take the lead within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
