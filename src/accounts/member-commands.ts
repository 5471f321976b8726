import { createHash, randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { RateLimiterPostgres, type RateLimiterRes } from 'rate-limiter-flexible';
import type { AppContext } from '../context.ts';
import { duplicateRequest, handleRequestCommand } from '../http/commands.ts';
import { ApiError } from '../http/problem.ts';
import { metadataFor, requestIdOf, settle } from '../http/request.ts';
import { reclaimAbandonedSlots } from '../clients/quota.ts';
import { publicBase } from '../http/origin.ts';
import { entityIdFor } from '../eventstore/command-handler.ts';
import { organisationStream, type InvitableRole, type Role } from './events.ts';
import { OrganisationDomainError, decideOrganisation, organisationAggregate, type OrganisationCommand } from './organisation.ts';
import { countLiveClients, emailIsMember, organisationSummary } from './member-queries.ts';
import type { PlanName } from './plans.ts';
import { invitationMail, type MailLanguage } from './invitation-mail.ts';
import { selectOrganisation, type Account, type SessionUser } from './sessions.ts';

/**
 * The organisation's commands — members, invitations and the plan — shared by the management API (member-routes.ts) and the
 * dashboard's pages: one copy of every rule. The caller's right to ask comes from the route guard
 * (src/accounts/guard.ts); the rest is decided in the organisation's stream.
 */

/** An invitation link works for 7 days. */
export const INVITATION_TTL_MS = 7 * 24 * 3_600_000;

const TITLES: Record<number, string> = { 403: 'Forbidden', 404: 'Not found', 409: 'Conflict', 410: 'Gone' };

/** A refusal of the organisation's stream as the API answers it. */
export function organisationCommandError(error: unknown): unknown {
  if (!(error instanceof OrganisationDomainError)) return error;
  if (error.code === 'invitation_exists') return duplicateRequest();
  return new ApiError(error.status, error.code, TITLES[error.status] ?? 'Refused', error.message);
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const limiterKey = (...parts: string[]) => sha256(parts.join('\u0000'));

export interface InvitationCreated {
  readonly invitationId: string;
  readonly url: string;
  readonly expiresAt: string;
  /** false: the mail went to the outbox (SMTP not configured) or could not be sent: pass the url on yourself */
  readonly mailed: boolean;
  readonly position: string | null;
}

export function createMemberCommands(ctx: AppContext) {
  const { database, commands, logger } = ctx;

  // Unknown invitation links are counted per session and per address: a token cannot be guessed
  // by trying (it has 256 bits, but nothing unlimited is left to chance).
  const limiters = [
    new RateLimiterPostgres({ storeClient: database.pool, tableName: 'login_limits', tableCreated: true, keyPrefix: 'invite-session', points: 10, duration: 900, blockDuration: 900 }),
    new RateLimiterPostgres({ storeClient: database.pool, tableName: 'login_limits', tableCreated: true, keyPrefix: 'invite-ip', points: 30, duration: 3600, blockDuration: 3600 }),
  ] as const;

  /** `key`: the idempotency key when it is not the request's X-Request-Id (a form's key) */
  async function run(req: Request, actor: number, organisationId: string, command: OrganisationCommand, key?: string) {
    try {
      const outcome = await handleRequestCommand(
        commands,
        req,
        { stream: organisationStream(organisationId), aggregate: organisationAggregate },
        { type: command.type, actor: String(actor), at: ctx.now(), ...(key ? { key } : {}) },
        (state) => decideOrganisation(command, state),
      );
      return { events: outcome.events, ...(await settle(ctx, outcome.append?.position)) };
    } catch (error) {
      throw organisationCommandError(error);
    }
  }

  const requester = (account: Account) => ({ sub: account.sub, role: account.role });

  const hasClients = async (organisationId: string): Promise<ApiError> => organisationHasClients(await countLiveClients(database.rm, organisationId));

  /** The invitation a link's token names; unknown tokens are counted per session (or address) and per address. */
  async function findByToken(req: Request, user: SessionUser | undefined, token: string) {
    const keys = [limiterKey(user?.sessionHash ?? `ip:${req.ip ?? 'unknown'}`), limiterKey(req.ip ?? 'unknown')];
    const states = await Promise.all(limiters.map((limiter, i) => limiter.get(keys[i]!)));
    for (const [i, state] of states.entries()) {
      if (state && state.consumedPoints >= limiters[i]!.points) throw tooManyAttempts(state);
    }
    const invitation = /^[A-Za-z0-9_-]{20,100}$/.test(token)
      ? await database.rm.selectFrom('invitations').select(['invitation_id', 'organisation_id']).where('token_hash', '=', sha256(token)).executeTakeFirst()
      : undefined;
    if (!invitation) {
      await Promise.all(limiters.map((limiter, i) => limiter.penalty(keys[i]!, 1).catch(() => {})));
      throw new ApiError(404, 'invitation_not_found', 'Not found', 'this invitation link is not valid; check that it was copied whole');
    }
    return invitation;
  }

  return {
    async invite(req: Request, account: Account, input: { email: string; role: InvitableRole; language: MailLanguage }, key?: string): Promise<InvitationCreated> {
      const email = input.email.toLowerCase();
      const token = randomBytes(32).toString('base64url');
      // from the request's key: the same request retried names the same invitation (and is refused as a duplicate)
      const invitationId = entityIdFor('inv', 20, account.organisationId, key ?? requestIdOf(req));
      const expiresAt = new Date(ctx.now().getTime() + INVITATION_TTL_MS).toISOString();
      const result = await run(req, account.sub, account.organisationId, {
        type: 'InviteMember',
        invitationId,
        email,
        role: input.role,
        tokenHash: sha256(token),
        expiresAt,
        by: requester(account),
        emailIsMember: await emailIsMember(database, account.organisationId, email),
      }, key);
      const url = `${publicBase(ctx.config, req) ?? ''}/invitations/${token}`;
      const organisation = await organisationSummary(database.rm, account.organisationId);
      const mail = invitationMail(input.language, { organisation: organisation?.name ?? account.organisationId, inviter: account.name, role: input.role, url, expiresAt });
      let mailed = false;
      try {
        const sent = await ctx.mailer.send({ kind: 'invitation', to: email, subject: mail.subject, text: mail.text, language: input.language });
        mailed = sent.delivered;
      } catch (error) {
        // never lost: the inviter gets the link to pass on
        logger.warn({ err: error, invitationId }, 'invitation mail could not be sent: the link is shown to the inviter');
      }
      logger.info({ invitationId, organisationId: account.organisationId, role: input.role, mailed }, mailed ? 'invitation mailed' : 'invitation not mailed (mail not configured or failed): the link is shown to the inviter');
      return { invitationId, url, expiresAt, mailed, position: result.position };
    },

    async revokeInvitation(req: Request, account: Account, invitationId: string, key?: string) {
      const result = await run(req, account.sub, account.organisationId, { type: 'RevokeInvitation', invitationId }, key);
      return { invitationId, status: 'revoked' as const, position: result.position };
    },

    /**
     * Joins the organisation of the invitation `token` names, and makes the session act in it.
     * Used, expired, revoked or for another email: refused, nothing joined.
     */
    async accept(req: Request, user: SessionUser, token: string, key?: string) {
      const invitation = await findByToken(req, user, token);
      const result = await run(req, user.sub, invitation.organisation_id, {
        type: 'AcceptInvitation',
        invitationId: invitation.invitation_id,
        tokenHash: sha256(token),
        sub: user.sub,
        email: user.email,
        now: ctx.now().toISOString(),
      }, key);
      const added = result.events.find((e) => e.type === 'MemberAdded');
      await selectOrganisation(database.db, user.sessionHash, invitation.organisation_id);
      const organisation = await organisationSummary(database.rm, invitation.organisation_id);
      return {
        invitationId: invitation.invitation_id,
        organisation: { id: invitation.organisation_id, name: organisation?.name ?? invitation.organisation_id },
        role: (added?.type === 'MemberAdded' ? added.data.role : null) as Role | null,
        position: result.position,
      };
    },

    /** What an invitation link says, for its page (no side effect but the guess counter). */
    async inspect(req: Request, user: SessionUser | undefined, token: string) {
      const found = await findByToken(req, user, token);
      const invitation = await database.rm.selectFrom('invitations').selectAll().where('invitation_id', '=', found.invitation_id).executeTakeFirstOrThrow();
      const [organisation, inviter] = await Promise.all([
        organisationSummary(database.rm, invitation.organisation_id),
        database.db.selectFrom('users').select('name').where('sub', '=', invitation.invited_by).executeTakeFirst(),
      ]);
      const expired = invitation.status === 'pending' && invitation.expires_at.getTime() <= ctx.now().getTime();
      return {
        state: expired ? ('expired' as const) : invitation.status,
        email: invitation.email,
        role: invitation.role as Role,
        organisationId: invitation.organisation_id,
        organisation: organisation?.name ?? invitation.organisation_id,
        inviter: inviter?.name ?? '',
      };
    },

    /** Activates or cancels the organisation's plan (the API's /account/plan and the Plan page). */
    async changePlan(req: Request, account: Account, command: { type: 'ActivatePlan'; plan: PlanName } | { type: 'CancelPlan' }, key?: string) {
      const { position, projected } = await run(req, account.sub, account.organisationId, command, key);
      return { position, projected };
    },

    async changeRole(req: Request, account: Account, sub: number, role: Role, key?: string) {
      const result = await run(req, account.sub, account.organisationId, { type: 'ChangeMemberRole', sub, role, by: requester(account) }, key);
      return { sub, role, changed: result.events.length > 0, position: result.position };
    },

    /** Removes a member; the caller's own sub is leaving (the session then acts in the user's default organisation). */
    async remove(req: Request, account: Account, sub: number, key?: string) {
      const result = await run(req, account.sub, account.organisationId, { type: 'RemoveMember', sub, by: requester(account) }, key);
      if (sub === account.sub) await selectOrganisation(database.db, account.sessionHash, null);
      return { sub, removed: true as const, left: sub === account.sub, position: result.position };
    },

    /**
     * A new organisation with the user as its owner — for a user with none (an end user who
     * becomes a partner, a member who left every organisation) or with others; the session acts
     * in it from now on. The id comes from the idempotency key: a retry is refused as a duplicate.
     */
    async createOrganisation(req: Request, user: SessionUser, name: string, key?: string) {
      const organisationId = entityIdFor('org', 16, `user:${user.sub}`, key ?? requestIdOf(req));
      try {
        const result = await run(req, user.sub, organisationId, { type: 'CreateOrganisation', organisationId, name, ownerSub: user.sub }, key);
        await selectOrganisation(database.db, user.sessionHash, organisationId);
        return { organisation: { id: organisationId, name }, role: 'owner' as const, position: result.position, projected: result.projected };
      } catch (error) {
        if (error instanceof ApiError && error.code === 'organisation_exists') throw duplicateRequest();
        throw error;
      }
    },

    /**
     * Deletes the session's organisation (owners only; refused while it has clients). Its members
     * lose it at once; their sessions act in another organisation of theirs, or none.
     */
    async deleteOrganisation(req: Request, account: Account, key?: string) {
      const command = { type: 'DeleteOrganisation' as const, organisationId: account.organisationId, by: requester(account) };
      let result;
      try {
        result = await run(req, account.sub, account.organisationId, command, key);
      } catch (error) {
        if (!(error instanceof ApiError) || error.code !== 'organisation_has_clients') throw error;
        // a creation that died half-way, or a lost release, may hold a slot without a client
        const reclaimed = await reclaimAbandonedSlots(ctx, account.organisationId, metadataFor(req, String(account.sub), ctx.now()));
        if (reclaimed === 0) throw await hasClients(account.organisationId);
        try {
          result = await run(req, account.sub, account.organisationId, command, key);
        } catch (again) {
          if (again instanceof ApiError && again.code === 'organisation_has_clients') throw await hasClients(account.organisationId);
          throw again;
        }
      }
      await selectOrganisation(database.db, account.sessionHash, null);
      return { organisationId: account.organisationId, deleted: true as const, position: result.position, projected: result.projected };
    },

    async transferOwnership(req: Request, account: Account, to: number, key?: string) {
      const result = await run(req, account.sub, account.organisationId, { type: 'TransferOwnership', to, by: requester(account) }, key);
      return { from: account.sub, to, position: result.position };
    },
  };
}

export type MemberCommands = ReturnType<typeof createMemberCommands>;

/** The refusal of deleting an organisation that still has clients, naming how many. */
export function organisationHasClients(count: number): ApiError {
  return new ApiError(409, 'organisation_has_clients', 'Conflict', `the organisation still has ${count} client(s); delete them first (deleting an organisation never deletes live clients)`);
}

function tooManyAttempts(state: RateLimiterRes): ApiError {
  const seconds = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
  return new ApiError(429, 'too_many_attempts', 'Too many attempts', `too many invalid invitation links; try again in ${seconds} seconds`, undefined, {
    'Retry-After': String(seconds),
  });
}
