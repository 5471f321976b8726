/** How long a caller should wait before trying again when the database is unavailable. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

// SQLSTATEs that say "the database could not serve this", not "this request is wrong":
// connection exceptions (class 08), the server shutting down or starting (57P0x), a statement
// cancelled by statement_timeout (57014), too many connections (53300), and a session ended
// for idling in a transaction (25P03).
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '57014', '53300', '25P03']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
// pg and pg-pool report lost or slow connections with plain Errors.
const DRIVER_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Query read timeout/,
  /is not queryable/,
  /^Client has encountered a connection error/,
  /^Postgres connection has been discarded/,
  /^Cannot use a pool after calling end/,
];

/** True when `error` means the database is down, frozen or unreachable (answer 503), not that the request is bad. */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 3) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || UNAVAILABLE_STATES.has(code) || NETWORK_CODES.has(code))) return true;
  // a Unix socket that is not there: the server is stopped (only a connect's ENOENT: a missing file is not an outage)
  if (code === 'ENOENT' && (error as { syscall?: unknown }).syscall === 'connect') return true;
  if (DRIVER_MESSAGES.some((pattern) => pattern.test(error.message))) return true;
  if (error instanceof AggregateError && error.errors.some((e) => isDatabaseUnavailable(e, depth + 1))) return true;
  return isDatabaseUnavailable(error.cause, depth + 1);
}
