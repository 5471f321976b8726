import type { ErrorRequestHandler, RequestHandler } from 'express';
import { STATUS_CODES } from 'node:http';
import type { ZodError, ZodType } from 'zod';
import { UNSTORABLE_MESSAGE, isUnstorableTextError } from '../db/storable.ts';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/errors.ts';
import type { ManageErrorCode } from './error-codes.ts';

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

/** The one error type of the HTTP layer: a closed set of stable codes, rendered as problem+json. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ManageErrorCode,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: readonly FieldProblem[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail ?? title);
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', 'Not found', `${what} was not found`);

export function fieldProblems(error: ZodError): FieldProblem[] {
  return error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)',
    message: issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
  }));
}

/** Validates input with a zod schema, or throws a 400 naming each bad field. */
export function parseInput<S extends ZodType>(schema: S, input: unknown): ReturnType<S['parse']> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data as ReturnType<S['parse']>;
  const errors = fieldProblems(result.error);
  const first = errors[0]!;
  throw new ApiError(400, 'validation_failed', 'Invalid request', `${first.field}: ${first.message}`, errors);
}

export function problemBody(error: ApiError, requestId: string | undefined) {
  return {
    type: `https://keyledger.dev/problems/${error.code.replaceAll('_', '-')}`,
    title: error.title,
    status: error.status,
    detail: error.detail ?? error.title,
    code: error.code,
    ...(error.errors ? { errors: error.errors } : {}),
    ...(requestId ? { requestId } : {}),
  };
}

/** body-parser's own errors, named. */
export function fromBodyParser(error: unknown): ApiError | undefined {
  const e = error as { type?: string; status?: number; limit?: number };
  switch (e.type) {
    case 'entity.parse.failed':
      return new ApiError(400, 'malformed_json', 'Malformed JSON', 'the request body is not valid JSON');
    case 'entity.too.large':
      return new ApiError(413, 'payload_too_large', 'Payload too large', `the request body is larger than ${e.limit ?? 102_400} bytes`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError(415, 'unsupported_encoding', 'Unsupported encoding', 'send the body as UTF-8 JSON');
    case 'request.aborted':
      return new ApiError(400, 'request_aborted', 'Request aborted', 'the request body was not received completely');
    case 'request.size.invalid':
      return new ApiError(400, 'request_aborted', 'Request aborted', 'the request body does not match its Content-Length');
    case 'parameters.too.many':
      return new ApiError(413, 'too_many_parameters', 'Too many parameters', 'the form body has more parameters than are accepted');
    case 'entity.verify.failed':
      return new ApiError(403, 'forbidden', 'Forbidden', 'the request body was refused');
    default:
      return undefined;
  }
}

/** Postgres refused a character the input guards missed: the caller's input, so a 400, never a 500. */
export function fromDatabase(error: unknown): ApiError | undefined {
  if (!isUnstorableTextError(error)) return undefined;
  return new ApiError(400, 'validation_failed', 'Invalid request', `the input ${UNSTORABLE_MESSAGE}`);
}

/**
 * A 4xx that a library raised with its status (http-errors style), e.g. the router's URIError
 * for a path parameter that does not decode: keep the status, never report it as a 500.
 */
export function fromHttpError(error: unknown): ApiError | undefined {
  if (!(error instanceof Error)) return undefined;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  if (typeof code !== 'number' || code < 400 || code > 499) return undefined;
  if (error instanceof URIError) return malformedPath();
  return new ApiError(code, 'bad_request', STATUS_CODES[code] ?? 'Bad request', 'the request was refused as malformed');
}

export const malformedPath = () =>
  new ApiError(400, 'malformed_path', 'Malformed path', 'the path has a malformed percent-encoding', [{ field: 'path', message: 'is not valid percent-encoded UTF-8' }]);

/** Anything thrown that is the caller's fault, as an ApiError; undefined for a fault of ours (a 500). */
export const toApiError = (error: unknown): ApiError | undefined =>
  error instanceof ApiError ? error : (fromBodyParser(error) ?? fromDatabase(error) ?? fromHttpError(error));

/** The database is down, frozen or out of connections: try again shortly (503 with Retry-After). */
export const databaseUnavailable = () =>
  new ApiError(503, 'database_unavailable', 'Service unavailable', 'the database is not available right now; try again shortly', undefined, {
    'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS),
  });

/** Turns anything thrown into problem+json; unknown errors become a bare 500 with the request id. */
export function problemHandler(log: (error: unknown, requestId: string | undefined) => void): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    const requestId = res.getHeader('x-request-id') as string | undefined;
    const apiError =
      toApiError(error) ??
      (isDatabaseUnavailable(error) ? databaseUnavailable() : new ApiError(500, 'internal_error', 'Internal error', 'something went wrong; quote the request id'));
    // An unavailable database is logged once per outage by the pools, and each response by pino-http.
    if (apiError.status >= 500 && apiError.code !== 'database_unavailable') log(error, requestId);
    if (res.headersSent) return;
    for (const [name, value] of Object.entries(apiError.headers ?? {})) res.setHeader(name, value);
    res.status(apiError.status).type('application/problem+json').send(JSON.stringify(problemBody(apiError, requestId)));
  };
}

/**
 * A body must be JSON: anything else is refused before parsing. A write without a body (logout,
 * disable, rotate without options) needs no Content-Type: cross-site writes are refused by the
 * origin check (src/http/origin.ts), not by making every caller send a header for nothing.
 */
export const requireJson: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.is('application/json')) {
    next(new ApiError(415, 'unsupported_media_type', 'Unsupported media type', 'send the body as application/json'));
    return;
  }
  next();
};
