import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { OrganisationEvent } from '../../src/accounts/events.ts';
import { organisationStream } from '../../src/accounts/events.ts';
import { decideOrganisation, evolveOrganisation, initialOrganisationState, type OrganisationState } from '../../src/accounts/organisation.ts';
import { PLAN_LIMITS, type PlanName } from '../../src/accounts/plans.ts';
import { clientStream, SCOPES, type ClientEvent, type Scope } from '../../src/clients/events.ts';
import { ClientDomainError, decide, type ClientCommand } from '../../src/clients/decide.ts';
import { evolve, type ClientAggregateState, type ClientState } from '../../src/clients/state.ts';
import { generateSecret } from '../../src/clients/secret-format.ts';
import type { EventMetadata } from '../../src/eventstore/port.ts';

/**
 * Random but valid histories of one client and its organisation, made the way the live system
 * makes them: commands decided by the real `decide` functions on the real folded state, with a
 * clock that moves in random steps (0 ms to hours). Every client and organisation event type can
 * occur. Secrets are real (plaintext kept here) so requests can present them.
 */

export const OPS = [
  'rename',
  'issue',
  'issueExpiring',
  'rotate',
  'revoke',
  'link',
  'unlink',
  'addUri',
  'removeUri',
  'addDomain',
  'updateDomain',
  'removeDomain',
  'scopes',
  'addTestUser',
  'removeTestUser',
  'disable',
  'enable',
  'delete',
  'activatePlan',
  'cancelPlan',
  'memberAdded',
  'memberRoleChanged',
  'memberRemoved',
  'other',
] as const;
/**
 * `listing` (the public directory) changes no access decision: it is left out of the random
 * steps, so the seeded histories other tests rely on stay as they were, and is used by name where
 * every event type must occur.
 */
export type Op = (typeof OPS)[number] | 'listing';

export interface Step {
  readonly op: Op;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly flags: number;
  /** ms the clock moves before the step */
  readonly delta: number;
}

const WEIGHTS: Partial<Record<Op, number>> = { delete: 1, addTestUser: 3, removeTestUser: 3, updateDomain: 8, addDomain: 5, link: 5, unlink: 5, rotate: 5, issue: 4, issueExpiring: 4, scopes: 4, cancelPlan: 2, activatePlan: 4 };

export const stepArbitrary: fc.Arbitrary<Step> = fc.record({
  op: fc.oneof(...OPS.map((op) => ({ arbitrary: fc.constant(op), weight: WEIGHTS[op] ?? 2 }))),
  a: fc.nat(1_000),
  b: fc.nat(1_000),
  c: fc.nat(1_000),
  flags: fc.nat(255),
  delta: fc.oneof(
    { arbitrary: fc.constant(0), weight: 2 },
    { arbitrary: fc.integer({ min: 1, max: 2_000 }), weight: 3 },
    { arbitrary: fc.integer({ min: 1_000, max: 3_600_000 }), weight: 3 },
    { arbitrary: fc.integer({ min: 3_600_000, max: 3 * 86_400_000 }), weight: 1 },
  ),
});

export const DOMAIN_POOL = ['shop.example', 'www.shop.example', 'api.example', 'b.example', 'localhost'] as const;
export const IP_LISTS: readonly (readonly string[])[] = [[], ['10.0.0.0/8'], ['203.0.113.7'], ['2001:db8::/32', '10.1.2.3'], ['127.0.0.0/8'], ['198.51.100.0/24', '::1']];
export const NAMES = ['Webshop', 'Shop', 'Backoffice', 'Webshop 2'];
export const URIS = ['https://shop.example/cb', 'https://api.example/auth', 'http://localhost/cb'];

export interface AppendBatch {
  readonly stream: string;
  readonly events: { type: string; data: unknown }[];
  readonly metadata: EventMetadata;
}

export interface IssuedSecret {
  readonly secretId: string;
  readonly secret: string;
  readonly secretHash: string;
}

const pick = <T>(list: readonly T[], n: number): T | undefined => (list.length === 0 ? undefined : list[n % list.length]);
const subset = <T>(list: readonly T[], mask: number): T[] => list.filter((_, i) => (mask >> i) & 1);
const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

export class HistoryBuilder {
  readonly clientId = id('kc');
  readonly otherClientId = id('kc');
  readonly organisationId: string;
  client: ClientAggregateState = null;
  other: ClientAggregateState = null;
  organisation: OrganisationState = initialOrganisationState;
  readonly secrets: IssuedSecret[] = [];
  readonly domainIds: string[] = [];
  readonly domainNames = new Set<string>();
  readonly types = new Set<string>();
  private members = new Map<number, 'owner' | 'admin' | 'developer' | 'viewer'>([[1, 'owner']]);

