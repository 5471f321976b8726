import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { Caller, PASSWORD, uniqueEmail } from './support/http.ts';
import { formPost } from './signin-support.ts';
import { hiddenFields } from './support/forms.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});


const userCount = async (email: string) => (await t.app.ctx.database.db.selectFrom('users').select('sub').where('email', '=', email).execute()).length;

describe('the dashboard entrance', () => {
  it('when a newcomer opens /, then it leads to /dashboard, which asks to log in and links to register', async () => {
    const browser = new Caller(t.url);
    const root = await browser.get('/');
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/dashboard');
    const page = await browser.get('/dashboard', { 'accept-language': 'en' });
    expect(page.status).toBe(200);
    expect(page.text).toContain('action="/dashboard/login"');
    expect(page.text).toContain('href="/dashboard/register"');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect((await browser.get('/dashboard/nowhere')).status).toBe(404);
  });

  it('when the register form has bad fields, then each error is next to its field, typed values are kept, the password never', async () => {
    const browser = new Caller(t.url);
    const form = await browser.get('/dashboard/register?lang=nl');
    const reply = await formPost(browser, `/dashboard/register`, { ...hiddenFields(form.text, '/dashboard/register'), name: '<b>Ada</b>', email: 'not-an-email', password: 'short' });
    expect(reply.status).toBe(400);
    expect(reply.text).toContain('Vul een geldig e-mailadres in.');
    expect(reply.text).toContain('Gebruik minstens 10 en hoogstens 256 tekens.');
    expect(reply.text).toContain('value="&lt;b&gt;Ada&lt;/b&gt;"');
    expect(reply.text).toContain('value="not-an-email"');
    expect(reply.text).not.toContain('value="short"');
    expect(reply.text).toMatch(/id="email"[^>]*aria-invalid="true"/);
  });

  it('when the register form has no CSRF token, then 403 and no account is made', async () => {
    const browser = new Caller(t.url);
    const form = await browser.get('/dashboard/register');
    const email = uniqueEmail('forged');
    const fields = { ...hiddenFields(form.text, '/dashboard/register'), name: 'Mallory', email, password: PASSWORD };
    expect((await formPost(browser, `/dashboard/register`, { ...fields, csrf: 'forged' })).status).toBe(403);
    const withoutToken: Record<string, string> = { ...fields };
    delete withoutToken.csrf;
    expect((await formPost(browser, `/dashboard/register`, withoutToken)).status).toBe(403);
    expect(await userCount(email)).toBe(0);
  });

  it('when someone registers, then they are logged in, see Clients, can log out, and log in again', async () => {
    const browser = new Caller(t.url);
    const form = await browser.get('/dashboard/register');
    const email = uniqueEmail('owner');
    const fields = { ...hiddenFields(form.text, '/dashboard/register'), name: 'Ada Lovelace', email, password: PASSWORD };
    const registered = await formPost(browser, `/dashboard/register`, fields);
    expect(registered.status, registered.text).toBe(303);
    // a double submit makes no second account: the first one logged the browser in, so the old
    // form's token no longer verifies (403); from another browser the key and the email refuse it
    expect((await formPost(browser, `/dashboard/register`, fields)).status).toBe(403);
    const other = new Caller(t.url);
    const otherForm = await other.get('/dashboard/register');
    const replay = await formPost(other, `/dashboard/register`, { ...fields, csrf: hiddenFields(otherForm.text, '/dashboard/register').csrf! });
    expect(replay.status).toBe(409);
    expect(await userCount(email)).toBe(1);

    const home = await browser.get('/dashboard', { 'accept-language': 'en' });
    expect(home.text).toContain('<h1>Clients</h1>');
    expect(home.text).toContain('action="/dashboard/logout"');
    // the API sees the same account and organisation
    const me = await browser.get('/manage/v1/account/me');
    expect(me.body).toMatchObject({ email, role: 'owner' });

    const forged = await formPost(browser, `/dashboard/logout`, { csrf: 'forged' });
    expect(forged.status).toBe(403);
    expect((await browser.get('/manage/v1/account/me')).status).toBe(200);
    const out = await formPost(browser, `/dashboard/logout`, hiddenFields(home.text, '/dashboard/logout'));
    expect(out.status).toBe(303);
    expect((await browser.get('/manage/v1/account/me')).status).toBe(401);

    const login = await browser.get('/dashboard/login');
    const wrong = await formPost(browser, `/dashboard/login`, { ...hiddenFields(login.text, '/dashboard/login'), email, password: 'wrong password!' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('The email address or password is wrong.');
    expect(wrong.text).toContain(`value="${email}"`);
    const right = await formPost(browser, `/dashboard/login`, { ...hiddenFields(wrong.text, '/dashboard/login'), email, password: PASSWORD });
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe('/dashboard');
  });
});
