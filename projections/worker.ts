// The projector's own thread: it reads, builds and writes read models without waiting behind
// the HTTP work of the main thread. Started by projections/threaded.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { type Config, databaseTimeouts } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { openDatabase } from '../src/db/database.ts';
import { createEventStore } from '../src/eventstore/factory.ts';
import { createProjector } from './runner.ts';
import type { ProjectorThreadMessage } from './threaded.ts';
import type { ProjectionBatchStats } from '../src/metrics/metrics.ts';

const { databaseUrl, config, stats, wakeTag } = workerData as { databaseUrl: string; config: Config; stats?: boolean; wakeTag?: string };
const logger = createLogger({ level: config.LOG_LEVEL }).child({ component: 'projector' });
const database = openDatabase(databaseUrl, { max: 3, applicationName: 'keyledger-projector', timeouts: databaseTimeouts(config), logger });
// The node pokes this thread for its own appends: their NOTIFY coming back is not read for again.
const store = createEventStore(config, database, logger, wakeTag ? { wakeTag: { own: `${wakeTag}-projector`, heardInProcess: [wakeTag] } } : {});
const port = parentPort!;
const send = (message: ProjectorThreadMessage) => port.postMessage(message);

const projector = createProjector({ database, store, logger, onBatch: (change, report) => send({ type: 'batch', change, report }) });
let leading = false;
const leadership = setInterval(() => {
  if (projector.isLeader() !== leading) {
    leading = projector.isLeader();
    send({ type: 'leader', leading });
  }
}, 100);

port.on('message', (message: 'poke' | 'stop') => {
  if (message === 'poke') {
    if ('poke' in store) (store as { poke(): void }).poke();
    return;
  }
  clearInterval(leadership);
  void projector
    .stop()
    .then(() => store.close())
    .then(() => database.destroy())
    .finally(() => {
      send({ type: 'stopped' });
      port.close();
    });
});

projector.start();
