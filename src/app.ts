import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import cookieParser from 'cookie-parser';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import type { Kysely } from 'kysely';
import { type Config, databaseTimeouts, trustProxySetting } from './config.ts';
import { createDatabaseProbe, migrate, openDatabase } from './db/database.ts';
import type { Position } from './eventstore/port.ts';
import { comparePositions } from './eventstore/port.ts';
import { CommandHandler } from './eventstore/command-handler.ts';
import { type Projector, projectorLeads } from '../projections/runner.ts';
import { createProjectorThread, type ProjectorThread } from '../projections/threaded.ts';
import { createEventStore } from './eventstore/factory.ts';
import { createProjectionWatcher, type ProjectionWatcher } from '../projections/watcher.ts';
import type { AppContext } from './context.ts';
import { ApiError, problemHandler, requireJson } from './http/problem.ts';
import { requestId } from './http/request.ts';
import { refuseUnstorableInput } from './http/input-guard.ts';
import { answerClientError } from './http/client-error.ts';
import { accountsApi } from './accounts/routes.ts';
import { membersApi } from './accounts/member-routes.ts';
import { clientsApi } from './clients/routes.ts';
import { PolicyCache } from './access/cache.ts';
import { DecisionLog } from './access/decision-log.ts';
import { createAccessPipeline, type AccessPipeline } from './access/pipeline.ts';
import { accessManagementApi } from './access/routes.ts';
import { auditReplayApi } from './audit/routes.ts';
import { partnerApi } from './api/routes.ts';
import { isPartnerApiPath, xwmsErrorHandler } from './api/envelope.ts';
import { refuseCrossOriginWrites, refuseForeignHosts } from './http/origin.ts';
import { signInManagementApi } from './signin/management.ts';
import { signInPages } from './signin/pages.ts';
import { signInPartnerApi, SIGN_IN_PAGE_PATH } from './signin/partner-routes.ts';
import { usersPartnerApi } from './users/partner-routes.ts';
import { createSupportGateway, type SupportGateway } from './support/gateway.ts';
import { supportPages } from './support/pages.ts';
import { auditApi } from './audit/audit-routes.ts';
import { createMailer } from './mail/mailer.ts';
import { join } from 'node:path';
import { createPageLayer } from './web/layer.ts';
import { dashboardPages } from './dashboard/pages.ts';
import { invitationPages } from './dashboard/invitation-pages.ts';

export interface AppOptions {
  readonly config: Config;
  readonly databaseUrl: string;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** defaults to true; a node with false only serves (another node projects) */
  readonly runProjector?: boolean;
  readonly poolSize?: number;
  /** extra routes on the partner API router (benchmarks and tests only) */
  readonly partnerApiExtensions?: readonly ((router: import('express').Router, pipeline: AccessPipeline) => void)[];
}

export interface App {
  readonly ctx: AppContext;
  readonly access: { readonly cache: PolicyCache; readonly log: DecisionLog; readonly pipeline: AccessPipeline };
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
  let projector: ProjectorThread | undefined;
  const store = createEventStore(config, database, logger, { onAppend: () => projector?.appended() });
  const watcher: ProjectionWatcher = createProjectionWatcher(database, logger.child({ component: 'watcher' }));
  await watcher.start();
  projector = createProjectorThread({
    databaseUrl: options.databaseUrl,
    config,
    logger: logger.child({ component: 'projector' }),
    onBatch: (change) => watcher.advance(change),
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
  const pipeline = createAccessPipeline({
    cache: policyCache,
    log: decisionLog,
    now,
    failedAuth: { failures: config.AUTH_FAILURES_PER_IP, windowSeconds: config.AUTH_FAILURE_WINDOW_SECONDS },
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxySetting(config.TRUST_PROXY));
  app.use(requestId);
  app.use(
    pinoHttp({
      logger,
      genReqId: (_req, res) => String(res.getHeader('x-request-id')),
      // Paths only: query strings may carry one-time tokens.
      serializers: {
        req: (req: { method: string; url: string; remoteAddress?: string }) => ({
          method: req.method,
          // an invitation link's token is its only secret: never in the log
          path: req.url.split('?')[0]!.replace(/^\/invitations\/[^/]+/, '/invitations/…'),
          ip: req.remoteAddress,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      // A 503 is the service saying "not now" (starting, or its database away), not a fault here.
      customLogLevel: (_req, res, error) => (res.statusCode === 503 ? 'warn' : error || res.statusCode >= 500 ? 'error' : 'info'),
      // Probes come every few seconds from load balancers: their answers are not news.
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
    }),
  );

  app.use(refuseForeignHosts(config));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const isReady = () => comparePositions(watcher.position(), startupHead) >= 0;
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

  const manage = express.Router();
  // Every write here rides the session cookie: a page on another site may not send one.
  manage.use(refuseCrossOriginWrites(config), requireJson, express.json({ limit: '100kb', strict: false }), refuseUnstorableInput, cookieParser());
  manage.use(accountsApi(ctx));
  manage.use(membersApi(ctx));
  manage.use(clientsApi(ctx));
  manage.use(accessManagementApi(ctx));
  manage.use(auditReplayApi(ctx));
  manage.use(signInManagementApi(ctx));
  manage.use(auditApi(ctx));
  manage.use((req) => {
    throw new ApiError(404, 'route_not_found', 'Not found', `no route for ${req.method} ${req.path}`);
  });
  app.use('/manage/v1', manage);
  app.use(
    '/api',
    partnerApi(ctx, pipeline, [
      signInPartnerApi(ctx, pipeline),
      usersPartnerApi(ctx, pipeline),
      ...(options.partnerApiExtensions ?? []).map((extend) => (router: express.Router) => extend(router, pipeline)),
    ]),
  );
  // Every HTML page goes through the one page layer (src/web/layer.ts).
  const pages = await createPageLayer(ctx);
  app.use('/assets', pages.assets);
  app.get('/', (_req, res) => res.redirect(302, '/dashboard'));
  app.use('/dashboard', dashboardPages(ctx, pages));
  app.use('/invitations', invitationPages(ctx, pages));
  app.use(SIGN_IN_PAGE_PATH, signInPages(ctx, pipeline, pages));
  app.use('/support', supportPages(ctx, pages));

  app.use((req, _res, next) => next(new ApiError(404, 'route_not_found', 'Not found', `no route for ${req.method} ${req.path}`)));
  // Errors raised before a router (a foreign Host…) still answer in their API's envelope.
  const logUnhandled = (error: unknown, id: string | undefined) => logger.error({ err: error, requestId: id }, 'unhandled error');
  const partnerErrors = xwmsErrorHandler(logUnhandled);
  const managementErrors = problemHandler(logUnhandled);
  app.use(((error, req, res, next) =>
    (isPartnerApiPath(req.path) ? partnerErrors : managementErrors)(error, req, res, next)) satisfies express.ErrorRequestHandler);

  const server = http.createServer(app);
  server.keepAliveTimeout = 5_000;
  server.on('clientError', answerClientError(logger));
  const support = createSupportGateway(ctx, server);
  sessionListeners.add((hash) => support.endSession(hash));

  let closing: Promise<void> | undefined;
  return {
    ctx,
    access: { cache: policyCache, log: decisionLog, pipeline },
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
        await projector.stop();
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
