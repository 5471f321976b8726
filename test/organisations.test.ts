import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { type Caller, signUp, uniqueEmail } from './support/http.ts';
import { invite, join, tokenOf } from './support/members.ts';
import { formPost } from './signin-support.ts';
import { hiddenFields } from './support/forms.ts';
import { organisationStream } from '../src/accounts/events.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

const orgOf = async (caller: Caller) => (await caller.get('/manage/v1/account/me')).body.organisation as { id: string; name: string } | null;


describe('an organisation is created and deleted by its owner', () => {
  it('when the owner deletes an organisation with a client, then it is refused naming the clients; without clients its members lose it at once, its invitations stop working, and the history keeps every step', async () => {
    const owner = await signUp(t.url, { plan: 'pro' });
    const org = (await orgOf(owner.caller))!;
    const admin = await join(t.url, owner.caller, 'admin');
    const viewer = await join(t.url, owner.caller, 'viewer');
    const pending = await invite(owner.caller, uniqueEmail('later'), 'developer');
    const { clientId } = (await owner.caller.post('/manage/v1/clients', { name: 'Live shop' })).body;

    // the admin may not; the owner may not while a client lives
    const byAdmin = await admin.caller.delete(`/manage/v1/organisations/${org.id}`);
    expect(byAdmin.status).toBe(403);
    expect(byAdmin.body.code).toBe('forbidden');
    const withClient = await owner.caller.delete(`/manage/v1/organisations/${org.id}`);
    expect(withClient.status).toBe(409);
    expect(withClient.body.code).toBe('organisation_has_clients');
    expect(withClient.body.detail).toContain('1 client');
    // another organisation's id is not this session's: 404, nothing deleted
    const other = await signUp(t.url, { plan: null });
    const foreign = await other.caller.delete(`/manage/v1/organisations/${org.id}`);
    expect(foreign.status).toBe(404);
    expect((await admin.caller.get('/manage/v1/members')).status).toBe(200);

    expect((await owner.caller.delete(`/manage/v1/clients/${clientId}`)).status).toBe(200);
    const deleted = await owner.caller.delete(`/manage/v1/organisations/${org.id}`);
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.body).toMatchObject({ organisationId: org.id, deleted: true, projected: true });

    // every member lost it at once: no organisation in their sessions, 403 no_organisation on its routes
    for (const member of [owner, admin, viewer]) {
      expect(await orgOf(member.caller)).toBeNull();
      const members = await member.caller.get('/manage/v1/members');
      expect(members.status).toBe(403);
      expect(members.body.code).toBe('no_organisation');
    }
    // the open invitation's link is dead: its page says it was withdrawn, the API that the organisation is gone
    const late = await signUp(t.url, { plan: null });
    const accepted = await late.caller.post('/manage/v1/invitations/accept', { token: tokenOf(pending.url) });
    expect(accepted.status).toBe(404);
    expect(accepted.body.code).toBe('organisation_not_found');
    expect((await late.caller.get(`/invitations/${tokenOf(pending.url)}`)).status).toBe(410);
    // a retried delete finds nothing to delete
    expect((await owner.caller.delete(`/manage/v1/organisations/${org.id}`)).status).toBe(403);

    // the stream keeps what happened, in order, with its author
    const events = await t.app.ctx.store.readStream(organisationStream(org.id), { fromRevision: 0n });
    const tail = events.slice(-6).map((e) => e.type);
    expect(tail).toEqual(['InvitationRevoked', 'MemberRemoved', 'MemberRemoved', 'MemberRemoved', 'PlanCancelled', 'OrganisationDeleted']);
    expect(events.at(-1)!.metadata.actor).toBe(String(owner.sub));
    expect(events.at(-1)!.data).toEqual({ organisationId: org.id, name: org.name });
  });

  it('when a user without an organisation creates one, then they own it, the session acts in it and a plan can be activated; a retry creates one; bad names are refused naming the field', async () => {
    const owner = await signUp(t.url, { plan: null });
    const first = (await orgOf(owner.caller))!;
    expect((await owner.caller.delete(`/manage/v1/organisations/${first.id}`)).status).toBe(200);
    expect(await orgOf(owner.caller)).toBeNull();

    const missing = await owner.caller.post('/manage/v1/organisations', {});
    expect(missing.status).toBe(400);
    expect(missing.text).toContain('name');
    const secretInName = await owner.caller.post('/manage/v1/organisations', { name: `klsk_${'A'.repeat(40)}` });
    expect(secretInName.status).toBe(400);
    expect(secretInName.text).not.toContain('A'.repeat(40));

    const key = { 'x-request-id': crypto.randomUUID() };
    const created = await owner.caller.post('/manage/v1/organisations', { name: 'Second life' }, key);
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ organisation: { name: 'Second life' }, role: 'owner', projected: true });
    const retried = await owner.caller.post('/manage/v1/organisations', { name: 'Second life' }, key);
    expect(retried.status).toBe(409);
    const me = (await owner.caller.get('/manage/v1/account/me')).body;
    expect(me.organisation).toEqual({ id: created.body.organisation.id, name: 'Second life' });
    expect(me.role).toBe('owner');
    expect(me.organisations.map((o: { name: string }) => o.name)).toEqual(['Second life']);
    expect((await owner.caller.post('/manage/v1/account/plan', { plan: 'starter' })).status).toBe(200);
    expect((await owner.caller.post('/manage/v1/clients', { name: 'Fresh start' })).status).toBe(201);
  });
});

