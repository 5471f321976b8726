import { Router, type Request } from 'express';
import { z } from 'zod';
import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import { ApiError, parseInput } from '../http/problem.ts';
import { requestIdOf, settle } from '../http/request.ts';
import { handleRequestCommand } from '../http/commands.ts';
import { entityIdFor } from '../eventstore/command-handler.ts';
import { nameSchema } from '../clients/validation.ts';
import { hashPassword } from './passwords.ts';
import { createPasswordCheck } from './login.ts';
import { accountOf, clearSessionCookie, createSession, deleteSession, sessionOf, setSessionCookie } from './sessions.ts';
import { organisationStream } from './events.ts';
import { decideOrganisation, organisationAggregate } from './organisation.ts';
import { PLAN_LIMITS, PLAN_NAMES, type PlanName } from './plans.ts';
import { access, createGuard } from './guard.ts';
import { organisationCommandError } from './member-commands.ts';
import { membershipsOf, organisationSummary, selectSessionOrganisation } from './member-queries.ts';

const emailSchema = z
  .string()
  .trim()
  .max(254, 'must be at most 254 characters')
  .pipe(z.email('must be an email address'))
  .transform((e) => e.toLowerCase());
const passwordSchema = z
  .string()
  .min(10, 'must be at least 10 characters')
  .max(256, 'must be at most 256 characters');

const registerBody = z.strictObject({ email: emailSchema, password: passwordSchema, name: nameSchema });
const loginBody = z.strictObject({ email: z.string().max(254), password: z.string().max(256) });
export const planBody = z.strictObject({ plan: z.enum(PLAN_NAMES, { message: `must be one of ${PLAN_NAMES.join(', ')}` }) });
export const selectOrganisationBody = z.strictObject({ organisationId: z.string().trim().min(1, 'is required').max(100, 'must be at most 100 characters') });

export function accountsApi(ctx: AppContext): Router {
  const { database, config, commands } = ctx;
  const router = Router();
  const guard = createGuard(ctx);
  const secureCookie = (req: Request) => config.COOKIE_SECURE ?? req.secure;

  // Failed logins are throttled (shared with the hosted sign-in page; counted in Postgres).
  const checkPassword = createPasswordCheck(database);

  function throttled(seconds: number): ApiError {
    return new ApiError(429, 'too_many_attempts', 'Too many attempts', `too many failed logins; try again in ${seconds} seconds`, undefined, {
      'Retry-After': String(seconds),
    });
  }

  router.post('/account/register', guard(access.public), async (req, res) => {
    const body = parseInput(registerBody, req.body);
    const passwordHash = await hashPassword(body.password);
    // Derived from the request's key: a second registration with one X-Request-Id targets the same
    // organisation and is refused as a duplicate (and its user row rolled back), never a second one.
    const organisationId = entityIdFor('org', 16, 'registration', requestIdOf(req));
    const now = ctx.now();
    // One pooled connection at a time: a transaction held open while the append waits for a
    // second connection deadlocks once a burst of registrations holds the whole pool. The row
    // goes first (its unique email index settles races, with no event written for a refusal),
    // then the organisation's events; if the append fails, the row is taken back.
    const inserted = await database.db
      .insertInto('users')
      .values({ email: body.email, name: body.name, password_hash: passwordHash, organisation_id: organisationId, created_at: now })
      .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
      .returning('sub')
      .executeTakeFirst();
    if (!inserted) throw new ApiError(409, 'email_taken', 'Email taken', 'an account with this email already exists');
    let outcome;
    try {
      // a second registration with this X-Request-Id is a duplicate (409): its row is taken back below
      outcome = await handleRequestCommand(
        commands,
        req,
        { stream: organisationStream(organisationId), aggregate: organisationAggregate },
        { type: 'CreateOrganisation', actor: String(inserted.sub), at: now },
        (state) =>
          decideOrganisation({ type: 'CreateOrganisation', organisationId, name: `${body.name}'s organisation`, ownerSub: inserted.sub }, state),
      );
    } catch (error) {
      await database.db
        .deleteFrom('users')
        .where('sub', '=', inserted.sub)
        .execute()
        .catch((undo: unknown) => ctx.logger.error({ err: undo, sub: inserted.sub }, 'registration failed and its user row could not be removed'));
      throw error;
    }
    const result = { sub: inserted.sub, position: outcome.append?.position };
    const settled = await settle(ctx, result.position);
    res.status(201).json({ sub: result.sub, email: body.email, name: body.name, organisationId, ...settled });
  });

  router.post('/account/login', guard(access.public), async (req, res) => {
    const body = parseInput(loginBody, req.body);
    const outcome = await checkPassword({ email: body.email, password: body.password, ip: req.ip });
    if (!outcome.ok) {
      if (outcome.reason === 'too_many_attempts') throw throttled(outcome.retryAfterSeconds);
      throw new ApiError(401, 'invalid_credentials', 'Invalid credentials', 'the email or password is wrong');
    }
    const { user } = outcome;
    const session = await createSession(database.db, user.sub, config.SESSION_TTL_HOURS, ctx.now(), {
      ip: req.ip ?? null,
      userAgent: req.get('user-agent')?.slice(0, 512) ?? null,
    });
    setSessionCookie(res, session.token, session.expiresAt, secureCookie(req));
    res.json({ sub: user.sub, email: user.email, name: user.name, expiresAt: session.expiresAt.toISOString() });
  });

  router.post('/account/logout', guard(access.session), async (req, res) => {
    const account = sessionOf(req);
    await deleteSession(database.db, account.sessionHash);
    ctx.sessionEnded?.(account.sessionHash);
    clearSessionCookie(res, secureCookie(req));
    res.status(204).end();
  });

  router.get('/account/me', guard(access.session), async (req, res) => {
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
  });

  router.post('/account/organisation', guard(access.session), async (req, res) => {
    const { organisationId } = parseInput(selectOrganisationBody, req.body);
    const selected = await selectSessionOrganisation(database, sessionOf(req), organisationId);
    res.json(selected);
  });

  async function changePlan(req: Request, command: { type: 'ActivatePlan'; plan: PlanName } | { type: 'CancelPlan' }) {
    const account = accountOf(req);
    try {
      const outcome = await handleRequestCommand(
        commands,
        req,
        { stream: organisationStream(account.organisationId), aggregate: organisationAggregate },
        { type: command.type, actor: String(account.sub), at: ctx.now() },
        (state) => decideOrganisation(command, state),
      );
      return await settle(ctx, outcome.append?.position);
    } catch (error) {
      throw organisationCommandError(error);
    }
  }

  router.post('/account/plan', guard(access.member('billing', 'Organisation')), async (req, res) => {
    const { plan } = parseInput(planBody, req.body);
    const settled = await changePlan(req, { type: 'ActivatePlan', plan });
    res.json({ plan: { name: plan, status: 'active', limits: PLAN_LIMITS[plan] }, ...settled });
  });

  router.delete('/account/plan', guard(access.member('billing', 'Organisation')), async (req, res) => {
    const settled = await changePlan(req, { type: 'CancelPlan' });
    res.json({ plan: null, ...settled });
  });

  return router;
}
