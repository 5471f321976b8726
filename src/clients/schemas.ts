import { z } from 'zod';
import { isoTime, positionText } from '../http/schemas.ts';
import {
  domainSchema,
  fallbackUriSchema,
  internalNameSchema,
  labelSchema,
  logoSchema,
  nameSchema,
  redirectUriSchema,
  scopesSchema,
  serverIpSchema,
} from './validation.ts';
import { SCOPES } from './events.ts';

/** Request and response schemas of the client routes (src/clients/contract.ts). */

// ---- request bodies (also decided by the impact preview: src/audit/preview-writes.ts) ----

/** A secret pasted into a name would be shown to everyone who can read the client: refuse it. */
const looksLikeSecret = (value: string) => /klsk_[0-9A-Za-z]{20,}/.test(value);
export const safeName = nameSchema.refine((v) => !looksLikeSecret(v), { message: 'looks like a client secret; never put secrets in names' });
export const safeLabel = labelSchema.refine((v) => !looksLikeSecret(v), { message: 'looks like a client secret; never put secrets in labels' });
export const nameBody = z.strictObject({ name: safeName });
const idList = z.array(z.string().min(1).max(100)).max(200);
export const issueSecretBody = z.strictObject({
  label: safeLabel.optional(),
  expiresAt: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time' }).optional(),
  domains: idList.optional(),
});
export const rotateBody = z.strictObject({
  graceSeconds: z.number().int('must be a whole number of seconds').min(0).max(30 * 86_400).optional(),
});
export const uriBody = z.strictObject({ uri: redirectUriSchema });
const domainFields = {
  serverIps: z.array(serverIpSchema).max(100).optional(),
  internalName: internalNameSchema.optional(),
  logo: logoSchema.optional(),
  fallbackUri: fallbackUriSchema.optional(),
  allowLogin: z.boolean().optional(),
  allowApi: z.boolean().optional(),
  active: z.boolean().optional(),
  primary: z.boolean().optional(),
  testMode: z.boolean().optional(),
};
export const addDomainBody = z.strictObject({ domain: domainSchema, ...domainFields, secrets: idList.optional() });
export const updateDomainBody = z.strictObject({ domain: domainSchema.optional(), ...domainFields });
export const scopesBody = z.strictObject({ scopes: scopesSchema });
export const testUserBody = z.strictObject({ email: z.string().trim().max(254).pipe(z.email('must be an email address')) });
export const subParam = z.coerce.number().int().positive();

// ---- path parameters ----

export const clientParams = z.object({ clientId: z.string().meta({ example: 'kc_3kTMd9aQx2LpWv7Hn4Rs' }) });
export const secretParams = clientParams.extend({ secretId: z.string() });
export const domainParams = clientParams.extend({ domainId: z.string() });
export const linkParams = domainParams.extend({ secretId: z.string() });
export const testUserParams = clientParams.extend({ sub: z.string().regex(/^[1-9][0-9]*$/).meta({ description: "the test user's sub" }) });

// ---- responses ----

export const position = positionText.nullable();
export const clientStatus = z.enum(['active', 'disabled', 'deleted']);
const secretStatus = z.enum(['active', 'rotated', 'revoked']);

export const domainSettings = z.object({
  domain: z.string(),
  serverIps: z.array(z.string()),
  internalName: z.string().nullable(),
  logo: z.string().nullable(),
  fallbackUri: z.string().nullable(),
  allowLogin: z.boolean(),
  allowApi: z.boolean(),
  active: z.boolean(),
  primary: z.boolean(),
  testMode: z.boolean(),
});

export const clientDetailsSchema = z
  .object({
    clientId: z.string(),
    name: z.string(),
    status: clientStatus,
    createdAt: isoTime,
    updatedAt: isoTime,
    revision: z.string(),
    secrets: z.array(
      z.object({
        secretId: z.string(),
        label: z.string(),
        hint: z.string(),
        status: secretStatus,
        expiresAt: isoTime.nullable(),
        graceUntil: isoTime.nullable(),
        replacedBy: z.string().nullable(),
        issuedAt: isoTime,
        revokedAt: isoTime.nullable(),
        lastUsedAt: isoTime.nullable(),
        domains: z.array(z.string()),
      }),
    ),
    domains: z.array(domainSettings.extend({ domainId: z.string(), createdAt: isoTime, lastUsedAt: isoTime.nullable(), secrets: z.array(z.string()) })),
    redirectUris: z.array(z.string()),
    scopes: z.array(z.enum(SCOPES)),
    testUsers: z.array(z.object({ sub: z.number().int(), addedAt: isoTime })),
  })
  .meta({ id: 'Client', description: 'a client as the read models hold it (never secret material)' });

export const newSecret = {
  secretId: z.string(),
  secret: z.string().meta({ description: 'the plaintext secret: shown once, never again' }),
  hint: z.string(),
  label: z.string(),
};

export const historyEntrySchema = z
  .object({
    type: z.string(),
    at: isoTime,
    actor: z.string(),
    position: positionText,
    revision: z.string(),
    requestId: z.string(),
    correlationId: z.string(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'HistoryEntry' });


