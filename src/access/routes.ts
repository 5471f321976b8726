import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { accountOf } from '../accounts/sessions.ts';
import { access, createGuard } from '../accounts/guard.ts';
import { parseInput } from '../http/problem.ts';

const query = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.iso.datetime({ offset: true }).optional(),
});

/**
 * Management view of the decision log (DESIGN §8): a client's recent denials, newest first,
 * and the count of all its denials per minute (a flood keeps only its first denials in full).
 */
export function accessManagementApi(ctx: AppContext): Router {
  const { database } = ctx;
  const router = Router();
  const guard = createGuard(ctx);
  // the guard answers 404 for another organisation's client (deleted ones stay readable)
  router.get('/clients/:clientId/auth-failures', guard(access.member('read', 'Client')), async (req, res) => {
    accountOf(req);
    const clientId = String(req.params.clientId);
    const { limit, before } = parseInput(query, req.query);
    let q = database.db
      .selectFrom('auth_denials')
      .select(['request_id', 'caller_request_id', 'at', 'endpoint', 'domain', 'ip', 'reason', 'status', 'position'])
      .where('client_id', '=', clientId)
      .orderBy('at', 'desc')
      .orderBy('request_id', 'desc')
      .limit(limit);
    if (before) q = q.where('at', '<', new Date(before));
    let counted = database.db
      .selectFrom('auth_denial_counts')
      .select(['minute', 'reason', 'ip', 'count', 'sampled'])
      .where('client_id', '=', clientId)
      .orderBy('minute', 'desc')
      .orderBy('reason')
      .orderBy('ip')
      .limit(limit);
    if (before) counted = counted.where('minute', '<', new Date(before));
    const [rows, counts] = await Promise.all([q.execute(), counted.execute()]);
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
      // every denial, counted per minute, reason and caller network (IPv4, or IPv6 /64);
      // `sampled` of them are listed in full above (the rest of a flood is only counted)
      counts: counts.map((c) => ({ minute: c.minute.toISOString(), reason: c.reason, ip: c.ip, count: Number(c.count), sampled: Number(c.sampled) })),
    });
  });
  return router;
}
