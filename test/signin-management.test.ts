import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { Caller, signUp } from './support/http.ts';
import { callApi, partnerHeaders } from './support/partner.ts';
import { hashSignInToken } from '../src/signin/tokens.ts';
import { approvedToken, createEndUser, createPartner, sdkFailure, signedInUser, XwmsLikeClient } from './signin-support.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('GET /manage/v1/clients/:clientId/users', () => {
  it('lists who signed in through the client, with first and last sign-in and the count, most recent first', async () => {
    const partner = await createPartner(t.url);
    const ada = await createEndUser(t.url, 'Ada');
    const bob = await createEndUser(t.url, 'Bob');
    await partner.sdk.verifyToken(await approvedToken(partner, ada));
    await partner.sdk.verifyToken(await approvedToken(partner, bob));
    await partner.sdk.verifyToken(await approvedToken(partner, ada));

    const reply = await partner.owner.get(`/manage/v1/clients/${partner.clientId}/users`);
    expect(reply.status).toBe(200);
    expect(reply.body.clientId).toBe(partner.clientId);
    expect(reply.body.users.map((u: { sub: number; name: string; signInCount: number }) => [u.sub, u.name, u.signInCount])).toEqual([
      [ada.sub, 'Ada', 2],
      [bob.sub, 'Bob', 1],
    ]);
    const [first] = reply.body.users;
    expect(first.email).toBe(ada.email);
    expect(Date.parse(first.lastSignedInAt)).toBeGreaterThan(Date.parse(first.firstSignedInAt));
  });

  it("another organisation's client is 404, a missing session 401, a deleted client 404 (problem+json)", async () => {
    const partner = await createPartner(t.url);
    const { caller: other } = await signUp(t.url);
    const foreign = await other.get(`/manage/v1/clients/${partner.clientId}/users`);
    expect(foreign.status).toBe(404);
    expect(foreign.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(foreign.body).toMatchObject({ status: 404, code: 'not_found' });
    expect((await new Caller(t.url).get(`/manage/v1/clients/${partner.clientId}/users`)).status).toBe(401);
    await partner.owner.delete(`/manage/v1/clients/${partner.clientId}`);
    expect((await partner.owner.get(`/manage/v1/clients/${partner.clientId}/users`)).status).toBe(404);
  });
});

