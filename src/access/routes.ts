import type { Kysely } from 'kysely';
import type { CoreDatabase } from '../db/schema.ts';
import type { AppContext } from '../context.ts';
import { accountOf } from '../accounts/sessions.ts';
import { parseInput } from '../http/problem.ts';
import type { Handlers } from '../http/route-table.ts';
import { authFailuresQuery, type readSideRoutes } from '../audit/contract.ts';

/**
 * A client's recent denials, newest first, and all its denials counted per minute, reason and
 * caller network (IPv4, or IPv6 /64); `sampled` of a group are listed in full (the rest of a
 * flood is only counted). The API and the dashboard's Auth failures tab.
 */
export async function authFailures(db: Kysely<CoreDatabase>, clientId: string, limit: number, before?: Date) {
  let q = db
    .selectFrom('auth_denials')
    .select(['request_id', 'caller_request_id', 'at', 'endpoint', 'domain', 'ip', 'reason', 'status', 'position'])
    .where('client_id', '=', clientId)
    .orderBy('at', 'desc')
    .orderBy('request_id', 'desc')
    .limit(limit);
  if (before) q = q.where('at', '<', before);
  let counted = db
    .selectFrom('auth_denial_counts')
    .select(['minute', 'reason', 'ip', 'count', 'sampled'])
    .where('client_id', '=', clientId)
    .orderBy('minute', 'desc')
    .orderBy('reason')
    .orderBy('ip')
    .limit(limit);
  if (before) counted = counted.where('minute', '<', before);
  const [rows, counts] = await Promise.all([q.execute(), counted.execute()]);
  return {
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
    counts: counts.map((c) => ({ minute: c.minute.toISOString(), reason: c.reason, ip: c.ip, count: Number(c.count), sampled: Number(c.sampled) })),
  };
}

/**
 * Management view of the decision log (DESIGN §8): a client's recent denials, newest first,
 * and the count of all its denials per minute (a flood keeps only its first denials in full).
 */
export function accessManagementHandlers(ctx: AppContext): Pick<Handlers<typeof readSideRoutes>, 'authFailures'> {
  const { database } = ctx;
  return {
    // the guard answers 404 for another organisation's client (deleted ones stay readable)
    authFailures: async (req, res) => {
      accountOf(req);
      const clientId = String(req.params.clientId);
      const { limit, before } = parseInput(authFailuresQuery, req.query);
      res.json({ clientId, ...(await authFailures(database.db, clientId, limit, before ? new Date(before) : undefined)) });
    },
  };
}
