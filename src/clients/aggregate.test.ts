import { describe, expect, it } from 'vitest';
import { PLAN_LIMITS } from '../accounts/plans.ts';
import type { ClientEvent, DomainSettings } from './events.ts';
import {
  CLIENT_ERROR_KINDS,
  ClientDomainError,
  MAX_GRACE_SECONDS,
  decide,
  type ClientCommand,
  type ClientErrorCode,
} from './decide.ts';
import { evolve, foldClient, initialClientState, linkedDomainIds, type ClientState } from './state.ts';

// ---------------------------------------------------------------------------------------------
// given events, when command, then events
// ---------------------------------------------------------------------------------------------

function given(...history: ClientEvent[]) {
  const state = foldClient(history);
  return {
    when(command: ClientCommand) {
      return {
        then(expected: ClientEvent[]): void {
          expect(decide(command, state)).toEqual(expected);
        },
        thenThrows(code: ClientErrorCode, messageIncludes?: string): ClientDomainError {
          let caught: unknown;
          try {
            decide(command, state);
          } catch (error) {
            caught = error;
          }
          expect(caught).toBeInstanceOf(ClientDomainError);
          const error = caught as ClientDomainError;
          expect(error.code).toBe(code);
          expect(error.kind).toBe(CLIENT_ERROR_KINDS[code]);
          if (messageIncludes) expect(error.message).toContain(messageIncludes);
          return error;
        },
      };
    },
  };
}

const now = '2025-06-01T12:00:00.000Z';
const starter = { plan: 'starter' as const, limits: PLAN_LIMITS.starter };
const business = { plan: 'business' as const, limits: PLAN_LIMITS.business };

const registered: ClientEvent = { type: 'ClientRegistered', data: { clientId: 'c1', organisationId: 'o1', name: 'Acme' } };
const issued = (secretId: string, extra: Partial<{ label: string; expiresAt: string | null }> = {}): ClientEvent => ({
  type: 'ClientSecretIssued',
  data: { secretId, label: extra.label ?? 'Standard Key', hint: `klsk_…${secretId}`, secretHash: `hash-${secretId}`, expiresAt: extra.expiresAt ?? null },
});
const settings = (domain: string, extra: Partial<DomainSettings> = {}): DomainSettings => ({
  domain,
  serverIps: [],
  internalName: null,
  logo: null,
  fallbackUri: null,
  allowLogin: true,
  allowApi: true,
  active: true,
  primary: false,
  testMode: false,
  ...extra,
});
const domainAdded = (domainId: string, domain: string, extra: Partial<DomainSettings> = {}): ClientEvent => ({
  type: 'DomainAdded',
  data: { domainId, ...settings(domain, extra) },
});
const linked = (secretId: string, domainId: string): ClientEvent => ({ type: 'SecretLinkedToDomain', data: { secretId, domainId } });
const unlinked = (secretId: string, domainId: string): ClientEvent => ({ type: 'SecretUnlinkedFromDomain', data: { secretId, domainId } });
const revoked = (secretId: string): ClientEvent => ({ type: 'ClientSecretRevoked', data: { secretId } });
const domainUpdated = (domainId: string, changes: Partial<DomainSettings>): ClientEvent => ({ type: 'DomainUpdated', data: { domainId, changes } });
const rotated = (secretId: string, newSecretId: string, domainIds: string[] = []): ClientEvent => ({
  type: 'ClientSecretRotated',
  data: { secretId, newSecretId, label: 'Standard Key', hint: 'h', secretHash: `hash-${newSecretId}`, graceSeconds: 0, graceUntil: null, domainIds },
});
const deleted: ClientEvent = { type: 'ClientDeleted', data: {} };
const disabled: ClientEvent = { type: 'ClientDisabled', data: {} };

/** A registered client with its seed secret s1 and the primary domain d1, linked. */
const withDomain: ClientEvent[] = [registered, issued('s1'), domainAdded('d1', 'example.com', { primary: true }), linked('s1', 'd1')];

