import type { Request, RequestHandler } from 'express';
import { LRUCache } from 'lru-cache';
import type { AppContext } from '../context.ts';
import { ApiError, notFound } from '../http/problem.ts';
import { ownedClient } from '../clients/queries.ts';
import { managementAbility, memberSubject, type ManagementAction, type ManagementSubject } from './ability.ts';
import { accountOf, resolveSession } from './sessions.ts';

/**
 * The one authorisation guard of the management API (and of the dashboard's pages): every route
 * declares what it needs as an `Access`, and `guard(access)` enforces it, in this order:
 *
 * 1. `public`: nothing. Otherwise the session cookie must name a live session → else 401 `login_required`.
 * 2. `session`: a logged-in user is enough (me, logout, choosing an organisation, accepting an invitation).
 * 3. `member(action, subject)`: the session's organisation must be one the user belongs to
 *    → else 403 `no_organisation`;
 *    a `:clientId` in the path must name a client of that organisation (deleted ones included:
 *    their history stays readable) → else 404 `not_found`, whatever the role: another
 *    organisation's resource does not exist for the caller;
 *    then the role's CASL ability (src/accounts/ability.ts) must allow `action` on `subject`
 *    → else 403 `forbidden`. For the subject `Member`, a `:sub` in the path is the membership
 *    checked, so the rule "a member may delete their own membership" (leaving) applies.
 *
 * The route then reads the caller with `accountOf(req)` (member) or `sessionOf(req)` (session).
 * Rules that depend on state (the last owner, an owner touched only by owners) are decided by the
 * commands, not here.
 */
export type Access =
  | { readonly kind: 'public' }
  | { readonly kind: 'session' }
  | { readonly kind: 'member'; readonly action: ManagementAction; readonly subject: ManagementSubject };

export const access = {
  public: { kind: 'public' },
  session: { kind: 'session' },
  member: (action: ManagementAction, subject: ManagementSubject): Access => ({ kind: 'member', action, subject }),
} as const satisfies Record<string, Access | ((...args: never[]) => Access)>;

const GUARDED = Symbol.for('keyledger.access');
type GuardHandler = RequestHandler & { readonly [GUARDED]: Access };

/** The access a guard enforces (for tests that check every route has one). */
export const accessOf = (handler: unknown): Access | undefined =>
  typeof handler === 'function' ? (handler as Partial<GuardHandler>)[GUARDED] : undefined;

const SUBJECT_WORDS: Record<ManagementSubject, string> = {
  Client: 'clients',
  Secret: 'secrets',
  Organisation: 'the organisation',
  Member: 'members',
  Invitation: 'invitations',
  all: 'anything',
};
const ACTION_WORDS: Record<ManagementAction, string> = {
  read: 'read',
  manage: 'change',
  delete: 'delete',
  billing: 'change the plan of',
  transfer: 'transfer the ownership of',
};

export const forbidden = (role: string, action: ManagementAction, subject: ManagementSubject) =>
  new ApiError(403, 'forbidden', 'Forbidden', `a ${role} may not ${ACTION_WORDS[action]} ${SUBJECT_WORDS[subject]}`);

/** Builds `guard(access)` for a router: one middleware per route, the first of its handlers. */
/** client ids whose organisation each node remembers */
const OWNERS_REMEMBERED = 50_000;

export function createGuard(ctx: Pick<AppContext, 'database' | 'now'>): (access: Access) => RequestHandler {
  // Which organisation a client belongs to never changes (a client is never moved, its id never
  // reused, and deleted clients count here): once a lookup found it, the answer is kept. Only
  // found answers are kept — a client id that names nothing yet may name a new client later.
  const owners = new LRUCache<string, string>({ max: OWNERS_REMEMBERED });
  async function owns(organisationId: string, clientId: string): Promise<boolean> {
    if (owners.get(clientId) === organisationId) return true;
    const found = await ownedClient(ctx.database.rm, organisationId, clientId, { includeDeleted: true });
    if (found) owners.set(clientId, organisationId);
    return found !== undefined;
  }

  async function authorise(req: Request, need: Extract<Access, { kind: 'member' }>): Promise<void> {
    const account = accountOf(req);
    const clientId = req.params.clientId;
    if (typeof clientId === 'string' && !(await owns(account.organisationId, clientId))) {
      throw notFound(`client ${clientId}`);
    }
    const ability = managementAbility(account.role, account.sub);
    const sub = need.subject === 'Member' && typeof req.params.sub === 'string' && /^[1-9][0-9]{0,9}$/.test(req.params.sub) ? Number(req.params.sub) : undefined;
    const allowed = sub === undefined ? ability.can(need.action, need.subject) : ability.can(need.action, memberSubject(sub));
    if (!allowed) throw forbidden(account.role, need.action, need.subject);
  }

  return (need) => {
    const handler: RequestHandler = async (req, _res, next) => {
      if (need.kind !== 'public') await resolveSession(ctx.database.db, req, ctx.now());
      if (need.kind === 'member') await authorise(req, need);
      next();
    };
    return Object.assign(handler, { [GUARDED]: need }) as GuardHandler;
  };
}
