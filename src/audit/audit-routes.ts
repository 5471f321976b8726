import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import type { AppContext } from '../context.ts';
import { type Account, accountOf } from '../accounts/sessions.ts';
import type { Handlers } from '../http/route-table.ts';
import { ApiError, notFound, parseInput } from '../http/problem.ts';
import { ownedClient } from '../clients/queries.ts';
import { auditPage } from './audit-trail.ts';
import { type readSideRoutes, trailQuery } from './contract.ts';
import { type ExportRange, exportAuditTrail, parseExportRange } from './audit-export.ts';

export { trailQuery } from './contract.ts';

/** Each export holds a database connection while it streams: a few at a time per node. */
const MAX_CONCURRENT_EXPORTS = 2;

/** The organisation's audit trail and its verifiable export (DESIGN §11). */
export function auditHandlers(ctx: AppContext): Pick<Handlers<typeof readSideRoutes>, 'auditTrail' | 'auditExport'> {
  const { database } = ctx;

  const auditTrail: Handlers<typeof readSideRoutes>['auditTrail'] = async (req, res) => {
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
  };

  let running = 0;
  const auditExport: Handlers<typeof readSideRoutes>['auditExport'] = async (req, res) => {
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
  };

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

  return { auditTrail, auditExport };
}