/** what issue() emits first with defaults */
const issuedS9: ClientEvent = issued('s9');
const issue = (extra: Partial<Extract<ClientCommand, { type: 'IssueSecret' }>> = {}): ClientCommand => ({
  type: 'IssueSecret',
  secretId: 's9',
  secretHash: 'hash-s9',
  hint: 'klsk_…s9',
  now,
  ...starter,
  ...extra,
});
const rotate = (extra: Partial<Extract<ClientCommand, { type: 'RotateSecret' }>> = {}): ClientCommand => ({
  type: 'RotateSecret',
  secretId: 's1',
  newSecretId: 's2',
  secretHash: 'hash-s2',
  hint: 'klsk_…s2',
  now,
  ...extra,
});
const addDomain = (domainId: string, domain: string, extra: Partial<DomainSettings> = {}, secretIds?: string[]): ClientCommand => ({
  type: 'AddDomain',
  domainId,
  settings: settings(domain, extra),
  secretIds,
  now,
  ...starter,
});

// ---------------------------------------------------------------------------------------------

describe('RegisterClient', () => {
  const register: ClientCommand = { type: 'RegisterClient', clientId: 'c1', organisationId: 'o1', name: 'Acme', secretId: 's1', secretHash: 'hash-s1', hint: 'klsk_…s1', now };

  it('when a new stream is registered, then the client and its Standard Key secret are created', () => {
    given().when(register).then([
      registered,
      { type: 'ClientSecretIssued', data: { secretId: 's1', label: 'Standard Key', hint: 'klsk_…s1', secretHash: 'hash-s1', expiresAt: null } },
    ]);
  });

  it('when the stream already holds a client, then client_already_exists', () => {
    given(registered).when(register).thenThrows('client_already_exists', 'c1');
  });

  it('when the stream holds a deleted client, then client_already_exists (ids are never reused)', () => {
    given(registered, deleted).when(register).thenThrows('client_already_exists');
  });
});

describe('AbandonRegistration', () => {
  const abandon: ClientCommand = { type: 'AbandonRegistration', clientId: 'c1', organisationId: 'o1', now };
  const abandoned: ClientEvent = { type: 'ClientRegistrationAbandoned', data: { clientId: 'c1', organisationId: 'o1' } };

  it('when the id was never registered, then it is fenced', () => {
    given().when(abandon).then([abandoned]);
  });

  it('when the client registered meanwhile (or was deleted, or fenced already), then nothing', () => {
    given(registered).when(abandon).then([]);
    given(registered, deleted).when(abandon).then([]);
    given(abandoned).when(abandon).then([]);
  });

  it('when a registration wakes up after the fence, then client_already_exists, and nothing else can use the id', () => {
    given(abandoned).when({ type: 'RegisterClient', clientId: 'c1', organisationId: 'o1', name: 'Late', secretId: 's1', secretHash: 'h', hint: 'h', now }).thenThrows('client_already_exists');
    given(abandoned).when({ type: 'RenameClient', name: 'X', now }).thenThrows('client_not_found');
  });
});

describe('any command on a missing or deleted client', () => {
  const commands: ClientCommand[] = [
    { type: 'RenameClient', name: 'X', now },
    issue(),
    rotate(),
    { type: 'RevokeSecret', secretId: 's1', now },
    { type: 'LinkSecret', secretId: 's1', domainId: 'd1', now },
    { type: 'UnlinkSecret', secretId: 's1', domainId: 'd1', now },
    { type: 'AddRedirectUri', uri: 'https://a.example/cb', now },
    { type: 'RemoveRedirectUri', uri: 'https://a.example/cb', now },
    addDomain('d2', 'other.example'),
    { type: 'UpdateDomain', domainId: 'd1', changes: { active: false }, now },
    { type: 'RemoveDomain', domainId: 'd1', now },
    { type: 'ChangeScopes', scopes: ['userinfo'], now },
    { type: 'AddTestUser', sub: 7, now },
    { type: 'RemoveTestUser', sub: 7, now },
    { type: 'DisableClient', now },
    { type: 'EnableClient', now },
    { type: 'DeleteClient', now },
  ];

  it.each(commands.map((command) => [command.type, command] as const))('%s on a missing client → client_not_found', (_, command) => {
    given().when(command).thenThrows('client_not_found');
  });

  it.each(commands.map((command) => [command.type, command] as const))('%s on a deleted client → client_not_found', (_, command) => {
    given(...withDomain, deleted).when(command).thenThrows('client_not_found');
  });
});

