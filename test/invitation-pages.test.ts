import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { testClock } from './support/clock.ts';
import { Caller, signUp, uniqueEmail } from './support/http.ts';
import { invite, tokenOf } from './support/members.ts';

const clock = testClock();
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ now: clock.now });
}, 120_000);
afterAll(async () => {
  await t?.close();
});

/** The page's CSRF field, as a browser would send it back (the cookie is in the caller's jar). */
const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
const form = (caller: Caller, path: string, fields: Record<string, string>) =>
  caller.request('POST', path, new URLSearchParams(fields).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
const memberCount = async (owner: Caller) => ((await owner.get('/manage/v1/members')).body as unknown[]).length;

describe('the invitation page', () => {
  it('when the invitee is logged out, the page says who invited whom and links to log in and register, coming back here', async () => {
    const owner = await signUp(t.url, { name: 'Ada' });
    const email = uniqueEmail('page');
    const { url } = await invite(owner.caller, email, 'developer');
    const path = new URL(url).pathname;
    const page = await new Caller(t.url).get(path, { 'accept-language': 'nl' });
    expect(page.status).toBe(200);
    expect(page.text).toContain(email);
    expect(page.text).toContain(`/dashboard/register?next=${encodeURIComponent(path)}`);
    expect(page.text).toContain('Ontwikkelaar');
    // the token never reaches the log (the path is logged without it)
    expect(t.logs.join('\n')).not.toContain(tokenOf(url));
  });

  it('when the invitee joins with the page, then they are a member; a forged form (no CSRF token) joins nothing', async () => {
    const owner = await signUp(t.url);
    const email = uniqueEmail('join');
    const { url } = await invite(owner.caller, email, 'viewer');
    const path = new URL(url).pathname;
    const invitee = await signUp(t.url, { email, plan: null });
    const forged = await form(invitee.caller, path, { csrf: 'forged' });
    expect(forged.status).toBe(403);
    expect(await memberCount(owner.caller)).toBe(1);
    const page = await invitee.caller.get(path);
    const joined = await form(invitee.caller, path, { csrf: csrfOf(page.text) });
    expect(joined.status).toBe(303);
    expect(joined.headers.get('location')).toBe('/dashboard/members');
    expect(await memberCount(owner.caller)).toBe(2);
    const again = await invitee.caller.get(path);
    expect(again.status).toBe(410);
    expect(again.text).toContain('This invitation was used already');
  });

  it('when the link is for another email, withdrawn, expired or unknown, then a page says so and nothing is joined', async () => {
    const owner = await signUp(t.url);
    const other = await invite(owner.caller, uniqueEmail('someone'), 'developer');
    const stranger = await signUp(t.url, { plan: null });
    const page = await stranger.caller.get(new URL(other.url).pathname);
    expect(page.status).toBe(403);
    expect(page.text).toContain('This invitation is for another email address');
    expect(page.text).not.toContain('<button type="submit">Join');
    const posted = await form(stranger.caller, new URL(other.url).pathname, { csrf: csrfOf(page.text) });
    expect(posted.status).toBe(403);

    const withdrawn = await invite(owner.caller, uniqueEmail('withdrawn'), 'viewer');
    await owner.caller.delete(`/manage/v1/invitations/${withdrawn.invitationId}`);
    expect((await new Caller(t.url).get(new URL(withdrawn.url).pathname)).status).toBe(410);

    const late = await invite(owner.caller, uniqueEmail('late'), 'viewer');
    clock.advance(8 * 86_400_000);
    const expired = await new Caller(t.url).get(new URL(late.url).pathname);
    expect(expired.status).toBe(410);
    expect(expired.text).toContain('This invitation has expired');

    const unknown = await new Caller(t.url).get(`/invitations/${'u'.repeat(43)}`);
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain('This invitation link is not valid');
    expect(await memberCount(owner.caller)).toBe(1);
  });
});
