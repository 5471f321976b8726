import { expect } from 'vitest';
import { Caller, PASSWORD, signUp } from './support/http.ts';

/**
 * What the XWMS JS SDK (`xwms-package`, XwmsClient) does, and nothing more: plain fetch, the
 * three X-Client-* headers plus `Accept: application/json`, JSON bodies with the configured
 * `redirect_url` added to every POST, and on a non-2xx an Error whose text is the envelope's
 * `message`. The error also carries the status and body so tests can check the code.
 */
export class SdkError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: { status: string; message: string; code?: string; field?: string; data: unknown; request_id?: string },
  ) {
    super(message);
  }
}

export class XwmsLikeClient {
  constructor(
    readonly config: { apiUri: string; clientId: string; clientSecret: string; domain: string; redirectUri?: string },
  ) {}

  private headers(): Record<string, string> {
    return {
      'X-Client-Id': this.config.clientId,
      'X-Client-Secret': this.config.clientSecret,
      'X-Client-Domain': this.config.domain,
      Accept: 'application/json',
    };
  }

  async post(endpoint: string, payload: Record<string, unknown> = {}): Promise<{ status: string; message: string; data: any }> {
    const body = { ...payload };
    if (!body.redirect_url && this.config.redirectUri) body.redirect_url = this.config.redirectUri;
    const response = await fetch(new URL(endpoint, this.config.apiUri).toString(), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...this.headers() },
      body: JSON.stringify(body),
    });
    const json = JSON.parse(await response.text());
    if (!response.ok) throw new SdkError(`API request to ${endpoint} failed: ${json?.message || response.statusText}`, response.status, json);
    return json;
  }

  /** XwmsClient.get: query parameters, the same headers, and the same error rule. */
  async get(endpoint: string, query: Record<string, unknown> = {}): Promise<{ status: string; message: string; data: any }> {
    const url = new URL(endpoint, this.config.apiUri);
    for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    const response = await fetch(url.toString(), { method: 'GET', headers: this.headers() });
    const json = JSON.parse(await response.text());
    if (!response.ok) throw new SdkError(`API request to ${endpoint} failed: ${json?.message || response.statusText}`, response.status, json);
    return json;
  }

  authenticateUser(payload: Record<string, unknown> = {}) {
    return this.post('sign-token', payload);
  }
  verifyToken(token: string, payload: Record<string, unknown> = {}) {
    return this.post('sign-token-verify', { token, ...payload });
  }
  getUserInfo(sub: string | number, payload: Record<string, unknown> = {}) {
    return this.post('get/user/info', { sub: Number(sub), ...payload });
  }
  getUserAddress(sub: string | number, payload: Record<string, unknown> = {}) {
    return this.post('get/user/address', { sub: Number(sub), ...payload });
  }
  userAddressCrud(sub: string | number, action: string, options: { addressId?: number; address?: Record<string, unknown> } = {}) {
    return this.post('user/address', { sub: Number(sub), action, address_id: options.addressId, address: options.address });
  }
  getCountries(payload: Record<string, unknown> = {}) {
    return this.post('global/countries', payload);
  }
  info() {
    return this.get('info');
  }
  getGlobalInfo() {
    return this.get('info');
  }
  getProjects() {
    return this.get('global/projects');
  }
}

/** Runs `call` and returns the SdkError it throws (fails the test when it succeeds). */
export async function sdkFailure(call: Promise<unknown>): Promise<SdkError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof SdkError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

export interface Partner {
  owner: Caller;
  clientId: string;
  secret: string;
  domainId: string;
  domain: string;
  redirectUri: string;
  sdk: XwmsLikeClient;
}

