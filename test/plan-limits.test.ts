import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { Caller, signUp, type Reply } from './support/http.ts';
import type { EventStore } from '../src/eventstore/port.ts';

// The clock every node reads: moved by the tests, never slept on.
let clock = Date.parse('2030-01-01T00:00:00Z');
const now = () => new Date(clock);

let a: TestApp;
let b: TestApp;
beforeAll(async () => {
  a = await startTestApp({ now });
  b = await startTestApp({ databaseUrl: a.databaseUrl, runProjector: false, now });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

/** The same logged-in user, talking to another node. */
function on(node: TestApp, caller: Caller): Caller {
  const other = new Caller(node.url);
  other.cookies = new Map(caller.cookies);
  return other;
}

const statuses = (replies: readonly Reply[]) => replies.map((r) => r.status).sort();
const codes = (replies: readonly Reply[]) => new Set(replies.filter((r) => r.status !== 201).map((r) => r.body.code));

async function liveClients(caller: Caller): Promise<string[]> {
  const list = await caller.get('/manage/v1/clients');
  expect(list.status).toBe(200);
  return list.body.clients.map((c: { clientId: string }) => c.clientId);
}

describe('the organisation-wide client limit', () => {
  it('when twenty creates race on the starter plan, then exactly one client exists and the others are plan_limit_clients', async () => {
    const { caller } = await signUp(a.url, { plan: 'starter' });
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => caller.post('/manage/v1/clients', { name: `Race ${i}` })));
    expect(statuses(replies)).toEqual([201, ...Array(19).fill(403)]);
    expect(codes(replies)).toEqual(new Set(['plan_limit_clients']));
    expect(await liveClients(caller)).toEqual([replies.find((r) => r.status === 201)!.body.clientId]);
  });

  it('when twenty creates race across two nodes on one database, then exactly one client exists', async () => {
    const { caller } = await signUp(a.url, { plan: 'starter' });
    const viaB = on(b, caller);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? viaB : caller).post('/manage/v1/clients', { name: `Two nodes ${i}` })),
    );
    expect(statuses(replies)).toEqual([201, ...Array(19).fill(403)]);
    expect(codes(replies)).toEqual(new Set(['plan_limit_clients']));
    expect(await liveClients(caller)).toHaveLength(1);
  });

  it('when forty creates race across two nodes on the pro plan, then exactly ten clients exist', async () => {
    const { caller } = await signUp(a.url, { plan: 'pro' });
    const viaB = on(b, caller);
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? viaB : caller).post('/manage/v1/clients', { name: `Pro ${i}` })));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(10);
    expect(codes(replies)).toEqual(new Set(['plan_limit_clients']));
    expect(await liveClients(caller)).toHaveLength(10);
  });

  it('when the client is deleted, then its slot is free again (on either node)', async () => {
    const { caller } = await signUp(a.url, { plan: 'starter' });
    const first = await caller.post('/manage/v1/clients', { name: 'First' });
    expect(first.status).toBe(201);
    expect((await on(b, caller).post('/manage/v1/clients', { name: 'Second' })).body.code).toBe('plan_limit_clients');

    expect((await on(b, caller).delete(`/manage/v1/clients/${first.body.clientId}`)).status).toBe(200);
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? on(b, caller) : caller).post('/manage/v1/clients', { name: `Next ${i}` })));
    expect(statuses(replies)).toEqual([201, ...Array(9).fill(403)]);
    expect(await liveClients(caller)).toEqual([replies.find((r) => r.status === 201)!.body.clientId]);
  });

  it('when a downgrade leaves more clients than the new plan allows, then nothing is deleted and new clients wait until enough are deleted', async () => {
    const { caller } = await signUp(a.url, { plan: 'pro' });
    const ids: string[] = [];
    for (const name of ['One', 'Two', 'Three']) ids.push((await caller.post('/manage/v1/clients', { name })).body.clientId);

    expect((await caller.post('/manage/v1/account/plan', { plan: 'starter' })).status).toBe(200);
    expect(new Set(await liveClients(caller))).toEqual(new Set(ids));
    expect((await caller.post('/manage/v1/clients', { name: 'Four' })).body.code).toBe('plan_limit_clients');

    await caller.delete(`/manage/v1/clients/${ids[0]}`);
    await caller.delete(`/manage/v1/clients/${ids[1]}`);
    expect((await caller.post('/manage/v1/clients', { name: 'Still one too many' })).body.code).toBe('plan_limit_clients');
    await caller.delete(`/manage/v1/clients/${ids[2]}`);
    expect((await caller.post('/manage/v1/clients', { name: 'Fits again' })).status).toBe(201);
  });

  it('when the plan is cancelled, then existing clients stay and creates are plan_inactive; reactivating counts them again', async () => {
    const { caller } = await signUp(a.url, { plan: 'starter' });
    const kept = (await caller.post('/manage/v1/clients', { name: 'Kept' })).body.clientId;
    expect((await caller.delete('/manage/v1/account/plan')).status).toBe(200);
    expect((await caller.post('/manage/v1/clients', { name: 'No plan' })).body.code).toBe('plan_inactive');
    expect(await liveClients(caller)).toEqual([kept]);
    expect((await caller.post('/manage/v1/account/plan', { plan: 'starter' })).status).toBe(200);
    expect((await caller.post('/manage/v1/clients', { name: 'Over' })).body.code).toBe('plan_limit_clients');
  });
});

