import type { Request, Response } from 'express';
import { z } from 'zod';
import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import { ApiError } from '../http/problem.ts';
import { handleRequestCommand } from '../http/commands.ts';
import { entityIdFor } from '../eventstore/command-handler.ts';
import { requestIdOf } from '../http/request.ts';
import { nameSchema } from '../clients/validation.ts';
import { hashPassword } from './passwords.ts';
import { createSession, setSessionCookie } from './sessions.ts';
import { organisationStream } from './events.ts';
import { decideOrganisation, organisationAggregate } from './organisation.ts';
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
 * Creates the account and its organisation (the user is its owner). The organisation's id is
 * derived from the idempotency key (the request's X-Request-Id, or a form's key): a second
 * registration with the same key targets the same organisation and is refused as a duplicate
 * (its user row taken back), never a second one. Throws 409 `email_taken`.
 */
export async function registerAccount(
  ctx: AppContext,
  req: Request,
  body: Registration,
  key: string = requestIdOf(req),
): Promise<{ sub: number; organisationId: string; position: Position | undefined }> {
  const { database, commands } = ctx;
  const passwordHash = await hashPassword(body.password);
  const organisationId = entityIdFor('org', 16, 'registration', key);
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
  if (!inserted) throw emailTaken();
  try {
    const outcome = await handleRequestCommand(
      commands,
      req,
      { stream: organisationStream(organisationId), aggregate: organisationAggregate },
      { type: 'CreateOrganisation', actor: String(inserted.sub), at: now, key },
      (state) => decideOrganisation({ type: 'CreateOrganisation', organisationId, name: `${body.name}'s organisation`, ownerSub: inserted.sub }, state),
    );
    return { sub: inserted.sub, organisationId, position: outcome.append?.position };
  } catch (error) {
    await database.db
      .deleteFrom('users')
      .where('sub', '=', inserted.sub)
      .execute()
      .catch((undo: unknown) => ctx.logger.error({ err: undo, sub: inserted.sub }, 'registration failed and its user row could not be removed'));
    throw error;
  }
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
