import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { signUp } from './support/http.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

it('when fifty renames and fifty redirect-URI additions hit one client at once, then every one lands', async () => {
  const { caller } = await signUp(t.url);
  const { clientId } = (await caller.post('/manage/v1/clients', { name: 'Busy' })).body;
  const renames = Array.from({ length: 50 }, (_, i) => caller.patch(`/manage/v1/clients/${clientId}`, { name: `Name ${i}` }));
  const uris = Array.from({ length: 50 }, (_, i) => caller.post(`/manage/v1/clients/${clientId}/redirect-uris`, { uri: `https://busy.example/cb/${i}` }));
  const replies = await Promise.all([...renames, ...uris]);
  expect(replies.map((r) => r.status)).toEqual([...Array(50).fill(200), ...Array(50).fill(201)]);

  const details = (await caller.get(`/manage/v1/clients/${clientId}`)).body;
  expect(new Set(details.redirectUris)).toEqual(new Set(Array.from({ length: 50 }, (_, i) => `https://busy.example/cb/${i}`)));
  const history = (await caller.get(`/manage/v1/clients/${clientId}/history`)).body.events;
  const renamed = history.filter((e: { type: string }) => e.type === 'ClientRenamed');
  expect(renamed).toHaveLength(50);
  // The read model shows the last rename in stream order.
  expect(details.name).toBe(renamed.at(-1).data.name);
  expect(history.filter((e: { type: string }) => e.type === 'RedirectUriAdded')).toHaveLength(50);
});

it('when two app nodes write to one client at once, then optimistic concurrency retries and both land', async () => {
  const second = await startTestApp({ databaseUrl: t.databaseUrl, runProjector: false });
  try {
    const { caller } = await signUp(t.url);
    const { clientId } = (await caller.post('/manage/v1/clients', { name: 'Shared' })).body;
    const viaSecond = new (caller.constructor as typeof import('./support/http.ts').Caller)(second.url);
    viaSecond.cookies = new Map(caller.cookies);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? viaSecond : caller).post(`/manage/v1/clients/${clientId}/redirect-uris`, { uri: `https://shared.example/${i}` }),
      ),
    );
    expect(replies.every((r) => r.status === 201)).toBe(true);
    // The second node answered only after the first node's projector reached its write.
    expect((await viaSecond.get(`/manage/v1/clients/${clientId}`)).body.redirectUris).toHaveLength(20);
  } finally {
    await second.close();
  }
});

it('when two nodes take turns writing one stream, then after each has met the other once they read first and stop conflicting', async () => {
  const second = await startTestApp({ databaseUrl: t.databaseUrl, runProjector: false });
  try {
    const conflicts: string[] = [];
    for (const node of [t, second]) {
      node.app.ctx.store.appendReports.on('append', (r) => {
        if (r.outcome === 'conflict' && r.stream === stream) conflicts.push(r.stream);
      });
    }
    const stream = `turns-${Date.now()}`;
    const counter = { initial: 0, evolve: (n: number) => n + 1 };
    const revisions: bigint[] = [];
    for (let i = 0; i < 12; i++) {
      const node = i % 2 === 0 ? t : second;
      const outcome = await node.app.ctx.commands.handle(stream, counter, { type: 'Count', key: `turn-${i}`, metadata: { actor: 'system', correlationId: 'c', causationId: 'c', requestId: `r${i}`, ip: null, userAgent: null, at: new Date().toISOString() } }, (n) => [
        { type: 'Counted', data: { n } },
      ]);
      revisions.push(outcome.revision);
      expect(outcome.state).toBe(i + 1);
    }
    expect(revisions).toEqual(Array.from({ length: 12 }, (_, i) => BigInt(i)));
    // the first node's second write and the second node's second write; none after
    expect(conflicts).toHaveLength(2);
  } finally {
    await second.close();
  }
});

