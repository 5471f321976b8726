import pg from 'pg';
import { openDatabase } from '../src/db/database.ts';
import { createPostgresEventStore } from '../src/eventstore/postgres.ts';
import { createTestDatabase } from './support/database.ts';
import { describe, expect, it, vi } from 'vitest';
import { START } from '../src/eventstore/port.ts';
import { eventStoreContract, newEvent } from './eventstore-contract.ts';

eventStoreContract('postgres event log', async () => {
  const database = openDatabase(await createTestDatabase(), { max: 12 });
  // idle subscribers wait for a wake-up, not for a poll (the contract's live-delivery test)
  const store = createPostgresEventStore(database.pool, { idlePollMs: 600_000 });
  return {
    store,
    async appendHoldingTransaction(stream, event, holdMs) {
      const client = await database.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT * FROM kl_append($1, 3::smallint, NULL, $2::uuid[], $3::text[], $4::jsonb[], $5::jsonb[])', [
          stream,
          [event.id],
          [event.type],
          [JSON.stringify(event.data)],
          [JSON.stringify(event.metadata)],
        ]);
        await client.query('SELECT pg_sleep($1)', [holdMs / 1000]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    },
    async close() {
      await store.close();
      await database.destroy();
    },
  };
});

describe('postgres event log specifics', () => {
  it('when an append reuses some stored event ids with new ones, then it fails and writes nothing', async () => {
    const database = openDatabase(await createTestDatabase(), { max: 2 });
    const store = createPostgresEventStore(database.pool);
    try {
      const [a, b] = [newEvent('A'), newEvent('B')];
      await store.append('mixed-1', [a, b], { expectedRevision: 'no_stream' });
      await expect(store.append('mixed-1', [b, newEvent('C')], { expectedRevision: 'any' })).rejects.toThrow(/some event ids are already stored/);
      await expect(store.append('mixed-2', [a], { expectedRevision: 'any' })).rejects.toThrow(/some event ids are already stored/);
      expect((await store.readStream('mixed-1')).map((e) => e.type)).toEqual(['A', 'B']);
      expect(await store.readStream('mixed-2')).toEqual([]);
      // a full retry with a stale expected revision is still recognised as a duplicate
      const retry = await store.append('mixed-1', [a, b], { expectedRevision: 'no_stream' });
      expect(retry).toMatchObject({ duplicate: true, nextRevision: 1n });
    } finally {
      await store.close();
      await database.destroy();
    }
  });
});

describe('group commit', () => {
  it('when appends queue behind a commit, then they go together, each with its own revision check and outcome', async () => {
    const database = openDatabase(await createTestDatabase(), { max: 4 });
    // one commit at a time: everything sent while the first is under way waits and goes as one group
    const store = createPostgresEventStore(database.pool, { groupCommit: { maxInFlight: 1 } });
    const groups: number[] = [];
    store.appendReports.on('append', (r) => groups.push(r.group));
    try {
      const [a, b] = [newEvent('A'), newEvent('B')];
      await store.append('gc-dup', [a], { expectedRevision: 'no_stream' });
      const first = store.append('gc-first', [newEvent('First')], { expectedRevision: 'no_stream' });
      const outcomes = await Promise.allSettled([
        store.append('gc-1', [newEvent('One')], { expectedRevision: 'no_stream' }),
        store.append('gc-2', [newEvent('Two'), newEvent('Three')], { expectedRevision: 'no_stream' }),
        // the same stream twice in one group: the second sees the first
        store.append('gc-1', [newEvent('Four')], { expectedRevision: 0n }),
        // a stale revision: refused alone
        store.append('gc-2', [newEvent('Stale')], { expectedRevision: 5n }),
        // a retry of a stored append: a duplicate
        store.append('gc-dup', [a], { expectedRevision: 'no_stream' }),
        // stored and new ids mixed: refused alone, nothing of it written
        store.append('gc-dup', [a, b], { expectedRevision: 'any' }),
      ]);
      await first;
      const [one, two, four, stale, dup, mixed] = outcomes;
      expect(one).toMatchObject({ status: 'fulfilled', value: { nextRevision: 0n, duplicate: false } });
      expect(two).toMatchObject({ status: 'fulfilled', value: { nextRevision: 1n } });
      expect(four).toMatchObject({ status: 'fulfilled', value: { nextRevision: 1n } });
      expect(stale).toMatchObject({ status: 'rejected', reason: { name: 'WrongExpectedVersion', actual: 1n } });
      expect(dup).toMatchObject({ status: 'fulfilled', value: { duplicate: true, nextRevision: 0n } });
      expect(mixed).toMatchObject({ status: 'rejected', reason: { message: expect.stringMatching(/some event ids are already stored/) } });
      expect(groups).toContain(6);
      expect((await store.readStream('gc-1')).map((e) => e.type)).toEqual(['One', 'Four']);
      expect((await store.readStream('gc-2')).map((e) => e.type)).toEqual(['Two', 'Three']);
      expect((await store.readStream('gc-dup')).map((e) => e.type)).toEqual(['A']);
      // one transaction: the group's events share a commit position, in per-stream order
      const all = await store.readAll({ commit: -1n, prepare: -1n }, 100);
      const grouped = all.filter((e) => ['One', 'Two', 'Three', 'Four'].includes(e.type));
      expect(new Set(grouped.map((e) => e.position.commit)).size).toBe(1);
      expect(grouped.map((e) => e.type)).toEqual(['One', 'Two', 'Three', 'Four']);
    } finally {
      await store.close();
      await database.destroy();
    }
  });

  it('when one append of a group carries a value Postgres refuses, then only that one fails', async () => {
    const database = openDatabase(await createTestDatabase(), { max: 4 });
    const store = createPostgresEventStore(database.pool, { groupCommit: { maxInFlight: 1 } });
    try {
      const first = store.append('gc-bad-0', [newEvent('First')], { expectedRevision: 'no_stream' });
      const [good, bad, other] = await Promise.allSettled([
        store.append('gc-bad-1', [newEvent('Good')], { expectedRevision: 'no_stream' }),
        store.append('gc-bad-2', [{ ...newEvent('Bad'), data: { text: 'a\u0000b' } }], { expectedRevision: 'no_stream' }),
        store.append('gc-bad-3', [newEvent('Other')], { expectedRevision: 'no_stream' }),
      ]);
      await first;
      expect(good.status).toBe('fulfilled');
      expect(bad.status).toBe('rejected');
      expect(other.status).toBe('fulfilled');
      expect(await store.readStream('gc-bad-2')).toEqual([]);
    } finally {
      await store.close();
      await database.destroy();
    }
  });
});

