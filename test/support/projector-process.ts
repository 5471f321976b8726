// A projector alone in its own process, for the crash test (killed with SIGKILL mid-batch).
import { openDatabase } from '../../src/db/database.ts';
import { createPostgresEventStore } from '../../src/eventstore/postgres.ts';
import { createLogger } from '../../src/logger.ts';
import { createProjector } from '../../projections/runner.ts';

const database = openDatabase(process.env.DATABASE_URL!, { max: 3 });
const store = createPostgresEventStore(database.pool, { batchSize: 100 });
const projector = createProjector({ database, store, logger: createLogger({ level: 'warn' }) });
projector.start();
process.on('SIGTERM', () => {
  void projector.stop().then(() => store.close()).then(() => database.destroy()).then(() => process.exit(0));
});
