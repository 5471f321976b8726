import { z } from 'zod';
import { manageRoutes } from '../http/manage-routes.ts';
import { isoTime, settledFields } from '../http/schemas.ts';
import { loginBody, registerBody } from './account-service.ts';
import { PLAN_NAMES } from './plans.ts';
import { ROLES } from './events.ts';
import { access } from './guard.ts';
import { safeName } from '../clients/schemas.ts';

/** The account and organisation routes of the management API (DESIGN §8, §12): contracts; handlers in routes.ts. */

export { loginBody, registerBody } from './account-service.ts';
export const planBody = z.strictObject({ plan: z.enum(PLAN_NAMES, { message: `must be one of ${PLAN_NAMES.join(', ')}` }) });
export const createOrganisationBody = z.strictObject({ name: safeName });
export const selectOrganisationBody = z.strictObject({ organisationId: z.string().trim().min(1, 'is required').max(100, 'must be at most 100 characters') });

export const planLimitsSchema = z
  .object({ clients: z.number().int(), domainsPerClient: z.number().int(), secretsPerClient: z.number().int(), requestsPerMinute: z.number().int() })
  .meta({ id: 'PlanLimits' });
const sub = z.number().int().positive();
const role = z.enum(ROLES);
const organisationRef = z.object({ id: z.string(), name: z.string() });
const tags = ['Account'];

export const accountRoutes = manageRoutes({
  register: {
    method: 'post',
    path: '/account/register',
    summary: 'Create an account and its organisation',
    tags,
    access: access.public,
    request: { body: registerBody },
    responses: {
      201: {
        description: 'registered',
        schema: z.object({ sub, email: z.string(), name: z.string(), organisationId: z.string(), ...settledFields }),
      },
    },
    errors: [409],
  },
  login: {
    method: 'post',
    path: '/account/login',
    summary: 'Log in: sets the session cookie',
    tags,
    access: access.public,
    request: { body: loginBody },
    responses: { 200: { description: 'logged in', schema: z.object({ sub, email: z.string(), name: z.string(), expiresAt: isoTime }) } },
    errors: [401],
  },
  logout: {
    method: 'post',
    path: '/account/logout',
    summary: 'End the session',
    tags,
    access: access.session,
    request: {},
    responses: { 204: { description: 'logged out' } },
  },
  me: {
    method: 'get',
    path: '/account/me',
    summary: 'Who is logged in, the organisation this session acts in, their role there and its plan',
    tags,
    access: access.session,
    request: {},
    responses: {
      200: {
        description: 'the account',
        schema: z.object({
          sub,
          email: z.string(),
          name: z.string(),
          organisation: organisationRef.nullable().meta({ description: 'null: a member of no organisation' }),
          role: role.nullable(),
          staffRole: z.string().nullable(),
          plan: z
            .object({
              name: z.enum(PLAN_NAMES),
              status: z.enum(['none', 'active', 'cancelled']),
              activatedAt: isoTime.nullable(),
              cancelledAt: isoTime.nullable(),
              limits: planLimitsSchema,
            })
            .nullable(),
          organisations: z
            .array(z.object({ id: z.string(), name: z.string(), role, since: isoTime }))
            .meta({ description: 'every organisation the user belongs to' }),
        }),
      },
    },
  },
  selectOrganisation: {
    method: 'post',
    path: '/account/organisation',
    summary: 'Choose the organisation this session acts in (one the user belongs to)',
    tags,
    access: access.session,
    request: { body: selectOrganisationBody },
    responses: { 200: { description: 'selected', schema: z.object({ organisation: organisationRef, role }) } },
    errors: [404],
  },
  createOrganisation: {
    method: 'post',
    path: '/organisations',
    summary: 'Create an organisation owned by the caller (a user with none, or with others); the session acts in it from now on',
    tags: ['Organisation'],
    access: access.session,
    request: { body: createOrganisationBody },
    responses: {
      201: {
        description: 'created',
        schema: z.object({ organisation: organisationRef, role: z.literal('owner'), ...settledFields }),
      },
    },
    errors: [409],
  },
  deleteOrganisation: {
    method: 'delete',
    path: '/organisations/:organisationId',
    summary: "Delete the session's organisation (owners; refused with organisation_has_clients while a client lives)",
    description:
      'Open invitations are revoked, members removed and the plan cancelled, each as its own event, then OrganisationDeleted. ' +
      'The path names the organisation the session acts in (404 otherwise), so a tab switched elsewhere cannot delete the wrong one.',
    tags: ['Organisation'],
    access: access.member('delete', 'Organisation'),
    request: { params: z.object({ organisationId: z.string() }) },
    responses: {
      200: { description: 'deleted; the session acts in no organisation now', schema: z.object({ organisationId: z.string(), deleted: z.literal(true), ...settledFields }) },
    },
    errors: [404, 409],
  },
  activatePlan: {
    method: 'post',
    path: '/account/plan',
    summary: 'Activate a plan',
    tags,
    access: access.member('billing', 'Organisation'),
    request: { body: planBody },
    responses: {
      200: {
        description: 'the plan is active',
        schema: z.object({ plan: z.object({ name: z.enum(PLAN_NAMES), status: z.literal('active'), limits: planLimitsSchema }), ...settledFields }),
      },
    },
    errors: [409],
  },
  cancelPlan: {
    method: 'delete',
    path: '/account/plan',
    summary: 'Cancel the plan',
    tags,
    access: access.member('billing', 'Organisation'),
    request: {},
    responses: { 200: { description: 'the plan is cancelled', schema: z.object({ plan: z.null(), ...settledFields }) } },
    errors: [409],
  },
});
