import { createHash, randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { RateLimiterPostgres, type RateLimiterRes } from 'rate-limiter-flexible';
import type { AppContext } from '../context.ts';
import { handleRequestCommand } from '../http/commands.ts';
import { ApiError } from '../http/problem.ts';
import { requestIdOf, settle } from '../http/request.ts';
import { publicBase } from '../http/origin.ts';
import { entityIdFor } from '../eventstore/command-handler.ts';
import { organisationStream, type InvitableRole, type Role } from './events.ts';
import { OrganisationDomainError, decideOrganisation, organisationAggregate, type OrganisationCommand } from './organisation.ts';
import { emailIsMember, organisationSummary } from './member-queries.ts';
import { invitationMail, type MailLanguage } from './invitation-mail.ts';
import { selectOrganisation, type Account, type SessionUser } from './sessions.ts';

/**
 * The member and invitation commands, shared by the management API (member-routes.ts) and the
 * dashboard's pages: one copy of every rule. The caller's right to ask comes from the route guard
 * (src/accounts/guard.ts); the rest is decided in the organisation's stream.
 */

/** An invitation link works for 7 days. */
export const INVITATION_TTL_MS = 7 * 24 * 3_600_000;

const TITLES: Record<number, string> = { 403: 'Forbidden', 404: 'Not found', 409: 'Conflict', 410: 'Gone' };

/** A refusal of the organisation's stream as the API answers it. */
export function organisationCommandError(error: unknown): unknown {
  if (!(error instanceof OrganisationDomainError)) return error;
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

  async function run(req: Request, actor: number, organisationId: string, command: OrganisationCommand) {
    try {
      const outcome = await handleRequestCommand(
        commands,
        req,
        { stream: organisationStream(organisationId), aggregate: organisationAggregate },
        { type: command.type, actor: String(actor), at: ctx.now() },
        (state) => decideOrganisation(command, state),
      );
      return { events: outcome.events, ...(await settle(ctx, outcome.append?.position)) };
    } catch (error) {
      throw organisationCommandError(error);
    }
  }

  const requester = (account: Account) => ({ sub: account.sub, role: account.role });

  return {
    async invite(req: Request, account: Account, input: { email: string; role: InvitableRole; language: MailLanguage }): Promise<InvitationCreated> {
      const email = input.email.toLowerCase();
      const token = randomBytes(32).toString('base64url');
      // from the request's key: the same request retried names the same invitation (and is refused as a duplicate)
      const invitationId = entityIdFor('inv', 20, account.organisationId, requestIdOf(req));
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
      });
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

    async revokeInvitation(req: Request, account: Account, invitationId: string) {
      const result = await run(req, account.sub, account.organisationId, { type: 'RevokeInvitation', invitationId });
      return { invitationId, status: 'revoked' as const, position: result.position };
    },

    /**
     * Joins the organisation of the invitation `token` names, and makes the session act in it.
     * Used, expired, revoked or for another email: refused, nothing joined.
     */
    async accept(req: Request, user: SessionUser, token: string) {
      const keys = [limiterKey(user.sessionHash), limiterKey(req.ip ?? 'unknown')];
      const states = await Promise.all(limiters.map((limiter, i) => limiter.get(keys[i]!)));
      for (const [i, state] of states.entries()) {
        if (state && state.consumedPoints >= limiters[i]!.points) throw tooManyAttempts(state);
      }
      const invitation = await database.rm
        .selectFrom('invitations')
        .select(['invitation_id', 'organisation_id'])
        .where('token_hash', '=', sha256(token))
        .executeTakeFirst();
      if (!invitation) {
        await Promise.all(limiters.map((limiter, i) => limiter.penalty(keys[i]!, 1).catch(() => {})));
        throw new ApiError(404, 'invitation_not_found', 'Not found', 'this invitation link is not valid; check that it was copied whole');
      }
      const result = await run(req, user.sub, invitation.organisation_id, {
        type: 'AcceptInvitation',
        invitationId: invitation.invitation_id,
        tokenHash: sha256(token),
        sub: user.sub,
        email: user.email,
        now: ctx.now().toISOString(),
      });
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

    async changeRole(req: Request, account: Account, sub: number, role: Role) {
      const result = await run(req, account.sub, account.organisationId, { type: 'ChangeMemberRole', sub, role, by: requester(account) });
      return { sub, role, changed: result.events.length > 0, position: result.position };
    },

    /** Removes a member; the caller's own sub is leaving (the session then acts in the user's default organisation). */
    async remove(req: Request, account: Account, sub: number) {
      const result = await run(req, account.sub, account.organisationId, { type: 'RemoveMember', sub, by: requester(account) });
      if (sub === account.sub) await selectOrganisation(database.db, account.sessionHash, null);
      return { sub, removed: true as const, left: sub === account.sub, position: result.position };
    },

    async transferOwnership(req: Request, account: Account, to: number) {
      const result = await run(req, account.sub, account.organisationId, { type: 'TransferOwnership', to, by: requester(account) });
      return { from: account.sub, to, position: result.position };
    },
  };
}

export type MemberCommands = ReturnType<typeof createMemberCommands>;

function tooManyAttempts(state: RateLimiterRes): ApiError {
  const seconds = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
  return new ApiError(429, 'too_many_attempts', 'Too many attempts', `too many invalid invitation links; try again in ${seconds} seconds`, undefined, {
    'Retry-After': String(seconds),
  });
}
