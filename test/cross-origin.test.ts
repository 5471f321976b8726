import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { startTestApp, type TestApp } from './support/app.ts';
import { Caller, PASSWORD, signUp } from './support/http.ts';
import { callApi, partnerHeaders, partnerSetup, type PartnerSetup } from './support/partner.ts';
import { createEndUser, createPartner, formFields, formPost } from './signin-support.ts';
import { connectSocket, connected } from './support-socket.ts';

/**
 * A session-cookie write must come from the app's own pages (issue 7, finding 4). The browser
 * tells where a request comes from with `Sec-Fetch-Site` and `Origin`; these tests set them as
 * a browser would.
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

/** What a foreign page's `fetch(url, {method: 'POST', credentials: 'include'})` or form post sends. */
const FOREIGN_PAGES: [string, Record<string, string>][] = [
  ['a cross-site page', { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }],
  ['a sibling subdomain (same-site, so SameSite=Lax lets the cookie through)', { origin: 'http://sibling.127.0.0.1.nip.io', 'sec-fetch-site': 'same-site' }],
  ['an older browser that sends only Origin', { origin: 'https://evil.example' }],
  ['a browser that sends only Sec-Fetch-Site', { 'sec-fetch-site': 'cross-site' }],
  ['a sandboxed frame (Origin: null)', { origin: 'null' }],
  ['the same host on another port', { origin: 'http://127.0.0.1:1' }],
];

/** An empty text/plain POST: a "simple" request, so the browser sends it without asking first. */
const bodiless = (caller: Caller, method: string, path: string, headers: Record<string, string>) =>
  caller.request(method, path, '', { 'content-type': 'text/plain', ...headers });

async function snapshot(p: PartnerSetup) {
  const history = await p.caller.get(`/manage/v1/clients/${p.clientId}/history`);
  const client = await p.caller.get(`/manage/v1/clients/${p.clientId}`);
  return { history: history.body, client: client.body };
}

