import type { Request, RequestHandler, Response, Router } from 'express';
import type { z, ZodType } from 'zod';

/**
 * The route table: one contract per route (method, path, access requirement, zod request and
 * response schemas) drives the express router, the access middleware, /api/info and the OpenAPI
 * document (src/http/openapi.ts). A feature declares its contracts as a record keyed by
 * operationId (`defineRoutes`) and implements them with `Handlers<typeof routes>`, so a contract
 * without a handler (or a handler without a contract) is a compile error.
 */

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ResponseSpec {
  readonly description: string;
  /** the body; absent means no body (204) */
  readonly schema?: ZodType;
  /** defaults to application/json */
  readonly contentType?: string;
}

export interface RequestSchemas {
  /** path parameters (`:name` in the path), as an object schema */
  readonly params?: ZodType;
  readonly query?: ZodType;
  readonly body?: ZodType;
}

export interface RouteContract<A = unknown, R extends RequestSchemas = RequestSchemas> {
  readonly method: HttpMethod;
  /** express syntax, relative to the API's base: `/clients/:clientId` */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly access: A;
  readonly request: R;
  /** the answers of a route that did what it was asked, by status */
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** error statuses this route answers besides the API's common ones (each in the API's error envelope) */
  readonly errors?: readonly number[];
}

export type RouteRecord<A> = Readonly<Record<string, RouteContract<A>>>;

type Out<S> = S extends ZodType ? z.output<S> : never;

/** Lazily parsed input: a handler decides the order of its checks (a 403 before a 400, say). */
export interface RouteInput<R extends RequestSchemas> {
  params(): Out<R['params']>;
  query(): Out<R['query']>;
  body(): Out<R['body']>;
}

export type RouteHandler<C> = C extends RouteContract<unknown, infer R>
  ? (req: Request, res: Response, input: RouteInput<R>) => unknown
  : never;

/** One handler per contract of a record: what a feature's handler factory returns. */
export type Handlers<T extends RouteRecord<unknown>> = { readonly [K in keyof T]: RouteHandler<T[K]> };

/** Keeps the literal types of a feature's contracts (their schemas type the handlers' input). */
export const defineRoutes = <A>() => <const T extends Record<string, RouteContract<A>>>(routes: T): T => routes;

export interface TableEntry<A> {
  readonly operationId: string;
  readonly contract: RouteContract<A>;
}

export interface BoundRoute<A> extends TableEntry<A> {
  readonly handler: (req: Request, res: Response, input: RouteInput<RequestSchemas>) => unknown;
}

/** The entries of a table made of feature records, in order. */
export function tableEntries<A>(records: Readonly<Record<string, RouteRecord<A>>>): TableEntry<A>[] {
  const entries: TableEntry<A>[] = [];
  const seen = new Set<string>();
  for (const record of Object.values(records)) {
    for (const [operationId, contract] of Object.entries(record)) {
      if (seen.has(operationId)) throw new Error(`route table: operationId ${operationId} is used twice`);
      seen.add(operationId);
      entries.push({ operationId, contract });
    }
  }
  return entries;
}

/** Pairs every contract of the table with its feature's handler. */
export function bindTable<A>(
  records: Readonly<Record<string, RouteRecord<A>>>,
  handlers: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
): BoundRoute<A>[] {
  return tableEntries(records).map((entry) => {
    const module = Object.entries(records).find(([, record]) => entry.operationId in record)![0];
    const handler = handlers[module]?.[entry.operationId];
    if (typeof handler !== 'function') throw new Error(`route table: no handler for ${entry.operationId}`);
    return { ...entry, handler: handler as BoundRoute<A>['handler'] };
  });
}

export type Part = 'params' | 'query' | 'body';
export type Parser = <S extends ZodType>(schema: S, value: unknown, part: Part) => z.output<S>;

/** A request's input, parsed on demand with its route's schemas (one object per request). */
class LazyInput implements RouteInput<RequestSchemas> {
  constructor(
    private readonly req: Request,
    private readonly route: BoundRoute<unknown>,
    private readonly parse: Parser,
  ) {}
  private part(name: Part, value: unknown) {
    const schema = this.route.contract.request[name];
    if (!schema) throw new Error(`${this.route.operationId} declares no ${name} schema`);
    return this.parse(schema, value, name);
  }
  params() {
    return this.part('params', this.req.params) as never;
  }
  query() {
    return this.part('query', this.req.query) as never;
  }
  body() {
    return this.part('body', this.req.body) as never;
  }
}

/** Mounts the routes on a router: the access middleware first, then the handler with its input. */
export function mountRoutes<A>(
  router: Router,
  routes: readonly BoundRoute<A>[],
  options: { readonly guard: (access: A) => readonly RequestHandler[]; readonly parse: Parser },
): void {
  for (const route of routes) {
    // express 5 passes a returned promise's rejection to the error handler
    const run: RequestHandler = (req, res) => route.handler(req, res, new LazyInput(req, route as BoundRoute<unknown>, options.parse)) as void;
    router[route.contract.method](route.contract.path, ...options.guard(route.contract.access), run);
  }
}

/** `/clients/:clientId` → `/clients/{clientId}` */
export const openApiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** A matcher for a table path (params never span a slash; a trailing slash is tolerated, as express does). */
export function pathMatcher(path: string): RegExp {
  const source = path
    .split(/(:[A-Za-z0-9_]+)/)
    .map((piece) => (piece.startsWith(':') ? '[^/]+' : piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}/?$`, 'i');
}
