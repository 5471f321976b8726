import { z } from 'zod';
import { manageRoutes } from '../http/manage-routes.ts';
import { access } from '../accounts/guard.ts';
import { isoTime, positionText } from '../http/schemas.ts';
import { DENIAL_REASONS } from '../access/policy.ts';
import { clientDetailsSchema } from '../clients/contract.ts';
import { CHECKS } from './checks.ts';
import { FIX_ACTIONS } from './fixes.ts';
import { EXPLAIN_LANGUAGES } from './i18n.ts';
import { proposalSchema } from './preview.ts';
import { AUDIT_EVENT_TYPES, decodeCursor } from './audit-trail.ts';

/**
 * The read side of the management API beyond a client's own shape (DESIGN §8, §11): the decision
 * log, who signed in, time travel, explain, the impact preview and the audit trail. Contracts
 * only; handlers in access/routes.ts, signin/management.ts, audit/routes.ts, audit/audit-routes.ts.
 */

const clientParams = z.object({ clientId: z.string() });
const langQuery = z.object({ lang: z.enum(EXPLAIN_LANGUAGES).optional().meta({ description: 'else Accept-Language, else English' }) });
const tags = ['Audit and explain'];

export const authFailuresQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.iso.datetime({ offset: true }).optional(),
});

export const clientUsersQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

/** Documents `?at=` / `?position=`; src/audit/state.ts parses them (with its own messages). */
const stateQuery = z.object({
  at: z.string().optional().meta({ description: 'ISO-8601 with a time zone; or give position' }),
  position: z.string().optional().meta({ description: 'a position the API showed for this client, `commit/prepare`' }),
});

const exportQuery = z.object({
  from: z.iso.datetime({ offset: true }).optional().meta({ description: 'inclusive; from the first event when absent' }),
  to: z.iso.datetime({ offset: true }).optional().meta({ description: 'exclusive; now when absent' }),
});

const KNOWN_TYPES = new Set(AUDIT_EVENT_TYPES);
const email = z.email();

export const trailQuery = z.strictObject({
  after: z
    .string()
    .transform((cursor, ctx) => {
      const position = decodeCursor(cursor);
      if (!position) ctx.addIssue({ code: 'custom', message: 'not a cursor from this API: pass the `next` of the previous page' });
      return position ?? z.NEVER;
    })
    .optional(),
  limit: z.coerce.number().int('must be a whole number').min(1).max(1000).default(100),
  type: z
    .string()
    .max(2000)
    .transform((list, ctx) => {
      const types = list.split(',').map((t) => t.trim());
      const unknown = types.filter((t) => !KNOWN_TYPES.has(t));
      if (unknown.length > 0) ctx.addIssue({ code: 'custom', message: `unknown event type(s): ${unknown.join(', ').slice(0, 200)}` });
      return types;
    })
    .optional()
    .meta({ description: 'event types, comma-separated' }),
  actor: z
    .string()
    .max(254)
    .refine((v) => /^[1-9][0-9]{0,8}$/.test(v) || v === 'cli' || v === 'system' || email.safeParse(v).success, {
      message: 'must be a user sub, a user email, cli or system',
    })
    .optional(),
  clientId: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be a client id').optional(),
});

const explainedActor = z.object({
  sub: z.number().int().nullable(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  kind: z.enum(['user', 'cli', 'system']),
});

const fixStep = z.object({
  action: z.enum(FIX_ACTIONS),
  summary: z.string(),
  secretId: z.string().optional(),
  hint: z.string().optional(),
  domainId: z.string().optional(),
  domain: z.string().optional(),
  ip: z.string().optional(),
  scope: z.string().optional(),
  plan: z.string().optional(),
  request: z.object({ method: z.string(), path: z.string(), body: z.unknown().optional() }).optional(),
});

export const explanationSchema = z
  .object({
    requestId: z.string(),
    callerRequestId: z.string().nullable(),
    at: isoTime,
    endpoint: z.string(),
    presented: z.object({
      clientId: z.string().nullable(),
      domain: z.string().nullable(),
      ip: z.string().nullable(),
      secret: z.object({
        match: z.enum(['this_client', 'not_this_client', 'none']),
        secretId: z.string().optional(),
        label: z.string().optional(),
        hint: z.string().optional(),
        state: z.enum(['active', 'rotated', 'revoked', 'expired']).optional(),
        expiresAt: isoTime.optional(),
        graceUntil: isoTime.optional(),
        replacedBy: z.string().optional(),
      }),
    }),
    decision: z.object({ allowed: z.literal(false), reason: z.enum(DENIAL_REASONS), status: z.number().int(), position: positionText.nullable() }),
    checks: z.array(z.object({ check: z.enum(CHECKS), passed: z.boolean() })),
    cause: z
      .object({
        event: z.object({ type: z.string(), at: isoTime, position: positionText, actor: explainedActor, data: z.record(z.string(), z.unknown()) }),
        summary: z.string(),
      })
      .nullable(),
    fix: z.array(fixStep),
    replay: z.object({ reason: z.string(), agrees: z.boolean(), position: positionText.nullable(), basis: z.string().optional() }),
    language: z.enum(EXPLAIN_LANGUAGES),
  })
  .meta({ id: 'Explanation' });

const previewCaller = z.object({
  secretId: z.string(),
  hint: z.string().nullable(),
  domain: z.string(),
  ip: z.string().nullable(),
  kind: z.enum(['api', 'login']),
  scope: z.string().nullable(),
  reason: z.enum(DENIAL_REASONS),
  lastSeenAt: isoTime,
  requests: z.number().int(),
});

const auditActor = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('user'), sub: z.number().int(), email: z.string().nullable(), name: z.string().nullable() }),
  z.object({ kind: z.literal('cli') }),
  z.object({ kind: z.literal('system'), id: z.string().optional() }),
]);

