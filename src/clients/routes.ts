import { randomBytes } from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { ApiError, notFound, parseInput } from '../http/problem.ts';
import { metadataFor, requestIdOf, settle } from '../http/request.ts';
import { handleRequestCommand } from '../http/commands.ts';
import { entityIdFor } from '../eventstore/command-handler.ts';
import { accountOf, type Account } from '../accounts/sessions.ts';
import { access, createGuard } from '../accounts/guard.ts';
import { PLAN_LIMITS, type PlanLimits, type PlanName } from '../accounts/plans.ts';
import { clientStream, type DomainSettings } from './events.ts';
import { ClientDomainError, decide, type ClientCommand } from './decide.ts';
import { clientAggregate } from './state.ts';
import { generateSecret } from './secret-format.ts';
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
import { clientDetails, clientHistory, listClients, ownedClient } from './queries.ts';
import { abandonClientSlot, releaseClientSlot, reserveClientSlot } from './quota.ts';
import { voidOpenSignInTokens } from '../signin/tokens.ts';

const id = (prefix: string) => `${prefix}_${randomBytes(16).toString('base64url').replace(/[-_]/g, '').slice(0, 20)}`;
/** A create retried with its X-Request-Id targets the same client, so it is stored once. */
const clientIdFor = (organisationId: string, requestKey: string) => entityIdFor('kc', 20, organisationId, requestKey);
const newSecretId = () => id('sec');
const newDomainId = () => id('dom');

/** A secret pasted into a name would be shown to everyone who can read the client: refuse it. */
const looksLikeSecret = (value: string) => /klsk_[0-9A-Za-z]{20,}/.test(value);
const safeName = nameSchema.refine((v) => !looksLikeSecret(v), { message: 'looks like a client secret; never put secrets in names' });
const safeLabel = labelSchema.refine((v) => !looksLikeSecret(v), { message: 'looks like a client secret; never put secrets in labels' });
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

/** A new domain's settings: what the body gives, defaults for the rest (also used by the impact preview). */
export function newDomainSettings(body: z.infer<typeof addDomainBody>): DomainSettings {
  return {
    domain: body.domain,
    serverIps: body.serverIps ?? [],
    internalName: body.internalName ?? null,
    logo: body.logo ?? null,
    fallbackUri: body.fallbackUri ?? null,
    allowLogin: body.allowLogin ?? true,
    allowApi: body.allowApi ?? true,
    active: body.active ?? true,
    primary: body.primary ?? false,
    testMode: body.testMode ?? false,
  };
}

export const STATUS_BY_KIND = { not_found: 404, conflict: 409, invalid: 400, limit: 403 } as const;