describe('RenameClient', () => {
  it('renames, recording the previous name', () => {
    given(registered).when({ type: 'RenameClient', name: 'Acme Ltd', now }).then([{ type: 'ClientRenamed', data: { name: 'Acme Ltd', previousName: 'Acme' } }]);
  });
  it('the same name is a no-op', () => {
    given(registered).when({ type: 'RenameClient', name: 'Acme', now }).then([]);
  });
});

describe('IssueSecret', () => {
  it('defaults the label and links the secret to every current domain', () => {
    given(...withDomain, domainAdded('d2', 'two.example'))
      .when(issue())
      .then([
        issuedS9,
        linked('s9', 'd1'),
        linked('s9', 'd2'),
      ]);
  });

  it('with a label, a future expiry and chosen domains, links only those (duplicates once)', () => {
    given(...withDomain, domainAdded('d2', 'two.example'))
      .when(issue({ label: 'CI', expiresAt: '2025-07-01T00:00:00.000Z', domainIds: ['d2', 'd2'] }))
      .then([
        { type: 'ClientSecretIssued', data: { secretId: 's9', label: 'CI', hint: 'klsk_…s9', secretHash: 'hash-s9', expiresAt: '2025-07-01T00:00:00.000Z' } },
        linked('s9', 'd2'),
      ]);
  });

  it('with an empty domain list, links nothing', () => {
    given(...withDomain).when(issue({ domainIds: [] })).then([issuedS9]);
  });

  it('on a client without domains, only issues', () => {
    given(registered).when(issue()).then([issuedS9]);
  });

  it('refuses an expiry in the past or at this instant', () => {
    given(registered).when(issue({ expiresAt: '2025-01-01T00:00:00.000Z' })).thenThrows('secret_expiry_in_past');
    given(registered).when(issue({ expiresAt: now })).thenThrows('secret_expiry_in_past');
  });

  it('refuses an unknown domain', () => {
    given(...withDomain).when(issue({ domainIds: ['d1', 'nope'] })).thenThrows('domain_not_found', 'nope');
  });

  it('refuses a secret id already used', () => {
    given(registered, issued('s9')).when(issue()).thenThrows('id_already_used');
  });

  it('at the plan limit of active secrets, then plan_limit_secrets naming the limit and the plan', () => {
    const five = ['s1', 's2', 's3', 's4', 's5'].map((id) => issued(id));
    const error = given(registered, ...five).when(issue()).thenThrows('plan_limit_secrets', '5');
    expect(error.message).toContain('starter');
    expect(error.title).toBe('Plan limit reached');
  });

  it('revoked, rotated and expired secrets do not count against the limit', () => {
    given(
      registered,
      ...['s1', 's2', 's3', 's4'].map((id) => issued(id)),
      issued('old', { expiresAt: '2025-02-01T00:00:00.000Z' }),
      issued('s5'),
      revoked('s5'),
      rotated('s4', 's6'),
    )
      .when(issue({ domainIds: [] }))
      .then([issuedS9]);
  });
});