it('when a node hears of another node’s appends (observe), then it decides from them without reading; a report with a gap makes it read first', async () => {
  const second = await startTestApp({ databaseUrl: t.databaseUrl, runProjector: false });
  try {
    const [a, b] = [t.app.ctx.commands, second.app.ctx.commands];
    const stream = `observed-${Date.now()}`;
    const counter = { initial: 0, evolve: (n: number) => n + 1 };
    const metadata = (i: number) => ({ actor: 'system', correlationId: 'c', causationId: 'c', requestId: `o${i}`, ip: null, userAgent: null, at: new Date().toISOString() });
    const count = (handler: typeof a, i: number) => handler.handle(stream, counter, { type: 'Count', key: `observe-${i}`, metadata: metadata(i) }, (n) => [{ type: 'Counted', data: { n } }]);
    const reads = vi.spyOn(t.app.ctx.store, 'readStream');
    const readsOfStream = () => reads.mock.calls.filter(([s]) => s === stream).length;
    const conflicts: string[] = [];
    t.app.ctx.store.appendReports.on('append', (r) => {
      if (r.outcome === 'conflict' && r.stream === stream) conflicts.push(r.stream);
    });
    try {
      await count(a, 0); // a's cache: revision 0 (one read: the stream was new to it)
      const tellA = b.onAppended((s, events) => s === stream && a.observe(s, events));
      await count(b, 1); // revision 1, told to a
      expect((await count(a, 2)).state).toBe(3); // decided from what it was told: no read, no conflict
      expect(await a.peek(stream, counter)).toBe(3); // a peek sees what a command would: no read either
      expect([readsOfStream(), conflicts.length]).toEqual([1, 0]);
      tellA();
      await count(b, 3); // revision 3, not told
      a.observe(stream, [{ revision: 4n, type: 'Counted', data: {} }]); // a report that does not follow revision 2: a gap
      expect((await count(a, 4)).state).toBe(5); // read first (revisions 3 and 4 were missed), decided on the fresh state
      expect([readsOfStream(), conflicts.length]).toEqual([2, 0]);
      // another node was just seen writing here: a peek, like a command, reads what it missed first
      expect(await a.peek(stream, counter)).toBe(5);
      expect(readsOfStream()).toBe(3);
    } finally {
      reads.mockRestore();
    }
  } finally {
    await second.close();
  }
});

it('when a node hears of a stream another node created (its first event, with its id), then it caches it: its first command reads nothing, and a retried creation is a duplicate', async () => {
  const second = await startTestApp({ databaseUrl: t.databaseUrl, runProjector: false });
  try {
    const [a, b] = [t.app.ctx.commands, second.app.ctx.commands];
    const stream = `created-elsewhere-${Date.now()}`;
    const counter = { initial: 0, evolve: (n: number) => n + 1 };
    const metadata = (i: number) => ({ actor: 'system', correlationId: 'c', causationId: 'c', requestId: `c${i}`, ip: null, userAgent: null, at: new Date().toISOString() });
    const create = (handler: typeof a) =>
      handler.handle(stream, counter, { type: 'Create', key: 'create', metadata: metadata(0) }, (n) => {
        if (n > 0) throw new Error('already exists');
        return [{ type: 'Counted', data: {} }];
      });
    const count = (handler: typeof a, i: number) => handler.handle(stream, counter, { type: 'Count', key: `count-${i}`, metadata: metadata(i) }, () => [{ type: 'Counted', data: {} }]);
    const reads = vi.spyOn(t.app.ctx.store, 'readStream');
    const readsOfStream = () => reads.mock.calls.filter(([s]) => s === stream).length;
    const stop = b.onAppended((s, events) => s === stream && a.observe(s, events, counter));
    try {
      await create(b); // revision 0, told to a with its id
      expect((await count(a, 1)).state).toBe(2);
      expect(readsOfStream()).toBe(0);
      // without its aggregate, or without the first event, a report of an unknown stream is not cached
      a.observe(`${stream}-other`, [{ revision: 0n, type: 'Counted', data: {}, id: 'x' }]);
      a.observe(`${stream}-later`, [{ revision: 3n, type: 'Counted', data: {}, id: 'x' }], counter);
      expect(await count(a, 2).then((o) => o.state)).toBe(3);
      expect(readsOfStream()).toBe(0);
      // the creation retried on a (it was b's): found by the first event's id, nothing written
      const retried = await create(a);
      expect(retried).toMatchObject({ duplicate: true, events: [] });
      expect(readsOfStream()).toBe(0);
    } finally {
      stop();
      reads.mockRestore();
    }
  } finally {
    await second.close();
  }
});