describe('test users (POST / DELETE /manage/v1/clients/:clientId/test-users)', () => {
  it('adds an existing account by email, lists it on the client, and removes it', async () => {
    const partner = await createPartner(t.url);
    const tester = await createEndUser(t.url, 'Tess');
    const added = await partner.owner.post(`/manage/v1/clients/${partner.clientId}/test-users`, { email: tester.email.toUpperCase() });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ sub: tester.sub, email: tester.email, name: 'Tess' });
    expect(added.body.position).toMatch(/^\d+\/\d+$/);
    const client = await partner.owner.get(`/manage/v1/clients/${partner.clientId}`);
    expect(client.body.testUsers.map((u: { sub: number }) => u.sub)).toEqual([tester.sub]);

    const removed = await partner.owner.delete(`/manage/v1/clients/${partner.clientId}/test-users/${tester.sub}`);
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ sub: tester.sub, removed: true });
    expect((await partner.owner.get(`/manage/v1/clients/${partner.clientId}`)).body.testUsers).toEqual([]);
  });

  it('refuses an unknown email (404), a malformed one (400), and another organisation’s client (404)', async () => {
    const partner = await createPartner(t.url);
    const unknown = await partner.owner.post(`/manage/v1/clients/${partner.clientId}/test-users`, { email: 'nobody-here@example.com' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('user_not_found');
    const malformed = await partner.owner.post(`/manage/v1/clients/${partner.clientId}/test-users`, { email: 'not-an-email' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors[0].field).toBe('email');
    const badSub = await partner.owner.delete(`/manage/v1/clients/${partner.clientId}/test-users/abc`);
    expect(badSub.status).toBe(400);

    const tester = await createEndUser(t.url);
    const { caller: other } = await signUp(t.url);
    expect((await other.post(`/manage/v1/clients/${partner.clientId}/test-users`, { email: tester.email })).status).toBe(404);
    expect((await other.delete(`/manage/v1/clients/${partner.clientId}/test-users/${tester.sub}`)).status).toBe(404);
  });
});

describe('cancelling the plan', () => {
  it('makes every client of the organisation answer plan_inactive, on API and sign-in endpoints, and pauses the hosted page', async () => {
    const first = await createPartner(t.url, { name: 'First' });
    const created = await first.owner.post('/manage/v1/clients', { name: 'Second' });
    expect(created.status).toBe(201);
    const secondId: string = created.body.clientId;
    expect((await first.owner.post(`/manage/v1/clients/${secondId}/domains`, { domain: 'second.example.com' })).status).toBe(201);
    const second = { clientId: secondId, secret: created.body.secret.secret as string, domain: 'second.example.com' };
    const pendingUrl = (await first.sdk.authenticateUser()).data.url as string;
    for (const p of [first, second]) expect((await callApi(t.url, '/api/whoami', partnerHeaders(p))).status).toBe(200);

    expect((await first.owner.delete('/manage/v1/account/plan')).status).toBe(200);

    for (const p of [first, second]) {
      const reply = await callApi(t.url, '/api/whoami', partnerHeaders(p));
      expect(reply.status).toBe(403);
      expect(reply.body).toMatchObject({ status: 'error', code: 'plan_inactive' });
    }
    expect((await sdkFailure(first.sdk.authenticateUser())).body.code).toBe('plan_inactive');
    expect((await new Caller('').get(pendingUrl)).status).toBe(403);

    // and back with a new plan
    expect((await first.owner.post('/manage/v1/account/plan', { plan: 'starter' })).status).toBe(200);
    expect((await callApi(t.url, '/api/whoami', partnerHeaders(second))).status).toBe(200);
  });
});

describe('sign-in tokens and a disable written at the same time', () => {
  it('a token issued before the disable, but stored after its tokens were voided, still never verifies', async () => {
    const partner = await createPartner(t.url);
    const user = await signedInUser(t.url, partner);
    const { db } = t.app.ctx.database;
    await partner.owner.post(`/manage/v1/clients/${partner.clientId}/disable`);
    await partner.owner.post(`/manage/v1/clients/${partner.clientId}/enable`);
    // issued one millisecond before the disable, as the audit log records it
    const disabled = await t.app.ctx.database.rm
      .selectFrom('audit_log')
      .select('at')
      .where('client_id', '=', partner.clientId)
      .where('type', '=', 'ClientDisabled')
      .executeTakeFirstOrThrow();
    const issuedAt = new Date(new Date(disabled.at).getTime() - 1);
    // the late insert of a sign-token that raced the disable, already approved
    const token = 'R'.repeat(43);
    await db
      .insertInto('signin_tokens')
      .values({
        token_hash: hashSignInToken(token),
        client_id: partner.clientId,
        domain_id: partner.domainId,
        redirect_url: partner.redirectUri,
        status: 'approved',
        user_sub: user.sub,
        created_at: issuedAt,
        expires_at: new Date(issuedAt.getTime() + 600_000),
        approved_at: new Date(),
      })
      .execute();
    expect((await sdkFailure(partner.sdk.verifyToken(token))).body.code).toBe('invalid_token');
    const row = await db.selectFrom('signin_tokens').select('status').where('token_hash', '=', hashSignInToken(token)).executeTakeFirstOrThrow();
    expect(row.status).toBe('approved');
  });

  it('stores only the SHA-256 of a token', async () => {
    const partner = await createPartner(t.url);
    const { token } = (await partner.sdk.authenticateUser()).data;
    const rows = await t.app.ctx.database.db.selectFrom('signin_tokens').selectAll().where('client_id', '=', partner.clientId).execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(rows[0]).toMatchObject({ token_hash: hashSignInToken(token), status: 'pending', domain_id: partner.domainId, redirect_url: partner.redirectUri });
    expect(rows[0]!.expires_at.getTime() - rows[0]!.created_at.getTime()).toBe(600_000);
  });

  it('is bound to its domain: another domain of the same client cannot redeem it', async () => {
    const partner = await createPartner(t.url);
    const user = await createEndUser(t.url);
    expect((await partner.owner.post(`/manage/v1/clients/${partner.clientId}/domains`, { domain: 'other.example.com' })).status).toBe(201);
    const token = await approvedToken(partner, user);
    const otherDomain = new XwmsLikeClient({ ...partner.sdk.config, domain: 'other.example.com' });
    expect((await sdkFailure(otherDomain.verifyToken(token))).body.code).toBe('invalid_token');
    expect((await partner.sdk.verifyToken(token)).data.sub).toBe(String(user.sub));
  });

  it('when its redirect URI is removed, then the hosted page no longer sends anyone there', async () => {
    const partner = await createPartner(t.url);
    const { url } = (await partner.sdk.authenticateUser()).data;
    expect((await new Caller('').get(url)).status).toBe(200);
    expect((await partner.owner.delete(`/manage/v1/clients/${partner.clientId}/redirect-uris`, { uri: partner.redirectUri })).status).toBe(200);
    const page = await new Caller('').get(url);
    expect(page.status).toBe(403);
    expect(page.text).toContain('This app cannot sign you in right now');
  });

  it('tokens more than a day past expiry are pruned when new ones are issued', async () => {
    const partner = await createPartner(t.url);
    const { db } = t.app.ctx.database;
    const old = new Date(Date.now() - 3 * 86_400_000);
    await db
      .insertInto('signin_tokens')
      .values({ token_hash: 'f'.repeat(64), client_id: partner.clientId, domain_id: partner.domainId, redirect_url: partner.redirectUri, status: 'pending', created_at: old, expires_at: new Date(old.getTime() + 600_000) })
      .execute();
    await partner.sdk.authenticateUser();
    const left = await db.selectFrom('signin_tokens').select('token_hash').where('client_id', '=', partner.clientId).execute();
    expect(left.map((r) => r.token_hash)).not.toContain('f'.repeat(64));
    expect(left).toHaveLength(1);
  });
});
