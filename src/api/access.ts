import type { AccessRequirement } from '../access/pipeline.ts';
import { defineRoutes } from '../http/route-table.ts';

/**
 * Access requirement of a partner API route (DESIGN §6, §7): `none`, or what the access pipeline
 * checks — `api` (allowApi) or `login` (allowLogin), with a scope where the endpoint needs one.
 */
export type PartnerAccess = { readonly kind: 'none' } | AccessRequirement;

/** Declares partner API routes (see src/http/route-table.ts). */
export const partnerRoutes = defineRoutes<PartnerAccess>();

/** Statuses every partner route may answer, besides its own. */
export const PARTNER_COMMON_ERRORS = [400, 413, 500, 503] as const;
/** Statuses of a route behind the access pipeline (the §6 table), besides the common ones. */
export const PIPELINE_ERRORS = [401, 403, 429] as const;
