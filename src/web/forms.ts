import { randomUUID } from 'node:crypto';
import type { Request } from 'express';
import type { ZodError } from 'zod';
import type { MessageKey, Translator } from './i18n.ts';

/** The idempotency key field a form carries when a double submit must create one thing. */
export const IDEMPOTENCY_FIELD = 'idempotencyKey';
const KEY_SHAPE = /^[A-Za-z0-9_-]{16,64}$/;

/**
 * What a form shows: the values the user typed (never a password or secret), an error message
 * per field, and optionally one message above the form.
 */
export interface FormState {
  readonly values: Readonly<Record<string, string>>;
  readonly errors: Readonly<Record<string, string>>;
  readonly message?: string;
  /** the form's idempotency key: a new one on a fresh form, the submitted one when re-shown */
  readonly idempotencyKey?: string;
}

export const emptyForm = (options: { idempotent?: boolean } = {}): FormState => ({
  values: {},
  errors: {},
  ...(options.idempotent ? { idempotencyKey: randomUUID() } : {}),
});

/** The submitted fields as strings, without the ones that must never be shown again. */
export function keptValues(body: unknown, fields: readonly string[], never: readonly string[] = ['password']): Record<string, string> {
  const source = (body ?? {}) as Record<string, unknown>;
  return Object.fromEntries(fields.filter((f) => !never.includes(f)).map((f) => [f, typeof source[f] === 'string' ? (source[f] as string).slice(0, 2_000) : '']));
}

/** A zod error as one translated message per field (the first issue of each), with `fallback` for fields not listed. */
export function fieldErrors(error: ZodError, t: Translator, messages: Readonly<Record<string, MessageKey>>, fallback: MessageKey = 'common.badRequestBody'): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? '');
    errors[field] ??= t(messages[field] ?? fallback);
  }
  return errors;
}

/** The form's idempotency key as submitted, when well formed: the command's key for a double-submit-safe write. */
export function submittedIdempotencyKey(req: Request): string | undefined {
  const value = (req.body as Record<string, unknown> | undefined)?.[IDEMPOTENCY_FIELD];
  return typeof value === 'string' && KEY_SHAPE.test(value) ? value : undefined;
}

/** Re-show a submitted form: its values (minus secrets), these errors, and the same idempotency key. */
export function resubmittedForm(req: Request, fields: readonly string[], errors: Record<string, string>, message?: string): FormState {
  const key = submittedIdempotencyKey(req);
  return { values: keptValues(req.body, fields), errors, ...(message ? { message } : {}), ...(key ? { idempotencyKey: key } : {}) };
}
