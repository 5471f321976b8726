import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { callApi, partnerHeaders, partnerSetup } from './support/partner.ts';

let a: TestApp;
let b: TestApp;
beforeAll(async () => {
  a = await startTestApp();
  b = await startTestApp({ databaseUrl: a.databaseUrl, runProjector: false });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const whoami = (node: TestApp, p: { clientId: string; secret: string; domain: string }) => callApi(node.url, '/api/whoami', partnerHeaders(p));

/** Polls `node` until the answer has `status`; returns how long it took. */
async function until(node: TestApp, p: { clientId: string; secret: string; domain: string }, status: number, limitMs = 2_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const reply = await whoami(node, p);
    if (reply.status === status) return Date.now() - started;
    if (Date.now() - started > limitMs) throw new Error(`still ${reply.status} (${reply.body.code}) after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

it('when a client is disabled or a secret rotated on one node, then both nodes refuse it (the writer at once, the other within 250 ms)', async () => {
  const p = await partnerSetup(a.url);
  // both nodes have the client's policy cached
  expect((await whoami(a, p)).status).toBe(200);
  expect((await whoami(b, p)).status).toBe(200);

  await p.caller.post(`/manage/v1/clients/${p.clientId}/disable`);
  expect((await whoami(a, p)).body.code).toBe('client_disabled');
  expect(await until(b, p, 403)).toBeLessThan(250);

  await p.caller.post(`/manage/v1/clients/${p.clientId}/enable`);
  await until(b, p, 200);
  // a write served by node b: node b refuses on the very next request, node a soon after
  const viaB = new (p.caller.constructor as typeof import('./support/http.ts').Caller)(b.url);
  viaB.cookies = new Map(p.caller.cookies);
  const rotated = (await viaB.post(`/manage/v1/clients/${p.clientId}/secrets/${p.secretId}/rotate`, {})).body;
  expect((await whoami(b, p)).body.code).toBe('secret_expired');
  expect(await until(a, p, 401)).toBeLessThan(250);
  expect((await whoami(a, { ...p, secret: rotated.secret })).status).toBe(200);
  expect((await whoami(b, { ...p, secret: rotated.secret })).status).toBe(200);
});

it('when the notification connection drops, then the cache stops trusting itself until it reconnects', async () => {
  const p = await partnerSetup(a.url);
  expect((await whoami(b, p)).status).toBe(200);
  const admin = new pg.Client({ connectionString: a.databaseUrl });
  await admin.connect();
  // cut every node's LISTEN connection, then change the client while they are away
  await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'keyledger-watcher'`);
  await admin.end();
  for (let i = 0; i < 100 && b.app.ctx.watcher.connected(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(b.app.ctx.watcher.connected()).toBe(false);
  await p.caller.post(`/manage/v1/clients/${p.clientId}/disable`);
  expect((await whoami(b, p)).body.code).toBe('client_disabled');
  // and it comes back by itself
  for (let i = 0; i < 100 && !b.app.ctx.watcher.connected(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(b.app.ctx.watcher.connected()).toBe(true);
  await p.caller.post(`/manage/v1/clients/${p.clientId}/enable`);
  expect(await until(b, p, 200)).toBeLessThan(250);
});
