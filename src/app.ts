import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Logger } from 'pino';
import type { Kysely } from 'kysely';
import { type Config, databaseTimeouts, trustProxySetting } from './config.ts';
import { createDatabaseProbe, migrate, openDatabase } from './db/database.ts';
import type { Position } from './eventstore/port.ts';
import { CommandHandler } from './eventstore/command-handler.ts';
import { type Projector, projectorLeads } from '../projections/runner.ts';
import { createProjectorThread, type ProjectorThread } from '../projections/threaded.ts';
import { createEventStore } from './eventstore/factory.ts';
import { createProjectionWatcher, type ProjectionWatcher } from '../projections/watcher.ts';
import type { AppContext } from './context.ts';
import { ApiError, problemHandler } from './http/problem.ts';
import { requestEdge } from './http/request-edge.ts';
import { answerClientError } from './http/client-error.ts';
import { PolicyCache } from './access/cache.ts';
import { DecisionLog } from './access/decision-log.ts';
import { createAccessPipeline, type AccessPipeline } from './access/pipeline.ts';
import { partnerApi } from './api/routes.ts';
import { isPartnerApiPath, xwmsErrorHandler } from './api/envelope.ts';
import { refuseForeignHosts } from './http/origin.ts';
import { MANAGE_BASE, manageApi } from './http/manage-api.ts';
import { openApiRouter } from './http/openapi.ts';
import { signInPages } from './signin/pages.ts';
import { SIGN_IN_PAGE_PATH } from './signin/partner-routes.ts';
import { hostedRedirects } from './signin/hosted-redirects.ts';
import { accountPages } from './account/pages.ts';
import { pictureFiles, pictureUpload } from './account/picture-routes.ts';
import { createSupportGateway, type SupportGateway } from './support/gateway.ts';
import { supportPages } from './support/pages.ts';
import { deskPages } from './support/desk-pages.ts';
import { createMailer } from './mail/mailer.ts';
import { join } from 'node:path';
import { createPageLayer } from './web/layer.ts';
import { dashboardPages } from './dashboard/pages.ts';
import { PlanLimiter } from './access/plan-limiter.ts';
import { createMetrics, disabledMetrics, type Metrics } from './metrics/metrics.ts';
import { createMetricsServer } from './metrics/server.ts';
import { instrumentEventStore } from './metrics/eventstore.ts';
import { routePatterns } from './metrics/routes.ts';
import { KNOWN_EVENTS } from './support/handlers.ts';
import { invitationPages } from './dashboard/invitation-pages.ts';

export interface AppOptions {
  readonly config: Config;
  readonly databaseUrl: string;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** defaults to true; a node with false only serves (another node projects) */
  readonly runProjector?: boolean;
  readonly poolSize?: number;
  /**
   * Tests only: middleware installed before any other, to watch every response (the suite
   * validates each one against the OpenAPI document: test/support/response-contract.ts).
   */
  readonly observeResponses?: express.RequestHandler;
  /** extra routes on the partner API router (benchmarks and tests only) */
  readonly partnerApiExtensions?: readonly ((router: import('express').Router, pipeline: AccessPipeline) => void)[];
}

export interface App {
  readonly ctx: AppContext;
  readonly access: { readonly cache: PolicyCache; readonly log: DecisionLog; readonly pipeline: AccessPipeline; readonly limiter: PlanLimiter };
  /** Prometheus metrics; served on METRICS_PORT only (disabled when it is unset) */
  readonly metrics: Metrics;
  /** where /metrics is served, once listening with METRICS_PORT set */
  metricsAddress(): AddressInfo | undefined;
  readonly server: http.Server;
  /** the express application behind the server (tests enumerate its routes) */
  readonly express: express.Express;
  readonly projector: Projector;
  /** live support: Socket.IO namespace /support */
  readonly support: SupportGateway;
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** migrations ran and the read models reached the head seen at start */
  ready(): boolean;
  close(): Promise<void>;
}


