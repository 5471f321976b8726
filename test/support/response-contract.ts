import type { RequestHandler, Response } from 'express';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { DOCUMENTED_APIS, openApiDocument, type DocumentedApi } from '../../src/http/openapi.ts';
import { openApiPath, pathMatcher, type TableEntry } from '../../src/http/route-table.ts';

/**
 * Every response the test suite produces is checked against the OpenAPI document: the app built
 * by test/support/app.ts watches each answer of /api and /manage/v1 (its status must be
 * documented for the route, its body must match the documented schema), and
 * test/support/response-contract-check.ts fails the test file that saw a violation.
 */

export interface Violation {
  /** `POST /manage/v1/clients/{clientId}/secrets`, or the path as requested when no route matched */
  readonly route: string;
  readonly status: number;
  /** where in the body (a JSON pointer) and what */
  readonly problems: readonly string[];
}

const violations: Violation[] = [];
export const recordedViolations = (): readonly Violation[] => violations;
/** Removes and returns what was recorded (for the test of this check itself). */
export const takeViolations = (): Violation[] => violations.splice(0);

const DOCUMENT_ID = 'https://keyledger.dev/openapi.json';
let ajv: Ajv2020 | undefined;

function validator(pointer: string) {
  if (!ajv) {
    ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    const document = openApiDocument();
    // The document is no JSON Schema itself; its schemas are reached by pointer (refs resolve against its $id).
    ajv.addSchema({ $id: DOCUMENT_ID, components: document.components, paths: document.paths });
  }
  const ref = `${DOCUMENT_ID}#${pointer}`;
  return ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
}

const escape = (token: string) => encodeURIComponent(token.replaceAll('~', '~0').replaceAll('/', '~1'));

interface Matched {
  readonly api: DocumentedApi;
  readonly entry: TableEntry<unknown> | undefined;
}

const matchers = DOCUMENTED_APIS.map((api) => ({
  api,
  routes: api.entries.map((entry) => ({ entry, regex: pathMatcher(`${api.base}${entry.contract.path}`) })),
}));

function match(method: string, path: string): Matched | undefined {
  for (const { api, routes } of matchers) {
    if (path !== api.base && !path.startsWith(`${api.base}/`)) continue;
    const wanted = method === 'head' ? 'get' : method;
    const route = routes.find((r) => r.entry.contract.method === wanted && r.regex.test(path));
    return { api, entry: route?.entry };
  }
  return undefined;
}

function parseJson(body: Buffer | string | undefined): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : (body ?? '')) };
  } catch {
    return { ok: false };
  }
}

function check(method: string, path: string, res: Response, body: Buffer | string | undefined): void {
  const matched = match(method, path);
  if (!matched) return;
  const { api, entry } = matched;
  const status = res.statusCode;
  const contentType = String(res.getHeader('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const problems: string[] = [];
  const report = (route: string) => {
    if (problems.length > 0) violations.push({ route, status, problems });
  };
  const validate = (pointer: string) => {
    if (method === 'head') return;
    const parsed = parseJson(body);
    if (!parsed.ok) {
      problems.push('(body) is not JSON');
      return;
    }
    const validateBody = validator(pointer);
    if (!validateBody(parsed.value)) {
      for (const e of validateBody.errors ?? []) problems.push(`${e.instancePath || '(body)'} ${e.message ?? ''} (${e.schemaPath})`.trim());
    }
  };

  if (!entry) {
    // No route: the API's 404 (or an earlier refusal) must still be its error envelope. A test-only
    // extension route (partnerApiExtensions) that answered is not the document's business.
    if (status >= 400) {
      if (contentType !== api.errorContentType) problems.push(`content-type ${contentType || '(none)'} is not ${api.errorContentType}`);
      else validate(`/components/schemas/${api.errorComponent}`);
    }
    report(`${method.toUpperCase()} ${path} (no route)`);
    return;
  }

  const documentedPath = `${api.base}${openApiPath(entry.contract.path)}`;
  const operation = `/paths/${escape(documentedPath)}/${entry.contract.method}`;
  const route = `${entry.contract.method.toUpperCase()} ${documentedPath}`;
  const document = openApiDocument();
  const responses = (document.paths?.[documentedPath] as Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>)[
    entry.contract.method
  ]!.responses;
  const documented = responses[String(status)];
  if (!documented) {
    problems.push(`status ${status} is not documented for this route (documented: ${Object.keys(responses).join(', ')})`);
    report(route);
    return;
  }
  if (!documented.content) {
    if (body !== undefined && body.length > 0 && method !== 'head') problems.push('(body) is documented as empty');
    report(route);
    return;
  }
  if (!(contentType in documented.content)) {
    problems.push(`content-type ${contentType || '(none)'} is not documented (documented: ${Object.keys(documented.content).join(', ')})`);
  } else if (contentType === 'application/json' || contentType.endsWith('+json')) {
    validate(`${operation}/responses/${status}/content/${escape(contentType)}/schema`);
  }
  report(route);
}

/**
 * The middleware the test app installs first. It keeps what send() is given (every JSON answer,
 * res.json included, goes through it), or the one chunk end() is given (the partner API's
 * sendJson), and checks the answer once it is finished; a streamed answer (the NDJSON export) is
 * checked for its status and type only. Nothing on the way out is changed.
 */
export function responseContract(): RequestHandler {
  return (req, res, next) => {
    const method = req.method.toLowerCase();
    const path = req.originalUrl.split('?')[0]!;
    let body: Buffer | string | undefined;
    const send = res.send;
    res.send = function (this: Response, value?: unknown) {
      if (typeof value === 'string' || Buffer.isBuffer(value)) body = value;
      return send.call(this, value);
    } as Response['send'];
    // The partner API writes its JSON straight to end() (src/api/envelope.ts sendJson): keep that
    // chunk too, passing every argument and the return value through untouched.
    const end = res.end;
    res.end = function (this: Response, ...args: unknown[]) {
      const chunk = args[0];
      if (body === undefined && (typeof chunk === 'string' || Buffer.isBuffer(chunk))) body = chunk;
      return (end as (...a: unknown[]) => Response).apply(this, args);
    } as Response['end'];
    res.on('finish', () => {
      try {
        check(method, path, res, body);
      } catch (error) {
        violations.push({ route: `${method.toUpperCase()} ${path}`, status: res.statusCode, problems: [`the check itself failed: ${String(error)}`] });
      }
    });
    next();
  };
}
