import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import type { EventStore } from './port.ts';
import { createPostgresEventStore, type PostgresEventStoreOptions } from './postgres.ts';
import { createEsdbEventStore } from './esdb.ts';

/** EventStoreDB when EVENTSTORE_URL is set, else the Postgres event log in the same database. */
export function createEventStore(config: Config, database: Database, logger: Logger, options: PostgresEventStoreOptions = {}): EventStore {
  if (config.EVENTSTORE_URL) return createEsdbEventStore(config.EVENTSTORE_URL, { logger });
  return createPostgresEventStore(database.pool, { listenerConfig: database.clientConfig(`${database.applicationName}-events`), notifier: database.notifier, ...options });
}
