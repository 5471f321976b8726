import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { Caller } from './support/http.ts';
import {
  approvedToken,
  createEndUser,
  createPartner,
  formFields,
  formPost,
  sdkFailure,
  useHostedPage,
  XwmsLikeClient,
} from './signin-support.ts';

// The app's clock: the expiry test moves it forward.
let skewMs = 0;
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ now: () => new Date(Date.now() + skewMs) });
});
afterAll(async () => {
  await t?.close();
});

describe('a real client, doing what the XWMS JS SDK does', () => {
  it('signs a user in end to end: sign-token, hosted page over HTTP, sign-token-verify, get/user/info', async () => {
    const partner = await createPartner(t.url, { name: 'Webshop', scopes: ['userinfo'] });
    const user = await createEndUser(t.url, 'Grace Hopper');

    // 1. the partner server asks for a sign-in token
    const asked = Date.now() + skewMs;
    const signToken = await partner.sdk.authenticateUser();
    const answered = Date.now() + skewMs;
    expect(signToken.status).toBe('success');
    const { client_id, token, expires_at, url } = signToken.data;
    expect(client_id).toBe(partner.clientId);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // valid for 10 minutes from the moment it was issued, which lies between asked and answered
    expect(Date.parse(expires_at)).toBeGreaterThanOrEqual(asked + 10 * 60_000);
    expect(Date.parse(expires_at)).toBeLessThanOrEqual(answered + 10 * 60_000);
    expect(url).toBe(`${t.url}/signin?token=${token}`);

    // 2. the browser opens the hosted page: not logged in, so a login form naming the client and scopes
    const browser = new Caller('');
    const page = await browser.get(url, { 'accept-language': 'en-GB,en;q=0.9' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.text).toContain('Sign in to <strong>Webshop</strong>');
    expect(page.text).toContain('your name and email address');
    expect(page.text).toContain('your profile: given and family name');
    expect(page.text).not.toContain('saved addresses');

    // 3. log in with the form, then allow
    const login = await formPost(browser, `${t.url}/signin/login`, { ...formFields(page.text, 'login'), email: user.email, password: user.password });
    expect(login.status).toBe(303);
    const consent = await browser.get(t.url + login.headers.get('location')!);
    expect(consent.status).toBe(200);
    expect(consent.text).toContain(`Signed in as <strong>Grace Hopper</strong> (<strong>${user.email}</strong>)`);
    const approve = await formPost(browser, `${t.url}/signin/decision`, { ...formFields(consent.text, 'decision'), decision: 'approve' });
    expect(approve.status).toBe(303);

    // 4. the 303 goes to the redirect URL with the token; the partner reads it from there
    const location = new URL(approve.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(partner.redirectUri);
    expect(location.searchParams.get('token')).toBe(token);

    // 5. sign-token-verify gives the user
    const verified = await partner.sdk.verifyToken(location.searchParams.get('token')!);
    expect(verified.status).toBe('success');
    expect(verified.data).toEqual({
      sub: user.sub,
      name: 'Grace Hopper',
      given_name: null,
      family_name: null,
      email: user.email,
      email_verified: false,
      picture: null,
    });

    // 6. get/user/info by sub (as the SDK sends it: a number)
    const info = await partner.sdk.getUserInfo(String(verified.data.sub));
    expect(info.data.user).toMatchObject({ sub: user.sub, name: 'Grace Hopper', email: user.email, email_verified: false, country: null });

    // a second verify of the same token fails, and the SDK reads the reason from `message`
    const again = await sdkFailure(partner.sdk.verifyToken(token));
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ status: 'error', code: 'invalid_token', field: 'token', data: null });
    expect(again.message).toBe(`API request to sign-token-verify failed: ${again.body.message}`);

    // the page of a used token is an error page
    expect((await browser.get(url)).status).toBe(410);

    // and the token reached no log line
    expect(t.logs.join('\n')).not.toContain(token);
  });

  it('of two concurrent verifies of one token, exactly one succeeds', async () => {
    const partner = await createPartner(t.url);
    const user = await createEndUser(t.url);
    const token = await approvedToken(partner, user);
    const results = await Promise.allSettled([partner.sdk.verifyToken(token), partner.sdk.verifyToken(token), partner.sdk.verifyToken(token)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as { body: { code: string } }).body.code).toBe('invalid_token');
  });

  it('when the token is older than 10 minutes, then verify says invalid_token and the page says it expired', async () => {
    const partner = await createPartner(t.url);
    const user = await createEndUser(t.url);
    const token = await approvedToken(partner, user);
    const pending = (await partner.sdk.authenticateUser()).data.url as string;
    skewMs = 10 * 60_000 + 1_000;
    try {
      expect((await sdkFailure(partner.sdk.verifyToken(token))).body.code).toBe('invalid_token');
      const page = await new Caller('').get(pending);
      expect(page.status).toBe(410);
      expect(page.text).toContain('This sign-in link has expired or was already used');
    } finally {
      skewMs = 0;
    }
  });

  it('unknown, not yet approved and another client’s tokens are invalid_token; a malformed body names the field', async () => {
    const partner = await createPartner(t.url);
    const other = await createPartner(t.url);
    const user = await createEndUser(t.url);
    expect((await sdkFailure(partner.sdk.verifyToken('A'.repeat(43)))).body.code).toBe('invalid_token');
    const pending = (await partner.sdk.authenticateUser()).data.token as string;
    expect((await sdkFailure(partner.sdk.verifyToken(pending))).body.code).toBe('invalid_token');
    const token = await approvedToken(partner, user);
    expect((await sdkFailure(other.sdk.verifyToken(token))).body.code).toBe('invalid_token');
    // still good for its own client afterwards
    expect((await partner.sdk.verifyToken(token)).data.sub).toBe(user.sub);

    const noToken = await sdkFailure(partner.sdk.post('sign-token-verify', {}));
    expect(noToken.status).toBe(400);
    expect(noToken.body).toMatchObject({ code: 'invalid_request', field: 'token' });
    expect(noToken.body.message).toMatch(/^token: /);
    const numberToken = await sdkFailure(partner.sdk.post('sign-token-verify', { token: 12345 }));
    expect(numberToken.body).toMatchObject({ code: 'invalid_request', field: 'token' });
    const noRedirect = new XwmsLikeClient({ ...partner.sdk.config, redirectUri: undefined });
    expect((await sdkFailure(noRedirect.authenticateUser())).body).toMatchObject({ code: 'invalid_request', field: 'redirect_url' });
  });

  it('when the client is disabled, then its open tokens are void, also after it is enabled again', async () => {
    const partner = await createPartner(t.url);
    const user = await createEndUser(t.url);
    const approved = await approvedToken(partner, user);
    const pendingUrl = (await partner.sdk.authenticateUser()).data.url as string;

    expect((await partner.owner.post(`/manage/v1/clients/${partner.clientId}/disable`)).status).toBe(200);
    expect((await sdkFailure(partner.sdk.verifyToken(approved))).body.code).toBe('client_disabled');
    expect((await new Caller('').get(pendingUrl)).status).toBe(410);

    expect((await partner.owner.post(`/manage/v1/clients/${partner.clientId}/enable`)).status).toBe(200);
    expect((await sdkFailure(partner.sdk.verifyToken(approved))).body.code).toBe('invalid_token');
    expect((await new Caller('').get(pendingUrl)).status).toBe(410);
    // new tokens work again
    expect((await partner.sdk.verifyToken(await approvedToken(partner, user))).data.sub).toBe(user.sub);
  });

  it('when the client is deleted, then its open tokens are void', async () => {
    const partner = await createPartner(t.url);
    const pendingUrl = (await partner.sdk.authenticateUser()).data.url as string;
    expect((await partner.owner.delete(`/manage/v1/clients/${partner.clientId}`)).status).toBe(200);
    expect((await new Caller('').get(pendingUrl)).status).toBe(410);
    expect((await sdkFailure(partner.sdk.verifyToken(new URL(pendingUrl).searchParams.get('token')!))).body.code).toBe('unknown_client');
  });

  it('refuses a redirect_url that is not registered exactly, or breaks the live-domain rule: redirect_uri_mismatch', async () => {
    const partner = await createPartner(t.url, { domain: 'shop.example.com', redirectUri: 'https://shop.example.com/cb' });
    for (const uri of ['http://shop.example.com/cb', 'https://elsewhere.example.org/cb', 'https://auth.shop.example.com/cb']) {
      expect((await partner.owner.post(`/manage/v1/clients/${partner.clientId}/redirect-uris`, { uri })).status).toBe(201);
    }
    const mismatch = async (redirect_url: string) => {
      const error = await sdkFailure(partner.sdk.authenticateUser({ redirect_url }));
      expect(error.status, redirect_url).toBe(400);
      expect(error.body, redirect_url).toMatchObject({ status: 'error', code: 'redirect_uri_mismatch', field: 'redirect_url' });
      expect(error.message).toContain(error.body.message);
      return error.body.message;
    };
    expect(await mismatch('https://shop.example.com/other')).toMatch(/registered/);
    expect(await mismatch('https://shop.example.com/cb/')).toMatch(/registered/);
    expect(await mismatch('https://SHOP.example.com/cb')).toMatch(/registered/);
    expect(await mismatch('http://shop.example.com/cb')).toMatch(/https/);
    expect(await mismatch('https://elsewhere.example.org/cb')).toMatch(/subdomain/);
    expect((await partner.sdk.authenticateUser({ redirect_url: 'https://auth.shop.example.com/cb' })).status).toBe('success');
    expect((await partner.sdk.authenticateUser()).status).toBe('success');
  });

  it('when the user denies, then the redirect carries error=access_denied (query kept) and the token never verifies', async () => {
    const partner = await createPartner(t.url, { redirectUri: 'https://shop.example.com/cb?from=checkout' });
    const user = await createEndUser(t.url);
    const { data } = await partner.sdk.authenticateUser();
    const { location } = await useHostedPage(data.url, user, { decision: 'deny' });
    expect(location).toBe('https://shop.example.com/cb?from=checkout&error=access_denied');
    expect((await sdkFailure(partner.sdk.verifyToken(data.token))).body.code).toBe('invalid_token');
  });

  it('on a test-mode domain: http on localhost is fine; a user who is not a test user is refused, a test user gets through', async () => {
    const partner = await createPartner(t.url, { domain: 'test.shop.example.com', testMode: true, redirectUri: 'http://localhost:3000/callback' });
    const stranger = await createEndUser(t.url, 'Not A Tester');
    const tester = await createEndUser(t.url, 'Tess Tester');
    expect((await partner.owner.post(`/manage/v1/clients/${partner.clientId}/test-users`, { email: tester.email })).status).toBe(201);

    const { data } = await partner.sdk.authenticateUser();
    const browser = new Caller('');
    const page = await browser.get(data.url);
    const login = await formPost(browser, `${t.url}/signin/login`, { ...formFields(page.text, 'login'), email: stranger.email, password: stranger.password });
    const explained = await browser.get(t.url + login.headers.get('location')!);
    expect(explained.status).toBe(403);
    expect(explained.text).toContain('is in test mode');
    expect(explained.text).not.toContain('value="approve"');
    // even a hand-made approve is turned into a refusal
    const forced = await formPost(browser, `${t.url}/signin/decision`, { ...formFields(explained.text, 'decision'), decision: 'approve' });
    expect(forced.status).toBe(303);
    expect(forced.headers.get('location')).toBe('http://localhost:3000/callback?error=access_denied');
    expect((await sdkFailure(partner.sdk.verifyToken(data.token))).body.code).toBe('invalid_token');

    await t.app.access.log.flush();
    const failures = await partner.owner.get(`/manage/v1/clients/${partner.clientId}/auth-failures`);
    expect(failures.body.failures.map((f: { reason: string }) => f.reason)).toContain('test_user_required');

    const token = await approvedToken(partner, tester);
    expect((await partner.sdk.verifyToken(token)).data.sub).toBe(tester.sub);
  });

  it('renders a client name with $&, $\' and $` literally on the test-mode page (no replacement patterns)', async () => {
    const name = "A $& B $' C $` D";
    const partner = await createPartner(t.url, { name, domain: 'test.shop.example.com', testMode: true, redirectUri: 'http://localhost:3000/callback' });
    const stranger = await createEndUser(t.url, 'Not A Tester');
    const { data } = await partner.sdk.authenticateUser();
    const browser = new Caller('');
    const page = await browser.get(data.url);
    const login = await formPost(browser, `${t.url}/signin/login`, { ...formFields(page.text, 'login'), email: stranger.email, password: stranger.password });
    const testOnly = await browser.get(t.url + login.headers.get('location')!);
    expect(testOnly.status).toBe(403);
    // the template engine escapes & < > " ' (a backtick is not markup); every pattern shows literally
    const shown = 'A $&amp; B $&#39; C $` D';
    expect(testOnly.text).toContain(`<title>${shown} is in test mode · Keyledger</title>`);
    expect(testOnly.text).toContain(`<strong>${shown}</strong> is in test mode`);
  });

  it('renders the client name as text: a name with <script> is inert', async () => {
    const partner = await createPartner(t.url, { name: '<script>alert("x")</script> & Co' });
    const { data } = await partner.sdk.authenticateUser();
    const page = await new Caller('').get(data.url);
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('<script>');
    expect(page.text).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
  });

  it('speaks English and Dutch: Accept-Language, and ?lang= to switch', async () => {
    const partner = await createPartner(t.url, { name: 'Bakkerij', scopes: ['userinfo', 'useraddresses'] });
    const { data } = await partner.sdk.authenticateUser();
    const browser = new Caller('');
    const dutch = await browser.get(data.url, { 'accept-language': 'nl-NL,nl;q=0.9,en;q=0.5' });
    expect(dutch.text).toContain('<html lang="nl">');
    expect(dutch.text).toContain('Inloggen bij <strong>Bakkerij</strong>');
    expect(dutch.text).toContain('je opgeslagen adressen');
    expect(dutch.text).toContain('Wachtwoord');
    expect(dutch.headers.get('content-language')).toBe('nl');
    expect(dutch.text).toContain(`href="/signin?token=${data.token}&amp;lang=en"`);

    const english = await browser.get(`${data.url}&lang=en`, { 'accept-language': 'nl' });
    expect(english.text).toContain('<html lang="en">');
    expect(english.text).toContain('Sign in to <strong>Bakkerij</strong>');
    expect(english.text).toContain('Password');
    expect(english.text).toContain(`href="/signin?token=${data.token}&amp;lang=nl"`);

    // the chosen language survives the login form
    const user = await createEndUser(t.url);
    const login = await formPost(browser, `${t.url}/signin/login`, { ...formFields(dutch.text, 'login'), email: user.email, password: 'wrong password!' });
    expect(login.status).toBe(401);
    expect(login.text).toContain('Het e-mailadres of wachtwoord is onjuist.');
    expect((await browser.get(`${t.url}/signin?token=nonsense&lang=nl`)).text).toContain('Deze inloglink is ongeldig');
  });

  it('refuses a form without its CSRF token, and an unknown token shows a 404 page', async () => {
    const partner = await createPartner(t.url);
    const user = await createEndUser(t.url);
    const { data } = await partner.sdk.authenticateUser();
    const browser = new Caller('');
    const page = await browser.get(data.url);
    const fields = formFields(page.text, 'login');
    const forged = await formPost(browser, `${t.url}/signin/login`, { ...fields, csrf: 'forged', email: user.email, password: user.password });
    expect(forged.status).toBe(403);
    expect(browser.cookies.has('kl_session')).toBe(false);

    // another browser's form token does not work in this one
    const other = new Caller('');
    await other.get(data.url);
    expect((await formPost(other, `${t.url}/signin/login`, { ...fields, email: user.email, password: user.password })).status).toBe(403);

    const login = await formPost(browser, `${t.url}/signin/login`, { ...fields, email: user.email, password: user.password });
    expect(login.status).toBe(303);
    const consent = await browser.get(t.url + login.headers.get('location')!);
    const decision = await formPost(browser, `${t.url}/signin/decision`, { ...formFields(consent.text, 'decision'), csrf: 'x', decision: 'approve' });
    expect(decision.status).toBe(403);
    expect((await sdkFailure(partner.sdk.verifyToken(data.token))).body.code).toBe('invalid_token');

    expect((await browser.get(`${t.url}/signin?token=${'B'.repeat(43)}`)).status).toBe(404);
    expect((await browser.get(`${t.url}/signin`)).status).toBe(404);
  });

  it('uses the dashboard session when there is one, and "not you?" logs out', async () => {
    const partner = await createPartner(t.url);
    const user = await createEndUser(t.url, 'Session User');
    const browser = new Caller('');
    expect((await browser.post(`${t.url}/manage/v1/account/login`, { email: user.email, password: user.password })).status).toBe(200);
    const { data } = await partner.sdk.authenticateUser();
    const consent = await browser.get(data.url);
    expect(consent.text).toContain('Signed in as <strong>Session User</strong>');
    const logout = await formPost(browser, `${t.url}/signin/logout`, formFields(consent.text, 'logout'));
    expect(logout.status).toBe(303);
    expect((await browser.get(t.url + logout.headers.get('location')!)).text).toContain('action="/signin/login"');
    expect((await browser.get(`${t.url}/manage/v1/account/me`)).status).toBe(401);
  });
});
