import type { Request, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { ApiError } from '../http/problem.ts';
import { requestIdOf } from '../http/request.ts';
import { nameSchema } from '../clients/validation.ts';
import { createSession, setSessionCookie } from './sessions.ts';
import { WeakPasswordError, registerUser, weakPasswordProblem } from '../account/registration.ts';
import { WEAK_PASSWORD_MESSAGES } from '../account/password-policy.ts';
import { type Language, chooseLanguage } from '../web/i18n.ts';
import type { Position } from '../eventstore/port.ts';

/** The rules for a new account and a login, shared by `/manage/v1/account/*` and the dashboard's forms. */
export const emailSchema = z
  .string()
  .trim()
  .max(254, 'must be at most 254 characters')
  .pipe(z.email('must be an email address'))
  .transform((e) => e.toLowerCase());
export const passwordSchema = z.string().min(10, 'must be at least 10 characters').max(256, 'must be at most 256 characters');
export const registerBody = z.strictObject({ email: emailSchema, password: passwordSchema, name: nameSchema });
export const loginBody = z.strictObject({ email: z.string().max(254), password: z.string().max(256) });
export type Registration = z.output<typeof registerBody>;

export const emailTaken = () => new ApiError(409, 'email_taken', 'Email taken', 'an account with this email already exists');

/**
 * Creates a partner's account and its organisation (the user is its owner), through the one
 * registration of every route (`registerUser`: password policy, `UserRegistered`, verification
 * mail). The organisation's id is derived from the idempotency key (the request's X-Request-Id,
 * or a form's key): a second registration with the same key targets the same organisation and is
 * refused as a duplicate (its user row taken back), never a second one. Throws 409
 * `email_taken`, or 400 `weak_password` naming the reason.
 */
export async function registerAccount(
  ctx: AppContext,
  req: Request,
  body: Registration,
  key: string = requestIdOf(req),
  options: { via?: 'manage' | 'dashboard'; language?: Language } = {},
): Promise<{ sub: number; organisationId: string; position: Position | undefined }> {
  const language = options.language ?? chooseLanguage(undefined, undefined, req.get('accept-language'));
  let outcome;
  try {
    outcome = await registerUser(ctx, req, { ...body, language, via: options.via ?? 'manage', organisation: true, key }, { mailExisting: false });
  } catch (error) {
    if (error instanceof WeakPasswordError) throw weakPasswordProblem(error.reason, WEAK_PASSWORD_MESSAGES[language][error.reason]);
    throw error;
  }
  if (outcome.kind === 'exists') throw emailTaken();
  return { sub: outcome.sub, organisationId: outcome.organisationId!, position: outcome.position };
}

/** Starts a session for a user whose password was checked, and sets its cookie. */
export async function startSession(ctx: AppContext, req: Request, res: Response, sub: number): Promise<{ expiresAt: Date }> {
  const session = await createSession(ctx.database.db, sub, ctx.config.SESSION_TTL_HOURS, ctx.now(), {
    ip: req.ip ?? null,
    userAgent: req.get('user-agent')?.slice(0, 512) ?? null,
  });
  setSessionCookie(res, session.token, session.expiresAt, ctx.config.COOKIE_SECURE ?? req.secure);
  return { expiresAt: session.expiresAt };
}
