import { CLIENT_ERROR_KINDS, type ClientErrorCode } from '../clients/decide.ts';
import { ORGANISATION_ERROR_STATUS, type OrganisationErrorCode } from '../accounts/organisation.ts';
import { DENIAL_REASONS } from '../access/policy.ts';

/**
 * The closed sets of error codes, one per API. `ApiError` (problem+json, /manage/v1) and
 * `XwmsError` (the XWMS envelope, /api) only take codes from these lists, and the OpenAPI document
 * publishes them as enums: a new code is a change here, seen by the compiler and by partners.
 */

/** Every refusal of the organisation's stream (plans, members, invitations), from its own status table. */
const ORGANISATION_ERROR_CODES = Object.keys(ORGANISATION_ERROR_STATUS) as OrganisationErrorCode[];

/** The HTTP layer's own refusals, shared by both APIs (the partner API renames the input ones to `invalid_request`). */
export const HTTP_ERROR_CODES = [
  'validation_failed',
  'malformed_json',
  'malformed_path',
  'malformed_request',
  'request_aborted',
  'payload_too_large',
  'too_many_parameters',
  'unsupported_encoding',
  'unsupported_media_type',
  'headers_too_large',
  'request_timeout',
  'bad_request',
  'host_not_allowed',
  'forbidden',
  'route_not_found',
  'database_unavailable',
  'internal_error',
] as const;

export const MANAGE_ERROR_CODES = [
  ...HTTP_ERROR_CODES,
  'login_required',
  'no_organisation',
  'invalid_credentials',
  'weak_password',
  'too_many_attempts',
  'email_taken',
  'cross_origin_request',
  'duplicate_request',
  'not_found',
  'user_not_found',
  'not_yet_created',
  'not_a_denial',
  'too_many_exports',
  ...(Object.keys(CLIENT_ERROR_KINDS) as ClientErrorCode[]),
  ...ORGANISATION_ERROR_CODES,
] as const;

export type ManageErrorCode = (typeof HTTP_ERROR_CODES)[number] | ClientErrorCode | OrganisationErrorCode | (typeof MANAGE_ERROR_CODES)[number];

/** Codes of the shared HTTP layer that mean "the input is malformed": on the partner API, `invalid_request` (DESIGN §7). */
export const PARTNER_INPUT_CODES = [
  'validation_failed',
  'malformed_path',
  'malformed_json',
  'too_many_parameters',
  'payload_too_large',
  'request_aborted',
] as const satisfies readonly (typeof HTTP_ERROR_CODES)[number][];

type PartnerHttpCode = Exclude<(typeof HTTP_ERROR_CODES)[number], (typeof PARTNER_INPUT_CODES)[number] | 'route_not_found'>;

export const XWMS_ERROR_CODES = [
  ...DENIAL_REASONS,
  'invalid_request',
  'not_found',
  'user_not_found',
  'invalid_token',
  'redirect_uri_mismatch',
  'address_not_found',
  'address_limit',
  ...(HTTP_ERROR_CODES.filter(
    (code): code is PartnerHttpCode => code !== 'route_not_found' && !(PARTNER_INPUT_CODES as readonly string[]).includes(code),
  ) as PartnerHttpCode[]),
] as const;

export type XwmsErrorCode = (typeof DENIAL_REASONS)[number] | PartnerHttpCode | (typeof XWMS_ERROR_CODES)[number];
