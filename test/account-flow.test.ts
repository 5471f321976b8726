import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { startTestSmtp, type TestSmtp } from './support/smtp.ts';
import { testClock } from './support/clock.ts';
import { Caller, PASSWORD, signUp, uniqueEmail } from './support/http.ts';
import { createPartner, formFields, formPost } from './signin-support.ts';
import { hiddenFields, linkIn, mailsTo, nextMail, registerAndVerify, submit } from './account-support.ts';

const clock = testClock();
let t: TestApp;
let smtp: TestSmtp;
beforeAll(async () => {
  smtp = await startTestSmtp();
  t = await startTestApp({ env: { SMTP_URL: smtp.url }, now: clock.now });
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

describe('a brand-new person, from a partner’s “Sign in with Keyledger” button', () => {
  it('registers, confirms the address from the mail, fills in the profile, allows the partner, and the partner reads those fields', async () => {
    const partner = await createPartner(t.url, { name: 'Bakery', scopes: ['userinfo'] });
    const { data } = await partner.sdk.authenticateUser();
    const browser = new Caller('');

    // the hosted page offers to create an account, keeping the sign-in token
    const login = await browser.get(data.url);
    expect(login.status).toBe(200);
    const href = /<a href="(\/account\/register\?[^"]+)">Create an account|<a href="(\/account\/register\?[^"]+)">New here/.exec(login.text);
    expect(href, login.text).not.toBeNull();
    const registerUrl = (href![1] ?? href![2]!).replaceAll('&amp;', '&');
    expect(new URL(registerUrl, t.url).searchParams.get('token')).toBe(data.token);
    const form = await browser.get(t.url + registerUrl);
    expect(form.text).toContain('<strong>Bakery</strong>');

    const email = uniqueEmail('newcomer');
    const registered = await submit(browser, t.url, form.text, '/account/register', { name: 'Ada Byron', email, password: 'velvet orbit lantern 42' });
    expect(registered.status).toBe(200);
    expect(registered.text).toContain('Check your email');

    // the mail, read from the SMTP server: one link, single use, back to the consent screen
    const mail = await nextMail(smtp, email);
    expect(mail.subject).toBe('Confirm your email address for Keyledger');
    const link = linkIn(mail.text, `${t.url}/account/verify`);
    const confirm = await browser.get(link);
    const verified = await submit(browser, t.url, confirm.text, '/account/verify');
    expect(verified.status).toBe(303);
    expect(verified.headers.get('location')).toBe(`/signin?token=${data.token}&lang=en`);

    // the profile
    const home = await browser.get(`${t.url}/account`);
    expect(home.status).toBe(200);
    expect(home.text).toContain('is confirmed');
    const saved = await submit(browser, t.url, home.text, '/account/profile', {
      name: 'Ada Byron',
      given_name: 'Ada',
      family_name: 'Byron',
      picture: 'https://images.example.com/ada.png',
      birth_date: '1915-12-10',
      gender: 'female',
      second_email: 'ada@work.example.com',
      country: 'GB',
      preferred_language: 'en',
      social_platform_0: 'github',
      social_username_0: 'ada',
      social_url_0: 'https://github.com/ada',
    });
    expect(saved.status, saved.text).toBe(303);

    // back to the consent screen, allow
    const consent = await browser.get(t.url + verified.headers.get('location')!);
    expect(consent.text).toContain('Signed in as <strong>Ada Byron</strong>');
    const approve = await formPost(browser, `${t.url}/signin/decision`, { ...formFields(consent.text, 'decision'), decision: 'approve' });
    expect(approve.status).toBe(303);
    const token = new URL(approve.headers.get('location')!).searchParams.get('token')!;
    const identity = await partner.sdk.verifyToken(token);
    expect(identity.data).toMatchObject({ name: 'Ada Byron', given_name: 'Ada', family_name: 'Byron', email, email_verified: true });

    const info = await partner.sdk.getUserInfo(identity.data.sub, { socials: true });
    expect(info.data.user).toMatchObject({
      given_name: 'Ada',
      family_name: 'Byron',
      picture: 'https://images.example.com/ada.png',
      birth_date: '1915-12-10',
      gender: 'female',
      second_email: 'ada@work.example.com',
      email_verified: true,
    });
    expect(JSON.stringify(info.data.user)).toContain('GB');
    expect(JSON.stringify(info.data.user.socials)).toContain('github');
  });
});

describe('links in mails', () => {
  it('when a confirmation link is forged, used or expired, then a clear page and nothing changes', async () => {
    const browser = new Caller('');
    const forged = await browser.get(`${t.url}/account/verify?token=${'A'.repeat(43)}`);
    expect(forged.status).toBe(404);
    expect(forged.text).toContain('This link is not valid');

    const email = uniqueEmail('links');
    await registerAndVerify(t.url, smtp, { name: 'Link Tester', email, password: 'velvet orbit lantern 42' });
    const used = await browser.get(linkIn((await nextMail(smtp, email)).text, `${t.url}/account/verify`));
    expect(used.status).toBe(410);
    expect(used.text).toContain('already used');

    // a second person whose link waits 25 hours
    const late = uniqueEmail('late');
    const page = await browser.get(`${t.url}/account/register`);
    await submit(browser, t.url, page.text, '/account/register', { name: 'Late Larry', email: late, password: 'velvet orbit lantern 42' });
    const link = linkIn((await nextMail(smtp, late)).text, `${t.url}/account/verify`);
    clock.advance(25 * 3_600_000);
    const expired = await browser.get(link);
    expect(expired.status).toBe(410);
    expect(expired.text).toContain('expired');
    const posted = await browser.request('POST', `${t.url}/account/verify`, new URLSearchParams({ ...hiddenFields(page.text, '/account/register'), token: new URL(link).searchParams.get('token')! }).toString(), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(posted.status).toBe(410);
    const row = await t.app.ctx.database.db.selectFrom('users').select('email_verified').where('email', '=', late).executeTakeFirstOrThrow();
    expect(row.email_verified).toBe(false);
  });

  it('resets a forgotten password once: other sessions end, the old password stops working, the link cannot be used again or after an hour', async () => {
    const { email, caller: elsewhere } = await signUp(t.url, { plan: null });
    const browser = new Caller('');
    const forgot = await browser.get(`${t.url}/account/forgot`);
    const sent = await submit(browser, t.url, forgot.text, '/account/forgot', { email });
    expect(sent.text).toContain('If an account exists for');
    // the first mail was the confirmation of the registration
    const link = linkIn((await nextMail(smtp, email, 1)).text, `${t.url}/account/reset`);

    const form = await browser.get(link);
    expect(form.status).toBe(200);
    const weak = await submit(browser, t.url, form.text, '/account/reset', { password: 'password123456' });
    expect(weak.status).toBe(400);
    expect(weak.text).toContain('common and leaked passwords');
    const done = await submit(browser, t.url, form.text, '/account/reset', { password: 'granite willow parade 7' });
    expect(done.status).toBe(200);
    expect(done.text).toContain('Your password is changed');

    expect((await elsewhere.get('/manage/v1/account/me')).status).toBe(401);
    expect((await new Caller(t.url).post('/manage/v1/account/login', { email, password: PASSWORD })).status).toBe(401);
    expect((await new Caller(t.url).post('/manage/v1/account/login', { email, password: 'granite willow parade 7' })).status).toBe(200);
    const again = await browser.get(link);
    expect(again.status).toBe(410);
    expect(again.text).toContain('already used');

    // a second reset link, used too late, changes nothing
    await submit(browser, t.url, forgot.text, '/account/forgot', { email });
    const late = linkIn((await nextMail(smtp, email, 2)).text, `${t.url}/account/reset`);
    const lateForm = await browser.get(late);
    clock.advance(61 * 60_000);
    const expired = await submit(browser, t.url, lateForm.text, '/account/reset', { password: 'another fine passphrase 8' });
    expect(expired.status).toBe(410);
    expect((await new Caller(t.url).post('/manage/v1/account/login', { email, password: 'granite willow parade 7' })).status).toBe(200);
  });
});

describe('no account-existence leak', () => {
  it('when an address already has an account, registering answers exactly as for a new one, and each address gets one mail', async () => {
    const { email: taken } = await signUp(t.url, { plan: null });
    const fresh = uniqueEmail('fresh');
    const answers = [];
    for (const email of [taken, fresh]) {
      const browser = new Caller('');
      const page = await browser.get(`${t.url}/account/register`);
      const reply = await submit(browser, t.url, page.text, '/account/register', { name: 'Someone', email, password: 'velvet orbit lantern 42' });
      answers.push({ status: reply.status, text: reply.text.replaceAll(email, 'EMAIL').replace(/value="[^"]*"/g, '') });
    }
    expect(answers[0]).toEqual(answers[1]);
    // one mail each: to the owner, "you already have an account"; to the newcomer, the link
    expect((await nextMail(smtp, taken, 1)).subject).toContain('tried to create a Keyledger account');
    expect((await nextMail(smtp, fresh)).subject).toBe('Confirm your email address for Keyledger');
  });

  it('when a reset is asked for an unknown address, the page is the same and the address gets one mail either way', async () => {
    const { email: known } = await signUp(t.url, { plan: null });
    const unknown = uniqueEmail('nobody');
    const answers = [];
    for (const email of [known, unknown]) {
      const browser = new Caller('');
      const page = await browser.get(`${t.url}/account/forgot`);
      const reply = await submit(browser, t.url, page.text, '/account/forgot', { email });
      answers.push({ status: reply.status, text: reply.text.replaceAll(email, 'EMAIL').replace(/value="[^"]*"/g, '') });
    }
    expect(answers[0]).toEqual(answers[1]);
    expect((await nextMail(smtp, unknown)).subject).toBe('Keyledger password reset');
    expect((await nextMail(smtp, known, 1)).subject).toBe('Choose a new Keyledger password');
    expect(mailsTo(smtp, unknown)).toHaveLength(1);
  });
});

describe('weak passwords', () => {
  it('are refused on every route with the reason', async () => {
    const browser = new Caller('');
    const page = await browser.get(`${t.url}/account/register?lang=nl`);
    const refused = await submit(browser, t.url, page.text, '/account/register', { name: 'Zwak', email: uniqueEmail('weak'), password: 'password123456' });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('veelgebruikte en gelekte wachtwoorden');
    const api = await new Caller(t.url).post('/manage/v1/account/register', { email: uniqueEmail('weak'), password: 'qwertyuiop12', name: 'Weak' });
    expect(api.status).toBe(400);
    expect(api.body.code).toBe('weak_password');
    expect(api.body.errors[0].field).toBe('password');
  });
});

describe('every registration route sends a confirmation mail', () => {
  it('the management API too', async () => {
    const email = uniqueEmail('api');
    expect((await new Caller(t.url).post('/manage/v1/account/register', { email, password: PASSWORD, name: 'Api User' })).status).toBe(201);
    expect((await nextMail(smtp, email)).subject).toBe('Confirm your email address for Keyledger');
  });
});
