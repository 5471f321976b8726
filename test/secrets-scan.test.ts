import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { Caller, PASSWORD, signUp } from './support/http.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { LOG_LEVEL: 'debug' } });
});
afterAll(async () => {
  await t?.close();
});

it('no secret, password or session id appears in the event store, the read models, the logs or any GET response', async () => {
  const { caller, email } = await signUp(t.url);
  const sessionId = [...caller.cookies.values()][0]!;
  const created = (await caller.post('/manage/v1/clients', { name: 'Scanned' })).body;
  const { clientId } = created;
  const { domainId } = (await caller.post(`/manage/v1/clients/${clientId}/domains`, { domain: 'scan.example' })).body;
  const issued = (await caller.post(`/manage/v1/clients/${clientId}/secrets`, { label: 'Second' })).body;
  const rotated = (await caller.post(`/manage/v1/clients/${clientId}/secrets/${issued.secretId}/rotate`, { graceSeconds: 10 })).body;
  await caller.put(`/manage/v1/clients/${clientId}/domains/${domainId}/secrets/${created.secret.secretId}`);
  // a failed login with a password-like value, and secrets sent where they do not belong
  await new Caller(t.url).post('/manage/v1/account/login', { email, password: 'wrong-password-value-123' });
  const secretAsName = await caller.patch(`/manage/v1/clients/${clientId}`, { name: created.secret.secret });
  expect(secretAsName.status).toBe(400); // a name that is a secret is refused, not stored
  await caller.get(`/manage/v1/clients/${clientId}`, { 'x-client-secret': rotated.secret, authorization: `Bearer ${issued.secret}` });

  const secrets = [created.secret.secret, issued.secret, rotated.secret, PASSWORD, 'wrong-password-value-123', sessionId];
  for (const s of secrets) expect(s.length).toBeGreaterThan(10);

  const gets = await Promise.all([
    caller.get('/manage/v1/clients'),
    caller.get(`/manage/v1/clients/${clientId}`),
    caller.get(`/manage/v1/clients/${clientId}/history`),
    caller.get('/manage/v1/account/me'),
  ]);
  const client = new pg.Client({ connectionString: t.databaseUrl });
  await client.connect();
  const events = (await client.query("SELECT string_agg(data::text || metadata::text, ' ') AS all FROM events")).rows[0].all as string;
  const readModels = (
    await client.query(`SELECT string_agg(t::text, ' ') AS all FROM (
      SELECT row_to_json(c)::text AS t FROM rm.clients c UNION ALL SELECT row_to_json(s)::text FROM rm.client_secrets s
      UNION ALL SELECT row_to_json(a)::text FROM rm.audit_log a UNION ALL SELECT row_to_json(u)::text FROM public.users u
      UNION ALL SELECT row_to_json(x)::text FROM public.sessions x) q`)
  ).rows[0].all as string;
  await client.end();

  const places: [string, string][] = [
    ['events', events],
    ['read models and account tables', readModels],
    ['logs', t.logs.join('\n')],
    ['GET responses', gets.map((g) => g.text).join('\n')],
  ];
  expect(t.logs.length).toBeGreaterThan(10);
  for (const [where, text] of places) {
    for (const s of secrets) {
      expect(text.includes(s), `${where} contain a secret`).toBe(false);
    }
  }
});
