import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { signUp } from './support/http.ts';
import { join } from './support/members.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
}, 120_000);
afterAll(async () => {
  await t?.close();
});

describe('the last owner', () => {
  it('when the only owner tries to leave or be demoted, then 409 last_owner and nothing changes', async () => {
    const owner = await signUp(t.url);
    const leave = await owner.caller.delete(`/manage/v1/members/${owner.sub}`);
    expect(leave.status).toBe(409);
    expect(leave.body.code).toBe('last_owner');
    const demote = await owner.caller.patch(`/manage/v1/members/${owner.sub}`, { role: 'admin' });
    expect(demote.status).toBe(409);
    expect(demote.body.code).toBe('last_owner');
    expect((await owner.caller.get('/manage/v1/members')).body).toEqual([expect.objectContaining({ sub: owner.sub, role: 'owner' })]);
  });

  it('when an admin tries to demote or remove an owner, then 403 forbidden', async () => {
    const owner = await signUp(t.url);
    const admin = await join(t.url, owner.caller, 'admin');
    expect((await admin.caller.patch(`/manage/v1/members/${owner.sub}`, { role: 'viewer' })).body.code).toBe('forbidden');
    expect((await admin.caller.delete(`/manage/v1/members/${owner.sub}`)).body.code).toBe('forbidden');
    expect((await admin.caller.patch(`/manage/v1/members/${admin.sub}`, { role: 'owner' })).body.code).toBe('forbidden');
  });
});

describe('ownership transfer', () => {
  it('when the owner hands over to a developer, then they swap: the developer is owner, the old owner admin, and only the new owner may transfer', async () => {
    const owner = await signUp(t.url);
    const dev = await join(t.url, owner.caller, 'developer');
    const transferred = await owner.caller.post('/manage/v1/members/transfer-ownership', { sub: dev.sub });
    expect(transferred.status, transferred.text).toBe(200);
    expect(transferred.body).toMatchObject({ from: owner.sub, to: dev.sub });
    const roles = Object.fromEntries(((await owner.caller.get('/manage/v1/members')).body as { sub: number; role: string }[]).map((m) => [m.sub, m.role]));
    expect(roles).toEqual({ [owner.sub]: 'admin', [dev.sub]: 'owner' });
    expect((await owner.caller.get('/manage/v1/account/me')).body.role).toBe('admin');

    const back = await owner.caller.post('/manage/v1/members/transfer-ownership', { sub: owner.sub });
    expect(back.status).toBe(403);
    expect(back.body.code).toBe('forbidden');
    // the old owner can leave now; the new one cannot
    expect((await dev.caller.delete(`/manage/v1/members/${dev.sub}`)).body.code).toBe('last_owner');
    expect((await owner.caller.delete(`/manage/v1/members/${owner.sub}`)).status).toBe(200);
  });

  it('when the target is not a member, then 404 member_not_found', async () => {
    const owner = await signUp(t.url);
    const stranger = await signUp(t.url);
    const refused = await owner.caller.post('/manage/v1/members/transfer-ownership', { sub: stranger.sub });
    expect(refused.status).toBe(404);
    expect(refused.body.code).toBe('member_not_found');
  });
});

