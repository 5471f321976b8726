import { openDatabase } from '../src/db/database.ts';
import { createPostgresEventStore } from '../src/eventstore/postgres.ts';
import { createTestDatabase } from './support/database.ts';
import { eventStoreContract } from './eventstore-contract.ts';

eventStoreContract('postgres event log', async () => {
  const database = openDatabase(await createTestDatabase(), { max: 12 });
  const store = createPostgresEventStore(database.pool);
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