/** Everything through the management API: account, plan, client, domain, redirect URI, scopes. */
export async function createPartner(
  baseUrl: string,
  options: { name?: string; domain?: string; testMode?: boolean; redirectUri?: string; scopes?: string[] } = {},
): Promise<Partner> {
  const { caller: owner } = await signUp(baseUrl, { plan: 'pro' });
  const created = await owner.post('/manage/v1/clients', { name: options.name ?? 'Webshop' });
  expect(created.status, created.text).toBe(201);
  const clientId: string = created.body.clientId;
  const domain = options.domain ?? 'shop.example.com';
  const added = await owner.post(`/manage/v1/clients/${clientId}/domains`, { domain, testMode: options.testMode ?? false });
  expect(added.status, added.text).toBe(201);
  const redirectUri = options.redirectUri ?? `https://${domain}/auth/xwms/callback`;
  expect((await owner.post(`/manage/v1/clients/${clientId}/redirect-uris`, { uri: redirectUri })).status).toBe(201);
  if (options.scopes) expect((await owner.put(`/manage/v1/clients/${clientId}/scopes`, { scopes: options.scopes })).status).toBe(200);
  const secret: string = created.body.secret.secret;
  const sdk = new XwmsLikeClient({ apiUri: `${baseUrl}/api/`, clientId, clientSecret: secret, domain, redirectUri });
  return { owner, clientId, secret, domainId: added.body.domainId, domain, redirectUri, sdk };
}

/** An end user: an account that exists, not logged in anywhere yet. */
export async function createEndUser(baseUrl: string, name = 'Grace Hopper') {
  const { email, sub } = await signUp(baseUrl, { plan: null, name });
  return { email, sub, password: PASSWORD, name };
}

/** The hidden fields of the form posting to `…/<action>` on a page. */
export function formFields(page: string, action: 'login' | 'decision' | 'logout'): Record<string, string> {
  const form = page.split('<form').find((f) => new RegExp(`action="[^"]*/${action}"`).test(f.slice(0, 200)));
  if (!form) throw new Error(`no ${action} form on the page:\n${page}`);
  const fields: Record<string, string> = {};
  for (const match of form.split('</form>')[0]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[match[1]!] = match[2]!;
  return fields;
}

export const formPost = (browser: Caller, url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  browser.request('POST', url, new URLSearchParams(fields).toString(), { 'content-type': 'application/x-www-form-urlencoded', ...headers });

/** The browser's side: open the hosted page, log in if asked, then allow or deny. Returns the final redirect. */
export async function useHostedPage(
  pageUrl: string,
  user: { email: string; password: string },
  options: { decision?: 'approve' | 'deny'; browser?: Caller } = {},
): Promise<{ location: string; browser: Caller }> {
  const browser = options.browser ?? new Caller('');
  const origin = new URL(pageUrl).origin;
  let page = await browser.get(pageUrl);
  if (page.text.includes('action="/signin/login"')) {
    expect(page.status).toBe(200);
    const login = await formPost(browser, `${origin}/signin/login`, { ...formFields(page.text, 'login'), email: user.email, password: user.password });
    expect(login.status, login.text).toBe(303);
    page = await browser.get(origin + login.headers.get('location')!);
  }
  expect(Math.floor(page.status / 100), page.text).not.toBe(5); // no server error
  const decided = await formPost(browser, `${origin}/signin/decision`, { ...formFields(page.text, 'decision'), decision: options.decision ?? 'approve' });
  expect(decided.status, decided.text).toBe(303);
  return { location: decided.headers.get('location')!, browser };
}

/** sign-token, the hosted page approved by the user, and the token read from the redirect. */
export async function approvedToken(partner: Partner, user: { email: string; password: string }, browser?: Caller): Promise<string> {
  const { data } = await partner.sdk.authenticateUser();
  const { location } = await useHostedPage(data.url, user, { browser });
  const token = new URL(location).searchParams.get('token');
  expect(token).toBe(data.token);
  return token!;
}

/** A user who completed a sign-in to the partner (so the partner may read their data). */
export async function signedInUser(baseUrl: string, partner: Partner, name?: string) {
  const user = await createEndUser(baseUrl, name);
  await partner.sdk.verifyToken(await approvedToken(partner, user));
  return user;
}
