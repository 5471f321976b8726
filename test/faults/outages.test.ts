import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/clients/secret-format.ts';
import { Caller, PASSWORD, uniqueEmail } from '../support/http.ts';
import { partnerHeaders } from '../support/partner.ts';
import { connectSocket } from '../support-socket.ts';
import type { TestApp } from '../support/app.ts';
import { type Cluster, eventually, startCluster } from './cluster.ts';
import { type Traffic, type World, createWorld, expectNothingLost, expectWhole, startTraffic } from './traffic.ts';

// Finding 1: Postgres frozen (SIGSTOP: it accepts connections and answers nothing) or stopped
// and started again. While it is away, what needs it is answered 503 with Retry-After — at
// once, not after an unbounded wait — and nothing refused is allowed; once it is back, every
// node is whole again without a restart.

let cluster: Cluster;
let world: World;
let traffic: Traffic | undefined;
beforeAll(async () => {
  cluster = await startCluster({ nodes: 2 });
  world = await createWorld(cluster);
}, 180_000);
afterAll(async () => {
  await traffic?.stop();
  world?.user.socket.disconnect();
  world?.agent.socket.disconnect();
  await cluster?.close();
}, 120_000);

/** What a node answers while its database is away: each of these returns, and says so. */
async function expectUnavailable(node: TestApp): Promise<void> {
  const ready = await fetch(`${node.url}/readyz`);
  expect(ready.status).toBe(503);
  expect(await ready.json()).toMatchObject({ status: 'unavailable', database: 'unavailable' });

  // A partner call that must read the policy (a client no node has seen): refused, never allowed.
  const call = await fetch(`${node.url}/api/whoami`, {
    headers: partnerHeaders({ clientId: `kc_Unseen${randomUUID().slice(0, 8)}`, secret: generateSecret().secret, domain: 'api.example.com' }),
  });
  expect(call.status).toBe(503);
  expect(call.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(await call.json()).toMatchObject({ status: 'error', code: 'database_unavailable', data: null });

  // The management API: problem+json with a stable code.
  const caller = new Caller(node.url);
  caller.cookies = new Map(world.partner.caller.cookies);
  const write = await caller.post(`/manage/v1/clients/${world.partner.clientId}/redirect-uris`, { uri: `https://api.example.com/away/${randomUUID()}` });
  expect(write.status).toBe(503);
  expect(write.headers.get('content-type')).toContain('application/problem+json');
  expect(write.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(write.body).toMatchObject({ status: 503, code: 'database_unavailable' });
  const login = await new Caller(node.url).post('/manage/v1/account/login', { email: uniqueEmail(), password: PASSWORD });
  expect(login.status).toBe(503);

  // Live support: a new socket is refused with a code that says why.
  const socket = connectSocket(node.url, world.user.caller);
  try {
    const refusal = await new Promise<Error>((resolve, reject) => {
      socket.once('connect_error', resolve);
      socket.once('connect', () => reject(new Error('connected without a database')));
    });
    expect(refusal.message).toBe('database_unavailable');
  } finally {
    socket.disconnect();
  }
}

/** The partner API fails closed: once a node lost its notifications, even a known client's cached allow is not used. */
async function expectCacheDistrusted(node: TestApp): Promise<void> {
  await eventually(async () => {
    const body = (await (await fetch(`${node.url}/readyz`)).json()) as { notifications: string };
    return body.notifications === 'reconnecting';
  }, 'the node noticed its notifications are gone');
  const res = await fetch(`${node.url}/api/whoami`, { headers: partnerHeaders(world.partner) });
  expect(res.status).toBe(503);
}

/** Messages sent while the database was away were refused with database_unavailable (not lost, not an internal error). */
async function expectMessagesRefused(): Promise<void> {
  const before = traffic!.counts['message database_unavailable'] ?? 0;
  await eventually(async () => (traffic!.counts['message database_unavailable'] ?? 0) > before, 'a support message refused as database_unavailable');
}

describe('a database outage', () => {
  it('when Postgres freezes under traffic, then requests are answered 503 while it is frozen, and the nodes are whole after it thaws', async () => {
    traffic = startTraffic(world);
    await eventually(async () => (traffic!.counts['valid 200'] ?? 0) > 0 && (traffic!.counts['write 201'] ?? 0) > 0, 'traffic flows');
    await cluster.freeze();
    try {
      for (const node of cluster.nodes) await expectUnavailable(node);
      for (const node of cluster.nodes) await expectCacheDistrusted(node);
      await expectMessagesRefused();
    } finally {
      await cluster.thaw();
    }
    await expectWhole(world, 'after the freeze');
    await traffic.stop();
    await expectNothingLost(world, traffic);
    expect(traffic.counts['valid 503']).toBeGreaterThan(0);
    traffic = undefined;
  }, 600_000);

  it('when Postgres stops and starts again under traffic, then requests are answered 503 meanwhile, and the nodes are whole after it is back', async () => {
    traffic = startTraffic(world);
    await eventually(async () => (traffic!.counts['valid 200'] ?? 0) > 0 && (traffic!.counts['write 201'] ?? 0) > 0, 'traffic flows');
    await cluster.stopPostgres();
    try {
      for (const node of cluster.nodes) await expectUnavailable(node);
      for (const node of cluster.nodes) await expectCacheDistrusted(node);
      await expectMessagesRefused();
    } finally {
      await cluster.startPostgres();
    }
    await expectWhole(world, 'after the restart');
    await traffic.stop();
    await expectNothingLost(world, traffic);
    traffic = undefined;
  }, 600_000);
});