/** The composition root: builds every part from configuration, in dependency order. */
export async function createApp(options: AppOptions): Promise<App> {
  const { config, logger } = options;
  const now = options.now ?? (() => new Date());
  // Migrations may hold locks and run long statements: their own short-lived pool, without the
  // statement limits that every request path runs under.
  const migrations = openDatabase(options.databaseUrl, { max: 2, applicationName: 'keyledger-migrate', logger });
  try {
    await migrate(migrations);
  } finally {
    await migrations.destroy();
  }
  const database = openDatabase(options.databaseUrl, {
    max: options.poolSize ?? 20,
    applicationName: 'keyledger-app',
    timeouts: databaseTimeouts(config),
    logger: logger.child({ component: 'database' }),
  });
  // METRICS_PORT unset: nothing is recorded, so nothing is paid on the request path
  const metrics = config.METRICS_PORT === undefined ? disabledMetrics() : createMetrics({ supportEvents: KNOWN_EVENTS });
  let projector: ProjectorThread | undefined;
  // This node's name on the event log's wake-up channel: its own wake-ups, heard in-process
  // already (the projector's thread is poked), are not read for again when they come back.
  const wakeTag = `node-${randomBytes(9).toString('base64url')}`;
  const store = instrumentEventStore(createEventStore(config, database, logger, { onAppend: () => projector?.appended(), wakeTag: { own: wakeTag } }), metrics);
  const watcher: ProjectionWatcher = createProjectionWatcher(database, logger.child({ component: 'watcher' }));
  await watcher.start();
  projector = createProjectorThread({
    databaseUrl: options.databaseUrl,
    config,
    logger: logger.child({ component: 'projector' }),
    onBatch: (change) => watcher.advance(change),
    wakeTag,
    ...(metrics.enabled ? { onStats: (stats) => metrics.projectionBatch(stats) } : {}),
  });
  if (options.runProjector ?? true) projector.start();
  const startupHead: Position = await store.headPosition();

  const sessionListeners = new Set<(hash: string) => void>();
  const ctx: AppContext = {
    config,
    database,
    store,
    commands: new CommandHandler(store),
    watcher,
    logger,
    now,
    mailer: createMailer({
      smtpUrl: config.SMTP_URL,
      from: config.MAIL_FROM,
      outboxDir: join(config.DATA_DIR, 'outbox'),
      logger: logger.child({ component: 'mail' }),
    }),
    sessionEnded: (hash) => sessionListeners.forEach((l) => l(hash)),
  };

  const policyCache = new PolicyCache(database, watcher, { now });
  const decisionLog = new DecisionLog(database, logger.child({ component: 'decision-log' }));
  const planLimiter = new PlanLimiter({ pool: database.pool, now, logger: logger.child({ component: 'plan-limiter' }) });
  const pipeline = createAccessPipeline({
    cache: policyCache,
    log: decisionLog,
    limiter: planLimiter,
    now,
    failedAuth: { failures: config.AUTH_FAILURES_PER_IP, windowSeconds: config.AUTH_FAILURE_WINDOW_SECONDS },
  });

  const app = express();
  if (options.observeResponses) app.use(options.observeResponses);
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxySetting(config.TRUST_PROXY));
  metrics.sources.accessDecisions = () => pipeline.decisions;
  metrics.sources.policyCache = () => ({ ...policyCache.counts, entries: policyCache.size });
  metrics.sources.decisionLog = () => ({ queueDepth: decisionLog.queueDepth, dropped: decisionLog.dropped });
  // read once every route is mounted (below): the request histogram labels by route pattern
  let patterns = new WeakMap<object, string>();
  app.use(requestEdge(logger, metrics, (route) => patterns.get(route) ?? '(unnamed route)'));
  app.use(refuseForeignHosts(config));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const isReady = () => watcher.reached(startupHead);
  // One query says both that the database answers and that some node projects: without a
  // projector, writes would be stored but never reach the read models.
  const probe = createDatabaseProbe(() => projectorLeads(database.db as Kysely<unknown>));
  app.get('/readyz', async (_req, res) => {
    const result = await probe();
    const projecting = result.available && result.value;
    const ready = result.available && projecting && isReady();
    res.status(ready ? 200 : 503).json({
      status: !result.available ? 'unavailable' : ready ? 'ready' : 'starting',
      database: result.available ? 'available' : 'unavailable',
      notifications: watcher.connected() ? 'connected' : 'reconnecting',
      projector: projector.isLeader() ? 'leading' : projecting ? 'standby' : 'none',
    });
  });

  // The partner API first: its calls are the hot path, and need not pass the management layers.
  app.use(
    '/api',
    partnerApi(
      ctx,
      pipeline,
      (options.partnerApiExtensions ?? []).map((extend) => (router: express.Router) => extend(router, pipeline)),
    ),
  );
  // Both APIs are built from their route tables (src/api/contract.ts, src/http/manage-api.ts),
  // which also make /openapi.json and the reference at /docs.
  app.use(MANAGE_BASE, manageApi(ctx));
  app.use(openApiRouter());
  // Every HTML page goes through the one page layer (src/web/layer.ts).
  const pages = await createPageLayer(ctx);
  app.use('/assets', pages.assets);
  app.get('/', (_req, res) => res.redirect(302, '/dashboard'));
  app.use('/dashboard', dashboardPages(ctx, pages));
  // The hosted-page addresses of the XWMS packages (/login, /signup, /account/general…).
  app.use(hostedRedirects());
  app.use('/account', pictureFiles(ctx), pictureUpload(ctx), accountPages(ctx, pages));
  app.use('/invitations', invitationPages(ctx, pages));
  app.use(SIGN_IN_PAGE_PATH, signInPages(ctx, pipeline, pages));
  app.use('/support/desk', deskPages(ctx, pages, () => support));
  app.use('/support', supportPages(ctx, pages));

  app.use((req, _res, next) => next(new ApiError(404, 'route_not_found', 'Not found', `no route for ${req.method} ${req.path}`)));
  // Errors raised before a router (a foreign Host…) still answer in their API's envelope.
  const logUnhandled = (error: unknown, id: string | undefined) => logger.error({ err: error, requestId: id }, 'unhandled error');
  const partnerErrors = xwmsErrorHandler(logUnhandled);
  const managementErrors = problemHandler(logUnhandled);
  app.use(((error, req, res, next) =>
    (isPartnerApiPath(req.path) ? partnerErrors : managementErrors)(error, req, res, next)) satisfies express.ErrorRequestHandler);

  patterns = routePatterns(app);

  const server = http.createServer(app);
  server.keepAliveTimeout = 5_000;
  server.on('clientError', answerClientError(logger));
  const support = createSupportGateway(ctx, server, { metrics });
  const metricsServer = config.METRICS_PORT === undefined ? undefined : createMetricsServer(metrics);
  let metricsAddress: AddressInfo | undefined;
  sessionListeners.add((hash) => support.endSession(hash));

  let closing: Promise<void> | undefined;
  return {
    ctx,
    access: { cache: policyCache, log: decisionLog, pipeline, limiter: planLimiter },
    metrics,
    metricsAddress: () => metricsAddress,
    server,
    express: app,
    projector,
    support,
    ready: isReady,
    async listen(port, host) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      if (metricsServer && config.METRICS_PORT !== undefined) metricsAddress = await metricsServer.listen(config.METRICS_PORT, config.METRICS_HOST ?? host);
      return server.address() as AddressInfo;
    },
    close() {
      closing ??= (async () => {
        // In order: close live sockets, stop taking requests, stop projecting, stop listening, then the pools.
        await support.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          setTimeout(() => server.closeAllConnections(), 5_000).unref();
        });
        await metricsServer?.close();
        await projector.stop();
        await planLimiter.close();
        policyCache.stop();
        await decisionLog.close();
        await watcher.stop();
        await store.close();
        ctx.mailer.close();
        await database.destroy();
      })();
      return closing;
    },
  };
}
