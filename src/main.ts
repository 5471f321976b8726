import { join } from 'node:path';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.ts';
import { createApp, type App } from './app.ts';
import { tuneGarbageCollector } from './runtime.ts';

/** Process entry: configuration, database, app, and an orderly shutdown. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  tuneGarbageCollector(config.GC_HEAP_GROWING_PERCENT);
  const logger = createLogger({ level: config.LOG_LEVEL });

  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    logger.info({ dataDir: config.DATA_DIR }, 'starting the embedded Postgres');
    embedded = await startEmbeddedPostgres(config.DATA_DIR, { onLog: (line) => logger.debug({ postgres: line.trim() }) });
    databaseUrl = embedded.connectionString;
    if (embedded.replacedOrphan !== undefined) {
      logger.warn({ orphanPid: embedded.replacedOrphan }, 'stopped an embedded Postgres left running by a process that died, and started it again as ours');
    }
    logger.info({ owned: embedded.owned }, embedded.owned ? 'embedded Postgres started' : 'attached to the running embedded Postgres');
  }

  let app: App | undefined;
  let stopping = false;
  const shutdown = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'shutting down');
    const force = setTimeout(() => process.exit(code || 1), 15_000);
    force.unref();
    try {
      await app?.close(); // server, projector, watcher, event store, pools
      await embedded?.stop();
    } catch (error) {
      logger.error({ err: error }, 'error during shutdown');
    }
    logger.flush();
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('unhandledRejection', (error) => {
    logger.fatal({ err: error }, 'unhandled rejection');
    void shutdown('unhandledRejection', 1);
  });
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    void shutdown('uncaughtException', 1);
  });

  app = await createApp({ config, databaseUrl, logger });
  const address = await app.listen(config.PORT, config.HOST);
  logger.info({ port: address.port, eventStore: app.ctx.store.kind }, `Keyledger listening on http://localhost:${address.port}`);
  if (app.ctx.mailer.mode === 'outbox') {
    // Without SMTP, verification and reset mails are not sent: say where they go.
    logger.warn(
      { outbox: join(config.DATA_DIR, 'outbox') },
      `SMTP_URL is not set: outgoing mail (email verification, password reset) is written to ${join(config.DATA_DIR, 'outbox')} as .eml files and announced in this log, not sent`,
    );
  }
}

await main();
