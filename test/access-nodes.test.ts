import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ProjectionChange } from '../projections/runner.ts';
import { comparePositions, parsePosition } from '../src/eventstore/port.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { Caller } from './support/http.ts';
import { callApi, partnerHeaders, partnerSetup } from './support/partner.ts';

// How fast the other node hears of a change is a figure for `npm run bench:access`, not an
// assertion here: these tests wait for the notification itself, then check what it did.

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

/**
 * Records the projector notifications `node` receives (start it before the write). `heard`
 * resolves once one names `clientId` at or past the write's `position` — the notification, not
 * a poll of the checkpoint table, which would not say which client changed.
 */
function notifications(node: TestApp, timeoutMs = 60_000) {
  const seen: ProjectionChange[] = [];
  const wakeups = new Set<() => void>();
  const stop = node.app.ctx.watcher.onChange((change) => {
    seen.push(change);
    for (const wake of wakeups) wake();
  });
  return {
    stop,
    heard(clientId: string, position: string): Promise<void> {
      const at = parsePosition(position);
      if (!at) throw new Error(`not a position: ${position}`);
      const matches = () => seen.some((c) => !c.all && c.clientIds.includes(clientId) && comparePositions(c.position, at) >= 0);
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!matches()) return;
          clearTimeout(timer);
          wakeups.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          wakeups.delete(check);
          reject(new Error(`node did not hear of ${clientId} at ${position} within ${timeoutMs} ms`));
        }, timeoutMs);
        wakeups.add(check);
        check();
      });
    },
  };
}

/** Resolves when `node`'s notification connection goes down (`false`) or comes back (`true`). */
function watcherState(node: TestApp, connected: boolean, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`the watcher was not ${connected ? 'connected' : 'disconnected'} within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = node.app.ctx.watcher.onReset((now) => {
      if (now !== connected) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

it('when a client is disabled or a secret rotated on one node, then the writer refuses it at once, and the other node as soon as it hears of the change', async () => {
  const p = await partnerSetup(a.url);
  // both nodes have the client's policy cached
  expect((await whoami(a, p)).status).toBe(200);
  expect((await whoami(b, p)).status).toBe(200);

  const atB = notifications(b);
  const disabled = await p.caller.post(`/manage/v1/clients/${p.clientId}/disable`);
  expect((await whoami(a, p)).body.code).toBe('client_disabled');
  await atB.heard(p.clientId, disabled.body.position);
  expect((await whoami(b, p)).body.code).toBe('client_disabled');

  const enabled = await p.caller.post(`/manage/v1/clients/${p.clientId}/enable`);
  await atB.heard(p.clientId, enabled.body.position);
  expect((await whoami(b, p)).status).toBe(200);
  atB.stop();

  // a write served by node b: node b refuses on the very next request, node a once it hears of it
  expect((await whoami(a, p)).status).toBe(200);
  const atA = notifications(a);
  const viaB = new Caller(b.url);
  viaB.cookies = new Map(p.caller.cookies);
  const rotation = await viaB.post(`/manage/v1/clients/${p.clientId}/secrets/${p.secretId}/rotate`, {});
  const rotated = rotation.body;
  expect((await whoami(b, p)).body.code).toBe('secret_expired');
  await atA.heard(p.clientId, rotated.position);
  atA.stop();
  expect((await whoami(a, p)).body.code).toBe('secret_expired');
  expect((await whoami(a, { ...p, secret: rotated.secret })).status).toBe(200);
  expect((await whoami(b, { ...p, secret: rotated.secret })).status).toBe(200);
});

it('when the notification connection drops, then the cache stops trusting itself until it reconnects', async () => {
  const p = await partnerSetup(a.url);
  expect((await whoami(b, p)).status).toBe(200);
  const lost = watcherState(b, false);
  const admin = new pg.Client({ connectionString: a.databaseUrl });
  await admin.connect();
  // cut every node's LISTEN connection, then change the client while they are away
  await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'keyledger-watcher'`);
  await admin.end();
  const back = lost.then(() => watcherState(b, true));
  await lost;
  expect(b.app.ctx.watcher.connected()).toBe(false);
  await p.caller.post(`/manage/v1/clients/${p.clientId}/disable`);
  expect((await whoami(b, p)).body.code).toBe('client_disabled');
  // and it comes back by itself, and trusts its notifications again
  await back;
  expect(b.app.ctx.watcher.connected()).toBe(true);
  const atB = notifications(b);
  const enabled = await p.caller.post(`/manage/v1/clients/${p.clientId}/enable`);
  await atB.heard(p.clientId, enabled.body.position);
  atB.stop();
  expect((await whoami(b, p)).status).toBe(200);
});