describe('RotateSecret', () => {
  const history = [...withDomain, domainAdded('d2', 'two.example'), domainAdded('d3', 'three.example'), linked('s1', 'd3')];
  const renamed = (label: string): ClientEvent[] => [registered, issued('s1', { label }), domainAdded('d1', 'example.com', { primary: true }), linked('s1', 'd1')];

  it('the new secret inherits the label and the current domain links; no grace → graceUntil null', () => {
    given(...renamed('Production')).when(rotate()).then([
      {
        type: 'ClientSecretRotated',
        data: { secretId: 's1', newSecretId: 's2', label: 'Production', hint: 'klsk_…s2', secretHash: 'hash-s2', graceSeconds: 0, graceUntil: null, domainIds: ['d1'] },
      },
    ]);
  });

  it('inherits exactly the linked domains, in domain order', () => {
    const [event] = decide(rotate(), foldClient(history));
    expect(event?.type === 'ClientSecretRotated' && event.data.domainIds).toEqual(['d1', 'd3']);
  });

  it('a grace period sets graceUntil to now + grace', () => {
    const [event] = decide(rotate({ graceSeconds: 3600 }), foldClient(withDomain));
    expect(event?.type === 'ClientSecretRotated' && event.data).toMatchObject({ graceSeconds: 3600, graceUntil: '2025-06-01T13:00:00.000Z' });
  });

  it('accepts the maximum grace of 30 days and refuses more, negative or fractional grace', () => {
    expect(decide(rotate({ graceSeconds: MAX_GRACE_SECONDS }), foldClient(withDomain))).toHaveLength(1);
    for (const graceSeconds of [MAX_GRACE_SECONDS + 1, -1, 1.5, Number.NaN]) {
      given(...withDomain).when(rotate({ graceSeconds })).thenThrows('grace_period_invalid');
    }
  });

  it('refuses a rotated or revoked secret, and an unknown one', () => {
    given(...withDomain, rotated('s1', 's2')).when(rotate({ newSecretId: 's3' })).thenThrows('secret_not_active', 'rotated');
    given(...withDomain, revoked('s1')).when(rotate()).thenThrows('secret_not_active', 'revoked');
    given(...withDomain).when(rotate({ secretId: 'nope' })).thenThrows('secret_not_found', 'nope');
  });

  it('refuses a new secret id already used', () => {
    given(...withDomain, issued('s2')).when(rotate()).thenThrows('id_already_used');
  });

  it('does not count against the secret limit', () => {
    const five = ['s1', 's2', 's3', 's4', 's5'].map((id) => issued(id));
    expect(decide(rotate({ newSecretId: 's6' }), foldClient([registered, ...five]))).toHaveLength(1);
  });

  it('folds into state: the old secret is rotated and replaced, the new one is active and linked', () => {
    const state = foldClient([...withDomain, ...decide(rotate({ graceSeconds: 60 }), foldClient(withDomain))])!;
    expect(state.secrets.get('s1')).toMatchObject({ status: 'rotated', replacedBy: 's2', graceUntil: '2025-06-01T12:01:00.000Z' });
    expect(state.secrets.get('s2')).toMatchObject({ status: 'active', label: 'Standard Key', expiresAt: null });
    expect(linkedDomainIds(state, 's2')).toEqual(['d1']);
    expect(linkedDomainIds(state, 's1')).toEqual(['d1']);
  });
});

describe('RevokeSecret', () => {
  it('revokes an active secret', () => {
    given(...withDomain).when({ type: 'RevokeSecret', secretId: 's1', now }).then([revoked('s1')]);
  });
  it('revokes a rotated secret (ending its grace period)', () => {
    given(...withDomain, rotated('s1', 's2')).when({ type: 'RevokeSecret', secretId: 's1', now }).then([revoked('s1')]);
  });
  it('refuses an already revoked secret as a conflict', () => {
    const error = given(...withDomain, revoked('s1')).when({ type: 'RevokeSecret', secretId: 's1', now }).thenThrows('secret_already_revoked', 's1');
    expect(error.kind).toBe('conflict');
  });
  it('refuses an unknown secret', () => {
    given(registered).when({ type: 'RevokeSecret', secretId: 'nope', now }).thenThrows('secret_not_found');
  });
});

describe('LinkSecret / UnlinkSecret', () => {
  const history = [...withDomain, domainAdded('d2', 'two.example')];

  it('links a secret to a domain', () => {
    given(...history).when({ type: 'LinkSecret', secretId: 's1', domainId: 'd2', now }).then([linked('s1', 'd2')]);
  });
  it('linking an already linked pair is a no-op', () => {
    given(...history).when({ type: 'LinkSecret', secretId: 's1', domainId: 'd1', now }).then([]);
  });
  it('unlinks a linked pair', () => {
    given(...history).when({ type: 'UnlinkSecret', secretId: 's1', domainId: 'd1', now }).then([unlinked('s1', 'd1')]);
  });
  it('unlinking a pair that is not linked is a no-op', () => {
    given(...history).when({ type: 'UnlinkSecret', secretId: 's1', domainId: 'd2', now }).then([]);
  });
  it('refuses to link a revoked secret', () => {
    given(...history, revoked('s1')).when({ type: 'LinkSecret', secretId: 's1', domainId: 'd2', now }).thenThrows('secret_not_active', 'revoked');
  });
  it('refuses an unknown secret or domain, both ways', () => {
    for (const type of ['LinkSecret', 'UnlinkSecret'] as const) {
      given(...history).when({ type, secretId: 'nope', domainId: 'd1', now }).thenThrows('secret_not_found');
      given(...history).when({ type, secretId: 's1', domainId: 'nope', now }).thenThrows('domain_not_found');
    }
  });
});

