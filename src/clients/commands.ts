import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import type { z } from 'zod';
import type { AppContext } from '../context.ts';
import { ApiError, notFound } from '../http/problem.ts';
import { metadataFor, requestIdOf, settle } from '../http/request.ts';
import { duplicateRequest, handleRequestCommand } from '../http/commands.ts';
import { commandIdFor, entityIdFor, eventIdFor } from '../eventstore/command-handler.ts';
import type { Account } from '../accounts/sessions.ts';
import { PLAN_LIMITS, type PlanLimits, type PlanName } from '../accounts/plans.ts';
import { voidOpenSignInTokens } from '../signin/tokens.ts';
import { clientStream, type ClientEvent, type ClientListing, type DomainSettings, type Scope } from './events.ts';
import { ClientDomainError, decide, type ClientCommand } from './decide.ts';
import { clientAggregate } from './state.ts';
import { generateSecret } from './secret-format.ts';
import { abandonClientSlot, releaseClientSlot, reserveClientSlot } from './quota.ts';
import type { addDomainBody, issueSecretBody, updateDomainBody } from './schemas.ts';

/**
 * The client commands, called alike by `/manage/v1` (src/clients/routes.ts) and the dashboard's
 * forms (src/dashboard/): one copy of every rule. Authorisation is the caller's guard; ownership
 * (another organisation's or a deleted client does not exist) is decided here, from the client's
 * own events.
 */

/** Who runs a command, with which idempotency key (default: the request's X-Request-Id), and optionally on which revision. */
export interface CommandCall {
  readonly req: Request;
  readonly account: Account;
  /** a form's idempotency key: a double submit is stored once */
  readonly key?: string;
  /** the client revision the caller's page showed: a newer client refuses the command (StaleClient) */
  readonly expectedRevision?: bigint;
}

/** The client changed since the caller's page was rendered: nothing was written. */
export class StaleClient extends Error {
  constructor(
    readonly expected: bigint,
    readonly actual: bigint,
  ) {
    super(`the client is at revision ${actual}, the page showed ${expected}`);
    this.name = 'StaleClient';
  }
}

const id = (prefix: string) => `${prefix}_${randomBytes(16).toString('base64url').replace(/[-_]/g, '').slice(0, 20)}`;
/** A create retried with its key targets the same client, so it is stored once. */
export const clientIdFor = (organisationId: string, requestKey: string) => entityIdFor('kc', 20, organisationId, requestKey);

export const STATUS_BY_KIND = { not_found: 404, conflict: 409, invalid: 400, limit: 403 } as const;

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

