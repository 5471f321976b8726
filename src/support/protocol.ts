import { z } from 'zod';
import { SUPPORT_GROUP_IDS } from './groups.ts';
import { TICKET_STATUSES } from './events.ts';
import { isStorable } from '../db/storable.ts';

/** The wire contract of the `/support` namespace (DESIGN §9): payload schemas, limits, error codes. */

export const MAX_MESSAGE_CHARS = 4_000;
export const MAX_SUBJECT_CHARS = 200;
/** a page of `ticket:join` (messages, and characters of text); `more: true` says to join again from the last seq */
export const JOIN_PAGE = 500;
export const JOIN_PAGE_CHARS = 256 * 1024;

export const SUPPORT_ERROR_CODES = [
  'invalid_payload',
  'message_empty',
  'message_too_long',
  'ticket_not_found',
  'unknown_group',
  'client_not_found',
  'assignee_not_agent',
  'ticket_not_resolved',
  'forbidden',
  'rate_limited',
  'too_many_pending',
  'unknown_event',
  'database_unavailable',
  'internal_error',
] as const;
export type SupportErrorCode = (typeof SUPPORT_ERROR_CODES)[number];

export class SupportError extends Error {
  constructor(
    readonly code: SupportErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type AckResponse = ({ ok: true } & Record<string, unknown>) | { ok: false; error: { code: SupportErrorCode; message: string } };
export const failure = (code: SupportErrorCode, message: string): AckResponse => ({ ok: false, error: { code, message } });

/** Ticket ids: `tk_` + 22 base64url characters. Anything else cannot name a ticket. */
export const TICKET_ID = /^tk_[A-Za-z0-9_-]{22}$/;

// NUL and unpaired surrogates cannot be stored in Postgres text/jsonb: every payload is checked
// for them as a whole (src/db/storable.ts, in the event handler); these checks name them too.
const storable = isStorable;
const codePoints = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** A string field whose refusal names it: "x is required" or "x must be a string". */
const str = (name: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? `${name} is required` : `${name} must be a string`) });
const int = (name: string) =>
  z.number({ error: (issue) => (issue.input === undefined ? `${name} is required` : `${name} must be a number`) }).int(`${name} must be an integer`);

const ticketId = str('ticketId').max(100, 'ticketId is too long');
const clientMessageId = str('clientMessageId')
  .regex(/^[A-Za-z0-9._:-]{1,100}$/, 'clientMessageId must be 1–100 characters of A–Z, a–z, 0–9, . _ : -');
/** Message text is checked by `checkMessageText` (named refusals), not here. */
const text = (name: string) => str(name).max(MAX_MESSAGE_CHARS * 6, `${name} is far too long`);
const seq = (name: string) => int(name).min(0, `${name} must be 0 or more`).max(2_147_483_647, `${name} is too large`);

export const openSchema = z.object({
  subject: str('subject')
    .refine((s) => s.trim().length > 0, 'subject must not be empty')
    .refine((s) => codePoints(s) <= MAX_SUBJECT_CHARS, `subject must be at most ${MAX_SUBJECT_CHARS} characters`)
    .refine(storable, 'subject contains characters that cannot be stored'),
  group: str('group').max(100, `group must be one of ${SUPPORT_GROUP_IDS.join(', ')}`),
  clientId: str('clientId').max(100, 'clientId is too long').nullish(),
  message: text('message'),
  clientMessageId: clientMessageId.optional(),
});
export const messageSchema = z.object({ ticketId, text: text('text'), clientMessageId });
export const joinSchema = z.object({ ticketId, afterSeq: seq('afterSeq').optional() });
export const ticketOnlySchema = z.object({ ticketId });
export const readSchema = z.object({ ticketId, seq: seq('seq') });
export const listSchema = z.object({ scope: z.enum(['mine', 'queue', 'assigned', 'all']).optional() }).nullish();
export const assignSchema = z.object({
  ticketId,
  /** omitted: the agent takes it; null: back to the queue */
  assignee: int('assignee').positive('assignee must be a user id').nullable().optional(),
});
export const statusSchema = z.object({
  ticketId,
  status: z.enum(TICKET_STATUSES, { message: `status must be one of ${TICKET_STATUSES.join(', ')}` }),
});
export const rateSchema = z.object({ ticketId, rating: int('rating').min(1, 'rating is 1–5').max(5, 'rating is 1–5') });

/** Refusals by name: empty, too long, unstorable. The text itself is kept exactly as typed. */
export function checkMessageText(value: string): void {
  if (value.trim().length === 0) throw new SupportError('message_empty', 'the message is empty');
  const length = codePoints(value);
  if (length > MAX_MESSAGE_CHARS) {
    throw new SupportError('message_too_long', `the message has ${length} characters; at most ${MAX_MESSAGE_CHARS} are allowed`);
  }
  if (!storable(value)) throw new SupportError('invalid_payload', 'text contains characters that cannot be stored');
}

export function checkTicketId(value: string): void {
  if (!TICKET_ID.test(value)) throw new SupportError('ticket_not_found', 'there is no such ticket');
}

/** A zod error as one sentence naming the fields. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      if (path === '') return issue.code === 'invalid_type' ? 'the payload must be an object' : issue.message;
      return issue.message.startsWith(path) ? issue.message : `${path}: ${issue.message}`;
    })
    .join('; ');
}
