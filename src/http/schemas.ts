import { z } from 'zod';
import { MANAGE_ERROR_CODES, XWMS_ERROR_CODES } from './error-codes.ts';

/** Response schemas shared by the routes of both APIs (see src/http/route-table.ts). */

/** A time as the API writes it: `Date#toISOString()`, always UTC. */
export const isoTime = z.iso.datetime().meta({ description: 'ISO-8601, UTC' });

/** An event-store position as `commit/prepare` (bigints as text). */
export const positionText = z.string().meta({ description: 'event-store position, `commit/prepare`', example: '1234/1234' });

/** What every management write answers with (src/http/request.ts `settle`). */
export const settledFields = {
  position: positionText.nullable().meta({ description: 'the position the write produced; null when it changed nothing' }),
  projected: z.boolean().meta({ description: 'whether the read models reached that position before the answer' }),
};

/** A field-level input problem. */
export const fieldProblem = z.object({ field: z.string(), message: z.string() }).meta({ id: 'FieldProblem' });

/** problem+json (RFC 9457) of the management API; `code` is from a closed set. */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(MANAGE_ERROR_CODES),
    errors: z.array(fieldProblem).optional(),
    requestId: z.string().optional(),
  })
  .meta({ id: 'Problem', description: 'application/problem+json; `code` is stable' });

/** The XWMS error envelope of the partner API; `code` is from a closed set. */
export const xwmsErrorSchema = z
  .object({
    status: z.literal('error'),
    message: z.string(),
    code: z.enum(XWMS_ERROR_CODES),
    field: z.string().optional().meta({ description: 'the malformed input field, for `invalid_request` and other input refusals' }),
    request_id: z.string().optional(),
    data: z.null(),
  })
  .meta({ id: 'XwmsError', description: 'the XWMS envelope of a refusal; `code` is stable' });

/** The XWMS success envelope around `data`. */
export const xwmsSuccess = <T extends z.ZodType>(data: T) => z.object({ status: z.literal('success'), message: z.string(), data });
