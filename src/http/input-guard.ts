import type { Request, RequestHandler } from 'express';
import { UNSTORABLE_MESSAGE, findUnstorable, isStorable } from '../db/storable.ts';
import { ApiError, malformedPath } from './problem.ts';

/** The first part of the request Postgres could not store, by name: `path`, `query.<name>`, or a body field. */
function unstorableField(req: Request): string | undefined {
  const rawPath = req.originalUrl.split('?', 1)[0]!;
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw malformedPath();
  }
  if (!isStorable(path)) return 'path';
  const inQuery = findUnstorable(req.query);
  if (inQuery !== undefined) return inQuery === '' ? 'query' : `query.${inQuery}`;
  const inBody = findUnstorable(req.body);
  if (inBody !== undefined) return inBody === '' ? '(body)' : inBody;
  return undefined;
}

/**
 * The one place HTTP input is checked for what Postgres cannot store (NUL, unpaired surrogates)
 * and for a path that does not decode: the path, the query and the parsed body. Every router
 * mounts it after its body parser, so the 400 names the field in that API's own envelope, and no
 * route has to think about it.
 */
/** Printable ASCII without `%`: decodes to itself, so it cannot hold a NUL or a lone surrogate. */
const PLAIN_URL = /^[\x21-\x24\x26-\x7e]*$/;

export const refuseUnstorableInput: RequestHandler = (req, _res, next) => {
  // the common case (a plain URL, no body) without decoding or parsing the query
  if (req.body === undefined && PLAIN_URL.test(req.originalUrl)) return next();
  const field = unstorableField(req);
  if (field === undefined) return next();
  next(new ApiError(400, 'validation_failed', 'Invalid request', `${field}: ${UNSTORABLE_MESSAGE}`, [{ field, message: UNSTORABLE_MESSAGE }]));
};