export const auditEntrySchema = z
  .object({
    cursor: z.string().meta({ description: 'pass as `after` to continue after this entry' }),
    type: z.string(),
    at: isoTime,
    actor: auditActor,
    stream: z.string(),
    position: positionText,
    clientId: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
    requestId: z.string(),
    correlationId: z.string(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
  })
  .meta({ id: 'AuditEntry' });

export const readSideRoutes = manageRoutes({
  authFailures: {
    method: 'get',
    path: '/clients/:clientId/auth-failures',
    summary: "A client's recent denials, newest first, and all denials counted per minute",
    tags,
    access: access.member('read', 'Client'),
    request: { params: clientParams, query: authFailuresQuery },
    responses: {
      200: {
        description: 'the denials',
        schema: z.object({
          clientId: z.string(),
          failures: z.array(
            z.object({
              requestId: z.string(),
              callerRequestId: z.string().nullable(),
              at: isoTime,
              endpoint: z.string(),
              domain: z.string().nullable(),
              ip: z.string().nullable(),
              reason: z.enum(DENIAL_REASONS),
              status: z.number().int(),
              position: positionText.nullable(),
            }),
          ),
          counts: z.array(
            z.object({ minute: isoTime, reason: z.enum(DENIAL_REASONS), ip: z.string(), count: z.number().int(), sampled: z.number().int() }),
          ),
        }),
      },
    },
    errors: [404],
  },
  clientUsers: {
    method: 'get',
    path: '/clients/:clientId/users',
    summary: 'The users who signed in through this client, with first and last sign-in',
    tags: ['Clients'],
    access: access.member('read', 'Client'),
    request: { params: clientParams, query: clientUsersQuery },
    responses: {
      200: {
        description: 'the users',
        schema: z.object({
          clientId: z.string(),
          users: z.array(
            z.object({
              sub: z.number().int(),
              email: z.string(),
              name: z.string(),
              firstSignedInAt: isoTime,
              lastSignedInAt: isoTime,
              signInCount: z.number().int(),
            }),
          ),
        }),
      },
    },
    errors: [404],
  },
  clientState: {
    method: 'get',
    path: '/clients/:clientId/state',
    summary: 'The client as it was at a time or position, rebuilt from its events',
    tags,
    access: access.member('read', 'Client'),
    request: { params: clientParams, query: stateQuery },
    responses: {
      200: {
        description: 'the client then',
        schema: clientDetailsSchema.extend({ asOf: z.object({ at: isoTime, position: positionText }) }).meta({ id: 'ClientState' }),
      },
    },
    errors: [404],
  },
  explainDecision: {
    method: 'get',
    path: '/auth-decisions/:requestId/explain',
    summary: 'Why a request was refused, the events behind it, and what would change it',
    tags,
    access: access.member('read', 'Client'),
    request: { params: z.object({ requestId: z.string() }), query: langQuery },
    responses: { 200: { description: 'the explanation', schema: explanationSchema } },
    errors: [404],
  },
  previewChange: {
    method: 'post',
    path: '/clients/:clientId/preview',
    summary: 'Which recent callers a proposed client write would refuse (nothing is written)',
    tags,
    access: access.member('read', 'Client'),
    request: { params: clientParams, query: langQuery, body: proposalSchema },
    responses: {
      200: {
        description: 'the impact',
        schema: z.object({
          events: z.array(z.string()),
          wouldRefuse: z.array(previewCaller),
          stillAllowed: z.number().int(),
          alreadyRefused: z.array(previewCaller),
          summary: z.string(),
        }),
      },
    },
    errors: [404, 409],
  },
  auditTrail: {
    method: 'get',
    path: '/audit',
    summary: "Every event of the organisation, oldest first, with a cursor",
    tags,
    access: access.member('read', 'Organisation'),
    request: {
      query: trailQuery,
    },
    responses: {
      200: { description: 'a page', schema: z.object({ entries: z.array(auditEntrySchema), next: z.string().nullable() }) },
    },
    errors: [404],
  },
  auditExport: {
    method: 'get',
    path: '/audit/export',
    summary: 'The trail as hash-chained NDJSON (verify with `keyledger audit verify`)',
    tags,
    access: access.member('read', 'Organisation'),
    request: { query: exportQuery },
    responses: {
      200: {
        description: 'one JSON object a line, each with prevHash and hash (SHA-256 over the previous hash and the canonical line)',
        contentType: 'application/x-ndjson',
        schema: z.string(),
      },
    },
  },
});
