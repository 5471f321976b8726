import type { Access } from '../accounts/guard.ts';
import { defineRoutes } from './route-table.ts';

/**
 * Access requirement of a management route (DESIGN §8, §12): the route guard's own `Access`
 * (src/accounts/guard.ts) — `public`, `session` (401 `login_required` without the cookie), or
 * `member(action, subject)` (also 403 `no_organisation` / `forbidden` from the role's CASL
 * ability, and 404 for another organisation's `:clientId`). The router mounts `guard(access)`
 * before every handler, and the OpenAPI document publishes the same value.
 */
export type ManageAccess = Access;

/** Declares a feature's management routes (see src/http/route-table.ts). */
export const manageRoutes = defineRoutes<ManageAccess>();

/** Statuses every management route may answer, besides its own (403: a cross-origin write). */
export const MANAGE_COMMON_ERRORS = [400, 403, 413, 415, 429, 500, 503] as const;

/** Statuses the guard itself answers for an access requirement (and a path naming a client). */
export function guardErrors(access: ManageAccess, path: string): readonly number[] {
  switch (access.kind) {
    case 'public':
      return [];
    case 'session':
      return [401];
    case 'member':
      return path.includes(':clientId') ? [401, 404] : [401];
    default: {
      const _exhaustive: never = access;
      return _exhaustive;
    }
  }
}