describe('several organisations', () => {
  it('when a member switches organisation, then clients, members and me follow the session; an organisation they are not in is 404', async () => {
    const acme = await signUp(t.url, { name: 'Acme owner' });
    const acmeClient = (await acme.caller.post('/manage/v1/clients', { name: 'Acme shop' })).body.clientId as string;
    const dev = await join(t.url, acme.caller, 'developer');
    const me = (await dev.caller.get('/manage/v1/account/me')).body;
    const own = me.organisations.find((o: { role: string }) => o.role === 'owner').id as string;
    const joined = me.organisation.id as string;
    expect((await dev.caller.get('/manage/v1/clients')).body.clients.map((c: { clientId: string }) => c.clientId)).toEqual([acmeClient]);

    const switched = await dev.caller.post('/manage/v1/account/organisation', { organisationId: own });
    expect(switched.status, switched.text).toBe(200);
    expect(switched.body).toMatchObject({ organisation: { id: own }, role: 'owner' });
    expect((await dev.caller.get('/manage/v1/clients')).body.clients).toEqual([]);
    expect((await dev.caller.get(`/manage/v1/clients/${acmeClient}`)).status).toBe(404);
    expect((await dev.caller.get('/manage/v1/account/me')).body).toMatchObject({ role: 'owner', organisation: { id: own } });

    const stranger = await signUp(t.url);
    const strangers = (await stranger.caller.get('/manage/v1/account/me')).body.organisation.id as string;
    const refused = await dev.caller.post('/manage/v1/account/organisation', { organisationId: strangers });
    expect(refused.status).toBe(404);
    expect((await dev.caller.post('/manage/v1/account/organisation', { organisationId: 'org_nothing' })).status).toBe(404);

    expect((await dev.caller.post('/manage/v1/account/organisation', { organisationId: joined })).body.role).toBe('developer');
    expect((await dev.caller.get(`/manage/v1/clients/${acmeClient}`)).status).toBe(200);
  });

  it('when a member leaves, then their session acts in their own organisation again and the left one is 404', async () => {
    const owner = await signUp(t.url);
    const client = (await owner.caller.post('/manage/v1/clients', { name: 'Left behind' })).body.clientId as string;
    const viewer = await join(t.url, owner.caller, 'viewer');
    expect((await viewer.caller.get(`/manage/v1/clients/${client}`)).status).toBe(200);
    const left = await viewer.caller.delete(`/manage/v1/members/${viewer.sub}`);
    expect(left.status, left.text).toBe(200);
    expect(left.body).toMatchObject({ left: true });
    expect((await viewer.caller.get(`/manage/v1/clients/${client}`)).status).toBe(404);
    expect((await viewer.caller.get('/manage/v1/account/me')).body.role).toBe('owner');
  });

  it('when a removed member’s session still names that organisation, then 403 no_organisation until another is chosen', async () => {
    const owner = await signUp(t.url);
    const dev = await join(t.url, owner.caller, 'developer');
    const orgId = (await owner.caller.get('/manage/v1/account/me')).body.organisation.id;
    expect((await owner.caller.delete(`/manage/v1/members/${dev.sub}`)).status).toBe(200);
    const after = await dev.caller.get('/manage/v1/clients');
    expect(after.status).toBe(403);
    expect(after.body.code).toBe('no_organisation');
    const me = (await dev.caller.get('/manage/v1/account/me')).body;
    expect(me).toMatchObject({ organisation: null, role: null });
    expect(me.organisations.map((o: { id: string }) => o.id)).not.toContain(orgId);
    expect((await dev.caller.post('/manage/v1/account/organisation', { organisationId: me.organisations[0].id })).status).toBe(200);
    expect((await dev.caller.get('/manage/v1/clients')).status).toBe(200);
  });
});

describe('a viewer', () => {
  it('reads the client, its history and the audit trail but never secret material, and changes nothing (403 forbidden)', async () => {
    const owner = await signUp(t.url);
    const created = (await owner.caller.post('/manage/v1/clients', { name: 'Shop' })).body;
    const issued = (await owner.caller.post(`/manage/v1/clients/${created.clientId}/secrets`, { label: 'Second' })).body;
    const viewer = await join(t.url, owner.caller, 'viewer');
    const reads = await Promise.all(
      [
        `/manage/v1/clients`,
        `/manage/v1/clients/${created.clientId}`,
        `/manage/v1/clients/${created.clientId}/history`,
        `/manage/v1/clients/${created.clientId}/state?at=${new Date().toISOString()}`,
        `/manage/v1/audit`,
        `/manage/v1/audit/export`,
        `/manage/v1/members`,
      ].map((path) => viewer.caller.get(path)),
    );
    for (const read of reads) expect(read.status, read.text).toBe(200);
    const text = reads.map((r) => r.text).join('\n');
    for (const secret of [created.secret.secret, issued.secret]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/secretHash|secret_hash/);

    for (const write of [
      viewer.caller.post(`/manage/v1/clients/${created.clientId}/secrets`, {}),
      viewer.caller.post(`/manage/v1/clients/${created.clientId}/secrets/${issued.secretId}/rotate`, {}),
      viewer.caller.patch(`/manage/v1/clients/${created.clientId}`, { name: 'Mine' }),
      viewer.caller.post('/manage/v1/invitations', { email: 'x@example.com', role: 'viewer' }),
      viewer.caller.post('/manage/v1/account/plan', { plan: 'business' }),
    ]) {
      const refused = await write;
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('forbidden');
      expect(refused.headers.get('content-type')).toContain('application/problem+json');
      expect(refused.text).not.toContain('klsk_');
    }
  });
});