describe('a creation that fails half-way', () => {
  /** Makes `fail(stream, types)` appends throw, as a dropped connection would; returns the undo. */
  function failAppends(store: EventStore, fail: (stream: string, types: readonly string[]) => boolean): () => void {
    const append = store.append.bind(store);
    store.append = async (stream, events, options) => {
      if (fail(stream, events.map((e) => e.type))) throw new Error('injected: connection lost');
      return await append(stream, events, options);
    };
    return () => {
      store.append = append;
    };
  }

  it('when the registration cannot be written after the slot was reserved, then the slot is given back at once', async () => {
    const { caller } = await signUp(a.url, { plan: 'starter' });
    const restore = failAppends(a.app.ctx.store, (_stream, types) => types.includes('ClientRegistered'));
    try {
      expect((await caller.post('/manage/v1/clients', { name: 'Fails' })).status).toBe(500);
    } finally {
      restore();
    }
    expect((await caller.post('/manage/v1/clients', { name: 'Works' })).status).toBe(201);
    expect(await liveClients(caller)).toHaveLength(1);
  });

  it('when the node dies between reserving and registering, then the slot is reclaimed once the reservation is stale, and the late registration is fenced off', async () => {
    const { caller } = await signUp(a.url, { plan: 'starter' });
    // The node "dies" after the reservation: neither the registration nor the give-back is written.
    const restore = failAppends(a.app.ctx.store, (stream) => stream.startsWith('client-'));
    try {
      expect((await caller.post('/manage/v1/clients', { name: 'Orphan' })).status).toBe(500);
    } finally {
      restore();
    }
    const organisationId = (await caller.get('/manage/v1/account/me')).body.organisation.id as string;
    const reserved = (await a.app.ctx.store.readStream(`organisation-${organisationId}`)).filter((e) => e.type === 'ClientSlotReserved');
    expect(reserved).toHaveLength(1);
    const orphanId = (reserved[0]!.data as { clientId: string }).clientId;

    // While the reservation is fresh it may still be completing somewhere: it counts.
    expect((await on(b, caller).post('/manage/v1/clients', { name: 'Too early' })).body.code).toBe('plan_limit_clients');

    clock += 10 * 60_000;
    const reclaimed = await on(b, caller).post('/manage/v1/clients', { name: 'After the orphan' });
    expect(reclaimed.status).toBe(201);
    expect(await liveClients(caller)).toEqual([reclaimed.body.clientId]);

    // The orphan's id is dead: a registration that wakes up now cannot create it.
    const fenced = (await a.app.ctx.store.readStream(`client-${orphanId}`)).map((e) => e.type);
    expect(fenced).toEqual(['ClientRegistrationAbandoned']);
  });
});

describe('a creation retried after it failed half-way', () => {
  it('when the node died between reserving and registering, then a retry with the same X-Request-Id completes it in the slot it holds', async () => {
    const { caller } = await signUp(a.url, { plan: 'starter' });
    const key = { 'x-request-id': 'create-retry-0001' };
    const store = a.app.ctx.store;
    const append = store.append.bind(store);
    store.append = async (stream, events, options) => {
      if (stream.startsWith('client-')) throw new Error('injected: connection lost');
      return await append(stream, events, options);
    };
    try {
      expect((await caller.request('POST', '/manage/v1/clients', { name: 'Retried' }, key)).status).toBe(500);
    } finally {
      store.append = append;
    }
    const retry = await on(b, caller).request('POST', '/manage/v1/clients', { name: 'Retried' }, key);
    expect(retry.status).toBe(201);
    expect(await liveClients(caller)).toEqual([retry.body.clientId]);
    expect((await caller.request('POST', '/manage/v1/clients', { name: 'Retried' }, key)).body.code).toBe('duplicate_request');
  });
});

describe('the per-client limits (decided in the client stream)', () => {
  it('when twenty domain adds and twenty secret issues race across two nodes on starter, then exactly 2 domains and 5 active secrets exist', async () => {
    const { caller } = await signUp(a.url, { plan: 'starter' });
    const viaB = on(b, caller);
    const { clientId } = (await caller.post('/manage/v1/clients', { name: 'Limits' })).body;

    const domains = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? viaB : caller).post(`/manage/v1/clients/${clientId}/domains`, { domain: `d${i}.limits.example` })),
    );
    expect(domains.filter((r) => r.status === 201)).toHaveLength(2);
    expect(codes(domains)).toEqual(new Set(['plan_limit_domains']));

    const secrets = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? viaB : caller).post(`/manage/v1/clients/${clientId}/secrets`, { label: `Key ${i}` })),
    );
    // the client was created with one secret
    expect(secrets.filter((r) => r.status === 201)).toHaveLength(4);
    expect(codes(secrets)).toEqual(new Set(['plan_limit_secrets']));

    const details = (await caller.get(`/manage/v1/clients/${clientId}`)).body;
    expect(details.domains).toHaveLength(2);
    expect(details.secrets.filter((s: { status: string }) => s.status === 'active')).toHaveLength(5);
  });
});
