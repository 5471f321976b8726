import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startTestApp, type TestApp } from './support/app.ts';
import { startTestSmtp, type TestSmtp } from './support/smtp.ts';
import { testClock } from './support/clock.ts';
import { Caller, PASSWORD, signUp, uniqueEmail } from './support/http.ts';
import { invite, tokenOf } from './support/members.ts';

const clock = testClock();
let t: TestApp;
let mailed: TestApp;
let smtp: TestSmtp;
beforeAll(async () => {
  smtp = await startTestSmtp();
  [t, mailed] = await Promise.all([startTestApp({ now: clock.now }), startTestApp({ env: { SMTP_URL: smtp.url } })]);
}, 180_000);
afterAll(async () => {
  await Promise.all([t?.close(), mailed?.close()]);
  await smtp?.close();
});

const members = async (caller: Caller) => (await caller.get('/manage/v1/members')).body as { sub: number; email: string; role: string }[];

describe('invitations with mail', () => {
  it('when an owner invites in Dutch, then the invitee gets a Dutch mail whose link makes them a member with that role', async () => {
    const owner = await signUp(mailed.url, { name: 'Ada' });
    const email = uniqueEmail('dev');
    const created = await invite(owner.caller, email, 'developer', { 'accept-language': 'nl' });
    expect(created).toMatchObject({ mailed: true, invitationId: expect.stringMatching(/^inv_/) });
    expect(Date.parse(created.expiresAt) - Date.now()).toBeGreaterThan(6.9 * 86_400_000);

    const mail = await smtp.waitFor((m) => m.to.includes(email));
    expect(mail.subject).toContain('nodigt je uit');
    expect(mail.headers.get('content-language')).toBe('nl');
    const link = /https?:\/\/\S+\/invitations\/[A-Za-z0-9_-]+/.exec(mail.text)?.[0];
    expect(link).toBe(created.url);

    const dev = await signUp(mailed.url, { email, plan: null });
    const accepted = await dev.caller.post('/manage/v1/invitations/accept', { token: tokenOf(link!) });
    expect(accepted.status, accepted.text).toBe(200);
    expect(accepted.body).toMatchObject({ invitationId: created.invitationId, role: 'developer' });

    // the session now acts in the organisation it joined; the switcher lists both
    const me = (await dev.caller.get('/manage/v1/account/me')).body;
    expect(me.role).toBe('developer');
    expect(me.organisation.id).toBe(accepted.body.organisation.id);
    expect(me.organisations.map((o: { role: string }) => o.role).sort()).toEqual(['developer', 'owner']);
    expect((await members(owner.caller)).map((m) => [m.email, m.role])).toEqual([
      [owner.email, 'owner'],
      [email, 'developer'],
    ]);
    // the pending list no longer has it
    expect((await owner.caller.get('/manage/v1/invitations')).body).toEqual([]);
  });
});

describe('invitations without mail', () => {
  it('when SMTP is not configured, then the url is returned, the log says mail is not configured, and the token is in no event, log or list', async () => {
    const owner = await signUp(t.url);
    const email = uniqueEmail('viewer');
    const created = await invite(owner.caller, email, 'viewer');
    expect(created.mailed).toBe(false);
    expect(created.url).toMatch(/\/invitations\/[A-Za-z0-9_-]{40,}$/);
    const token = tokenOf(created.url);
    expect(t.logs.join('\n')).toContain('mail not configured');

    const listed = await owner.caller.get('/manage/v1/invitations');
    expect(listed.body).toEqual([expect.objectContaining({ invitationId: created.invitationId, email, role: 'viewer' })]);
    expect(listed.text).not.toContain(token);
    const audit = await owner.caller.get('/manage/v1/audit?type=MemberInvited');
    expect(audit.body.entries.length).toBe(1);
    expect(audit.text).not.toMatch(/tokenHash/);

    const client = new pg.Client({ connectionString: t.databaseUrl });
    await client.connect();
    const events = (await client.query("SELECT string_agg(data::text || metadata::text, ' ') AS all FROM events")).rows[0].all as string;
    await client.end();
    expect(events).not.toContain(token);
    expect(t.logs.join('\n')).not.toContain(token);
  });
});

