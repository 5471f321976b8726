import { STATUS_CODES } from 'node:http';
import { join } from 'node:path';
import { type RequestHandler, Router } from 'express';
import swaggerUi from 'swagger-ui-dist';
import type { ZodType } from 'zod';
import { createDocument, type oas31, type ZodObjectInput, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponseObject } from 'zod-openapi';
import { SESSION_COOKIE } from '../accounts/sessions.ts';
import { PARTNER_COMMON_ERRORS, PIPELINE_ERRORS, type PartnerAccess } from '../api/access.ts';
import { PARTNER_TABLE } from '../api/contract.ts';
import { MANAGE_BASE, MANAGE_TABLE } from './manage-api.ts';
import { MANAGE_COMMON_ERRORS, guardErrors, type ManageAccess } from './manage-routes.ts';
import { openApiPath, type RouteContract, tableEntries, type TableEntry } from './route-table.ts';
import { problemSchema, xwmsErrorSchema } from './schemas.ts';

/** One documented API: its base, its table, and how its refusals look. */
export interface DocumentedApi<A = unknown> {
  readonly base: string;
  readonly entries: readonly TableEntry<A>[];
  readonly errorContentType: string;
  /** the component name of its error schema */
  readonly errorComponent: string;
  readonly errorSchema: ZodType;
  readonly requestContentTypes: readonly string[];
  errorsOf(access: A, path: string): readonly number[];
  securityOf(access: A): oas31.SecurityRequirementObject[];
}

const manage: DocumentedApi<ManageAccess> = {
  base: MANAGE_BASE,
  entries: tableEntries<ManageAccess>(MANAGE_TABLE),
  errorContentType: 'application/problem+json',
  errorComponent: 'Problem',
  errorSchema: problemSchema,
  requestContentTypes: ['application/json'],
  errorsOf: (access, path) => [...MANAGE_COMMON_ERRORS, ...guardErrors(access, path)],
  securityOf: (access) => (access.kind === 'public' ? [] : [{ session: [] }]),
};

const partner: DocumentedApi<PartnerAccess> = {
  base: '/api',
  entries: tableEntries<PartnerAccess>(PARTNER_TABLE),
  errorContentType: 'application/json',
  errorComponent: 'XwmsError',
  errorSchema: xwmsErrorSchema,
  // the XWMS SDKs post JSON; form posts are accepted as well
  requestContentTypes: ['application/json', 'application/x-www-form-urlencoded'],
  errorsOf: (access) => [...PARTNER_COMMON_ERRORS, ...(access.kind === 'none' ? [] : PIPELINE_ERRORS)],
  securityOf: (access) => (access.kind === 'none' ? [] : [{ clientId: [], clientSecret: [], clientDomain: [] }]),
};

export const DOCUMENTED_APIS = [partner, manage] as unknown as readonly DocumentedApi[];

function operation<A>(api: DocumentedApi<A>, operationId: string, contract: RouteContract<A>): ZodOpenApiOperationObject {
  const { request } = contract;
  const responses: Record<string, ZodOpenApiResponseObject> = {};
  for (const [status, spec] of Object.entries(contract.responses)) {
    responses[status] = spec.schema
      ? { description: spec.description, content: { [spec.contentType ?? 'application/json']: { schema: spec.schema } } }
      : { description: spec.description };
  }
  const errorStatuses = [...new Set([...api.errorsOf(contract.access, contract.path), ...(contract.errors ?? [])])].sort((a, b) => a - b);
  for (const status of errorStatuses) {
    if (responses[String(status)]) continue;
    responses[String(status)] = { description: STATUS_CODES[status] ?? 'Error', content: { [api.errorContentType]: { schema: api.errorSchema } } };
  }
  return {
    operationId,
    summary: contract.summary,
    ...(contract.description ? { description: contract.description } : {}),
    tags: [...contract.tags],
    security: api.securityOf(contract.access),
    // the access requirement as the router enforces it (DESIGN §6: none / api / login / scope; §8, §12: the guard's public / session / member)
    'x-keyledger-access': contract.access,
    ...(request.params || request.query
      ? {
          requestParams: {
            ...(request.params ? { path: request.params as ZodObjectInput } : {}),
            ...(request.query ? { query: request.query as ZodObjectInput } : {}),
          },
        }
      : {}),
    ...(request.body
      ? { requestBody: { content: Object.fromEntries(api.requestContentTypes.map((type) => [type, { schema: request.body! }])) } }
      : {}),
    responses,
  };
}

