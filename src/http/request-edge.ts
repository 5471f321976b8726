import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { requestContext } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;
/** Probes come every few seconds from load balancers: their answers are not news. */
const QUIET_PATHS = new Set(['/healthz', '/readyz']);
const STARTED = Symbol('keyledger.started');

type Timed = ServerResponse & { [STARTED]?: number; req: IncomingMessage };

/**
 * The edge of every request, in one middleware: its X-Request-Id (the caller's when well-formed,
 * else a new one), one log line when it ends (paths only: query strings may carry one-time
 * tokens), and the request-duration histogram by route pattern. One shared `close` listener, no
 * per-request closures or child loggers.
 */
export function requestEdge(logger: Logger, metrics: Metrics, routePattern: (route: object) => string): RequestHandler {
  // The request line is built here from a fixed set of fields, none of them secret (the path
  // without its query, an invitation's token cut out): redaction would only walk it, and cost
  // more than writing it. Every other line keeps the logger's redaction.
  const requestLog = logger.child({}, { redact: { paths: [] } });
  function onClose(this: Timed): void {
    const started = this[STARTED];
    if (started === undefined) return;
    const seconds = (performance.now() - started) / 1000;
    const req = this.req as Request;
    const status = this.writableFinished ? this.statusCode : 499;
    const route = (req as { route?: object }).route;
    metrics.httpRequest(route, () => routePattern(route!), req.method, status, seconds);
    const rawUrl = req.originalUrl ?? req.url ?? '';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    if (QUIET_PATHS.has(path)) return;
    // A 503 is the service saying "not now" (starting, or its database away), not a fault here.
    const level = status === 503 ? 'warn' : status >= 500 ? 'error' : 'info';
    if (!requestLog.isLevelEnabled(level)) return;
    requestLog[level](
      {
        requestId: (req as Request & { id?: string }).id,
        // an invitation link's token is its only secret: never in the log
        req: { method: req.method, path: path.startsWith('/invitations/') ? path.replace(/^\/invitations\/[^/]+/, '/invitations/…') : path, ip: req.socket?.remoteAddress },
        res: { statusCode: status },
        responseTime: Math.round(seconds * 1000),
      },
      this.writableFinished ? 'request completed' : 'request aborted',
    );
  }

  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', id);
    (req as Request & { id: string }).id = id;
    (res as Timed)[STARTED] = performance.now();
    res.once('close', onClose);
    requestContext.run({ requestId: id }, next);
  };
}
