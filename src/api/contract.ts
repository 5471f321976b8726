import { z } from 'zod';
import { SCOPES } from '../clients/events.ts';
import { isoTime, xwmsSuccess } from '../http/schemas.ts';
import { signTokenBody, verifyBody } from '../signin/partner-routes.ts';
import { signInClaimsSchema } from '../users/profiles.ts';
import {
  addressCrudBody,
  addressData,
  addressDeletedData,
  addressListData,
  countriesBody,
  countriesData,
  subBody,
  userInfoBody,
  userInfoData,
} from '../users/partner-routes.ts';
import { partnerRoutes } from './access.ts';
import { PROJECT_LANGUAGES, projectsData } from '../clients/listing.ts';

/**
 * The partner API's route table (DESIGN §7; XWMS's documentation is the contract). To add a
 * route, add its contract here and its handler to the factory named in src/api/routes.ts; the
 * router, the access pipeline, /api/info and /openapi.json follow.
 */

/** `data` of GET /api/info, as XWMS documents it. */
export const infoData = z.object({
  application: z.object({
    name: z.string(),
    description: z.string(),
    version: z.string(),
    locale: z.string(),
    timezone: z.string(),
    time: isoTime,
  }),
  client: z.object({ ip: z.string().nullable(), user_agent: z.string().nullable() }),
  api: z.object({
    /** where the API reference is served (/docs) */
    documentation: z.string(),
    /** endpoint name (the route table's operationId) → absolute URL */
    endpoints: z.record(z.string(), z.string()),
  }),
});

export const projectsQuery = z.object({ lang: z.enum(PROJECT_LANGUAGES, { error: 'must be en or nl' }).optional() });

const whoamiData = z.object({
  client_id: z.string(),
  domain: z.string(),
  domain_id: z.string(),
  test_mode: z.boolean(),
  scopes: z.array(z.enum(SCOPES)),
});

const signTokenData = z.object({
  client_id: z.string(),
  token: z.string(),
  expires_at: isoTime,
  url: z.string().meta({ description: 'the hosted sign-in page: send the user there' }),
});

export const PARTNER_TABLE = {
  api: partnerRoutes({
    general_info: {
      method: 'get',
      path: '/info',
      summary: 'About this API: version, time, the caller as seen, the reference and every endpoint',
      tags: ['Partner API'],
      access: { kind: 'none' },
      request: {},
      responses: { 200: { description: 'OK', schema: xwmsSuccess(infoData) } },
    },
    projects: {
      method: 'get',
      path: '/global/projects',
      summary: "Keyledger's public directory: clients whose owners list them",
      tags: ['Global'],
      access: { kind: 'none' },
      request: { query: projectsQuery },
      responses: { 200: { description: 'the listed projects, newest first', schema: xwmsSuccess(projectsData) } },
    },
  }),
  signIn: partnerRoutes({
    auth_signin: {
      method: 'post',
      path: '/sign-token',
      summary: 'Start a hosted sign-in: a single-use token and the page to send the user to',
      tags: ['Sign-in'],
      access: { kind: 'login' },
      request: { body: signTokenBody },
      responses: { 200: { description: 'token created', schema: xwmsSuccess(signTokenData) } },
    },
    auth_verify: {
      method: 'post',
      path: '/sign-token-verify',
      summary: 'Redeem an approved token for the identity the user agreed to share',
      tags: ['Sign-in'],
      access: { kind: 'login' },
      request: { body: verifyBody },
      responses: { 200: { description: 'verified', schema: xwmsSuccess(signInClaimsSchema) } },
    },
  }),
  users: partnerRoutes({
    user_info: {
      method: 'post',
      path: '/get/user/info',
      summary: "A user's profile (extra fields null without the userinfo scope)",
      tags: ['Users'],
      access: { kind: 'api' },
      request: { body: userInfoBody },
      responses: { 200: { description: 'the user', schema: xwmsSuccess(userInfoData) } },
      errors: [404],
    },
    user_address: {
      method: 'post',
      path: '/get/user/address',
      summary: "A user's addresses",
      tags: ['Users'],
      access: { kind: 'api', scope: 'useraddresses' },
      request: { body: subBody },
      responses: { 200: { description: 'the addresses', schema: xwmsSuccess(addressListData) } },
      errors: [404],
    },
    user_address_crud: {
      method: 'post',
      path: '/user/address',
      summary: "List, create, update or delete a user's addresses",
      tags: ['Users'],
      access: { kind: 'api', scope: 'useraddresses' },
      request: { body: addressCrudBody },
      responses: {
        200: { description: 'listed, updated or deleted', schema: xwmsSuccess(z.union([addressListData, addressData, addressDeletedData])) },
        201: { description: 'created', schema: xwmsSuccess(addressData) },
      },
      errors: [404, 409],
    },
    countries: {
      method: 'post',
      path: '/global/countries',
      summary: 'Every country, in English or Dutch',
      tags: ['Global'],
      access: { kind: 'api' },
      request: { body: countriesBody },
      responses: { 200: { description: 'the countries', schema: xwmsSuccess(countriesData) } },
    },
  }),
  // Keyledger's additions, after XWMS's endpoints (so /api/info lists them last)
  keyledger: partnerRoutes({
    whoami: {
      method: 'get',
      path: '/whoami',
      summary: 'Who the access pipeline says is calling (a Keyledger addition)',
      tags: ['Partner API'],
      access: { kind: 'api' },
      request: {},
      responses: { 200: { description: 'OK', schema: xwmsSuccess(whoamiData) } },
    },
  }),
} as const;