describe('writes from another site', () => {
  for (const [who, headers] of FOREIGN_PAGES) {
    it(`when ${who} rotates, disables, revokes and logs out, then each is 403 cross_origin_request and nothing is written`, async () => {
      const p = await partnerSetup(t.url);
      const before = await snapshot(p);
      const writes: [string, string][] = [
        ['POST', `/manage/v1/clients/${p.clientId}/secrets/${p.secretId}/rotate`],
        ['POST', `/manage/v1/clients/${p.clientId}/disable`],
        ['DELETE', `/manage/v1/clients/${p.clientId}/secrets/${p.secretId}`],
        ['DELETE', `/manage/v1/clients/${p.clientId}`],
        ['POST', '/manage/v1/account/logout'],
      ];
      for (const [method, path] of writes) {
        const reply = await bodiless(p.caller, method, path, headers);
        expect(reply.status, `${method} ${path}: ${reply.text}`).toBe(403);
        expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(reply.body).toMatchObject({ status: 403, code: 'cross_origin_request' });
        expect(reply.headers.getSetCookie()).toEqual([]);
      }
      // a JSON body from a foreign page (which needs CORS, which is not offered) is refused the same way
      const rename = await p.caller.request('PATCH', `/manage/v1/clients/${p.clientId}`, { name: 'Pwned' }, headers);
      expect(rename.status).toBe(403);

      // nothing written: same history, same client, the session still valid, the secret still works
      expect(await snapshot(p)).toEqual(before);
      expect((await p.caller.get('/manage/v1/account/me')).status).toBe(200);
      expect((await callApi(t.url, '/api/whoami', partnerHeaders(p))).status).toBe(200);
    });
  }

  it('when a foreign page posts a login or a registration, then it is refused and no session cookie is set (login CSRF)', async () => {
    const { email } = await signUp(t.url, { plan: null });
    const browser = new Caller(t.url);
    const login = await browser.post('/manage/v1/account/login', { email, password: PASSWORD }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(login.status).toBe(403);
    expect(login.body.code).toBe('cross_origin_request');
    expect(login.headers.getSetCookie()).toEqual([]);
    const register = await browser.post(
      '/manage/v1/account/register',
      { email: 'mallory@example.com', password: PASSWORD, name: 'Mallory' },
      { origin: 'https://evil.example' },
    );
    expect(register.status).toBe(403);
    const retry = await new Caller(t.url).post('/manage/v1/account/register', { email: 'mallory@example.com', password: PASSWORD, name: 'Mallory' });
    expect(retry.status).toBe(201); // the refused registration wrote nothing
  });

  it('when the page is our own (same-origin, typed, or Origin equal to the request origin) or there is no browser (curl), then writes work', async () => {
    const p = await partnerSetup(t.url);
    const sameOrigin = { origin: t.url, 'sec-fetch-site': 'same-origin' };
    const rotated = await p.caller.post(`/manage/v1/clients/${p.clientId}/secrets/${p.secretId}/rotate`, { graceSeconds: 60 }, sameOrigin);
    expect(rotated.status, rotated.text).toBe(201);
    // an older browser on our own page: Origin only
    expect((await bodiless(p.caller, 'POST', `/manage/v1/clients/${p.clientId}/disable`, { origin: t.url })).status).toBe(200);
    // typed into the address bar / a bookmark
    expect((await bodiless(p.caller, 'POST', `/manage/v1/clients/${p.clientId}/enable`, { 'sec-fetch-site': 'none' })).status).toBe(200);
    // curl and servers send neither header; a bodiless write needs no Content-Type
    expect((await p.caller.request('POST', `/manage/v1/clients/${p.clientId}/disable`)).status).toBe(200);
    expect((await p.caller.request('DELETE', `/manage/v1/clients/${p.clientId}/secrets/${rotated.body.secretId}`)).status).toBe(200);
    const logout = await p.caller.request('POST', '/manage/v1/account/logout', undefined, { origin: t.url.replace('127.0.0.1', 'localhost'), 'sec-fetch-site': 'same-origin' });
    expect(logout.status).toBe(204);
    expect((await p.caller.get('/manage/v1/account/me')).status).toBe(401);
  });

  it('when a body is sent, then it still must be JSON (415), even from our own page', async () => {
    const { caller } = await signUp(t.url, { plan: null });
    const reply = await caller.request('POST', '/manage/v1/account/plan', 'plan=pro', { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' });
    expect(reply.status).toBe(415);
  });
});

describe('the hosted sign-in forms', () => {
  it('when a foreign page posts the login or the decision (even with a valid form token), then it is refused and the sign-in stays pending', async () => {
    const partner = await createPartner(t.url);
    const user = await createEndUser(t.url);
    const { data } = await partner.sdk.authenticateUser();
    const browser = new Caller('');
    const origin = new URL(data.url).origin;
    const foreign = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };

    let page = await browser.get(data.url);
    const loginFields = { ...formFields(page.text, 'login'), email: user.email, password: user.password };
    const crossLogin = await formPost(browser, `${origin}/signin/login`, loginFields, foreign);
    expect(crossLogin.status).toBe(403);
    expect(crossLogin.headers.get('content-type')).toMatch(/^text\/html/); // the pages' own envelope: a page
    expect(crossLogin.headers.getSetCookie()).toEqual([]);

    const login = await formPost(browser, `${origin}/signin/login`, loginFields, { origin, 'sec-fetch-site': 'same-origin' });
    expect(login.status, login.text).toBe(303);
    page = await browser.get(origin + login.headers.get('location')!);
    const decision = { ...formFields(page.text, 'decision'), decision: 'approve' };
    const crossDecision = await formPost(browser, `${origin}/signin/decision`, decision, foreign);
    expect(crossDecision.status).toBe(403);
    const crossLogout = await formPost(browser, `${origin}/signin/logout`, formFields(page.text, 'logout'), { 'sec-fetch-site': 'same-site', origin: 'http://other.localhost' });
    expect(crossLogout.status).toBe(403);

    // nothing was decided: the token does not verify, and our own page can still approve it
    await expect(partner.sdk.verifyToken(data.token)).rejects.toMatchObject({ body: { code: 'invalid_token' } });
    const approved = await formPost(browser, `${origin}/signin/decision`, decision, { origin, 'sec-fetch-site': 'same-origin' });
    expect(approved.status, approved.text).toBe(303);
    expect(new URL(approved.headers.get('location')!).searchParams.get('token')).toBe(data.token);
  });
});

describe('configured origins (PUBLIC_URL, TRUSTED_ORIGINS): one policy for writes and the support socket', () => {
  let configured: TestApp;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    configured = await startTestApp({ env: { PUBLIC_URL: 'https://id.example.com', TRUSTED_ORIGINS: 'https://admin.example.com' } });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await configured?.close();
  });

  it('when the page is on PUBLIC_URL or a trusted origin, then writes and sockets are allowed; any other origin is refused', async () => {
    const p = await partnerSetup(configured.url);
    const disable = (headers: Record<string, string>) => bodiless(p.caller, 'POST', `/manage/v1/clients/${p.clientId}/disable`, headers);
    expect((await disable({ origin: 'https://admin.example.com', 'sec-fetch-site': 'cross-site' })).status).toBe(200);
    expect((await disable({ origin: 'https://id.example.com', 'sec-fetch-site': 'same-site' })).status).toBe(200);
    expect((await disable({ origin: 'https://id.example.com' })).status).toBe(200);
    expect((await disable({ origin: 'https://evil.example.com', 'sec-fetch-site': 'same-site' })).status).toBe(403);
    // with PUBLIC_URL, the address the server happens to be reached on is not its origin
    expect((await disable({ origin: configured.url })).status).toBe(403);

    const trusted = connectSocket(configured.url, p.caller, { headers: { origin: 'https://admin.example.com' } });
    sockets.push(trusted);
    await connected(trusted);
    const foreign = connectSocket(configured.url, p.caller, { headers: { origin: 'https://evil.example.com', 'sec-fetch-site': 'cross-site' } });
    sockets.push(foreign);
    const error = await new Promise<Error>((resolve) => foreign.once('connect_error', resolve));
    expect(error.message).toBe('origin_not_allowed');
  });
});

describe('the README walk-through with curl', () => {
  it('runs as written (curl sends neither Origin nor Sec-Fetch-Site)', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const block = /## A first walk-through with curl\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const script = block!
      .replace('B=http://localhost:3000/manage/v1', `B=${t.url}/manage/v1`)
      .replace(`-d '{"name":"Webshop"}'`, `-d '{"name":"Webshop"}' | tee created.json`)
      .replace(/^C=kc_.*$/m, `C=$(sed -n 's/.*"clientId":"\\(kc_[^"]*\\)".*/\\1/p' created.json)`)
      // a fresh database per test file, but another test may have registered Ada: use a unique address
      .replaceAll('ada@example.com', `ada-${Date.now()}@example.com`);
    const dir = await mkdtemp(join(tmpdir(), 'keyledger-readme-'));
    try {
      // -f: an HTTP error fails the step; set -e: a failed step fails the walk-through
      const { stdout } = await promisify(execFile)('bash', ['-c', `set -euo pipefail\ncurl() { command curl -fS "$@"; echo; }\n${script}`], { cwd: dir });
      expect(stdout).toContain('"clientId":"kc_');
      expect(stdout).toContain('ClientRegistered');
      expect(stdout).toContain('RedirectUriAdded');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
