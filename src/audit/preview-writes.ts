import { createHash } from 'node:crypto';
import type { ManagementAction, ManagementSubject } from '../accounts/ability.ts';
import type { PlanLimits, PlanName } from '../accounts/plans.ts';
import { planBody } from '../accounts/routes.ts';
import type { ClientCommand } from '../clients/decide.ts';
import {
  addDomainBody,
  issueSecretBody,
  nameBody,
  newDomainSettings,
  rotateBody,
  scopesBody,
  subParam,
  testUserBody,
  updateDomainBody,
  uriBody,
} from '../clients/routes.ts';
import { parseInput } from '../http/problem.ts';

/**
 * The client writes of DESIGN §8 (and the plan, which every client depends on), built into
 * commands exactly as src/clients/routes.ts and src/accounts/routes.ts build them — same schemas,
 * same defaults, same permissions — for the impact preview, which decides them without appending.
 */

export type WriteMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type OrganisationCommand = { type: 'ActivatePlan'; plan: PlanName } | { type: 'CancelPlan' };
export type Built = { readonly stream: 'client'; readonly command: ClientCommand } | { readonly stream: 'organisation'; readonly command: OrganisationCommand };

/** A stand-in for a secret a proposed issue or rotation would create: never a real one. */
const PROPOSED = { secretId: 'sec_proposed', secretHash: createHash('sha256').update('keyledger: a proposed secret').digest('hex'), hint: 'klsk_…(new)' };

export interface WriteContext {
  readonly params: readonly string[];
  readonly body: unknown;
  readonly now: string;
  /** the organisation's plan and its limits; 403 plan_inactive without one (as the real write) */
  limits(): Promise<{ plan: PlanName; limits: PlanLimits }>;
  userByEmail(email: string): Promise<number>;
}

export interface WriteRoute {
  readonly method: WriteMethod;
  readonly path: RegExp;
  /** what the real route authorises; `billing` on the organisation for plan changes */
  readonly action: ManagementAction;
  readonly subject: ManagementSubject;
  build(w: WriteContext): Built | Promise<Built>;
}

const ID = '([A-Za-z0-9_-]{1,100})';
const path = (pattern: string) => new RegExp(`^${pattern.replaceAll(':id', ID)}/?$`);
const onClient = (command: ClientCommand): Built => ({ stream: 'client', command });

export const WRITES: readonly WriteRoute[] = [
  { method: 'PATCH', path: path('/clients/:id'), action: 'manage', subject: 'Client', build: (w) => onClient({ type: 'RenameClient', name: parseInput(nameBody, w.body).name, now: w.now }) },
  { method: 'DELETE', path: path('/clients/:id'), action: 'delete', subject: 'Client', build: (w) => onClient({ type: 'DeleteClient', now: w.now }) },
  { method: 'POST', path: path('/clients/:id/disable'), action: 'manage', subject: 'Client', build: (w) => onClient({ type: 'DisableClient', now: w.now }) },
  { method: 'POST', path: path('/clients/:id/enable'), action: 'manage', subject: 'Client', build: (w) => onClient({ type: 'EnableClient', now: w.now }) },
  {
    method: 'POST',
    path: path('/clients/:id/secrets'),
    action: 'manage',
    subject: 'Secret',
    async build(w) {
      const body = parseInput(issueSecretBody, w.body);
      const { plan, limits } = await w.limits();
      const expiresAt = body.expiresAt ? new Date(body.expiresAt).toISOString() : null;
      return onClient({ type: 'IssueSecret', ...PROPOSED, label: body.label, expiresAt, domainIds: body.domains, limits, plan, now: w.now });
    },
  },
  {
    method: 'POST',
    path: path('/clients/:id/secrets/:id/rotate'),
    action: 'manage',
    subject: 'Secret',
    build(w) {
      const { graceSeconds = 0 } = parseInput(rotateBody, w.body);
      return onClient({ type: 'RotateSecret', secretId: w.params[1]!, newSecretId: PROPOSED.secretId, secretHash: PROPOSED.secretHash, hint: PROPOSED.hint, graceSeconds, now: w.now });
    },
  },
  { method: 'DELETE', path: path('/clients/:id/secrets/:id'), action: 'manage', subject: 'Secret', build: (w) => onClient({ type: 'RevokeSecret', secretId: w.params[1]!, now: w.now }) },
  ...(['PUT', 'DELETE'] as const).map(
    (method): WriteRoute => ({
      method,
      path: path('/clients/:id/domains/:id/secrets/:id'),
      action: 'manage',
      subject: 'Secret',
      build: (w) => onClient({ type: method === 'PUT' ? 'LinkSecret' : 'UnlinkSecret', domainId: w.params[1]!, secretId: w.params[2]!, now: w.now }),
    }),
  ),
  ...(['POST', 'DELETE'] as const).map(
    (method): WriteRoute => ({
      method,
      path: path('/clients/:id/redirect-uris'),
      action: 'manage',
      subject: 'Client',
      build: (w) => onClient({ type: method === 'POST' ? 'AddRedirectUri' : 'RemoveRedirectUri', uri: parseInput(uriBody, w.body).uri, now: w.now }),
    }),
  ),
  {
    method: 'POST',
    path: path('/clients/:id/domains'),
    action: 'manage',
    subject: 'Client',
    async build(w) {
      const body = parseInput(addDomainBody, w.body);
      const { plan, limits } = await w.limits();
      return onClient({ type: 'AddDomain', domainId: 'dom_proposed', settings: newDomainSettings(body), secretIds: body.secrets, limits, plan, now: w.now });
    },
  },
  {
    method: 'PATCH',
    path: path('/clients/:id/domains/:id'),
    action: 'manage',
    subject: 'Client',
    build: (w) => onClient({ type: 'UpdateDomain', domainId: w.params[1]!, changes: parseInput(updateDomainBody, w.body), now: w.now }),
  },
  { method: 'DELETE', path: path('/clients/:id/domains/:id'), action: 'manage', subject: 'Client', build: (w) => onClient({ type: 'RemoveDomain', domainId: w.params[1]!, now: w.now }) },
  { method: 'PUT', path: path('/clients/:id/scopes'), action: 'manage', subject: 'Client', build: (w) => onClient({ type: 'ChangeScopes', scopes: parseInput(scopesBody, w.body).scopes, now: w.now }) },
  {
    method: 'POST',
    path: path('/clients/:id/test-users'),
    action: 'manage',
    subject: 'Client',
    build: async (w) => onClient({ type: 'AddTestUser', sub: await w.userByEmail(parseInput(testUserBody, w.body).email), now: w.now }),
  },
  {
    method: 'DELETE',
    path: path('/clients/:id/test-users/:id'),
    action: 'manage',
    subject: 'Client',
    build: (w) => onClient({ type: 'RemoveTestUser', sub: parseInput(subParam, w.params[1]), now: w.now }),
  },
  // the organisation's plan: every client of it is refused without one
  { method: 'POST', path: path('/account/plan'), action: 'billing', subject: 'Organisation', build: (w) => ({ stream: 'organisation', command: { type: 'ActivatePlan', plan: parseInput(planBody, w.body).plan } }) },
  { method: 'DELETE', path: path('/account/plan'), action: 'billing', subject: 'Organisation', build: () => ({ stream: 'organisation', command: { type: 'CancelPlan' } }) },
];