describe('links that do not work', () => {
  it('when a link is used a second time, then invitation_used and nobody else joins', async () => {
    const owner = await signUp(t.url);
    const email = uniqueEmail('twice');
    const { url } = await invite(owner.caller, email, 'developer');
    const invitee = await signUp(t.url, { email, plan: null });
    expect((await invitee.caller.post('/manage/v1/invitations/accept', { token: tokenOf(url) })).status).toBe(200);
    const again = await invitee.caller.post('/manage/v1/invitations/accept', { token: tokenOf(url) });
    expect(again.status).toBe(410);
    expect(again.body.code).toBe('invitation_used');
  });

  it('when a link was revoked, then invitation_revoked and nothing joined', async () => {
    const owner = await signUp(t.url);
    const email = uniqueEmail('revoked');
    const { url, invitationId } = await invite(owner.caller, email, 'developer');
    const revoked = await owner.caller.delete(`/manage/v1/invitations/${invitationId}`);
    expect(revoked.status, revoked.text).toBe(200);
    expect((await owner.caller.delete(`/manage/v1/invitations/${invitationId}`)).body.code).toBe('invitation_not_pending');
    const invitee = await signUp(t.url, { email, plan: null });
    const refused = await invitee.caller.post('/manage/v1/invitations/accept', { token: tokenOf(url) });
    expect(refused.status).toBe(410);
    expect(refused.body.code).toBe('invitation_revoked');
    expect((await members(owner.caller)).length).toBe(1);
  });

  it('when a second invitation goes to the same address, then only the newest link works', async () => {
    const owner = await signUp(t.url);
    const email = uniqueEmail('again');
    const first = await invite(owner.caller, email, 'viewer');
    const second = await invite(owner.caller, email, 'developer');
    const invitee = await signUp(t.url, { email, plan: null });
    expect((await invitee.caller.post('/manage/v1/invitations/accept', { token: tokenOf(first.url) })).body.code).toBe('invitation_revoked');
    const accepted = await invitee.caller.post('/manage/v1/invitations/accept', { token: tokenOf(second.url) });
    expect(accepted.body.role).toBe('developer');
  });

  it('when the link is older than 7 days (the clock moved), then invitation_expired and nothing joined', async () => {
    const owner = await signUp(t.url);
    const email = uniqueEmail('late');
    const { url } = await invite(owner.caller, email, 'developer');
    const invitee = await signUp(t.url, { email, plan: null });
    clock.advance(7 * 86_400_000 + 1_000);
    const refused = await invitee.caller.post('/manage/v1/invitations/accept', { token: tokenOf(url) });
    expect(refused.status).toBe(410);
    expect(refused.body.code).toBe('invitation_expired');
    expect((await members(owner.caller)).length).toBe(1);
    // expired ones are not pending any more
    expect((await owner.caller.get('/manage/v1/invitations')).body).toEqual([]);
  });

  it('when someone with another email opens the link, then invitation_other_email and nothing joined; the invitee still can', async () => {
    const owner = await signUp(t.url);
    const email = uniqueEmail('right');
    const { url } = await invite(owner.caller, email, 'developer');
    const stranger = await signUp(t.url, { plan: null });
    const refused = await stranger.caller.post('/manage/v1/invitations/accept', { token: tokenOf(url) });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('invitation_other_email');
    expect((await members(owner.caller)).length).toBe(1);
    const invitee = await signUp(t.url, { email, plan: null });
    expect((await invitee.caller.post('/manage/v1/invitations/accept', { token: tokenOf(url) })).status).toBe(200);
  });

  it('when the caller is not logged in, then 401; when the token is unknown, then 404 and, tried too often, 429', async () => {
    expect((await new Caller(t.url).post('/manage/v1/invitations/accept', { token: 'x'.repeat(43) })).status).toBe(401);
    const guesser = await signUp(t.url, { plan: null });
    let last;
    for (let i = 0; i < 11; i++) last = await guesser.caller.post('/manage/v1/invitations/accept', { token: `${'g'.repeat(40)}${i}` });
    expect(last!.status).toBe(429);
    expect(last!.body.code).toBe('too_many_attempts');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    const malformed = await guesser.caller.post('/manage/v1/invitations/accept', { token: 'short' });
    expect(malformed.status).toBe(400);
  });

  it('when an owner is invited, or the email is a member already, then refused', async () => {
    const owner = await signUp(t.url);
    const asOwner = await owner.caller.post('/manage/v1/invitations', { email: uniqueEmail(), role: 'owner' });
    expect(asOwner.status).toBe(400);
    const self = await owner.caller.post('/manage/v1/invitations', { email: owner.email.toUpperCase(), role: 'admin' });
    expect(self.status).toBe(409);
    expect(self.body.code).toBe('already_member');
  });
});

describe('writes like every management write', () => {
  it('when an invitation is retried with its X-Request-Id, then it is made once (409 duplicate_request); from another site, 403 and nothing made', async () => {
    const owner = await signUp(t.url);
    const key = { 'x-request-id': `invite-${Date.now()}-0001` };
    const body = { email: uniqueEmail('once'), role: 'viewer' };
    expect((await owner.caller.post('/manage/v1/invitations', body, key)).status).toBe(201);
    const again = await owner.caller.post('/manage/v1/invitations', body, key);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('duplicate_request');
    const forged = await owner.caller.post('/manage/v1/invitations', { email: uniqueEmail('forged'), role: 'admin' }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(forged.status).toBe(403);
    expect(forged.body.code).toBe('cross_origin_request');
    expect((await owner.caller.get('/manage/v1/invitations')).body.map((i: { email: string }) => i.email)).toEqual([body.email]);
  });
});

describe('registering with an invitation', () => {
  it('a user who registers after the invitation joins with the password they chose', async () => {
    const owner = await signUp(t.url);
    const email = uniqueEmail('new');
    const { url } = await invite(owner.caller, email, 'admin');
    const fresh = new Caller(t.url);
    expect((await fresh.post('/manage/v1/account/register', { email, password: PASSWORD, name: 'New' })).status).toBe(201);
    expect((await fresh.post('/manage/v1/account/login', { email, password: PASSWORD })).status).toBe(200);
    expect((await fresh.post('/manage/v1/invitations/accept', { token: tokenOf(url) })).body.role).toBe('admin');
  });
});
