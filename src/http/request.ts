import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { EventMetadata, Position } from '../eventstore/port.ts';
import { formatPosition } from '../eventstore/port.ts';
import { requestContext } from '../logger.ts';
import type { AppContext } from '../context.ts';
import { MANAGEMENT_LANES } from '../../projections/index.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** Every response has an X-Request-Id: the caller's when well-formed, else a new one. */
export const requestId: RequestHandler = (req, res, next) => {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('X-Request-Id', id);
  (req as Request & { id: string }).id = id;
  requestContext.run({ requestId: id }, next);
};

/** The caller's own X-Request-Id when well-formed, else null (a denial keeps it beside its own id). */
export function callerRequestIdOf(req: Request): string | null {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : null;
}

export const requestIdOf = (req: Request): string => (req as Request & { id?: string }).id ?? randomUUID();

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function metadataFor(req: Request, actor: string, now: Date): EventMetadata {
  const id = requestIdOf(req);
  const correlation = req.headers['x-correlation-id'];
  const userAgent = req.headers['user-agent'];
  return {
    actor,
    correlationId: typeof correlation === 'string' && CORRELATION_ID.test(correlation) ? correlation : id,
    causationId: id,
    requestId: id,
    ip: req.ip ?? null,
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null,
    at: now.toISOString(),
  };
}

/**
 * A write answers only once the read models reached it (bounded by WRITE_WAIT_MS), so a GET
 * right after it sees it. Returns the position as sent to the caller.
 */
export async function settle(ctx: AppContext, position: Position | undefined): Promise<{ position: string | null; projected: boolean }> {
  if (!position) return { position: null, projected: true };
  const projected = await ctx.watcher.waitFor(position, ctx.config.WRITE_WAIT_MS, MANAGEMENT_LANES);
  if (!projected) ctx.logger.warn({ position: formatPosition(position) }, 'write answered before the read models reached it');
  return { position: formatPosition(position), projected };
}