let cached: oas31.OpenAPIObject | undefined;

/** The OpenAPI 3.1 document of /api and /manage/v1, generated from the route tables' zod schemas. */
export function openApiDocument(): oas31.OpenAPIObject {
  if (cached) return cached;
  const paths: ZodOpenApiPathsObject = {};
  for (const api of DOCUMENTED_APIS) {
    for (const { operationId, contract } of api.entries) {
      const path = `${api.base}${openApiPath(contract.path)}`;
      paths[path] = { ...paths[path], [contract.method]: operation(api, operationId, contract) };
    }
  }
  cached = createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Keyledger',
      version: '0.1.0',
      description:
        'The XWMS-compatible partner API (`/api`, header-authenticated) and the management API (`/manage/v1`, session cookie). ' +
        'Refusals carry a stable `code` from a closed set: `XwmsError` on /api, `Problem` (application/problem+json) on /manage/v1.',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'Partner API' },
      { name: 'Sign-in' },
      { name: 'Users' },
      { name: 'Global' },
      { name: 'Account' },
      { name: 'Organisation' },
      { name: 'Members' },
      { name: 'Clients' },
      { name: 'Audit and explain' },
    ],
    components: {
      schemas: { Problem: problemSchema, XwmsError: xwmsErrorSchema },
      securitySchemes: {
        clientId: { type: 'apiKey', in: 'header', name: 'X-Client-Id' },
        clientSecret: { type: 'apiKey', in: 'header', name: 'X-Client-Secret' },
        clientDomain: { type: 'apiKey', in: 'header', name: 'X-Client-Domain', description: 'a root domain or domain id of the client' },
        session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'set by POST /manage/v1/account/login' },
      },
    },
    paths,
  });
  return cached;
}

/** The /docs page: no inline script or style, so it runs under a CSP without 'unsafe-inline' for scripts. */
const DOCS_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Keyledger API reference</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<main id="reference"><noscript>The reference needs JavaScript; the document itself is at <a href="/openapi.json">/openapi.json</a>.</noscript></main>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`;

const DOCS_INIT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#reference', deepLinking: true });
});
`;

/**
 * Swagger UI renders some styles as style attributes and its icons as data: images, so /docs
 * allows inline styles and data: images — and nothing else beyond this origin. Scripts stay
 * 'self' only (no inline script, no eval). The header is set on /docs alone: every other page
 * keeps the app's stricter policy.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const docsHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', DOCS_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  next();
};

/** GET /openapi.json and the browsable reference at /docs (Swagger UI, from swagger-ui-dist). */
export function openApiRouter(): Router {
  const router = Router();
  const assets = swaggerUi.getAbsoluteFSPath();
  router.get('/openapi.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.json(openApiDocument());
  });
  router.get('/docs', docsHeaders, (_req, res) => {
    res.type('html').send(DOCS_PAGE);
  });
  router.get('/docs/assets/init.js', docsHeaders, (_req, res) => {
    res.type('application/javascript').send(DOCS_INIT);
  });
  for (const file of ['swagger-ui.css', 'swagger-ui-bundle.js']) {
    router.get(`/docs/assets/${file}`, docsHeaders, (_req, res) => {
      res.sendFile(join(assets, file), { maxAge: '1h' });
    });
  }
  return router;
}
