import { openDatabase } from '../src/db/database.ts';
import { createPostgresEventStore } from '../src/eventstore/postgres.ts';
import { createTestDatabase } from './support/database.ts';
import { describe, expect, it } from 'vitest';
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
