import type { Request } from 'express';
import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import { ApiError } from '../http/problem.ts';
import { handleRequestCommand } from '../http/commands.ts';
import { metadataFor, requestIdOf } from '../http/request.ts';
import { publicBase } from '../http/origin.ts';
import { entityIdFor } from '../eventstore/command-handler.ts';
import type { Position } from '../eventstore/port.ts';
import { hashPassword } from '../accounts/passwords.ts';
import { organisationStream } from '../accounts/events.ts';
import { decideOrganisation, organisationAggregate } from '../accounts/organisation.ts';
import { userStream } from '../support/staff.ts';
import type { Language } from '../web/i18n.ts';
import { type RegistrationRoute, type UserAccountCommand, decideUserAccount, userAccountAggregate } from './events.ts';
import { type WeakPasswordReason, weakPasswordReason } from './password-policy.ts';
import { issueLink } from './links.ts';
import { sendAccountMail } from './mailing.ts';

export class WeakPasswordError extends Error {
  constructor(readonly reason: WeakPasswordReason) {
    super(`the password is too weak: ${reason}`);
  }
}

export interface Registration {
  readonly email: string;
  readonly password: string;
  readonly name: string;
  readonly language: Language;
  readonly via: RegistrationRoute;
  /** partners registering from the management API or the dashboard get an organisation; end users none */
  readonly organisation: boolean;
  /** a hosted sign-in under way: the verification link continues it */
  readonly signInToken?: string | undefined;
  /** the idempotency key (default: the request's X-Request-Id) */
  readonly key?: string | undefined;
}

export type RegistrationOutcome =
  | { readonly kind: 'created'; readonly sub: number; readonly organisationId: string | null; readonly position: Position | undefined }
  | { readonly kind: 'exists' };

/**
 * A user-stream command. Its events carry neither the request's IP nor its user agent (they
 * would be personal data in an event, which erasure cannot reach).
 */
export async function recordOnUserStream(ctx: AppContext, req: Request, sub: number, command: UserAccountCommand, key?: string) {
  const metadata = { ...metadataFor(req, String(sub), ctx.now()), ip: null, userAgent: null };
  return await ctx.commands.handle(userStream(sub), userAccountAggregate, { type: command.type, key: key ?? requestIdOf(req), metadata }, (state) =>
    decideUserAccount(command, state),
  );
}

/** Links in mails point at the app's public origin (PUBLIC_URL, or the allowed host the request came to). */
export function linkBase(ctx: AppContext, req: Request): string {
  return publicBase(ctx.config, req) ?? `http://localhost:${ctx.config.PORT}`;
}

/** Mails a fresh verification link (24 h, single use) to the user. */
export async function sendVerification(ctx: AppContext, req: Request, user: { sub: number; email: string; name: string; language: Language }, signInToken?: string) {
  const token = await issueLink(ctx.database.db, user.sub, 'verify_email', ctx.now());
  const query = new URLSearchParams({ token, lang: user.language, ...(signInToken ? { signin: signInToken } : {}) });
  sendAccountMail(ctx, { kind: 'verify-email', to: user.email, language: user.language, name: user.name, link: `${linkBase(ctx, req)}/account/verify?${query}` });
}

/**
 * The one registration of every route (hosted sign-in page, /account/register, the management
 * API, the dashboard): the password policy, the user row, the organisation for partners, the
 * `UserRegistered` event, and the verification mail. An address that already has an account is
 * reported to the caller as `exists`; the page routes answer it exactly as a new registration
 * and mail the address's owner instead (`mailExisting`).
 */
export async function registerUser(ctx: AppContext, req: Request, input: Registration, options: { mailExisting: boolean }): Promise<RegistrationOutcome> {
  const { database } = ctx;
  const weak = weakPasswordReason(input.password, [input.email, input.name]);
  if (weak) throw new WeakPasswordError(weak);
  // Hashed before the existence check: both answers cost the same.
  const passwordHash = await hashPassword(input.password);
  // Derived from the request's key: a second registration with one X-Request-Id targets the same
  // organisation and is refused as a duplicate (and its user row rolled back), never a second one.
  const organisationId = input.organisation ? entityIdFor('org', 16, 'registration', input.key ?? requestIdOf(req)) : null;
  const now = ctx.now();
  // One pooled connection at a time: the row goes first (its unique email index settles races,
  // with no event written for a refusal), then the events; if an append fails, the row is taken back.
  const inserted = await database.db
    .insertInto('users')
    .values({
      email: input.email,
      name: input.name,
      password_hash: passwordHash,
      organisation_id: organisationId,
      created_at: now,
      preferred_language: input.language,
    })
    .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
    .returning('sub')
    .executeTakeFirst();
  if (!inserted) {
    if (options.mailExisting) {
      const query = new URLSearchParams({ lang: input.language });
      sendAccountMail(ctx, { kind: 'account-exists', to: input.email, language: input.language, link: `${linkBase(ctx, req)}/account/forgot?${query}` });
    }
    return { kind: 'exists' };
  }
  const sub = inserted.sub;
  let position: Position | undefined;
  try {
    if (organisationId) {
      const outcome = await handleRequestCommand(
        ctx.commands,
        req,
        { stream: organisationStream(organisationId), aggregate: organisationAggregate },
        { type: 'CreateOrganisation', actor: String(sub), at: now, ...(input.key ? { key: input.key } : {}) },
        (state) => decideOrganisation({ type: 'CreateOrganisation', organisationId, name: `${input.name}'s organisation`, ownerSub: sub }, state),
      );
      position = outcome.append?.position;
    }
    const recorded = await recordOnUserStream(ctx, req, sub, { type: 'RecordRegistration', sub, via: input.via });
    position = recorded.append?.position ?? position;
  } catch (error) {
    await database.db
      .deleteFrom('users')
      .where('sub', '=', sub)
      .execute()
      .catch((undo: unknown) => ctx.logger.error({ err: undo, sub }, 'registration failed and its user row could not be removed'));
    throw error;
  }
  await sendVerification(ctx, req, { sub, email: input.email, name: input.name, language: input.language }, input.signInToken);
  return { kind: 'created', sub, organisationId, position };
}

/** The management API's refusal of a weak password: 400 naming the field and the reason. */
export const weakPasswordProblem = (reason: WeakPasswordReason, message: string) =>
  new ApiError(400, 'weak_password', 'Weak password', `password: ${message}`, [{ field: 'password', message }], { 'X-Weak-Password-Reason': reason });