describe('redirect URIs', () => {
  const uri = 'https://app.example.com/callback';
  const added: ClientEvent = { type: 'RedirectUriAdded', data: { uri } };

  it('adds a URI', () => {
    given(registered).when({ type: 'AddRedirectUri', uri, now }).then([added]);
  });
  it('refuses the same URI twice', () => {
    given(registered, added).when({ type: 'AddRedirectUri', uri, now }).thenThrows('redirect_uri_exists', uri);
  });
  it('compares exactly: a trailing slash or different case is another URI', () => {
    given(registered, added).when({ type: 'AddRedirectUri', uri: `${uri}/`, now }).then([{ type: 'RedirectUriAdded', data: { uri: `${uri}/` } }]);
    given(registered, added).when({ type: 'AddRedirectUri', uri: uri.toUpperCase(), now }).then([{ type: 'RedirectUriAdded', data: { uri: uri.toUpperCase() } }]);
  });
  it('removes a URI', () => {
    given(registered, added).when({ type: 'RemoveRedirectUri', uri, now }).then([{ type: 'RedirectUriRemoved', data: { uri } }]);
  });
  it('refuses to remove a URI that is not registered', () => {
    given(registered, added).when({ type: 'RemoveRedirectUri', uri: `${uri}/`, now }).thenThrows('redirect_uri_not_found');
  });
});

describe('AddDomain', () => {
  it('the first domain becomes primary and is linked to every active secret (not rotated or revoked ones)', () => {
    given(registered, issued('s1'), issued('s2'), revoked('s2'), issued('s3'), rotated('s3', 's4'))
      .when(addDomain('d1', 'example.com'))
      .then([domainAdded('d1', 'example.com', { primary: true }), linked('s1', 'd1'), linked('s4', 'd1')]);
  });

  it('a later non-primary domain leaves the primary alone', () => {
    given(...withDomain).when(addDomain('d2', 'two.example', { testMode: true })).then([domainAdded('d2', 'two.example', { testMode: true }), linked('s1', 'd2')]);
  });

  it('a new primary domain takes over from the previous one, which is demoted first', () => {
    given(...withDomain)
      .when(addDomain('d2', 'two.example', { primary: true }, []))
      .then([domainUpdated('d1', { primary: false }), domainAdded('d2', 'two.example', { primary: true })]);
  });

  it('links only the chosen secrets when given', () => {
    given(...withDomain, issued('s2')).when(addDomain('d2', 'two.example', {}, ['s2'])).then([domainAdded('d2', 'two.example'), linked('s2', 'd2')]);
  });

  it('refuses chosen secrets that are unknown or revoked', () => {
    given(...withDomain).when(addDomain('d2', 'two.example', {}, ['nope'])).thenThrows('secret_not_found');
    given(...withDomain, revoked('s1')).when(addDomain('d2', 'two.example', {}, ['s1'])).thenThrows('secret_not_active');
  });

  it('refuses the same root domain twice', () => {
    given(...withDomain).when(addDomain('d2', 'example.com')).thenThrows('domain_already_exists', 'example.com');
  });

  it('refuses a domain id already used', () => {
    given(...withDomain).when(addDomain('d1', 'two.example')).thenThrows('id_already_used');
  });

  it('refuses www. of a domain the client has (the same lookup key), naming it and its domainId', () => {
    given(...withDomain).when(addDomain('d2', 'www.example.com')).thenThrows('domain_conflict', 'example.com (domainId d1)');
  });

  it('refuses the bare domain when the client has its www. form', () => {
    given(registered, domainAdded('d1', 'www.shop.example', { primary: true }))
      .when(addDomain('d2', 'shop.example'))
      .thenThrows('domain_conflict', 'www.shop.example (domainId d1)');
  });

  it('compares keys of stored spellings too: letter case, a trailing dot, punycode and Unicode (old streams)', () => {
    const old = (domain: string) => given(registered, domainAdded('d1', domain, { primary: true }));
    old('Shop.Example.').when(addDomain('d2', 'www.shop.example')).thenThrows('domain_conflict', 'Shop.Example. (domainId d1)');
    old('bücher.example').when(addDomain('d2', 'xn--bcher-kva.example')).thenThrows('domain_already_exists', 'domainId d1');
    old('xn--bcher-kva.example').when(addDomain('d2', 'www.xn--bcher-kva.example')).thenThrows('domain_conflict', 'domainId d1');
  });

  it('a subdomain other than www. is another key', () => {
    given(...withDomain).when(addDomain('d2', 'api.example.com', {}, [])).then([domainAdded('d2', 'api.example.com')]);
    given(...withDomain).when(addDomain('d2', 'www.www.example.com', {}, [])).then([domainAdded('d2', 'www.www.example.com')]);
  });

  it('refuses a new domain clashing with either of an old stream’s duplicate pair', () => {
    const duplicates = [registered, domainAdded('d1', 'shop.example', { primary: true }), domainAdded('d2', 'www.shop.example')];
    given(...duplicates).when({ ...addDomain('d3', 'SHOP.example'), ...business }).thenThrows('domain_already_exists', 'shop.example (domainId d1)');
  });

  it('at the plan limit of domains, then plan_limit_domains naming the limit and the plan', () => {
    const error = given(...withDomain, domainAdded('d2', 'two.example')).when(addDomain('d3', 'three.example')).thenThrows('plan_limit_domains', '2');
    expect(error.message).toContain('starter');
  });

  it('says "your plan" when the plan name is not given', () => {
    const command = { ...addDomain('d3', 'three.example'), plan: undefined };
    given(...withDomain, domainAdded('d2', 'two.example')).when(command).thenThrows('plan_limit_domains', 'your plan allows 2');
  });
});

