import { Router, type Request } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { notFound, parseInput } from '../http/problem.ts';
import { accountOf } from '../accounts/sessions.ts';
import { access, createGuard } from '../accounts/guard.ts';
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
import { listingBody, toListing } from './listing.ts';
import { type CommandCall, clientCommands } from './commands.ts';

export { STATUS_BY_KIND, newDomainSettings } from './commands.ts';

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

/** The management API for clients (DESIGN §8): the commands of ./commands.ts in, read models out. */
export function clientsApi(ctx: AppContext): Router {
  const { database } = ctx;
  const router = Router();
  const guard = createGuard(ctx);
  const run = clientCommands(ctx);

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
  /** An API call's command: keyed by its X-Request-Id. */
  const call = (req: Request): CommandCall => ({ req, account: accountOf(req) });

  router.get('/clients', guard(access.member('read', 'Client')), async (req, res) => {
    const account = accountOf(req);
    res.json({ clients: await listClients(database.rm, account.organisationId) });
  });

  router.post('/clients', guard(access.member('manage', 'Client')), async (req, res) => {
    const { name } = parseInput(nameBody, req.body);
    res.status(201).json(await run.createClient(call(req), name));
  });

  router.get('/clients/:clientId', guard(access.member('read', 'Client')), async (req, res) => {
    res.json(await clientDetails(database.rm, await clientOf(req), database.db));
  });

  router.patch('/clients/:clientId', guard(access.member('manage', 'Client')), async (req, res) => {
    const clientId = targetOf(req);
    const { name } = parseInput(nameBody, req.body);
    const result = await run.renameClient(call(req), clientId, name);
    res.json({ clientId, name, position: result.position });
  });

  router.delete('/clients/:clientId', guard(access.member('delete', 'Client')), async (req, res) => {
    const clientId = targetOf(req);
    const result = await run.deleteClient(call(req), clientId);
    res.json({ clientId, status: 'deleted', position: result.position });
  });

  for (const [path, enabled, status] of [
    ['disable', false, 'disabled'],
    ['enable', true, 'active'],
  ] as const) {
    router.post(`/clients/:clientId/${path}`, guard(access.member('manage', 'Client')), async (req, res) => {
      const clientId = targetOf(req);
      const result = await run.setClientEnabled(call(req), clientId, enabled);
      res.json({ clientId, status, position: result.position });
    });
  }

  router.post('/clients/:clientId/secrets', guard(access.member('manage', 'Secret')), async (req, res) => {
    const body = parseInput(issueSecretBody, req.body);
    res.status(201).json(await run.issueSecret(call(req), targetOf(req), body));
  });

  router.post('/clients/:clientId/secrets/:secretId/rotate', guard(access.member('manage', 'Secret')), async (req, res) => {
    const { graceSeconds = 0 } = parseInput(rotateBody, req.body);
    res.status(201).json(await run.rotateSecret(call(req), targetOf(req), String(req.params.secretId), graceSeconds));
  });

  router.delete('/clients/:clientId/secrets/:secretId', guard(access.member('manage', 'Secret')), async (req, res) => {
    const result = await run.revokeSecret(call(req), targetOf(req), String(req.params.secretId));
    res.json({ secretId: req.params.secretId, status: 'revoked', position: result.position });
  });

  for (const [method, linked] of [
    ['put', true],
    ['delete', false],
  ] as const) {
    router[method]('/clients/:clientId/domains/:domainId/secrets/:secretId', guard(access.member('manage', 'Secret')), async (req, res) => {
      const secretId = String(req.params.secretId);
      const domainId = String(req.params.domainId);
      const result = await run.linkSecret(call(req), targetOf(req), domainId, secretId, linked);
      res.json({ secretId, domainId, linked, position: result.position });
    });
  }

  router.post('/clients/:clientId/redirect-uris', guard(access.member('manage', 'Client')), async (req, res) => {
    const { uri } = parseInput(uriBody, req.body);
    const result = await run.addRedirectUri(call(req), targetOf(req), uri);
    res.status(201).json({ uri, position: result.position });
  });

  router.delete('/clients/:clientId/redirect-uris', guard(access.member('manage', 'Client')), async (req, res) => {
    const { uri } = parseInput(uriBody, req.body);
    const result = await run.removeRedirectUri(call(req), targetOf(req), uri);
    res.json({ uri, removed: true, position: result.position });
  });

  router.post('/clients/:clientId/domains', guard(access.member('manage', 'Client')), async (req, res) => {
    const body = parseInput(addDomainBody, req.body);
    const { domainId, added, secrets, position } = await run.addDomain(call(req), targetOf(req), body);
    res.status(201).json({ domainId, ...(added ?? {}), secrets, position });
  });

  router.patch('/clients/:clientId/domains/:domainId', guard(access.member('manage', 'Client')), async (req, res) => {
    const body = parseInput(updateDomainBody, req.body);
    const domainId = String(req.params.domainId);
    const result = await run.updateDomain(call(req), targetOf(req), domainId, body);
    res.json({ domainId, changed: result.events.length > 0, position: result.position });
  });

  router.delete('/clients/:clientId/domains/:domainId', guard(access.member('manage', 'Client')), async (req, res) => {
    const domainId = String(req.params.domainId);
    const result = await run.removeDomain(call(req), targetOf(req), domainId);
    res.json({ domainId, removed: true, position: result.position });
  });

  router.put('/clients/:clientId/scopes', guard(access.member('manage', 'Client')), async (req, res) => {
    const { scopes } = parseInput(scopesBody, req.body);
    const result = await run.changeScopes(call(req), targetOf(req), scopes);
    res.json({ scopes, position: result.position });
  });

  // The public directory entry (GET /api/global/projects): PUT lists or changes it, DELETE takes it out.
  router.put('/clients/:clientId/listing', guard(access.member('manage', 'Client')), async (req, res) => {
    const listing = toListing(parseInput(listingBody, req.body));
    const result = await run.changeListing(call(req), targetOf(req), listing);
    res.json({ listing, position: result.position });
  });

  router.delete('/clients/:clientId/listing', guard(access.member('manage', 'Client')), async (req, res) => {
    const result = await run.changeListing(call(req), targetOf(req), null);
    res.json({ listing: null, position: result.position });
  });

  router.post('/clients/:clientId/test-users', guard(access.member('manage', 'Client')), async (req, res) => {
    const { email } = parseInput(testUserBody, req.body);
    res.status(201).json(await run.addTestUser(call(req), targetOf(req), email));
  });

  router.delete('/clients/:clientId/test-users/:sub', guard(access.member('manage', 'Client')), async (req, res) => {
    const sub = parseInput(subParam, req.params.sub);
    const result = await run.removeTestUser(call(req), targetOf(req), sub);
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
