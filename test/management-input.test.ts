import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { signUp } from './support/http.ts';

let t: TestApp;
let caller: Awaited<ReturnType<typeof signUp>>['caller'];
let clientId: string;

beforeAll(async () => {
  t = await startTestApp();
  ({ caller } = await signUp(t.url));
  clientId = (await caller.post('/manage/v1/clients', { name: 'Input test' })).body.clientId;
});
afterAll(async () => {
  await t?.close();
});

async function historyLength(): Promise<number> {
  return (await caller.get(`/manage/v1/clients/${clientId}/history`)).body.events.length;
}

describe('bad input gets a 4xx problem naming the field, and writes nothing', () => {
  const cases: [string, string, string, unknown, number, string, string?][] = [
    // [what, method, path suffix, body, status, code, field]
    ['malformed JSON', 'POST', '/redirect-uris', '{"uri": ', 400, 'malformed_json'],
    ['a wrong type', 'PATCH', '', { name: 42 }, 400, 'validation_failed', 'name'],
    ['an unknown field', 'PATCH', '', { name: 'ok', colour: 'blue' }, 400, 'validation_failed', '(body)'],
    ['an empty name', 'PATCH', '', { name: '   ' }, 400, 'validation_failed', 'name'],
    ['a 101-character name', 'PATCH', '', { name: 'x'.repeat(101) }, 400, 'validation_failed', 'name'],
    ['a control character in a name', 'PATCH', '', { name: 'Shop\u0007' }, 400, 'validation_failed', 'name'],
    ['a bidi override in a name', 'PATCH', '', { name: 'Shop\u202Eevil' }, 400, 'validation_failed', 'name'],
    ['a mixed-script look-alike name', 'PATCH', '', { name: 'Pаypal' }, 400, 'validation_failed', 'name'],
    ['a name of Cyrillic look-alikes only', 'PATCH', '', { name: 'Аррӏе' }, 400, 'validation_failed', 'name'],
    ['a relative redirect URI', 'POST', '/redirect-uris', { uri: '/callback' }, 400, 'validation_failed', 'uri'],
    ['a redirect URI with a fragment', 'POST', '/redirect-uris', { uri: 'https://a.example/cb#x' }, 400, 'validation_failed', 'uri'],
    ['a javascript: redirect URI', 'POST', '/redirect-uris', { uri: 'javascript:alert(1)' }, 400, 'validation_failed', 'uri'],
    ['a 2,049-character redirect URI', 'POST', '/redirect-uris', { uri: `https://a.example/${'x'.repeat(2_031)}` }, 400, 'validation_failed', 'uri'],
    ['a domain with a protocol', 'POST', '/domains', { domain: 'https://a.example' }, 400, 'validation_failed', 'domain'],
    ['a domain with a path', 'POST', '/domains', { domain: 'a.example/x' }, 400, 'validation_failed', 'domain'],
    ['a domain with a port', 'POST', '/domains', { domain: 'a.example:8080' }, 400, 'validation_failed', 'domain'],
    ['a look-alike domain', 'POST', '/domains', { domain: 'аpple.com' }, 400, 'validation_failed', 'domain'],
    ['a domain of Cyrillic look-alikes only', 'POST', '/domains', { domain: 'аррӏе.com' }, 400, 'validation_failed', 'domain'],
    ['the same as punycode', 'POST', '/domains', { domain: 'xn--80ak6aa92e.com' }, 400, 'validation_failed', 'domain'],
    ['a bad server IP', 'POST', '/domains', { domain: 'ok.example', serverIps: ['300.1.1.1'] }, 400, 'validation_failed', 'serverIps.0'],
    ['an unknown scope', 'PUT', '/scopes', { scopes: ['admin'] }, 400, 'validation_failed', 'scopes.0'],
    ['a negative grace period', 'POST', '/secrets/sec_x/rotate', { graceSeconds: -1 }, 400, 'validation_failed', 'graceSeconds'],
    ['an expiry that is not a date', 'POST', '/secrets', { expiresAt: 'tomorrow' }, 400, 'validation_failed', 'expiresAt'],
  ];

  for (const [what, method, suffix, body, status, code, field] of cases) {
    it(`when the body has ${what}, then ${status} ${code}${field ? ` naming ${field}` : ''}`, async () => {
      const before = await historyLength();
      const reply = await caller.request(method, `/manage/v1/clients/${clientId}${suffix}`, body);
      expect(reply.status).toBe(status);
      expect(reply.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(reply.body).toMatchObject({ status, code });
      expect(typeof reply.body.title).toBe('string');
      expect(typeof reply.body.detail).toBe('string');
      if (field) expect(reply.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      expect(await historyLength()).toBe(before);
    });
  }

  it('when the body is over 100 kB, then 413 payload_too_large', async () => {
    const reply = await caller.patch(`/manage/v1/clients/${clientId}`, { name: 'x'.repeat(110_000) });
    expect(reply.status).toBe(413);
    expect(reply.body.code).toBe('payload_too_large');
  });

  it('when the body is not JSON, then 415', async () => {
    const reply = await caller.request('PATCH', `/manage/v1/clients/${clientId}`, 'name=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(reply.status).toBe(415);
  });

  it('an internationalised domain is stored as punycode, lower-cased', async () => {
    const reply = await caller.post(`/manage/v1/clients/${clientId}/domains`, { domain: 'Bücher.Example' });
    expect(reply.status).toBe(201);
    expect(reply.body.domain).toBe('xn--bcher-kva.example');
    const same = await caller.post(`/manage/v1/clients/${clientId}/domains`, { domain: 'xn--bcher-kva.example' });
    expect(same.status).toBe(409);
    expect(same.body.code).toBe('domain_already_exists');
  });

  it('an unknown route is a 404 problem, never a 500', async () => {
    const reply = await caller.get('/manage/v1/nothing-here');
    expect(reply.status).toBe(404);
    expect(reply.body.code).toBe('route_not_found');
  });
});
