import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { Caller, PASSWORD, signUp, uniqueEmail } from './support/http.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('accounts', () => {
  it('when a user registers and logs in, then me shows their own organisation as owner, without a plan', async () => {
    const caller = new Caller(t.url);
    const email = uniqueEmail('ada');
    const registered = await caller.post('/manage/v1/account/register', { email, password: PASSWORD, name: 'Ada' });
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({ email, name: 'Ada' });
    expect(typeof registered.body.sub).toBe('number');

    const login = await caller.post('/manage/v1/account/login', { email, password: PASSWORD });
    expect(login.status).toBe(200);
    const cookie = login.headers.getSetCookie()[0]!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).not.toMatch(/Secure/i); // plain http here

    const me = await caller.get('/manage/v1/account/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ sub: registered.body.sub, email, name: 'Ada', role: 'owner', plan: null });
    expect(me.body.organisation.id).toMatch(/^org_/);

    const logout = await caller.post('/manage/v1/account/logout');
    expect(logout.status).toBe(204);
    expect((await caller.get('/manage/v1/account/me')).status).toBe(401);
  });

  it('when the email is taken (in any case), then register is 409 and nothing is written', async () => {
    const email = uniqueEmail('dup');
    const caller = new Caller(t.url);
    expect((await caller.post('/manage/v1/account/register', { email, password: PASSWORD, name: 'A' })).status).toBe(201);
    const again = await caller.post('/manage/v1/account/register', { email: email.toUpperCase(), password: PASSWORD, name: 'B' });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('email_taken');
  });

  it('when logins keep failing for one email, then further attempts are slowed down with Retry-After', async () => {
    const { email } = await signUp(t.url, { plan: null });
    const caller = new Caller(t.url);
    for (let i = 0; i < 5; i++) {
      const wrong = await caller.post('/manage/v1/account/login', { email, password: 'not the password' });
      expect(wrong.status).toBe(401);
      expect(wrong.body.code).toBe('invalid_credentials');
    }
    const blocked = await caller.post('/manage/v1/account/login', { email, password: PASSWORD });
    expect(blocked.status).toBe(429);
    expect(blocked.body.code).toBe('too_many_attempts');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('when there is no active plan, then creating a client is refused saying so; after activation it works', async () => {
    const { caller } = await signUp(t.url, { plan: null });
    const refused = await caller.post('/manage/v1/clients', { name: 'Shop' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('plan_inactive');
    expect(refused.body.detail).toMatch(/activate a plan/);

    const plan = await caller.post('/manage/v1/account/plan', { plan: 'starter' });
    expect(plan.status).toBe(200);
    expect((await caller.get('/manage/v1/account/me')).body.plan).toMatchObject({ name: 'starter', status: 'active' });
    expect((await caller.post('/manage/v1/clients', { name: 'Shop' })).status).toBe(201);

    const limit = await caller.post('/manage/v1/clients', { name: 'Second shop' });
    expect(limit.status).toBe(403);
    expect(limit.body.code).toBe('plan_limit_clients');
    expect(limit.body.detail).toMatch(/starter plan allows 1 client/);
  });
});

describe('the management flow', () => {
  it('create → domain → secret → redirect URI → rename → history, each visible right after its write', async () => {
    const { caller, sub } = await signUp(t.url);
    const created = await caller.post('/manage/v1/clients', { name: 'Webshop' });
    expect(created.status).toBe(201);
    const { clientId } = created.body;
    expect(clientId).toMatch(/^kc_/);
    expect(created.body.secret.secret).toMatch(/^klsk_/);
    expect(created.body.position).toMatch(/^\d+\/\d+$/);

    const domain = await caller.post(`/manage/v1/clients/${clientId}/domains`, { domain: 'Shop.Example.com', serverIps: ['203.0.113.0/24'] });
    expect(domain.status).toBe(201);
    expect(domain.body.domain).toBe('shop.example.com');
    const { domainId } = domain.body;

    const secret = await caller.post(`/manage/v1/clients/${clientId}/secrets`, { label: 'Production' });
    expect(secret.status).toBe(201);
    expect(secret.body.domains).toEqual([domainId]);

    const uri = 'https://shop.example.com/callback?x=1';
    expect((await caller.post(`/manage/v1/clients/${clientId}/redirect-uris`, { uri })).status).toBe(201);
    expect((await caller.patch(`/manage/v1/clients/${clientId}`, { name: 'Webshop NL' })).status).toBe(200);

    const details = await caller.get(`/manage/v1/clients/${clientId}`);
    expect(details.status).toBe(200);
    expect(details.body).toMatchObject({ clientId, name: 'Webshop NL', status: 'active', redirectUris: [uri] });
    expect(details.body.domains).toHaveLength(1);
    expect(details.body.domains[0]).toMatchObject({ domainId, domain: 'shop.example.com', serverIps: ['203.0.113.0/24'], primary: true });
    const production = details.body.secrets.find((s: { secretId: string }) => s.secretId === secret.body.secretId);
    expect(production).toMatchObject({ label: 'Production', status: 'active', hint: secret.body.hint, domains: [domainId] });
    expect(JSON.stringify(details.body)).not.toContain(secret.body.secret);

    const history = await caller.get(`/manage/v1/clients/${clientId}/history`);
    expect(history.status).toBe(200);
    const types = history.body.events.map((e: { type: string }) => e.type);
    expect(types).toEqual([
      'ClientRegistered',
      'ClientSecretIssued',
      'DomainAdded',
      'SecretLinkedToDomain', // the first secret, linked to the new domain
      'ClientSecretIssued',
      'SecretLinkedToDomain',
      'RedirectUriAdded',
      'ClientRenamed',
    ]);
    for (const e of history.body.events) {
      expect(e.actor).toBe(String(sub));
      expect(Date.parse(e.at)).not.toBeNaN();
      expect(e.data).not.toHaveProperty('secretHash');
    }
    expect(history.body.events[7].data).toEqual({ name: 'Webshop NL', previousName: 'Webshop' });
  });

  it('rotation: the new secret inherits label and links; revoke and delete; a deleted client is 404 but its history stays', async () => {
    const { caller } = await signUp(t.url);
    const { clientId, secret } = (await caller.post('/manage/v1/clients', { name: 'Rotator' })).body;
    const { domainId } = (await caller.post(`/manage/v1/clients/${clientId}/domains`, { domain: 'rotator.example' })).body;
    const before = Date.now();
    const rotated = await caller.post(`/manage/v1/clients/${clientId}/secrets/${secret.secretId}/rotate`, { graceSeconds: 60 });
    const after = Date.now();
    expect(rotated.status).toBe(201);
    expect(rotated.body).toMatchObject({ label: 'Standard Key', domains: [domainId], replaces: secret.secretId });
    expect(rotated.body.secret).not.toBe(secret.secret);

    const details = (await caller.get(`/manage/v1/clients/${clientId}`)).body;
    const old = details.secrets.find((s: { secretId: string }) => s.secretId === secret.secretId);
    expect(old.status).toBe('rotated');
    // 60 s after the moment the rotation was decided, which lies between before and after
    expect(Date.parse(old.graceUntil)).toBeGreaterThanOrEqual(before + 60_000);
    expect(Date.parse(old.graceUntil)).toBeLessThanOrEqual(after + 60_000);

    expect((await caller.delete(`/manage/v1/clients/${clientId}/secrets/${rotated.body.secretId}`)).status).toBe(200);
    const again = await caller.delete(`/manage/v1/clients/${clientId}/secrets/${rotated.body.secretId}`);
    expect(again.status).toBe(409);

    expect((await caller.post(`/manage/v1/clients/${clientId}/disable`)).body.status).toBe('disabled');
    expect((await caller.get(`/manage/v1/clients/${clientId}`)).body.status).toBe('disabled');
    expect((await caller.post(`/manage/v1/clients/${clientId}/enable`)).body.status).toBe('active');
    expect((await caller.delete(`/manage/v1/clients/${clientId}`)).status).toBe(200);
    expect((await caller.get(`/manage/v1/clients/${clientId}`)).status).toBe(404);
    expect((await caller.get('/manage/v1/clients')).body.clients).toEqual([]);
    const history = await caller.get(`/manage/v1/clients/${clientId}/history`);
    expect(history.status).toBe(200);
    expect(history.body.events.at(-1).type).toBe('ClientDeleted');
  });

  it("another organisation's client is 404 for every route, never 403", async () => {
    const owner = await signUp(t.url);
    const other = await signUp(t.url);
    const { clientId, secret } = (await owner.caller.post('/manage/v1/clients', { name: 'Private' })).body;
    const base = `/manage/v1/clients/${clientId}`;
    const attempts = [
      other.caller.get(base),
      other.caller.patch(base, { name: 'Mine now' }),
      other.caller.delete(base),
      other.caller.post(`${base}/disable`),
      other.caller.post(`${base}/secrets`, {}),
      other.caller.post(`${base}/secrets/${secret.secretId}/rotate`, {}),
      other.caller.delete(`${base}/secrets/${secret.secretId}`),
      other.caller.post(`${base}/domains`, { domain: 'evil.example' }),
      other.caller.post(`${base}/redirect-uris`, { uri: 'https://evil.example/cb' }),
      other.caller.put(`${base}/scopes`, { scopes: ['userinfo'] }),
      other.caller.get(`${base}/history`),
    ];
    for (const reply of await Promise.all(attempts)) {
      expect(reply.status).toBe(404);
      expect(reply.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(reply.body.code).toBe('not_found');
    }
    expect((await owner.caller.get(base)).body.name).toBe('Private');
  });

  it('without a session every management route is 401 login_required', async () => {
    const anonymous = new Caller(t.url);
    for (const reply of await Promise.all([anonymous.get('/manage/v1/clients'), anonymous.get('/manage/v1/account/me'), anonymous.post('/manage/v1/clients', { name: 'x' })])) {
      expect(reply.status).toBe(401);
      expect(reply.body.code).toBe('login_required');
    }
  });
});