describe('UpdateDomain', () => {
  const history = [...withDomain, domainAdded('d2', 'two.example', { serverIps: ['10.0.0.0/8'] })];
  const update = (domainId: string, changes: Record<string, unknown>): ClientCommand => ({ type: 'UpdateDomain', domainId, changes, now });

  it('records only the fields that change', () => {
    given(...history)
      .when(update('d2', { allowApi: false, allowLogin: true, serverIps: ['10.0.0.0/8', '192.0.2.1'], internalName: undefined }))
      .then([domainUpdated('d2', { allowApi: false, serverIps: ['10.0.0.0/8', '192.0.2.1'] })]);
  });
  it('no change is a no-op', () => {
    given(...history).when(update('d2', { allowApi: true, serverIps: ['10.0.0.0/8'], domain: 'two.example' })).then([]);
  });
  it('renames the domain', () => {
    given(...history).when(update('d2', { domain: 'deux.example' })).then([domainUpdated('d2', { domain: 'deux.example' })]);
  });
  it('refuses renaming to a domain the client already has', () => {
    given(...history).when(update('d2', { domain: 'example.com' })).thenThrows('domain_already_exists', 'example.com');
  });
  it('refuses renaming to the www. form of another domain of the client, naming it and its domainId', () => {
    given(...history).when(update('d2', { domain: 'www.example.com' })).thenThrows('domain_conflict', 'example.com (domainId d1)');
    given(...history).when(update('d1', { domain: 'www.two.example' })).thenThrows('domain_conflict', 'two.example (domainId d2)');
  });
  it('a domain may move between its own bare and www. forms', () => {
    given(...history).when(update('d2', { domain: 'www.two.example' })).then([domainUpdated('d2', { domain: 'www.two.example' })]);
  });
  it('on an old stream holding a duplicate pair, other changes still work and a rename away resolves it', () => {
    const duplicates = [...history, domainAdded('d3', 'www.example.com')];
    given(...duplicates).when(update('d3', { serverIps: ['192.0.2.1'] })).then([domainUpdated('d3', { serverIps: ['192.0.2.1'] })]);
    given(...duplicates).when(update('d3', { domain: 'shop.example.com' })).then([domainUpdated('d3', { domain: 'shop.example.com' })]);
  });
  it('making a domain primary demotes the previous primary first', () => {
    given(...history).when(update('d2', { primary: true, active: false })).then([domainUpdated('d1', { primary: false }), domainUpdated('d2', { primary: true, active: false })]);
  });
  it('refuses un-setting the primary flag of the primary domain', () => {
    given(...history).when(update('d1', { primary: false })).thenThrows('primary_domain_required');
  });
  it('refuses an unknown domain', () => {
    given(...history).when(update('nope', { active: false })).thenThrows('domain_not_found', 'nope');
  });
  it('folds: the new primary is the only primary', () => {
    const state = foldClient([...history, ...decide(update('d2', { primary: true }), foldClient(history))])!;
    expect([...state.domains.values()].filter((d) => d.primary).map((d) => d.domainId)).toEqual(['d2']);
  });
});

