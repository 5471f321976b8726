import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { accountOf, requireAccount } from '../accounts/sessions.ts';
import { ApiError, notFound, parseInput } from '../http/problem.ts';
import { managementAbility } from '../accounts/ability.ts';
import { ownedClient } from '../clients/queries.ts';

const query = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.iso.datetime({ offset: true }).optional(),
});

/** Management view of the decision log (DESIGN §8): a client's recent denials, newest first. */
export function accessManagementApi(ctx: AppContext): Router {
  const { database } = ctx;
  const router = Router();
  router.get('/clients/:clientId/auth-failures', requireAccount(database.db, database.rm, ctx.now), async (req, res) => {
    const account = accountOf(req);
    if (managementAbility(account.role).cannot('read', 'Client')) throw new ApiError(403, 'forbidden', 'Forbidden', 'not allowed');
    const clientId = String(req.params.clientId);
    if (!(await ownedClient(database.rm, account.organisationId, clientId, { includeDeleted: true }))) throw notFound(`client ${clientId}`);
    const { limit, before } = parseInput(query, req.query);
    let q = database.db
      .selectFrom('auth_denials')
      .select(['request_id', 'caller_request_id', 'at', 'endpoint', 'domain', 'ip', 'reason', 'status', 'position'])
      .where('client_id', '=', clientId)
      .orderBy('at', 'desc')
      .orderBy('request_id', 'desc')
      .limit(limit);
    if (before) q = q.where('at', '<', new Date(before));
    const rows = await q.execute();
    res.json({
      clientId,
      failures: rows.map((r) => ({
        requestId: r.request_id,
        callerRequestId: r.caller_request_id ?? null,
        at: r.at.toISOString(),
        endpoint: r.endpoint,
        domain: r.domain,
        ip: r.ip,
        reason: r.reason,
        status: r.status,
        position: r.position,
      })),
    });
  });
  return router;
}
