import type { Kysely } from 'kysely';
import type { CoreDatabase } from '../db/schema.ts';
import type { AppContext } from '../context.ts';
import { accountOf } from '../accounts/sessions.ts';
import type { Handlers } from '../http/route-table.ts';
import { clientUsersQuery, type readSideRoutes } from '../audit/contract.ts';
import { notFound, parseInput } from '../http/problem.ts';
import { ownedClient } from '../clients/queries.ts';

/** The users who signed in through a client, most recent first (the API and the dashboard's Users tab). */
export async function clientUsers(db: Kysely<CoreDatabase>, clientId: string, limit: number) {
  const rows = await db
    .selectFrom('client_users')
    .innerJoin('users', 'users.sub', 'client_users.user_sub')
    .select(['users.sub', 'users.email', 'users.name', 'client_users.first_signed_in_at', 'client_users.last_signed_in_at', 'client_users.sign_in_count'])
    .where('client_users.client_id', '=', clientId)
    .orderBy('client_users.last_signed_in_at', 'desc')
    .orderBy('users.sub')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    sub: r.sub,
    email: r.email,
    name: r.name,
    firstSignedInAt: r.first_signed_in_at.toISOString(),
    lastSignedInAt: r.last_signed_in_at.toISOString(),
    signInCount: r.sign_in_count,
  }));
}

/** GET /manage/v1/clients/:clientId/users — who signed in through the client (DESIGN §8). */
export function signInManagementHandlers(ctx: AppContext): Pick<Handlers<typeof readSideRoutes>, 'clientUsers'> {
  const { database } = ctx;
  return {
    clientUsers: async (req, res) => {
      const account = accountOf(req);
      const clientId = String(req.params.clientId);
      if (!(await ownedClient(database.rm, account.organisationId, clientId))) throw notFound(`client ${clientId}`);
      const { limit } = parseInput(clientUsersQuery, req.query);
      res.json({ clientId, users: await clientUsers(database.db, clientId, limit) });
    },
  };
}
