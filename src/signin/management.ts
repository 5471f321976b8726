import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { accountOf } from '../accounts/sessions.ts';
import { access, createGuard } from '../accounts/guard.ts';
import { notFound, parseInput } from '../http/problem.ts';
import { ownedClient } from '../clients/queries.ts';

const query = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

/** GET /manage/v1/clients/:clientId/users — who signed in through the client (DESIGN §8). */
export function signInManagementApi(ctx: AppContext): Router {
  const { database } = ctx;
  const router = Router();
  const guard = createGuard(ctx);
  router.get('/clients/:clientId/users', guard(access.member('read', 'Client')), async (req, res) => {
    const account = accountOf(req);
    const clientId = String(req.params.clientId);
    if (!(await ownedClient(database.rm, account.organisationId, clientId))) throw notFound(`client ${clientId}`);
    const { limit } = parseInput(query, req.query);
    const rows = await database.db
      .selectFrom('client_users')
      .innerJoin('users', 'users.sub', 'client_users.user_sub')
      .select([
        'users.sub',
        'users.email',
        'users.name',
        'client_users.first_signed_in_at',
        'client_users.last_signed_in_at',
        'client_users.sign_in_count',
      ])
      .where('client_users.client_id', '=', clientId)
      .orderBy('client_users.last_signed_in_at', 'desc')
      .orderBy('users.sub')
      .limit(limit)
      .execute();
    res.json({
      clientId,
      users: rows.map((r) => ({
        sub: r.sub,
        email: r.email,
        name: r.name,
        firstSignedInAt: r.first_signed_in_at.toISOString(),
        lastSignedInAt: r.last_signed_in_at.toISOString(),
        signInCount: r.sign_in_count,
      })),
    });
  });
  return router;
}
