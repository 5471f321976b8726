import type { Request } from 'express';
import type { AppContext } from '../context.ts';
import { ApiError, parseInput } from '../http/problem.ts';
import { settle } from '../http/request.ts';
import type { Handlers } from '../http/route-table.ts';
import { loginBody, registerAccount, registerBody, startSession } from './account-service.ts';
import { createPasswordCheck } from './login.ts';
import { accountOf, clearSessionCookie, deleteSession, sessionOf } from './sessions.ts';
import { PLAN_LIMITS, type PlanName } from './plans.ts';
import { createMemberCommands } from './member-commands.ts';
import { membershipsOf, organisationSummary, selectSessionOrganisation } from './member-queries.ts';
import { type accountRoutes, createOrganisationBody, planBody, selectOrganisationBody } from './contract.ts';

export { createOrganisationBody, planBody, selectOrganisationBody } from './contract.ts';

/** The account routes of the management API (DESIGN §8, §12); contracts in contract.ts. */
export function accountHandlers(ctx: AppContext): Handlers<typeof accountRoutes> {
  const { database, config } = ctx;
  const secureCookie = (req: Request) => config.COOKIE_SECURE ?? req.secure;

  // Failed logins are throttled (shared with the hosted sign-in page; counted in Postgres).
  const checkPassword = createPasswordCheck(database);

  function throttled(seconds: number): ApiError {
    return new ApiError(429, 'too_many_attempts', 'Too many attempts', `too many failed logins; try again in ${seconds} seconds`, undefined, {
      'Retry-After': String(seconds),
    });
  }

  const organisation = createMemberCommands(ctx);

  return {
    register: async (req, res) => {
      const body = parseInput(registerBody, req.body);
      const registered = await registerAccount(ctx, req, body);
      const settled = await settle(ctx, registered.position);
      res.status(201).json({ sub: registered.sub, email: body.email, name: body.name, organisationId: registered.organisationId, ...settled });
    },

    login: async (req, res) => {
      const body = parseInput(loginBody, req.body);
      const outcome = await checkPassword({ email: body.email, password: body.password, ip: req.ip });
      if (!outcome.ok) {
        if (outcome.reason === 'too_many_attempts') throw throttled(outcome.retryAfterSeconds);
        throw new ApiError(401, 'invalid_credentials', 'Invalid credentials', 'the email or password is wrong');
      }
      const { user } = outcome;
      const session = await startSession(ctx, req, res, user.sub);
      res.json({ sub: user.sub, email: user.email, name: user.name, expiresAt: session.expiresAt.toISOString() });
    },

    logout: async (req, res) => {
      const account = sessionOf(req);
      await deleteSession(database.db, account.sessionHash);
      ctx.sessionEnded?.(account.sessionHash);
      clearSessionCookie(res, secureCookie(req));
      res.status(204).end();
    },

    me: async (req, res) => {
      const user = sessionOf(req);
      const [organisation, organisations] = await Promise.all([
        user.organisationId === null ? undefined : organisationSummary(database.rm, user.organisationId),
        membershipsOf(database.rm, user.sub),
      ]);
      const plan = (organisation?.plan ?? null) as PlanName | null;
      res.json({
        sub: user.sub,
        email: user.email,
        name: user.name,
        // the organisation this session acts in, and the caller's role there (null: a member of none)
        organisation: organisation ? { id: organisation.organisation_id, name: organisation.name } : null,
        role: user.role,
        staffRole: user.staffRole,
        plan:
          !organisation || plan === null
            ? null
            : {
                name: plan,
                status: organisation.plan_status,
                activatedAt: organisation.plan_activated_at?.toISOString() ?? null,
                cancelledAt: organisation.plan_cancelled_at?.toISOString() ?? null,
                limits: PLAN_LIMITS[plan],
              },
        // every organisation the user belongs to, for the switcher
        organisations,
      });
    },

    selectOrganisation: async (req, res) => {
      const { organisationId } = parseInput(selectOrganisationBody, req.body);
      const selected = await selectSessionOrganisation(database, sessionOf(req), organisationId);
      res.json(selected);
    },

    // A new organisation, owned by the caller; the session acts in it from now on.
    createOrganisation: async (req, res) => {
      const { name } = parseInput(createOrganisationBody, req.body);
      const created = await organisation.createOrganisation(req, sessionOf(req), name);
      res.status(201).json(created);
    },

    // The owner deletes the session's organisation (named in the path, so a tab switched elsewhere
    // cannot delete the wrong one); refused while it has clients.
    deleteOrganisation: async (req, res) => {
      const account = accountOf(req);
      if (req.params.organisationId !== account.organisationId) {
        throw new ApiError(404, 'organisation_not_found', 'Not found', 'not the organisation this session acts in; select it first with POST /manage/v1/account/organisation');
      }
      const deleted = await organisation.deleteOrganisation(req, account);
      res.json(deleted);
    },

    activatePlan: async (req, res) => {
      const { plan } = parseInput(planBody, req.body);
      const settled = await organisation.changePlan(req, accountOf(req), { type: 'ActivatePlan', plan });
      res.json({ plan: { name: plan, status: 'active', limits: PLAN_LIMITS[plan] }, ...settled });
    },

    cancelPlan: async (req, res) => {
      const settled = await organisation.changePlan(req, accountOf(req), { type: 'CancelPlan' });
      res.json({ plan: null, ...settled });
    },
  };
}
