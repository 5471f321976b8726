import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { isPartnerApiPath, xwmsBodyOf } from '../api/envelope.ts';
import { ApiError, problemBody } from './problem.ts';

/** What Node's HTTP parser refused, as our error (the parser's codes; anything else is malformed HTTP). */
function refusalFor(code: string | undefined): ApiError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError(431, 'headers_too_large', 'Request header fields too large', 'the request headers are larger than 16 kB');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return new ApiError(408, 'request_timeout', 'Request timeout', 'the request did not arrive in time');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new ApiError(413, 'payload_too_large', 'Payload too large', 'the chunk extensions are too large');
    default:
      return new ApiError(400, 'malformed_request', 'Malformed request', 'the request is not valid HTTP/1.1');
  }
}

/** The path of the request line the parser had received, if any: it decides the envelope. */
function requestPath(raw: unknown): string | undefined {
  if (!Buffer.isBuffer(raw)) return undefined;
  const line = /^[A-Z]+ (\S+) HTTP\//.exec(raw.toString('latin1', 0, Math.min(raw.length, 8_192)));
  if (!line) return undefined;
  try {
    return new URL(line[1]!, 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

/**
 * `server.on('clientError')`: a request Node's parser refused (headers over 16 kB, malformed
 * HTTP, a request that never finished) still gets a 4xx in its API's envelope — the XWMS
 * envelope under /api, problem+json elsewhere — with a request id, instead of Node's bare status line.
 */
export function answerClientError(logger: Logger) {
  return (error: Error & { code?: string; rawPacket?: unknown }, socket: Duplex): void => {
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const refusal = refusalFor(error.code);
    const requestId = randomUUID();
    const path = requestPath(error.rawPacket);
    const partner = path !== undefined && isPartnerApiPath(path);
    const body = JSON.stringify(partner ? xwmsBodyOf(refusal, requestId) : problemBody(refusal, requestId));
    logger.info({ requestId, code: error.code, status: refusal.status }, 'refused a request the HTTP parser could not accept');
    socket.end(
      `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\n` +
        `Content-Type: ${partner ? 'application/json' : 'application/problem+json'}; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
      () => socket.destroy(),
    );
  };
}
