import { randomUUID } from 'node:crypto';
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

const key = () => `key-${randomUUID()}`;
const header = (id: string) => ({ 'x-request-id': id });

async function organisationEvents(caller: Caller): Promise<string[]> {
  const organisationId = (await caller.get('/manage/v1/account/me')).body.organisation.id as string;
  return (await t.app.ctx.store.readStream(`organisation-${organisationId}`)).map((e) => e.type);
}

describe('one X-Request-Id for two different commands', () => {
  it('when a plan is activated and then cancelled with one X-Request-Id, then the cancel is a command of its own and is applied', async () => {
    const { caller } = await signUp(t.url, { plan: null });
    const id = key();
    expect((await caller.request('POST', '/manage/v1/account/plan', { plan: 'pro' }, header(id))).status).toBe(200);
    const cancel = await caller.request('DELETE', '/manage/v1/account/plan', undefined, header(id));
    expect(cancel.status).toBe(200);
    expect(cancel.body.position).not.toBeNull();
    expect((await caller.get('/manage/v1/account/me')).body.plan).toMatchObject({ name: 'pro', status: 'cancelled' });
    expect(await organisationEvents(caller)).toEqual(['OrganisationCreated', 'MemberAdded', 'PlanActivated', 'PlanCancelled']);
  });

  it('when one X-Request-Id activates pro and then business, then the second is 409 duplicate_request and the plan stays pro', async () => {
    const { caller } = await signUp(t.url, { plan: null });
    const id = key();
    expect((await caller.request('POST', '/manage/v1/account/plan', { plan: 'pro' }, header(id))).status).toBe(200);
    const reused = await caller.request('POST', '/manage/v1/account/plan', { plan: 'business' }, header(id));
    expect(reused.status).toBe(409);
    expect(reused.body.code).toBe('duplicate_request');
    expect((await caller.get('/manage/v1/account/me')).body.plan).toMatchObject({ name: 'pro', status: 'active' });
  });

  it('when two people register with one X-Request-Id, then the second is 409 duplicate_request and no account is left for it', async () => {
    const id = key();
    const first = new Caller(t.url);
    const second = new Caller(t.url);
    const firstEmail = uniqueEmail('first');
    const secondEmail = uniqueEmail('second');
    expect((await first.request('POST', '/manage/v1/account/register', { email: firstEmail, password: PASSWORD, name: 'First' }, header(id))).status).toBe(201);
    const reused = await second.request('POST', '/manage/v1/account/register', { email: secondEmail, password: PASSWORD, name: 'Second' }, header(id));
    expect(reused.status).toBe(409);
    expect(reused.body.code).toBe('duplicate_request');

    const users = await t.app.ctx.database.db.selectFrom('users').select('email').where('email', 'in', [firstEmail, secondEmail]).execute();
    expect(users.map((u) => u.email)).toEqual([firstEmail]);
    expect((await second.post('/manage/v1/account/login', { email: secondEmail, password: PASSWORD })).status).toBe(401);
    // with a fresh id the second registration works
    expect((await second.post('/manage/v1/account/register', { email: secondEmail, password: PASSWORD, name: 'Second' })).status).toBe(201);
  });

  it('when one X-Request-Id renames a client and then adds a redirect URI, then both are applied', async () => {
    const { caller } = await signUp(t.url);
    const { clientId } = (await caller.post('/manage/v1/clients', { name: 'Shop' })).body;
    const id = key();
    expect((await caller.request('PATCH', `/manage/v1/clients/${clientId}`, { name: 'Renamed' }, header(id))).status).toBe(200);
    expect((await caller.request('POST', `/manage/v1/clients/${clientId}/redirect-uris`, { uri: 'https://shop.example/cb' }, header(id))).status).toBe(201);
    const details = (await caller.get(`/manage/v1/clients/${clientId}`)).body;
    expect(details).toMatchObject({ name: 'Renamed', redirectUris: ['https://shop.example/cb'] });
  });
});

describe('the same command retried with its X-Request-Id', () => {
  it('when a client create is retried with its X-Request-Id, then one client exists and the retry is 409 duplicate_request', async () => {
    const { caller } = await signUp(t.url, { plan: 'pro' });
    const id = key();
    const first = await caller.request('POST', '/manage/v1/clients', { name: 'Once' }, header(id));
    expect(first.status).toBe(201);
    const retries = await Promise.all(Array.from({ length: 5 }, () => caller.request('POST', '/manage/v1/clients', { name: 'Once' }, header(id))));
    expect(retries.map((r) => r.status)).toEqual(Array(5).fill(409));
    expect(new Set(retries.map((r) => r.body.code))).toEqual(new Set(['duplicate_request']));
    const list = (await caller.get('/manage/v1/clients')).body.clients;
    expect(list.map((c: { clientId: string }) => c.clientId)).toEqual([first.body.clientId]);
  });

  it('when a create retried after its client was deleted, then it is still 409 duplicate_request and creates nothing', async () => {
    const { caller } = await signUp(t.url, { plan: 'starter' });
    const id = key();
    const { clientId } = (await caller.request('POST', '/manage/v1/clients', { name: 'Short-lived' }, header(id))).body;
    await caller.delete(`/manage/v1/clients/${clientId}`);
    const retry = await caller.request('POST', '/manage/v1/clients', { name: 'Short-lived' }, header(id));
    expect(retry.body.code).toBe('duplicate_request');
    expect((await caller.get('/manage/v1/clients')).body.clients).toEqual([]);
    // and the slot it gave back is free
    expect((await caller.post('/manage/v1/clients', { name: 'Next' })).status).toBe(201);
  });

  it('when a plan activation is retried with its X-Request-Id, then it is stored once', async () => {
    const { caller } = await signUp(t.url, { plan: null });
    const id = key();
    const replies = await Promise.all(Array.from({ length: 3 }, () => caller.request('POST', '/manage/v1/account/plan', { plan: 'starter' }, header(id))));
    expect(replies.every((r) => r.status === 200 || r.body.code === 'duplicate_request')).toBe(true);
    expect((await organisationEvents(caller)).filter((type) => type === 'PlanActivated')).toHaveLength(1);
  });

  it('when a rename is retried with its X-Request-Id after another rename, then the retry is 409 and the later name stays', async () => {
    const { caller } = await signUp(t.url);
    const { clientId } = (await caller.post('/manage/v1/clients', { name: 'Start' })).body;
    const id = key();
    expect((await caller.request('PATCH', `/manage/v1/clients/${clientId}`, { name: 'First' }, header(id))).status).toBe(200);
    expect((await caller.patch(`/manage/v1/clients/${clientId}`, { name: 'Second' })).status).toBe(200);
    const retry = await caller.request('PATCH', `/manage/v1/clients/${clientId}`, { name: 'First' }, header(id));
    expect(retry.status).toBe(409);
    expect(retry.body.code).toBe('duplicate_request');
    expect((await caller.get(`/manage/v1/clients/${clientId}`)).body.name).toBe('Second');
  });
});