describe('RemoveDomain', () => {
  it('unlinks every linked secret, then removes the domain', () => {
    given(...withDomain, domainAdded('d2', 'two.example'), issued('s2'), linked('s2', 'd2'), linked('s1', 'd2'))
      .when({ type: 'RemoveDomain', domainId: 'd2', now })
      .then([unlinked('s1', 'd2'), unlinked('s2', 'd2'), { type: 'DomainRemoved', data: { domainId: 'd2', domain: 'two.example' } }]);
  });
  it('removing the primary domain hands primary to the oldest remaining domain', () => {
    given(...withDomain, domainAdded('d2', 'two.example'), domainAdded('d3', 'three.example'))
      .when({ type: 'RemoveDomain', domainId: 'd1', now })
      .then([unlinked('s1', 'd1'), { type: 'DomainRemoved', data: { domainId: 'd1', domain: 'example.com' } }, domainUpdated('d2', { primary: true })]);
  });
  it('removing the last domain leaves no primary', () => {
    given(...withDomain).when({ type: 'RemoveDomain', domainId: 'd1', now }).then([unlinked('s1', 'd1'), { type: 'DomainRemoved', data: { domainId: 'd1', domain: 'example.com' } }]);
  });
  it('refuses an unknown domain', () => {
    given(...withDomain).when({ type: 'RemoveDomain', domainId: 'nope', now }).thenThrows('domain_not_found');
  });
});

describe('ChangeScopes', () => {
  const changed: ClientEvent = { type: 'ClientScopesChanged', data: { scopes: ['userinfo', 'useraddresses'], previous: [] } };
  it('changes the scopes, in catalogue order', () => {
    given(registered).when({ type: 'ChangeScopes', scopes: ['useraddresses', 'userinfo'], now }).then([changed]);
  });
  it('the same set in another order is a no-op', () => {
    given(registered, changed).when({ type: 'ChangeScopes', scopes: ['useraddresses', 'userinfo'], now }).then([]);
  });
  it('records the previous scopes', () => {
    given(registered, changed).when({ type: 'ChangeScopes', scopes: [], now }).then([{ type: 'ClientScopesChanged', data: { scopes: [], previous: ['userinfo', 'useraddresses'] } }]);
  });
});

describe('ChangeListing', () => {
  const listing = { title: 'Acme', description: 'Tools', categories: ['automation' as const], image: null, directRedirect: false };
  const listed: ClientEvent = { type: 'ClientListingChanged', data: { listing } };
  it('lists a client that has a primary domain; the same listing again is a no-op', () => {
    given(registered, domainAdded('d1', 'acme.example', { primary: true })).when({ type: 'ChangeListing', listing, now }).then([listed]);
    given(registered, domainAdded('d1', 'acme.example', { primary: true }), listed).when({ type: 'ChangeListing', listing: { ...listing }, now }).then([]);
  });
  it('needs a primary domain to link to', () => {
    given(registered).when({ type: 'ChangeListing', listing, now }).thenThrows('primary_domain_required');
  });
  it('unlists; unlisting an unlisted client is a no-op', () => {
    given(registered, domainAdded('d1', 'acme.example', { primary: true }), listed).when({ type: 'ChangeListing', listing: null, now }).then([{ type: 'ClientListingChanged', data: { listing: null } }]);
    given(registered).when({ type: 'ChangeListing', listing: null, now }).then([]);
  });
});

describe('test users', () => {
  const added: ClientEvent = { type: 'TestUserAdded', data: { sub: 42 } };
  it('adds a test user; adding again is a no-op', () => {
    given(registered).when({ type: 'AddTestUser', sub: 42, now }).then([added]);
    given(registered, added).when({ type: 'AddTestUser', sub: 42, now }).then([]);
  });
  it('removes a test user; removing one who is not is test_user_not_found', () => {
    given(registered, added).when({ type: 'RemoveTestUser', sub: 42, now }).then([{ type: 'TestUserRemoved', data: { sub: 42 } }]);
    given(registered).when({ type: 'RemoveTestUser', sub: 42, now }).thenThrows('test_user_not_found', '42');
  });
});

