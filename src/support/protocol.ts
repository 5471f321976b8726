import { z } from 'zod';
import { SUPPORT_GROUP_IDS } from './groups.ts';
import { TICKET_PRIORITIES, TICKET_STATUSES } from './events.ts';
import { SUPPORT_GROUP_IDS as GROUP_IDS } from './groups.ts';
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
  'ticket_taken',
  'over_capacity',
  'queue_empty',
  'no_agent_available',
  'canned_not_found',
  'denial_not_found',
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
    /** extra fields of the refusal (ticket_taken: who has it) */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export type AckResponse =
  | ({ ok: true } & Record<string, unknown>)
  | { ok: false; error: { code: SupportErrorCode; message: string } & Record<string, unknown> };
export const failure = (code: SupportErrorCode, message: string, details?: Record<string, unknown>): AckResponse => ({
  ok: false,
  error: { ...details, code, message },
});

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
  language: z.enum(['en', 'nl'], { message: 'language must be en or nl' }).optional(),
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
export const MAX_COMMENT_CHARS = 1_000;
export const rateSchema = z.object({
  ticketId,
  rating: int('rating').min(1, 'rating is 1–5 stars').max(5, 'rating is 1–5 stars'),
  comment: str('comment')
    .refine((s) => codePoints(s) <= MAX_COMMENT_CHARS, `comment must be at most ${MAX_COMMENT_CHARS} characters`)
    .nullish(),
});
export const noteSchema = messageSchema;
export const contextSchema = z.object({ ticketId });
export const explainSchema = z.object({ ticketId, requestId: str('requestId').max(100, 'requestId is too long'), language: z.enum(['en', 'nl']).optional() });
export const MAX_TAGS = 10;
const tag = str('tag').regex(/^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,29}$/u, 'a tag is 1–30 letters, digits, spaces, . _ -');
export const tagsSchema = z.object({ ticketId, tags: z.array(tag, { message: 'tags must be a list' }).max(MAX_TAGS, `at most ${MAX_TAGS} tags`) });
export const prioritySchema = z.object({
  ticketId,
  priority: z.enum(TICKET_PRIORITIES, { message: `priority must be one of ${TICKET_PRIORITIES.join(', ')}` }),
});
const cannedId = str('cannedId').regex(/^cn_[A-Za-z0-9_-]{1,40}$/, 'cannedId must look like cn_…');
export const cannedSaveSchema = z.object({
  cannedId: cannedId.optional(),
  title: str('title')
    .refine((s) => s.trim().length > 0, 'title must not be empty')
    .refine((s) => codePoints(s) <= 100, 'title must be at most 100 characters'),
  en: text('en'),
  nl: text('nl'),
});
export const cannedRemoveSchema = z.object({ cannedId });
export const cannedSendSchema = z.object({ ticketId, cannedId, clientMessageId });
export const capacitySchema = z.object({
  sub: int('sub').positive('sub must be a user id').optional(),
  capacity: int('capacity').min(0, 'capacity is 0–100').max(100, 'capacity is 0–100'),
});
const clock = str('time').regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'times are HH:MM, 00:00–24:00');
export const hoursSchema = z.object({
  group: z.enum(GROUP_IDS, { message: `group must be one of ${GROUP_IDS.join(', ')}` }),
  hours: z
    .object({
      timeZone: str('timeZone').max(64, 'timeZone is too long'),
      intervals: z
        .array(z.object({ day: int('day').min(0, 'day is 0 (Sunday) – 6').max(6, 'day is 0 (Sunday) – 6'), open: clock, close: clock }))
        .max(21, 'at most 21 intervals'),
    })
    .nullable(),
});
export const searchSchema = z
  .object({
    scope: z.enum(['queue', 'mine', 'all']).optional(),
    q: str('q').max(200, 'q is too long').optional(),
  })
  .nullish();
export const reportSchema = z.object({ weeks: int('weeks').min(1, 'weeks is 1–52').max(52, 'weeks is 1–52').optional() }).nullish();

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
