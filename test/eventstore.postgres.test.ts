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
