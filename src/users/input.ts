import { z, type ZodType } from 'zod';
import { XwmsError } from '../api/envelope.ts';
import { fieldProblems } from '../http/problem.ts';

/**
 * Validates a partner API body with a zod schema, or throws 400 `invalid_request` naming the
 * first bad field (in `field`, and in the message). Unknown fields are ignored: the XWMS SDKs
 * add `redirect_url` to every POST body.
 */
export function parseBody<S extends ZodType>(schema: S, body: unknown): z.output<S> {
  const input = body === undefined || body === null || body === '' ? {} : body;
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new XwmsError(400, 'invalid_request', 'The request body must be a JSON object.', 'body');
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const first = fieldProblems(result.error)[0]!;
  const field = first.field === '(body)' ? 'body' : first.field;
  throw new XwmsError(400, 'invalid_request', `${field}: ${first.message}`, field);
}

const MAX_SUB = 2_147_483_647;
const SUB_MESSAGE = 'must be a positive integer (a number or a string of digits)';

/** A user's `sub`: a positive integer, sent as a number or as a string of digits. */
export const subSchema = z.union(
  [
    z.number().int(SUB_MESSAGE).positive(SUB_MESSAGE).max(MAX_SUB, SUB_MESSAGE),
    z
      .string()
      .trim()
      .regex(/^[1-9]\d{0,9}$/)
      .transform(Number)
      .refine((n) => n <= MAX_SUB, SUB_MESSAGE),
  ],
  { error: (issue) => (issue.input === undefined ? 'is required' : SUB_MESSAGE) },
);
