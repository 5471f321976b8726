import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { createPartner, type Partner } from './signin-support.ts';
import { rawRequest } from './support/raw-http.ts';

/** sign-token exactly as a partner server sends it, but with the Host header the caller chooses. */
function signToken(t: TestApp, partner: Partner, host: string) {
  return rawRequest(t.url, '/api/sign-token', {
    method: 'POST',
    headers: {
      host,
      'content-type': 'application/json',
      accept: 'application/json',
      'x-client-id': partner.clientId,
      'x-client-secret': partner.secret,
      'x-client-domain': partner.domain,
    },
    body: JSON.stringify({ redirect_url: partner.redirectUri }),
  });
}

const port = (t: TestApp) => new URL(t.url).port;

describe('without PUBLIC_URL or ALLOWED_HOSTS (development): only loopback hosts', () => {
  let t: TestApp;
  let partner: Partner;
  beforeAll(async () => {
    t = await startTestApp();
    partner = await createPartner(t.url);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when sign-token comes with a spoofed Host, then it is refused with the XWMS envelope and no link to another site', async () => {
    const reply = await signToken(t, partner, 'evil.example');
    expect(reply.status).toBe(400);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    expect(reply.body).toMatchObject({ status: 'error', code: 'host_not_allowed', request_id: reply.headers['x-request-id'], data: null });
    expect(reply.text).not.toContain('evil.example/signin');
  });

  it('when the Host is a loopback name, then the link is on that origin', async () => {
    for (const host of [`localhost:${port(t)}`, `127.0.0.1:${port(t)}`, `[::1]:${port(t)}`, `LOCALHOST:${port(t)}`]) {
      const reply = await signToken(t, partner, host);
      expect(reply.status, reply.text).toBe(200);
      expect(reply.body.data.url).toMatch(new RegExp(`^http://${host.toLowerCase().replace(/[[\].]/g, '\\$&')}/signin\\?token=`));
    }
  });

  it('when a management or page request comes with a foreign Host, then it is refused in its own envelope; health checks still answer', async () => {
    const manage = await rawRequest(t.url, '/manage/v1/account/me', { headers: { host: 'evil.example' } });
    expect(manage.status).toBe(400);
    expect(manage.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(manage.body).toMatchObject({ status: 400, code: 'host_not_allowed' });
    for (const host of ['evil.example', `localhost.evil.example:${port(t)}`, `127.0.0.1.evil.example`, 'localhost@evil.example', '']) {
      expect((await rawRequest(t.url, '/support', { headers: { host } })).status, host).toBe(400);
    }
    expect((await rawRequest(t.url, '/healthz', { headers: { host: 'evil.example' } })).status).toBe(200);
  });
});

describe('with PUBLIC_URL', () => {
  let t: TestApp;
  let partner: Partner;
  beforeAll(async () => {
    t = await startTestApp({ env: { PUBLIC_URL: 'https://id.example.com/' } });
    partner = await createPartner(t.url);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when sign-token comes with any Host, then the link is on PUBLIC_URL', async () => {
    for (const host of ['evil.example', `127.0.0.1:${port(t)}`]) {
      const reply = await signToken(t, partner, host);
      expect(reply.status, reply.text).toBe(200);
      expect(reply.body.data.url).toMatch(/^https:\/\/id\.example\.com\/signin\?token=/);
    }
  });
});

describe('with ALLOWED_HOSTS', () => {
  let t: TestApp;
  let partner: Partner;
  beforeAll(async () => {
    t = await startTestApp({ env: { ALLOWED_HOSTS: 'id.example.com, 127.0.0.1' } });
    partner = await createPartner(t.url);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when the Host is listed, then the link is on it; when it is not, then the request is refused', async () => {
    const listed = await signToken(t, partner, 'ID.example.com');
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.data.url).toMatch(/^http:\/\/id\.example\.com\/signin\?token=/);
    const spoofed = await signToken(t, partner, 'evil.example');
    expect(spoofed.status).toBe(400);
    expect(spoofed.body.code).toBe('host_not_allowed');
    // loopback is not implied once a list is configured
    expect((await signToken(t, partner, `localhost:${port(t)}`)).status).toBe(400);
  });
});