describe('the dashboard pages for a new organisation and its deletion', () => {
  it('when a member without an organisation opens the dashboard, then it offers to create one; the form creates it (field errors keep the typed name); the owner deletes it from Members behind a confirmation', async () => {
    const owner = await signUp(t.url, { plan: null });
    const first = (await orgOf(owner.caller))!;
    expect((await owner.caller.delete(`/manage/v1/organisations/${first.id}`)).status).toBe(200);

    const home = await owner.caller.get('/dashboard/members?lang=nl');
    expect(home.status).toBe(403);
    expect(home.text).toContain('href="/dashboard/organisations/new"');

    const page = await owner.caller.get('/dashboard/organisations/new?lang=nl');
    expect(page.status).toBe(200);
    const fields = hiddenFields(page.text, '/dashboard/organisations/new');
    const bad = await formPost(owner.caller, '/dashboard/organisations/new', { ...fields, name: '   ' });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/id="name"[^>]*aria-invalid="true"/);
    const made = await formPost(owner.caller, '/dashboard/organisations/new', { ...fields, name: 'Bakkerij Jansen' });
    expect(made.status, made.text).toBe(303);
    expect(made.headers.get('location')).toBe('/dashboard/plan?done=created');
    // the same form again: one organisation, the same place
    const twice = await formPost(owner.caller, '/dashboard/organisations/new', { ...fields, name: 'Bakkerij Jansen' });
    expect(twice.status).toBe(303);
    const me = (await owner.caller.get('/manage/v1/account/me')).body;
    expect(me.organisations.map((o: { name: string }) => o.name)).toEqual(['Bakkerij Jansen']);

    // Members shows the owner the way out; with a client it says to delete the clients first
    const members = await owner.caller.get('/dashboard/members?lang=en');
    expect(members.text).toContain('href="/dashboard/organisation/delete"');
    expect((await owner.caller.post('/manage/v1/account/plan', { plan: 'starter' })).status).toBe(200);
    const { clientId } = (await owner.caller.post('/manage/v1/clients', { name: 'Oven' })).body;
    const blocked = await owner.caller.get('/dashboard/organisation/delete?lang=en');
    expect(blocked.status).toBe(409);
    expect(blocked.text).toContain('still has 1 clients');
    expect((await owner.caller.delete(`/manage/v1/clients/${clientId}`)).status).toBe(200);

    const confirm = await owner.caller.get('/dashboard/organisation/delete?lang=en');
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain('Bakkerij Jansen will be deleted');
    const forged = await formPost(owner.caller, '/dashboard/organisation/delete', { ...hiddenFields(confirm.text, '/dashboard/organisation/delete'), csrf: 'forged' });
    expect(forged.status).toBe(403);
    expect(await orgOf(owner.caller)).not.toBeNull();
    const gone = await formPost(owner.caller, '/dashboard/organisation/delete', hiddenFields(confirm.text, '/dashboard/organisation/delete'));
    expect(gone.status, gone.text).toBe(303);
    expect(gone.headers.get('location')).toBe('/dashboard/organisations/new?done=deleted');
    expect(await orgOf(owner.caller)).toBeNull();

    // a viewer of another organisation gets no delete link and a 403 page
    const boss = await signUp(t.url, { plan: null });
    const viewer = await join(t.url, boss.caller, 'viewer');
    expect((await viewer.caller.get('/dashboard/members')).text).not.toContain('/dashboard/organisation/delete');
    expect((await viewer.caller.get('/dashboard/organisation/delete')).status).toBe(403);
  });
});
