import type { ErrorRequestHandler, Response } from 'express';
import { ApiError, fromBodyParser } from '../http/problem.ts';

/**
 * The XWMS response envelope: `{status: 'success' | 'error', message, data}`. Errors add `code`
 * and `request_id` (and `field` for a malformed body), always as JSON, so the XWMS SDKs that read
 * `message` from a non-2xx answer keep working.
 */
export class XwmsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

/** Paths of the partner API: their errors use this envelope, wherever they are raised. */
export const isPartnerApiPath = (path: string): boolean => path === '/api' || path.startsWith('/api/');

export function success(res: Response, data: unknown, message = 'OK', status = 200): void {
  res.status(status).json({ status: 'success', message, data });
}

export function xwmsErrorHandler(log: (error: unknown, requestId: string | undefined) => void): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    const requestId = res.getHeader('x-request-id') as string | undefined;
    let e: XwmsError;
    if (error instanceof XwmsError) e = error;
    else if (error instanceof ApiError) e = new XwmsError(error.status, error.code, error.detail ?? error.title, error.errors?.[0]?.field, error.headers);
    else {
      const parsed = fromBodyParser(error);
      e = parsed
        ? new XwmsError(parsed.status === 413 ? 413 : 400, 'invalid_request', parsed.detail ?? parsed.title, 'body')
        : new XwmsError(500, 'internal_error', 'Something went wrong; quote the request id.');
      if (!parsed) log(error, requestId);
    }
    if (res.headersSent) return;
    for (const [name, value] of Object.entries(e.headers ?? {})) res.setHeader(name, value);
    res.status(e.status).json({
      status: 'error',
      message: e.message,
      code: e.code,
      ...(e.field ? { field: e.field } : {}),
      request_id: requestId,
      data: null,
    });
  };
}
