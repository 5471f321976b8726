import express, { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { publicBase } from '../http/origin.ts';
import { PROJECT_LANGUAGES, listProjects } from '../clients/listing.ts';
import { type AccessGrant, type AccessPipeline, accessOf } from '../access/pipeline.ts';
import { XwmsError, sendJson, success, successBody, xwmsErrorHandler } from './envelope.ts';
import { refuseUnstorableInput } from '../http/input-guard.ts';

const VERSION = '0.1.0';

/**
 * Endpoints listed by /api/info, with the access each needs. `name` is the key in
 * `api.endpoints` (XWMS's names first; Keyledger's additions after them).
 */
export const ENDPOINTS = [
  { name: 'general_info', method: 'GET', path: '/api/info', auth: 'none' },
  { name: 'countries', method: 'POST', path: '/api/global/countries', auth: 'api' },
  { name: 'projects', method: 'GET', path: '/api/global/projects', auth: 'none' },
  { name: 'user_address', method: 'POST', path: '/api/get/user/address', auth: 'api', scope: 'useraddresses' },
  { name: 'user_info', method: 'POST', path: '/api/get/user/info', auth: 'api' },
  { name: 'auth_signin', method: 'POST', path: '/api/sign-token', auth: 'login' },
  { name: 'auth_verify', method: 'POST', path: '/api/sign-token-verify', auth: 'login' },
  { name: 'user_address_crud', method: 'POST', path: '/api/user/address', auth: 'api', scope: 'useraddresses' },
  { name: 'whoami', method: 'GET', path: '/api/whoami', auth: 'api' },
] as const;

/** `data` of GET /api/info, as XWMS documents it. */
export const infoData = z.object({
  application: z.object({
    name: z.string(),
    description: z.string(),
    version: z.string(),
    locale: z.string(),
    timezone: z.string(),
    time: z.string(),
  }),
  client: z.object({ ip: z.string().nullable(), user_agent: z.string().nullable() }),
  api: z.object({
    /** where the API reference is served (the OpenAPI pages) */
    documentation: z.string(),
    /** endpoint name → absolute URL */
    endpoints: z.record(z.string(), z.string()),
  }),
});

export const projectsQuery = z.object({ lang: z.enum(PROJECT_LANGUAGES, { error: 'must be en or nl' }).optional() });

const DESCRIPTION = 'Keyledger is a self-hosted, XWMS-compatible sign-in and partner platform: every change to who may do what is an event you can replay and explain.';
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
    // Links on PUBLIC_URL or an allowed Host only; otherwise paths (never a Host the caller made up).
    const base = publicBase(ctx.config, req) ?? '';
    success(
      res,
      {
        application: {
          name: 'Keyledger',
          description: DESCRIPTION,
          version: VERSION,
          locale: 'en',
          timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
          time: ctx.now().toISOString(),
        },
        client: { ip: req.ip ?? null, user_agent: req.get('user-agent') ?? null },
        api: {
          documentation: `${base}/docs`,
          endpoints: Object.fromEntries(ENDPOINTS.map((e) => [e.name, `${base}${e.path}`])),
        },
      } satisfies z.input<typeof infoData>,
      'Keyledger is up and answering.',
    );
  });

  router.get('/global/projects', async (req, res) => {
    const parsed = projectsQuery.safeParse(req.query);
    if (!parsed.success) throw new XwmsError(400, 'invalid_request', 'lang: must be en or nl', 'lang');
    const projects = await listProjects(ctx.database.rm, ctx.now(), parsed.data.lang ?? 'en');
    success(res, { projects }, 'Projects retrieved successfully.');
  });

  router.get('/whoami', pipeline.require({ kind: 'api' }), whoami);

  for (const mount of extend) mount(router);

  router.use((req) => {
    throw new XwmsError(404, 'not_found', `No endpoint ${req.method} ${req.baseUrl}${req.path}.`);
  });
  router.use(xwmsErrorHandler((error, requestId) => ctx.logger.error({ err: error, requestId }, 'unhandled error')));
  return router;
}