  /** `organisation`: an existing organisation to add the client to (its state as folded) */
  constructor(
    public clock: number,
    private readonly actor: (step: number) => string = () => '1',
    organisation?: { organisationId: string; state: OrganisationState },
  ) {
    this.organisationId = organisation?.organisationId ?? id('org');
    if (organisation) this.organisation = organisation.state;
  }

  private count = 0;
  private meta(): EventMetadata {
    const requestId = randomUUID();
    return { actor: this.actor(this.count++), correlationId: requestId, causationId: requestId, requestId, ip: '127.0.0.1', userAgent: 'histories', at: new Date(this.clock).toISOString() };
  }

  private org(events: OrganisationEvent[]): AppendBatch[] {
    for (const e of events) {
      this.organisation = evolveOrganisation(this.organisation, e);
      this.types.add(e.type);
    }
    return events.length === 0 ? [] : [{ stream: organisationStream(this.organisationId), events, metadata: this.meta() }];
  }

  private run(command: ClientCommand, target: 'client' | 'other' = 'client'): AppendBatch[] {
    let events: ClientEvent[];
    try {
      events = decide(command, target === 'client' ? this.client : this.other);
    } catch (error) {
      if (error instanceof ClientDomainError) return [];
      throw error;
    }
    for (const e of events) {
      if (target === 'client') {
        this.client = evolve(this.client, e);
        this.types.add(e.type);
        if (e.type === 'DomainAdded') {
          this.domainIds.push(e.data.domainId);
          this.domainNames.add(e.data.domain);
        }
      } else this.other = evolve(this.other, e);
    }
    if (events.length === 0) return [];
    return [{ stream: clientStream(target === 'client' ? this.clientId : this.otherClientId), events, metadata: this.meta() }];
  }

  private newSecret(): { secretId: string; secretHash: string; hint: string } {
    const generated = generateSecret();
    const secretId = id('sec');
    this.secrets.push({ secretId, secret: generated.secret, secretHash: generated.secretHash });
    return { secretId, secretHash: generated.secretHash, hint: generated.hint };
  }

  /** The organisation (unless it exists) with an active plan, the client, and a neighbour in the same organisation. */
  start(plan: PlanName = 'business'): AppendBatch[] {
    const now = new Date(this.clock).toISOString();
    const first = this.newSecret();
    const otherSecret = generateSecret();
    return [
      // an organisation given as existing (bench:explain: the signed-up user's) is not created again
      ...(this.organisation.exists ? [] : this.org(decideOrganisation({ type: 'CreateOrganisation', organisationId: this.organisationId, name: 'Org', ownerSub: 1 }, this.organisation))),
      ...this.org(decideOrganisation({ type: 'ActivatePlan', plan }, this.organisation)),
      ...this.run({ type: 'RegisterClient', clientId: this.clientId, organisationId: this.organisationId, name: 'Webshop', ...first, now }),
      ...this.run(
        { type: 'RegisterClient', clientId: this.otherClientId, organisationId: this.organisationId, name: 'Neighbour', secretId: id('sec'), secretHash: otherSecret.secretHash, hint: otherSecret.hint, now },
        'other',
      ),
    ];
  }

  get state(): ClientState | null {
    return this.client;
  }

