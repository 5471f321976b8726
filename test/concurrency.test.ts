import { afterAll, beforeAll, expect, it } from 'vitest';
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