describe('wake-ups between nodes', () => {
  it('when a store was woken in-process for an append, then the NOTIFY coming back for it wakes nothing; every other wake-up does', async () => {
    const url = await createTestDatabase();
    const database = openDatabase(url, { max: 4 });
    // node A, and its projector's thread (poked in-process for A's appends)
    const a = createPostgresEventStore(database.pool, { idlePollMs: 600_000, wakeTag: { own: 'node-a' } });
    const projector = createPostgresEventStore(database.pool, {
      idlePollMs: 600_000,
      wakeTag: { own: 'node-a-projector', heardInProcess: ['node-a'] },
      listenerConfig: { connectionString: url, application_name: 'wake-test-projector' },
    });
    const subscription = projector.subscribeAll(START, { async onEvents() {} });
    const sender = new pg.Client({ connectionString: url });
    await sender.connect();
    try {
      // one session's notifications arrive in the order sent: once the last is counted, all are
      const all = (n: number) => vi.waitFor(() => expect(projector.wakeUps().heard + projector.wakeUps().echoes).toBe(n), { timeout: 30_000, interval: 10 });
      // its LISTEN is up: from now on every notification reaches it
      await vi.waitFor(
        async () => {
          const { rows } = await sender.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'wake-test-projector' AND state = 'idle' AND query LIKE 'LISTEN%'`);
          expect(rows).toHaveLength(1);
        },
        { timeout: 30_000, interval: 20 },
      );
      const start = projector.wakeUps();
      await sender.query(`NOTIFY keyledger_events, 'node-a'`);
      await sender.query(`NOTIFY keyledger_events, 'node-b'`);
      await sender.query(`NOTIFY keyledger_events, 'node-a-projector'`);
      await sender.query(`NOTIFY keyledger_events`);
      await all(start.heard + start.echoes + 4);
      expect(projector.wakeUps()).toEqual({ heard: start.heard + 2, echoes: start.echoes + 2 });
      // an append names its store: node A's comes back to the projector as an echo
      await a.append('wake-a', [newEvent('FromA')], { expectedRevision: 'no_stream' });
      await sender.query(`NOTIFY keyledger_events, 'sentinel'`);
      await all(start.heard + start.echoes + 6);
      expect(projector.wakeUps()).toEqual({ heard: start.heard + 3, echoes: start.echoes + 3 });
    } finally {
      await sender.end();
      await subscription.stop();
      await Promise.all([a.close(), projector.close()]);
      await database.destroy();
    }
  }, 60_000);

  it('when a subscription is stopped while it handles a batch, then it stops at once, without a last sleep', async () => {
    const database = openDatabase(await createTestDatabase(), { max: 4 });
    const store = createPostgresEventStore(database.pool, { idlePollMs: 600_000 });
    await store.append('stop-1', [newEvent('One')], { expectedRevision: 'no_stream' });
    let entered!: () => void;
    const inBatch = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const subscription = store.subscribeAll(START, {
      async onEvents() {
        entered();
        await held;
      },
    });
    await inBatch;
    const stopped = subscription.stop();
    release();
    // the test's own timeout (not the 600 s poll) is what a sleep after the batch would run into
    await stopped;
    await store.close();
    await database.destroy();
  }, 30_000);
});
