import type { Request, Response } from 'express';
import type { AppContext } from '../context.ts';
import { notFound, parseInput } from '../http/problem.ts';
import type { Handlers } from '../http/route-table.ts';
import { accountOf } from '../accounts/sessions.ts';
import { clientDetails, clientHistory, listClients, ownedClient } from './queries.ts';
import { listingBody, toListing } from './listing.ts';
import { type CommandCall, clientCommands } from './commands.ts';
import type { clientRoutes } from './contract.ts';
import { addDomainBody, issueSecretBody, nameBody, rotateBody, scopesBody, subParam, testUserBody, updateDomainBody, uriBody } from './schemas.ts';

export { STATUS_BY_KIND, newDomainSettings } from './commands.ts';
export {
  addDomainBody,
  issueSecretBody,
  nameBody,
  rotateBody,
  safeLabel,
  safeName,
  scopesBody,
  subParam,
  testUserBody,
  updateDomainBody,
  uriBody,
} from './schemas.ts';

/**
 * The management API for clients (DESIGN §8): the commands of ./commands.ts in, read models out.
 * Routes, access requirements and schemas are the contracts of ./contract.ts; the route guard
 * (src/accounts/guard.ts) has run before each handler.
 */
export function clientHandlers(ctx: AppContext): Handlers<typeof clientRoutes> {
  const { database } = ctx;
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

  const setEnabled = (enabled: boolean, status: 'disabled' | 'active') => async (req: Request, res: Response) => {
    const clientId = targetOf(req);
    const result = await run.setClientEnabled(call(req), clientId, enabled);
    res.json({ clientId, status, position: result.position });
  };

  const setLinked = (linked: boolean) => async (req: Request, res: Response) => {
    const secretId = String(req.params.secretId);
    const domainId = String(req.params.domainId);
    const result = await run.linkSecret(call(req), targetOf(req), domainId, secretId, linked);
    res.json({ secretId, domainId, linked, position: result.position });
  };

  return {
    listClients: async (req, res) => {
      const account = accountOf(req);
      res.json({ clients: await listClients(database.rm, account.organisationId) });
    },

    createClient: async (req, res) => {
      const { name } = parseInput(nameBody, req.body);
      res.status(201).json(await run.createClient(call(req), name));
    },

    getClient: async (req, res) => {
      res.json(await clientDetails(database.rm, await clientOf(req), database.db));
    },

    renameClient: async (req, res) => {
      const clientId = targetOf(req);
      const { name } = parseInput(nameBody, req.body);
      const result = await run.renameClient(call(req), clientId, name);
      res.json({ clientId, name, position: result.position });
    },

    deleteClient: async (req, res) => {
      const clientId = targetOf(req);
      const result = await run.deleteClient(call(req), clientId);
      res.json({ clientId, status: 'deleted', position: result.position });
    },

    disableClient: setEnabled(false, 'disabled'),
    enableClient: setEnabled(true, 'active'),

    issueSecret: async (req, res) => {
      const body = parseInput(issueSecretBody, req.body);
      res.status(201).json(await run.issueSecret(call(req), targetOf(req), body));
    },

    rotateSecret: async (req, res) => {
      const { graceSeconds = 0 } = parseInput(rotateBody, req.body);
      res.status(201).json(await run.rotateSecret(call(req), targetOf(req), String(req.params.secretId), graceSeconds));
    },

    revokeSecret: async (req, res) => {
      const result = await run.revokeSecret(call(req), targetOf(req), String(req.params.secretId));
      res.json({ secretId: req.params.secretId, status: 'revoked', position: result.position });
    },

    linkSecret: setLinked(true),
    unlinkSecret: setLinked(false),

    addRedirectUri: async (req, res) => {
      const { uri } = parseInput(uriBody, req.body);
      const result = await run.addRedirectUri(call(req), targetOf(req), uri);
      res.status(201).json({ uri, position: result.position });
    },

    removeRedirectUri: async (req, res) => {
      const { uri } = parseInput(uriBody, req.body);
      const result = await run.removeRedirectUri(call(req), targetOf(req), uri);
      res.json({ uri, removed: true, position: result.position });
    },

    addDomain: async (req, res) => {
      const body = parseInput(addDomainBody, req.body);
      const { domainId, added, secrets, position } = await run.addDomain(call(req), targetOf(req), body);
      res.status(201).json({ domainId, ...(added ?? {}), secrets, position });
    },

    updateDomain: async (req, res) => {
      const body = parseInput(updateDomainBody, req.body);
      const domainId = String(req.params.domainId);
      const result = await run.updateDomain(call(req), targetOf(req), domainId, body);
      res.json({ domainId, changed: result.events.length > 0, position: result.position });
    },

    removeDomain: async (req, res) => {
      const domainId = String(req.params.domainId);
      const result = await run.removeDomain(call(req), targetOf(req), domainId);
      res.json({ domainId, removed: true, position: result.position });
    },

    setScopes: async (req, res) => {
      const { scopes } = parseInput(scopesBody, req.body);
      const result = await run.changeScopes(call(req), targetOf(req), scopes);
      res.json({ scopes, position: result.position });
    },

    // The public directory entry (GET /api/global/projects): PUT lists or changes it, DELETE takes it out.
    setListing: async (req, res) => {
      const listing = toListing(parseInput(listingBody, req.body));
      const result = await run.changeListing(call(req), targetOf(req), listing);
      res.json({ listing, position: result.position });
    },

    removeListing: async (req, res) => {
      const result = await run.changeListing(call(req), targetOf(req), null);
      res.json({ listing: null, position: result.position });
    },

    addTestUser: async (req, res) => {
      const { email } = parseInput(testUserBody, req.body);
      res.status(201).json(await run.addTestUser(call(req), targetOf(req), email));
    },

    removeTestUser: async (req, res) => {
      const sub = parseInput(subParam, req.params.sub);
      const result = await run.removeTestUser(call(req), targetOf(req), sub);
      res.json({ sub, removed: true, position: result.position });
    },

    clientHistory: async (req, res) => {
      const account = accountOf(req);
      // A deleted client's history stays readable by its organisation.
      const clientId = await clientOf(req, { includeDeleted: true });
      res.json({ clientId, events: await clientHistory(database.rm, clientId, account.organisationId) });
    },
  };
}