export function clientCommands(ctx: AppContext) {
  const { database, commands } = ctx;
  const nowIso = () => ctx.now().toISOString();

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
  async function execute(call: CommandCall, clientId: string, command: ClientCommand) {
    const { account } = call;
    try {
      const outcome = await handleRequestCommand(
        commands,
        call.req,
        { stream: clientStream(clientId), aggregate: clientAggregate },
        { type: command.type, actor: String(account.sub), at: ctx.now(), ...(call.key ? { key: call.key } : {}) },
        (state, revision) => {
          // Ownership from the client's own events: another organisation's client, or a deleted
          // one, does not exist for the caller (and no read-model query is needed to say so).
          if (command.type !== 'RegisterClient' && (!state || state.organisationId !== account.organisationId || state.status === 'deleted')) {
            throw notFound(`client ${clientId}`);
          }
          if (call.expectedRevision !== undefined && revision !== call.expectedRevision) throw new StaleClient(call.expectedRevision, revision);
          return decide(command, state);
        },
      );
      return { events: outcome.events as readonly ClientEvent[], ...(await settle(ctx, outcome.append?.position)) };
    } catch (error) {
      if (error instanceof ClientDomainError) throw new ApiError(STATUS_BY_KIND[error.kind], error.code, error.title, error.message);
      // A form submitted twice: the first submit made the client newer than the page; it is a duplicate, not a stale page.
      if (error instanceof StaleClient && call.key && (await appliedSince(clientId, command.type, call.key, error.expected))) throw duplicateRequest();
      throw error;
    }
  }

  /** Whether the command with this key is among the client's events after `revision`. */
  async function appliedSince(clientId: string, type: string, key: string, revision: bigint): Promise<boolean> {
    const stream = clientStream(clientId);
    const first = eventIdFor(commandIdFor(stream, type, key), 0);
    const events = await ctx.store.readStream(stream, { fromRevision: revision + 1n });
    return events.some((e) => e.id === first);
  }

  return {
    activePlan,

    async createClient(call: CommandCall, name: string) {
      const { account, req } = call;
      const clientId = clientIdFor(account.organisationId, call.key ?? requestIdOf(req));
      // The organisation's stream decides the plan and the client count (see quota.ts).
      const reserved = await reserveClientSlot(ctx, req, String(account.sub), account.organisationId, clientId);
      const secretId = id('sec');
      const secret = generateSecret();
      let result;
      try {
        result = await execute(call, clientId, {
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
      return { clientId, name, status: 'active' as const, secret: { secretId, secret: secret.secret, hint: secret.hint, label: 'Standard Key' }, position: result.position };
    },

    async renameClient(call: CommandCall, clientId: string, name: string) {
      return await execute(call, clientId, { type: 'RenameClient', name, now: nowIso() });
    },

    async deleteClient(call: CommandCall, clientId: string) {
      const { account, req } = call;
      const result = await execute(call, clientId, { type: 'DeleteClient', now: nowIso() });
      await voidOpenSignInTokens(database.db, clientId);
      // The client is gone whatever happens next; a release lost here is made by the next create at the limit.
      await releaseClientSlot(ctx, metadataFor(req, String(account.sub), ctx.now()), account.organisationId, clientId, 'deleted').catch((failure: unknown) =>
        ctx.logger.warn({ err: failure, clientId }, 'could not give back the slot of a deleted client'),
      );
      return result;
    },

    /** Disabling voids the client's open sign-in tokens. */
    async setClientEnabled(call: CommandCall, clientId: string, enabled: boolean) {
      const result = await execute(call, clientId, { type: enabled ? 'EnableClient' : 'DisableClient', now: nowIso() });
      if (!enabled) await voidOpenSignInTokens(database.db, clientId);
      return result;
    },

    async issueSecret(call: CommandCall, clientId: string, body: z.infer<typeof issueSecretBody>) {
      const { plan, limits } = await activePlan(call.account);
      const secretId = id('sec');
      const secret = generateSecret();
      const label = body.label ?? 'Standard Key';
      const expiresAt = body.expiresAt ? new Date(body.expiresAt).toISOString() : null;
      const result = await execute(call, clientId, {
        type: 'IssueSecret',
        secretId,
        label,
        secretHash: secret.secretHash,
        hint: secret.hint,
        expiresAt,
        domainIds: body.domains,
        limits,
        plan,
        now: nowIso(),
      });
      const linked = result.events.flatMap((e) => (e.type === 'SecretLinkedToDomain' ? [e.data.domainId] : []));
      return { secretId, secret: secret.secret, hint: secret.hint, label, expiresAt, domains: linked, position: result.position };
    },

    async rotateSecret(call: CommandCall, clientId: string, secretId: string, graceSeconds: number) {
      const newId = id('sec');
      const secret = generateSecret();
      const result = await execute(call, clientId, {
        type: 'RotateSecret',
        secretId,
        newSecretId: newId,
        secretHash: secret.secretHash,
        hint: secret.hint,
        graceSeconds,
        now: nowIso(),
      });
      const rotated = result.events.find((e) => e.type === 'ClientSecretRotated');
      return {
        secretId: newId,
        secret: secret.secret,
        hint: secret.hint,
        replaces: secretId,
        label: rotated?.type === 'ClientSecretRotated' ? rotated.data.label : undefined,
        graceUntil: rotated?.type === 'ClientSecretRotated' ? rotated.data.graceUntil : null,
        domains: rotated?.type === 'ClientSecretRotated' ? rotated.data.domainIds : [],
        position: result.position,
      };
    },

    async revokeSecret(call: CommandCall, clientId: string, secretId: string) {
      return await execute(call, clientId, { type: 'RevokeSecret', secretId, now: nowIso() });
    },

    async linkSecret(call: CommandCall, clientId: string, domainId: string, secretId: string, linked: boolean) {
      return await execute(call, clientId, { type: linked ? 'LinkSecret' : 'UnlinkSecret', secretId, domainId, now: nowIso() });
    },

    async addRedirectUri(call: CommandCall, clientId: string, uri: string) {
      return await execute(call, clientId, { type: 'AddRedirectUri', uri, now: nowIso() });
    },

    async removeRedirectUri(call: CommandCall, clientId: string, uri: string) {
      return await execute(call, clientId, { type: 'RemoveRedirectUri', uri, now: nowIso() });
    },

    async addDomain(call: CommandCall, clientId: string, body: z.infer<typeof addDomainBody>) {
      const { plan, limits } = await activePlan(call.account);
      const domainId = id('dom');
      const result = await execute(call, clientId, {
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
      return { domainId, added: added?.type === 'DomainAdded' ? added.data : undefined, secrets: linked, position: result.position };
    },

    async updateDomain(call: CommandCall, clientId: string, domainId: string, changes: z.infer<typeof updateDomainBody>) {
      return await execute(call, clientId, { type: 'UpdateDomain', domainId, changes, now: nowIso() });
    },

    async removeDomain(call: CommandCall, clientId: string, domainId: string) {
      return await execute(call, clientId, { type: 'RemoveDomain', domainId, now: nowIso() });
    },

    async changeScopes(call: CommandCall, clientId: string, scopes: Scope[]) {
      return await execute(call, clientId, { type: 'ChangeScopes', scopes, now: nowIso() });
    },

    /** The public directory entry (GET /api/global/projects); null takes the client out of it. */
    async changeListing(call: CommandCall, clientId: string, listing: ClientListing | null) {
      return await execute(call, clientId, { type: 'ChangeListing', listing, now: nowIso() });
    },

    /** A test user is an existing account, named by email; 404 `user_not_found` otherwise. */
    async addTestUser(call: CommandCall, clientId: string, email: string) {
      const user = await database.db
        .selectFrom('users')
        .select(['sub', 'email', 'name'])
        .where((eb) => eb(eb.fn('lower', [eb.ref('email')]), '=', email.toLowerCase()))
        .executeTakeFirst();
      if (!user) throw new ApiError(404, 'user_not_found', 'Not found', `no account with email ${email}; the test user must register first`);
      const result = await execute(call, clientId, { type: 'AddTestUser', sub: user.sub, now: nowIso() });
      return { sub: user.sub, email: user.email, name: user.name, position: result.position };
    },

    async removeTestUser(call: CommandCall, clientId: string, sub: number) {
      return await execute(call, clientId, { type: 'RemoveTestUser', sub, now: nowIso() });
    },
  };
}

export type ClientCommands = ReturnType<typeof clientCommands>;
