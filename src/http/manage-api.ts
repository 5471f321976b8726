import express, { Router } from 'express';
import cookieParser from 'cookie-parser';
import type { AppContext } from '../context.ts';
import { createGuard } from '../accounts/guard.ts';
import { accountRoutes } from '../accounts/contract.ts';
import { accountHandlers } from '../accounts/routes.ts';
import { memberRoutes } from '../accounts/member-contract.ts';
import { memberHandlers } from '../accounts/member-routes.ts';
import { clientRoutes } from '../clients/contract.ts';
import { clientHandlers } from '../clients/routes.ts';
import { readSideRoutes } from '../audit/contract.ts';
import { accessManagementHandlers } from '../access/routes.ts';
import { signInManagementHandlers } from '../signin/management.ts';
import { auditReplayHandlers } from '../audit/routes.ts';
import { auditHandlers } from '../audit/audit-routes.ts';
import { ApiError, parseInput, requireJson } from './problem.ts';
import { refuseUnstorableInput } from './input-guard.ts';
import { refuseCrossOriginWrites } from './origin.ts';
import { bindTable, type Handlers, mountRoutes, tableEntries } from './route-table.ts';
import type { ManageAccess } from './manage-routes.ts';

/**
 * The management API's route table (DESIGN §8, §11, §12): every /manage/v1 route, by feature.
 * To add a route, add its contract to a feature's record (or a new record here) and its handler
 * to that feature's handler factory; the router, the guard and /openapi.json follow.
 */
export const MANAGE_TABLE = {
  accounts: accountRoutes,
  members: memberRoutes,
  clients: clientRoutes,
  readSide: readSideRoutes,
} as const;

export const MANAGE_BASE = '/manage/v1';

type ManageHandlers = { readonly [K in keyof typeof MANAGE_TABLE]: Handlers<(typeof MANAGE_TABLE)[K]> };

function manageHandlers(ctx: AppContext): ManageHandlers {
  return {
    accounts: accountHandlers(ctx),
    members: memberHandlers(ctx),
    clients: clientHandlers(ctx),
    readSide: { ...accessManagementHandlers(ctx), ...signInManagementHandlers(ctx), ...auditReplayHandlers(ctx), ...auditHandlers(ctx) },
  };
}

export const manageEntries = () => tableEntries<ManageAccess>(MANAGE_TABLE);

/** The /manage/v1 router, built from the table: `guard(access)` first on every route, then its handler. */
export function manageApi(ctx: AppContext): Router {
  const router = Router();
  // Every write here rides the session cookie: a page on another site may not send one.
  router.use(refuseCrossOriginWrites(ctx.config), requireJson, express.json({ limit: '100kb', strict: false }), refuseUnstorableInput, cookieParser());
  const guard = createGuard(ctx);
  mountRoutes(router, bindTable<ManageAccess>(MANAGE_TABLE, manageHandlers(ctx)), {
    guard: (access) => [guard(access)],
    parse: (schema, value) => parseInput(schema, value) as never,
  });
  router.use((req) => {
    throw new ApiError(404, 'route_not_found', 'Not found', `no route for ${req.method} ${req.path}`);
  });
  return router;
}
