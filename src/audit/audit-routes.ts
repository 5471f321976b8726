import { pipeline } from 'node:stream/promises';
import { type Response, Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { type Account, accountOf } from '../accounts/sessions.ts';
import { access, createGuard } from '../accounts/guard.ts';
import { ApiError, notFound, parseInput } from '../http/problem.ts';
import { ownedClient } from '../clients/queries.ts';
import { AUDIT_EVENT_TYPES, auditPage, decodeCursor } from './audit-trail.ts';
import { type ExportRange, exportAuditTrail, parseExportRange } from './audit-export.ts';

const KNOWN_TYPES = new Set(AUDIT_EVENT_TYPES);
const email = z.email();

export const trailQuery = z.strictObject({
  after: z
    .string()
    .transform((cursor, ctx) => {
      const position = decodeCursor(cursor);
      if (!position) ctx.addIssue({ code: 'custom', message: 'not a cursor from this API: pass the `next` of the previous page' });
      return position ?? z.NEVER;
    })
    .optional(),
  limit: z.coerce.number().int('must be a whole number').min(1).max(1000).default(100),
  type: z
    .string()
    .max(2000)
    .transform((list, ctx) => {
      const types = list.split(',').map((t) => t.trim());
      const unknown = types.filter((t) => !KNOWN_TYPES.has(t));
      if (unknown.length > 0) ctx.addIssue({ code: 'custom', message: `unknown event type(s): ${unknown.join(', ').slice(0, 200)}` });
      return types;
    })
    .optional(),
  actor: z
    .string()
    .max(254)
    .refine((v) => /^[1-9][0-9]{0,8}$/.test(v) || v === 'cli' || v === 'system' || email.safeParse(v).success, {
      message: 'must be a user sub, a user email, cli or system',
    })
    .optional(),
  clientId: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be a client id').optional(),
});

/** Each export holds a database connection while it streams: a few at a time per node. */
const MAX_CONCURRENT_EXPORTS = 2;

/** The organisation's audit trail and its verifiable export (DESIGN §11). */
export function auditApi(ctx: AppContext): Router {
  const { database } = ctx;
  const router = Router();
  const guard = createGuard(ctx);

  router.get('/audit', guard(access.member('read', 'Organisation')), async (req, res) => {
    const account = accountOf(req);
    const q = parseInput(trailQuery, req.query);
    // Another organisation's client (or one that never existed) is not found, not an empty trail.
    if (q.clientId !== undefined && !(await ownedClient(database.rm, account.organisationId, q.clientId, { includeDeleted: true }))) {
      throw notFound(`client ${q.clientId}`);
    }
    const page = await auditPage(
      database.db,
      {
        organisationId: account.organisationId,
        ...(q.after ? { after: q.after } : {}),
        ...(q.type ? { types: q.type } : {}),
        ...(q.actor !== undefined ? { actor: q.actor } : {}),
        ...(q.clientId !== undefined ? { clientId: q.clientId } : {}),
      },
      q.limit,
    );
    res.json(page);
  });

  let running = 0;
  router.get('/audit/export', guard(access.member('read', 'Organisation')), async (req, res) => {
    const account = accountOf(req);
    const range = { organisationId: account.organisationId, ...parseExportRange(req.query, ctx.now()) };
    if (running >= MAX_CONCURRENT_EXPORTS) {
      throw new ApiError(429, 'too_many_exports', 'Too many exports', 'other exports are running on this node; try again shortly', undefined, {
        'Retry-After': '5',
      });
    }
    running++;
    try {
      await streamExport(res, account, range);
    } finally {
      running--;
    }
  });

  async function streamExport(res: Response, account: Account, range: ExportRange): Promise<void> {
    const started = Date.now();
    const exported = exportAuditTrail(database, range);
    const filename = `keyledger-audit-${range.organisationId.replace(/[^A-Za-z0-9_-]/g, '')}-${range.to.toISOString().replace(/[:.]/g, '')}.ndjson`;
    res.status(200);
    res.setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${filename}"`);
    res.setHeader('Cache-Control', 'no-store');
    try {
      await pipeline(exported.readable, res);
    } catch (error) {
      if (!res.headersSent) {
        // Nothing sent yet (no connection to the database, say): an ordinary problem response.
        res.removeHeader('Content-Disposition');
        throw error;
      }
      // The response is cut short (no end line), so the partial file does not verify.
      if ((error as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
        ctx.logger.error({ err: error, organisationId: range.organisationId }, 'audit export failed');
      }
      res.destroy();
      return;
    }
    const { events, headHash } = exported.summary();
    ctx.logger.info({ organisationId: range.organisationId, by: account.sub, events, headHash, ms: Date.now() - started }, 'audit export');
  }

  return router;
}
