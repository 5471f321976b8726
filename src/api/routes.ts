import express, { Router, type RequestHandler } from 'express';
import type { z } from 'zod';
import type { AppContext } from '../context.ts';
import { publicBase } from '../http/origin.ts';
import { listProjects } from '../clients/listing.ts';
import { type AccessGrant, type AccessPipeline, accessOf } from '../access/pipeline.ts';
import { XwmsError, sendJson, success, successBody, xwmsErrorHandler } from './envelope.ts';
import { refuseUnstorableInput } from '../http/input-guard.ts';
import { bindTable, type Handlers, mountRoutes, tableEntries } from '../http/route-table.ts';
import { parseBody } from '../users/input.ts';
import { signInPartnerHandlers } from '../signin/partner-routes.ts';
import { usersPartnerHandlers } from '../users/partner-routes.ts';
import type { PartnerAccess } from './access.ts';
import { type infoData, PARTNER_TABLE, projectsQuery } from './contract.ts';

export { infoData, projectsQuery } from './contract.ts';

const VERSION = '0.1.0';

export const PARTNER_BASE = '/api';

export const partnerEntries = () => tableEntries<PartnerAccess>(PARTNER_TABLE);

export interface ListedEndpoint {
  /** the key in `api.endpoints`: the route's operationId (XWMS's names; Keyledger's additions after them) */
  readonly name: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly auth: PartnerAccess['kind'];
  readonly scope?: string;
}

/** Endpoints listed by /api/info, with the access each needs: read from the route table, so they cannot drift. */
export const ENDPOINTS: readonly ListedEndpoint[] = partnerEntries().map(({ operationId, contract: { method, path, access } }) => ({
  name: operationId,
  method: method.toUpperCase() as ListedEndpoint['method'],
  path: `${PARTNER_BASE}${path}`,
  auth: access.kind,
  ...(access.kind !== 'none' && access.scope ? { scope: access.scope } : {}),
}));

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

type PartnerHandlers = { readonly [K in keyof typeof PARTNER_TABLE]: Handlers<(typeof PARTNER_TABLE)[K]> };

function apiHandlers(ctx: AppContext): PartnerHandlers['api'] {
  return {
    general_info: (req, res) => {
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
    },
    projects: async (req, res) => {
      const parsed = projectsQuery.safeParse(req.query);
      if (!parsed.success) throw new XwmsError(400, 'invalid_request', 'lang: must be en or nl', 'lang');
      const projects = await listProjects(ctx.database.rm, ctx.now(), parsed.data.lang ?? 'en');
      success(res, { projects }, 'Projects retrieved successfully.');
    },
  };
}

/**
 * The XWMS-compatible partner API (DESIGN §7), built from its route table (src/api/contract.ts):
 * the access pipeline guards each route as its contract says. `extend` mounts extra routes
 * (benchmarks and tests only) on the same router, so they share body parsing, the envelope and
 * the error handler.
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

  const handlers: PartnerHandlers = {
    api: apiHandlers(ctx),
    signIn: signInPartnerHandlers(ctx),
    users: usersPartnerHandlers(ctx, pipeline),
    keyledger: { whoami: (req, res) => whoami(req, res, () => {}) },
  };
  mountRoutes(router, bindTable<PartnerAccess>(PARTNER_TABLE, handlers), {
    guard: (access) => (access.kind === 'none' ? [] : [pipeline.require(access)]),
    parse: (schema, value) => parseBody(schema, value),
  });

  for (const mount of extend) mount(router);

  router.use((req) => {
    throw new XwmsError(404, 'not_found', `No endpoint ${req.method} ${req.baseUrl}${req.path}.`);
  });
  router.use(xwmsErrorHandler((error, requestId) => ctx.logger.error({ err: error, requestId }, 'unhandled error')));
  return router;
}
