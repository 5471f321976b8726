import type { Request } from 'express';
import type { AppContext } from '../context.ts';
import { parseInput } from '../http/problem.ts';
import type { Handlers } from '../http/route-table.ts';
import { accountOf, sessionOf } from './sessions.ts';
import { createMemberCommands } from './member-commands.ts';
import { listMembers, listPendingInvitations } from './member-queries.ts';
import { MAIL_LANGUAGES, type MailLanguage } from './invitation-mail.ts';
import {
  acceptInvitationBody,
  changeRoleBody,
  invitationIdParams,
  inviteBody,
  memberSubParams,
  type memberRoutes,
  transferOwnershipBody,
} from './member-contract.ts';

export * from './member-contract.ts';

/** The language of mail the caller sends (the invitee has no account yet to ask). */
export const mailLanguageOf = (req: Request): MailLanguage => {
  const chosen = req.acceptsLanguages([...MAIL_LANGUAGES]);
  return chosen === 'nl' ? 'nl' : 'en';
};

/** Members and invitations of the session's organisation (DESIGN §12); contracts in member-contract.ts. */
export function memberHandlers(ctx: AppContext): Handlers<typeof memberRoutes> {
  const members = createMemberCommands(ctx);

  return {
    listMembers: async (req, res) => {
      res.json(await listMembers(ctx.database, accountOf(req).organisationId));
    },

    transferOwnership: async (req, res) => {
      const { sub } = parseInput(transferOwnershipBody, req.body);
      res.json(await members.transferOwnership(req, accountOf(req), sub));
    },

    changeMemberRole: async (req, res) => {
      const { sub } = parseInput(memberSubParams, req.params);
      const { role } = parseInput(changeRoleBody, req.body);
      res.json(await members.changeRole(req, accountOf(req), sub, role));
    },

    // an admin removes a member; any member removes themselves (leaves): the ability's condition
    removeMember: async (req, res) => {
      const { sub } = parseInput(memberSubParams, req.params);
      res.json(await members.remove(req, accountOf(req), sub));
    },

    listInvitations: async (req, res) => {
      res.json(await listPendingInvitations(ctx.database.rm, accountOf(req).organisationId, ctx.now()));
    },

    acceptInvitation: async (req, res) => {
      const { token } = parseInput(acceptInvitationBody, req.body);
      res.json(await members.accept(req, sessionOf(req), token));
    },

    invite: async (req, res) => {
      const body = parseInput(inviteBody, req.body);
      res.status(201).json(await members.invite(req, accountOf(req), { ...body, language: mailLanguageOf(req) }));
    },

    revokeInvitation: async (req, res) => {
      const { invitationId } = parseInput(invitationIdParams, req.params);
      res.json(await members.revokeInvitation(req, accountOf(req), invitationId));
    },
  };
}
