import express, { Router, type RequestHandler } from 'express';
import type { AppContext } from '../context.ts';
import { type AccessGrant, type AccessPipeline, accessOf } from '../access/pipeline.ts';
import { XwmsError, sendJson, success, successBody, xwmsErrorHandler } from './envelope.ts';
import { refuseUnstorableInput } from '../http/input-guard.ts';

const VERSION = '0.1.0';

/** Endpoints listed by /api/info, with the access each needs. */
export const ENDPOINTS = [
  { method: 'GET', path: '/api/info', auth: 'none' },
  { method: 'GET', path: '/api/whoami', auth: 'api' },
  { method: 'POST', path: '/api/sign-token', auth: 'login' },
  { method: 'POST', path: '/api/sign-token-verify', auth: 'login' },
  { method: 'POST', path: '/api/get/user/info', auth: 'api' },
  { method: 'POST', path: '/api/get/user/address', auth: 'api', scope: 'useraddresses' },
  { method: 'POST', path: '/api/user/address', auth: 'api', scope: 'useraddresses' },
  { method: 'POST', path: '/api/global/countries', auth: 'api' },
] as const;

/** whoami's answer per grant: a grant lives as long as its cached policy, so this is built once per change */
const whoamiBodies = new WeakMap<AccessGrant, string>();

/** GET /api/whoami: who the pipeline says is calling. */
export const whoami: RequestHandler = (req, res) => {
  const grant = accessOf(req);
  let body = whoamiBodies.get(grant);
  if (body === undefined) {
    body = successBody({
      client_id: grant.clientId,
      domain: grant.domain,
      domain_id: grant.domainId,
      test_mode: grant.testMode,
      scopes: grant.scopes,
    });
    whoamiBodies.set(grant, body);
  }
  sendJson(res, 200, body);
};

const hasNoBody = (method: string) => method === 'GET' || method === 'HEAD';

/**
 * The XWMS-compatible partner API (DESIGN §7). `extend` mounts the routes that live in other
 * feature folders (sign-in, user data) on the same router, so they share body parsing, the
 * envelope and the error handler.
 */
export function partnerApi(ctx: AppContext, pipeline: AccessPipeline, extend: ((router: Router) => void)[] = []): Router {
  const router = Router();
  // A GET or HEAD carries no body: its parsers would only look for one.
  const json = express.json({ limit: '100kb', strict: false });
  const urlencoded = express.urlencoded({ extended: false, limit: '100kb' });
  router.use((req, res, next) => {
    if (hasNoBody(req.method)) return refuseUnstorableInput(req, res, next);
    json(req, res, (error?: unknown) => {
      if (error) return next(error);
      urlencoded(req, res, (again?: unknown) => (again ? next(again) : refuseUnstorableInput(req, res, next)));
    });
  });

  router.get('/info', (req, res) => {
    success(res, {
      application: { name: 'Keyledger', version: VERSION, time: ctx.now().toISOString() },
      client: { ip: req.ip ?? null, user_agent: req.get('user-agent') ?? null },
      api: { endpoints: ENDPOINTS },
    });
  });

  router.get('/whoami', pipeline.require({ kind: 'api' }), whoami);

  for (const mount of extend) mount(router);

  router.use((req) => {
    throw new XwmsError(404, 'not_found', `No endpoint ${req.method} ${req.baseUrl}${req.path}.`);
  });
  router.use(xwmsErrorHandler((error, requestId) => ctx.logger.error({ err: error, requestId }, 'unhandled error')));
  return router;
}