  /** One step: the clock moves, then the command (if it applies) is decided. */
  apply(step: Step): AppendBatch[] {
    this.clock += step.delta;
    const now = new Date(this.clock).toISOString();
    const limits = PLAN_LIMITS.business;
    const state = this.client;
    const secretIds = state ? [...state.secrets.keys()] : [];
    const domainIds = state ? [...state.domains.keys()] : [];
    const secretId = pick(secretIds, step.a);
    const domainId = pick(domainIds, step.b);
    const flag = (bit: number) => ((step.flags >> bit) & 1) === 1;
    switch (step.op) {
      case 'rename':
        return this.run({ type: 'RenameClient', name: pick(NAMES, step.a)!, now });
      case 'issue':
      case 'issueExpiring': {
        const expiresAt = step.op === 'issueExpiring' ? new Date(this.clock + 1 + step.c * 7_919).toISOString() : null;
        const domains = flag(0) ? subset(domainIds, step.b) : undefined;
        return this.run({ type: 'IssueSecret', ...this.newSecret(), label: flag(1) ? 'Production' : undefined, expiresAt, domainIds: domains, limits, now });
      }
      case 'rotate': {
        if (!secretId) return [];
        const graceSeconds = pick([0, 0, 1, 60, 3_600], step.c)!;
        const fresh = this.newSecret();
        return this.run({ type: 'RotateSecret', secretId, newSecretId: fresh.secretId, secretHash: fresh.secretHash, hint: fresh.hint, graceSeconds, now });
      }
      case 'revoke':
        return secretId ? this.run({ type: 'RevokeSecret', secretId, now }) : [];
      case 'link':
      case 'unlink':
        if (!secretId || !domainId) return [];
        return this.run({ type: step.op === 'link' ? 'LinkSecret' : 'UnlinkSecret', secretId, domainId, now });
      case 'addUri':
        return this.run({ type: 'AddRedirectUri', uri: pick(URIS, step.a)!, now });
      case 'removeUri':
        return this.run({ type: 'RemoveRedirectUri', uri: pick(URIS, step.a)!, now });
      case 'addDomain':
        return this.run({
          type: 'AddDomain',
          domainId: id('dom'),
          settings: {
            domain: pick(DOMAIN_POOL, step.a)!,
            serverIps: [...pick(IP_LISTS, step.c)!],
            internalName: null,
            logo: null,
            fallbackUri: null,
            allowLogin: !flag(0) || flag(5),
            allowApi: !flag(1) || flag(6),
            active: !flag(2) || flag(7),
            primary: flag(3),
            testMode: flag(4) && flag(5),
          },
          secretIds: flag(6) ? subset(secretIds, step.b) : undefined,
          limits,
          now,
        });
      case 'updateDomain': {
        if (!domainId) return [];
        const changes: Record<string, unknown> = {};
        switch (step.c % 7) {
          case 0:
            changes.serverIps = [...pick(IP_LISTS, step.a)!];
            break;
          case 1:
            changes.active = flag(0);
            break;
          case 2:
            changes.allowApi = flag(1);
            break;
          case 3:
            changes.allowLogin = flag(2);
            break;
          case 4:
            changes.testMode = flag(3);
            break;
          case 5:
            changes.domain = pick(DOMAIN_POOL, step.a);
            break;
          default:
            changes.primary = true;
        }
        return this.run({ type: 'UpdateDomain', domainId, changes, now });
      }
      case 'removeDomain':
        return domainId ? this.run({ type: 'RemoveDomain', domainId, now }) : [];
      case 'scopes':
        return this.run({ type: 'ChangeScopes', scopes: subset(SCOPES, step.a) as Scope[], now });
      case 'listing': {
        const listing = step.a % 3 === 0 ? null : { title: `App ${step.a % 5}`, description: 'An app', categories: [], image: null, directRedirect: step.a % 2 === 0 };
        return this.run({ type: 'ChangeListing', listing, now });
      }
      case 'addTestUser':
        return this.run({ type: 'AddTestUser', sub: 1 + (step.a % 2), now });
      case 'removeTestUser':
        return this.run({ type: 'RemoveTestUser', sub: 1 + (step.a % 2), now });
      case 'disable':
        return this.run({ type: 'DisableClient', now });
      case 'enable':
        return this.run({ type: 'EnableClient', now });
      case 'delete':
        return this.run({ type: 'DeleteClient', now });
      case 'activatePlan':
        try {
          return this.org(decideOrganisation({ type: 'ActivatePlan', plan: pick(['starter', 'pro', 'business'] as const, step.a)! }, this.organisation));
        } catch {
          return [];
        }
      case 'cancelPlan':
        try {
          return this.org(decideOrganisation({ type: 'CancelPlan' }, this.organisation));
        } catch {
          return [];
        }
      case 'memberAdded': {
        const sub = 2 + (step.a % 4);
        if (this.members.has(sub)) return [];
        this.members.set(sub, 'developer');
        return this.org([{ type: 'MemberAdded', data: { sub, role: 'developer' } }]);
      }
      case 'memberRoleChanged': {
        const sub = pick([...this.members.keys()].filter((s) => s !== 1), step.a);
        if (sub === undefined) return [];
        const previousRole = this.members.get(sub)!;
        const role = previousRole === 'viewer' ? 'admin' : 'viewer';
        this.members.set(sub, role);
        return this.org([{ type: 'MemberRoleChanged', data: { sub, role, previousRole } }]);
      }
      case 'memberRemoved': {
        const sub = pick([...this.members.keys()].filter((s) => s !== 1), step.a);
        if (sub === undefined) return [];
        this.members.delete(sub);
        return this.org([{ type: 'MemberRemoved', data: { sub } }]);
      }
      case 'other':
        return this.run({ type: 'RenameClient', name: pick(NAMES, step.a)!, now }, 'other');
      default: {
        const _exhaustive: never = step.op;
        return _exhaustive;
      }
    }
  }
}