/** The management API for clients (DESIGN §8): commands in, read models out. */
export function clientsApi(ctx: AppContext): Router {
  const { database, commands } = ctx;
  const router = Router();
  const guard = createGuard(ctx);

  /** Another organisation's client, or a deleted one, does not exist for the caller. */
  async function clientOf(req: Request, options: { includeDeleted?: boolean } = {}): Promise<string> {
    const account = accountOf(req);
    const clientId = String(req.params.clientId);
    const owned = await ownedClient(database.rm, account.organisationId, clientId, options);
    if (!owned) throw notFound(`client ${clientId}`);
    return clientId;
  }

  /** The client a command names; whether the caller may touch it is decided with the command. */
  const targetOf = (req: Request): string => String(req.params.clientId);

  async function activePlan(account: Account): Promise<{ plan: PlanName; limits: PlanLimits }> {
    const organisation = await database.rm
      .selectFrom('organisations')
      .select(['plan', 'plan_status'])
      .where('organisation_id', '=', account.organisationId)
      .executeTakeFirst();
    if (!organisation?.plan || organisation.plan_status !== 'active') {
      throw new ApiError(403, 'plan_inactive', 'No active plan', 'activate a plan (starter, pro or business) before creating clients, domains or secrets');
    }
    const plan = organisation.plan as PlanName;
    return { plan, limits: PLAN_LIMITS[plan] };
  }

  /** Runs one client command and answers once the read models reached it. */
  async function execute(req: Request, clientId: string, command: ClientCommand) {
    const account = accountOf(req);
    try {
      const outcome = await handleRequestCommand(
        commands,
        req,
        { stream: clientStream(clientId), aggregate: clientAggregate },
        { type: command.type, actor: String(account.sub), at: ctx.now() },
        (state) => {
          // Ownership from the client's own events: another organisation's client, or a deleted
          // one, does not exist for the caller (and no read-model query is needed to say so).
          if (command.type !== 'RegisterClient' && (!state || state.organisationId !== account.organisationId || state.status === 'deleted')) {
            throw notFound(`client ${clientId}`);
          }
          return decide(command, state);
        },
      );
      return { events: outcome.events, ...(await settle(ctx, outcome.append?.position)) };
    } catch (error) {
      if (error instanceof ClientDomainError) throw new ApiError(STATUS_BY_KIND[error.kind], error.code, error.title, error.message);
      throw error;
    }
  }

  const nowIso = () => ctx.now().toISOString();

  router.get('/clients', guard(access.member('read', 'Client')), async (req, res) => {
    const account = accountOf(req);
    res.json({ clients: await listClients(database.rm, account.organisationId) });
  });

  router.post('/clients', guard(access.member('manage', 'Client')), async (req, res) => {
    const account = accountOf(req);
    const { name } = parseInput(nameBody, req.body);
    const clientId = clientIdFor(account.organisationId, requestIdOf(req));
    // The organisation's stream decides the plan and the client count (see quota.ts).
    const reserved = await reserveClientSlot(ctx, req, String(account.sub), account.organisationId, clientId);
    const secretId = newSecretId();
    const secret = generateSecret();
    let result;
    try {
      result = await execute(req, clientId, {
        type: 'RegisterClient',
        clientId,
        organisationId: account.organisationId,
        name,
        secretId,
        secretHash: secret.secretHash,
        hint: secret.hint,
        now: nowIso(),
      });
    } catch (error) {
      // Give back the slot this request took, unless the client got registered after all.
      if (reserved) {
        await abandonClientSlot(ctx, metadataFor(req, String(account.sub), ctx.now()), account.organisationId, clientId, 'failed').catch((failure: unknown) =>
          ctx.logger.warn({ err: failure, clientId }, 'could not give back the client slot of a failed create; the next create at the limit will'),
        );
      }
      throw error;
    }
    res.status(201).json({
      clientId,
      name,
      status: 'active',
      secret: { secretId, secret: secret.secret, hint: secret.hint, label: 'Standard Key' },
      position: result.position,
    });
  });

  router.get('/clients/:clientId', guard(access.member('read', 'Client')), async (req, res) => {
    res.json(await clientDetails(database.rm, await clientOf(req), database.db));
  });

  router.patch('/clients/:clientId', guard(access.member('manage', 'Client')), async (req, res) => {
    const clientId = targetOf(req);
    const { name } = parseInput(nameBody, req.body);
    const result = await execute(req, clientId, { type: 'RenameClient', name, now: nowIso() });
    res.json({ clientId, name, position: result.position });
  });

  router.delete('/clients/:clientId', guard(access.member('delete', 'Client')), async (req, res) => {
    const account = accountOf(req);
    const clientId = targetOf(req);
    const result = await execute(req, clientId, { type: 'DeleteClient', now: nowIso() });
    await voidOpenSignInTokens(database.db, clientId);
    // The client is gone whatever happens next; a release lost here is made by the next create at the limit.
    await releaseClientSlot(ctx, metadataFor(req, String(account.sub), ctx.now()), account.organisationId, clientId, 'deleted').catch((failure: unknown) =>
      ctx.logger.warn({ err: failure, clientId }, 'could not give back the slot of a deleted client'),
    );
    res.json({ clientId, status: 'deleted', position: result.position });
  });

  for (const [path, type, status] of [
    ['disable', 'DisableClient', 'disabled'],
    ['enable', 'EnableClient', 'active'],
  ] as const) {
    router.post(`/clients/:clientId/${path}`, guard(access.member('manage', 'Client')), async (req, res) => {
      const clientId = targetOf(req);
      const result = await execute(req, clientId, { type, now: nowIso() });
      if (type === 'DisableClient') await voidOpenSignInTokens(database.db, clientId);
      res.json({ clientId, status, position: result.position });
    });
  }

  router.post('/clients/:clientId/secrets', guard(access.member('manage', 'Secret')), async (req, res) => {
    const account = accountOf(req);
    const clientId = targetOf(req);
    const body = parseInput(issueSecretBody, req.body);
    const { plan, limits } = await activePlan(account);
    const secretId = newSecretId();
    const secret = generateSecret();
    const label = body.label ?? 'Standard Key';
    const result = await execute(req, clientId, {
      type: 'IssueSecret',
      secretId,
      label,
      secretHash: secret.secretHash,
      hint: secret.hint,
      expiresAt: body.expiresAt ? new Date(body.expiresAt).toISOString() : null,
      domainIds: body.domains,
      limits,
      plan,
      now: nowIso(),
    });
    const linked = result.events.flatMap((e) => (e.type === 'SecretLinkedToDomain' ? [e.data.domainId] : []));
    res.status(201).json({
      secretId,
      secret: secret.secret,
      hint: secret.hint,
      label,
      expiresAt: body.expiresAt ? new Date(body.expiresAt).toISOString() : null,
      domains: linked,
      position: result.position,
    });
  });

  router.post('/clients/:clientId/secrets/:secretId/rotate', guard(access.member('manage', 'Secret')), async (req, res) => {
    const clientId = targetOf(req);
    const { graceSeconds = 0 } = parseInput(rotateBody, req.body);
    const newId = newSecretId();
    const secret = generateSecret();
    const result = await execute(req, clientId, {
      type: 'RotateSecret',
      secretId: String(req.params.secretId),
      newSecretId: newId,
      secretHash: secret.secretHash,
      hint: secret.hint,
      graceSeconds,
      now: nowIso(),
    });
    const rotated = result.events.find((e) => e.type === 'ClientSecretRotated');
    res.status(201).json({
      secretId: newId,
      secret: secret.secret,
      hint: secret.hint,
      replaces: String(req.params.secretId),
      label: rotated?.type === 'ClientSecretRotated' ? rotated.data.label : undefined,
      graceUntil: rotated?.type === 'ClientSecretRotated' ? rotated.data.graceUntil : null,
      domains: rotated?.type === 'ClientSecretRotated' ? rotated.data.domainIds : [],
      position: result.position,
    });
  });

  router.delete('/clients/:clientId/secrets/:secretId', guard(access.member('manage', 'Secret')), async (req, res) => {
    const clientId = targetOf(req);
    const result = await execute(req, clientId, { type: 'RevokeSecret', secretId: String(req.params.secretId), now: nowIso() });
    res.json({ secretId: req.params.secretId, status: 'revoked', position: result.position });
  });

  for (const [method, type] of [
    ['put', 'LinkSecret'],
    ['delete', 'UnlinkSecret'],
  ] as const) {
    router[method]('/clients/:clientId/domains/:domainId/secrets/:secretId', guard(access.member('manage', 'Secret')), async (req, res) => {
      const clientId = targetOf(req);
      const secretId = String(req.params.secretId);
      const domainId = String(req.params.domainId);
      const result = await execute(req, clientId, { type, secretId, domainId, now: nowIso() });
      res.json({ secretId, domainId, linked: type === 'LinkSecret', position: result.position });
    });
  }

  router.post('/clients/:clientId/redirect-uris', guard(access.member('manage', 'Client')), async (req, res) => {
    const clientId = targetOf(req);
    const { uri } = parseInput(uriBody, req.body);
    const result = await execute(req, clientId, { type: 'AddRedirectUri', uri, now: nowIso() });
    res.status(201).json({ uri, position: result.position });
  });

  router.delete('/clients/:clientId/redirect-uris', guard(access.member('manage', 'Client')), async (req, res) => {
    const clientId = targetOf(req);
    const { uri } = parseInput(uriBody, req.body);
    const result = await execute(req, clientId, { type: 'RemoveRedirectUri', uri, now: nowIso() });
    res.json({ uri, removed: true, position: result.position });
  });

  router.post('/clients/:clientId/domains', guard(access.member('manage', 'Client')), async (req, res) => {
    const account = accountOf(req);
    const clientId = targetOf(req);
    const body = parseInput(addDomainBody, req.body);
    const { plan, limits } = await activePlan(account);
    const domainId = newDomainId();
    const result = await execute(req, clientId, {
      type: 'AddDomain',
      domainId,
      settings: newDomainSettings(body),
      secretIds: body.secrets,
      limits,
      plan,
      now: nowIso(),
    });
    const added = result.events.find((e) => e.type === 'DomainAdded');
    const linked = result.events.flatMap((e) => (e.type === 'SecretLinkedToDomain' ? [e.data.secretId] : []));
    res.status(201).json({ domainId, ...(added?.type === 'DomainAdded' ? added.data : {}), secrets: linked, position: result.position });
  });

  router.patch('/clients/:clientId/domains/:domainId', guard(access.member('manage', 'Client')), async (req, res) => {
    const clientId = targetOf(req);
    const body = parseInput(updateDomainBody, req.body);
    const domainId = String(req.params.domainId);
    const result = await execute(req, clientId, { type: 'UpdateDomain', domainId, changes: body, now: nowIso() });
    res.json({ domainId, changed: result.events.length > 0, position: result.position });
  });

  router.delete('/clients/:clientId/domains/:domainId', guard(access.member('manage', 'Client')), async (req, res) => {
    const clientId = targetOf(req);
    const domainId = String(req.params.domainId);
    const result = await execute(req, clientId, { type: 'RemoveDomain', domainId, now: nowIso() });
    res.json({ domainId, removed: true, position: result.position });
  });

  router.put('/clients/:clientId/scopes', guard(access.member('manage', 'Client')), async (req, res) => {
    const clientId = targetOf(req);
    const { scopes } = parseInput(scopesBody, req.body);
    const result = await execute(req, clientId, { type: 'ChangeScopes', scopes, now: nowIso() });
    res.json({ scopes, position: result.position });
  });

  router.post('/clients/:clientId/test-users', guard(access.member('manage', 'Client')), async (req, res) => {
    const clientId = targetOf(req);
    const { email } = parseInput(testUserBody, req.body);
    const user = await database.db
      .selectFrom('users')
      .select(['sub', 'email', 'name'])
      .where((eb) => eb(eb.fn('lower', [eb.ref('email')]), '=', email.toLowerCase()))
      .executeTakeFirst();
    if (!user) throw new ApiError(404, 'user_not_found', 'Not found', `no account with email ${email}; the test user must register first`);
    const result = await execute(req, clientId, { type: 'AddTestUser', sub: user.sub, now: nowIso() });
    res.status(201).json({ sub: user.sub, email: user.email, name: user.name, position: result.position });
  });

  router.delete('/clients/:clientId/test-users/:sub', guard(access.member('manage', 'Client')), async (req, res) => {
    const clientId = targetOf(req);
    const sub = parseInput(subParam, req.params.sub);
    const result = await execute(req, clientId, { type: 'RemoveTestUser', sub, now: nowIso() });
    res.json({ sub, removed: true, position: result.position });
  });

  router.get('/clients/:clientId/history', guard(access.member('read', 'Client')), async (req, res) => {
    const account = accountOf(req);
    // A deleted client's history stays readable by its organisation.
    const clientId = await clientOf(req, { includeDeleted: true });
    res.json({ clientId, events: await clientHistory(database.rm, clientId, account.organisationId) });
  });

  return router;
}
