import type { ErrorRequestHandler, Response } from 'express';
import { type ApiError, fromBodyParser, toApiError } from '../http/problem.ts';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/errors.ts';
import { PARTNER_INPUT_CODES, XWMS_ERROR_CODES, type XwmsErrorCode } from '../http/error-codes.ts';

/**
 * The XWMS response envelope: `{status: 'success' | 'error', message, data}`. Errors add `code`
 * and `request_id` (and `field` for a malformed body), always as JSON, so the XWMS SDKs that read
 * `message` from a non-2xx answer keep working.
 */
export class XwmsError extends Error {
  constructor(
    readonly status: number,
    readonly code: XwmsErrorCode,
    message: string,
    readonly field?: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

const INPUT_CODES = new Set<string>(PARTNER_INPUT_CODES);
const PARTNER_CODES = new Set<string>(XWMS_ERROR_CODES);

/**
 * An error of the shared HTTP layer (a foreign Host, a NUL in the path…) in this envelope. Input
 * problems are `invalid_request` (DESIGN §7); a management-only code never reaches this API, and
 * would be reported as `bad_request` rather than leave the closed set.
 */
function fromApiError(error: ApiError): XwmsError {
  const code: XwmsErrorCode = INPUT_CODES.has(error.code) ? 'invalid_request' : PARTNER_CODES.has(error.code) ? (error.code as XwmsErrorCode) : 'bad_request';
  return new XwmsError(error.status, code, error.detail ?? error.title, error.errors?.[0]?.field, error.headers);
}

/** Paths of the partner API: their errors use this envelope, wherever they are raised. */
export const isPartnerApiPath = (path: string): boolean => path === '/api' || path.startsWith('/api/');

export const successBody = (data: unknown, message = 'OK'): string => JSON.stringify({ status: 'success', message, data });

/**
 * A JSON answer written straight to the socket: no ETag hashing or freshness check (partner
 * API answers are not cached by clients), one string, one write.
 */
export function sendJson(res: Response, status: number, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(body);
}

export function success(res: Response, data: unknown, message = 'OK', status = 200): void {
  sendJson(res, status, successBody(data, message));
}

export function xwmsErrorHandler(log: (error: unknown, requestId: string | undefined) => void): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    const requestId = res.getHeader('x-request-id') as string | undefined;
    let e: XwmsError;
    if (error instanceof XwmsError) e = error;
    else {
      const parsed = fromBodyParser(error);
      const refused = parsed ? undefined : toApiError(error);
      if (parsed) e = new XwmsError(parsed.status === 413 ? 413 : 400, 'invalid_request', parsed.detail ?? parsed.title, 'body');
      else if (refused) e = fromApiError(refused);
      else if (isDatabaseUnavailable(error)) {
        // Never an allow: a request the pipeline could not decide is refused, and may be retried.
        e = new XwmsError(503, 'database_unavailable', 'The service is temporarily unavailable; try again shortly.', undefined, {
          'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS),
        });
      } else {
        e = new XwmsError(500, 'internal_error', 'Something went wrong; quote the request id.');
        log(error, requestId);
      }
    }
    if (res.headersSent) return;
    for (const [name, value] of Object.entries(e.headers ?? {})) res.setHeader(name, value);
    res.status(e.status).json(xwmsErrorBody(e, requestId));
  };
}

export function xwmsErrorBody(e: XwmsError, requestId: string | undefined) {
  return { status: 'error', message: e.message, code: e.code, ...(e.field ? { field: e.field } : {}), request_id: requestId, data: null };
}

/** An error of the shared HTTP layer, in this envelope (for answers written outside Express). */
export const xwmsBodyOf = (error: ApiError, requestId: string) => xwmsErrorBody(fromApiError(error), requestId);