describe('Disable / Enable / Delete', () => {
  it('disables an active client; disabling again is a no-op', () => {
    given(registered).when({ type: 'DisableClient', now }).then([disabled]);
    given(registered, disabled).when({ type: 'DisableClient', now }).then([]);
  });
  it('enables a disabled client; enabling an active one is a no-op', () => {
    given(registered, disabled).when({ type: 'EnableClient', now }).then([{ type: 'ClientEnabled', data: {} }]);
    given(registered).when({ type: 'EnableClient', now }).then([]);
  });
  it('deletes an active or a disabled client', () => {
    given(registered).when({ type: 'DeleteClient', now }).then([deleted]);
    given(registered, disabled).when({ type: 'DeleteClient', now }).then([deleted]);
  });
  it('a disabled client can still be configured', () => {
    given(registered, disabled).when({ type: 'RenameClient', name: 'Other', now }).then([{ type: 'ClientRenamed', data: { name: 'Other', previousName: 'Acme' } }]);
  });
});

describe('evolve', () => {
  it('starts from null and ignores events before registration', () => {
    expect(initialClientState).toBeNull();
    expect(evolve(null, disabled)).toBeNull();
  });

  it('never mutates the state it is given', () => {
    const before = foldClient(withDomain)!;
    const snapshot = structuredClone(before);
    const events: ClientEvent[] = [
      { type: 'ClientRenamed', data: { name: 'B', previousName: 'Acme' } },
      issued('s2'),
      rotated('s1', 's3', ['d1']),
      revoked('s1'),
      linked('s2', 'd1'),
      unlinked('s1', 'd1'),
      { type: 'RedirectUriAdded', data: { uri: 'https://x.example/' } },
      { type: 'RedirectUriRemoved', data: { uri: 'https://x.example/' } },
      domainAdded('d2', 'two.example'),
      domainUpdated('d1', { active: false }),
      { type: 'DomainRemoved', data: { domainId: 'd1', domain: 'example.com' } },
      { type: 'ClientScopesChanged', data: { scopes: ['userinfo'], previous: [] } },
      { type: 'TestUserAdded', data: { sub: 1 } },
      { type: 'TestUserRemoved', data: { sub: 1 } },
      disabled,
      { type: 'ClientEnabled', data: {} },
      deleted,
    ];
    for (const event of events) {
      const after = evolve(before, event);
      expect(after).not.toBe(before);
      expect(before).toEqual(snapshot);
    }
  });

  it('folds a whole history into the expected state', () => {
    const state: ClientState = foldClient([
      ...withDomain,
      { type: 'RedirectUriAdded', data: { uri: 'https://b.example/cb' } },
      { type: 'RedirectUriAdded', data: { uri: 'https://a.example/cb' } },
      { type: 'ClientScopesChanged', data: { scopes: ['userinfo'], previous: [] } },
      { type: 'TestUserAdded', data: { sub: 5 } },
      disabled,
      { type: 'DomainRemoved', data: { domainId: 'd1', domain: 'example.com' } },
    ])!;
    expect(state).toMatchObject({ clientId: 'c1', organisationId: 'o1', name: 'Acme', status: 'disabled', scopes: ['userinfo'] });
    expect(state.redirectUris).toEqual(['https://b.example/cb', 'https://a.example/cb']);
    expect([...state.testUsers]).toEqual([5]);
    expect(state.domains.size).toBe(0);
    expect(state.links.size).toBe(0);
    expect(state.secrets.get('s1')).toEqual({
      secretId: 's1',
      label: 'Standard Key',
      hint: 'klsk_…s1',
      secretHash: 'hash-s1',
      expiresAt: null,
      status: 'active',
      graceUntil: null,
      replacedBy: null,
    });
  });
});

describe('ClientDomainError', () => {
  it('every code has a kind and a title', () => {
    for (const code of Object.keys(CLIENT_ERROR_KINDS) as ClientErrorCode[]) {
      const error = new ClientDomainError(code, 'x');
      expect(['not_found', 'conflict', 'invalid', 'limit']).toContain(error.kind);
      expect(error.title).toBeTruthy();
      expect(error.code).toMatch(/^[a-z]+(_[a-z]+)*$/);
    }
  });
});
