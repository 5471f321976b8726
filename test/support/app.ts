import { Writable } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App, type AppOptions } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { createTestDatabase } from './database.ts';
import { responseContract } from './response-contract.ts';

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
    poolSize?: number;
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
  // DATA_DIR is per app (mail without SMTP_URL lands in DATA_DIR/outbox), never the repository's ./data.
  const config = loadConfig({ LOG_LEVEL: 'info', WRITE_WAIT_MS: '30000', DATA_DIR: mkdtempSync(join(tmpdir(), 'keyledger-app-')), ...options.env });
  const app = await createApp({
    config,
    databaseUrl,
    logger: createLogger({ level: config.LOG_LEVEL, destination }),
    runProjector: options.runProjector ?? true,
    poolSize: options.poolSize ?? 10,
    // every answer is checked against /openapi.json (test/support/response-contract-check.ts fails the file)
    observeResponses: responseContract(),
    ...(options.now ? { now: options.now } : {}),
    ...(options.partnerApiExtensions ? { partnerApiExtensions: options.partnerApiExtensions } : {}),
  });
  const address = await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${address.port}`;
  // Serve tests once a projector leads (this node's, or the first node's): before that, a write
  // is stored but answered unprojected, and a busy machine starts the projector thread slowly.
  for (const deadline = Date.now() + 120_000; (await fetch(`${url}/readyz`)).status !== 200; ) {
    if (Date.now() > deadline) throw new Error('the test app never became ready');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { app, url, databaseUrl, logs, close: () => app.close() };
}
