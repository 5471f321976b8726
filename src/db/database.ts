import type pg from 'pg';
import type { Logger } from 'pino';
import { Kysely, PostgresDialect, type Migration, type MigrationProvider, Migrator } from 'kysely';
import type { CoreDatabase, ReadModelDatabase } from './schema.ts';
import { READ_MODEL_SCHEMA } from './schema.ts';
import * as eventLog from './migrations/001_event_log.ts';
import * as accounts from './migrations/002_accounts.ts';
import * as access from './migrations/003_access.ts';
import * as signin from './migrations/004_signin.ts';
import * as support from './migrations/005_support.ts';
import * as denialCounts from './migrations/006_denial_counts.ts';
import * as staffRevision from './migrations/011_staff_revision.ts';
import * as explain from './migrations/007_explain.ts';
import * as groupCommit from './migrations/050_group_commit.ts';
import * as rateLeases from './migrations/060_rate_leases.ts';
import * as readModels from '../../projections/migrations/001_read_models.ts';
import * as supportReadModels from '../../projections/migrations/002_support.ts';
import * as projectionLanes from '../../projections/migrations/050_projection_lanes.ts';
import * as endUserAccounts from './migrations/080_end_user_accounts.ts';
import * as supportLimitsInMemory from './migrations/090_support_limits_in_memory.ts';
import * as assignmentMarks from './migrations/095_assignment_marks.ts';
import * as userAccountReadModels from '../../projections/migrations/080_user_accounts.ts';
import * as xwmsProfileAddresses from './migrations/040_xwms_profile_addresses.ts';
import * as clientListings from '../../projections/migrations/040_client_listings.ts';
import * as deskReadModels from '../../projections/migrations/070_desk.ts';
import * as sessionOrganisation from './migrations/030_session_organisation.ts';
import * as invitationReadModels from '../../projections/migrations/030_invitations.ts';
import * as domainLookupIndex from '../../projections/migrations/090_domain_lookup_index.ts';
import { type DatabaseTimeouts, LONG_RUNNING, clientConfigFor, createPool } from './connections.ts';
import { type Notifier, createNotifier } from './notifier.ts';

export type { DatabaseTimeouts } from './connections.ts';

export interface Database {
  readonly pool: pg.Pool;
  readonly db: Kysely<CoreDatabase>;
  /** the read models in the live schema */
  readonly rm: Kysely<ReadModelDatabase>;
  /** read-model typed, bound to no schema (transactions, rebuild) */
  readonly rmRaw: Kysely<ReadModelDatabase>;
  readonly connectionString: string;
  readonly applicationName: string;
  readonly timeouts: DatabaseTimeouts;
  /** settings for a long-lived client of the same database (LISTEN, locks), with the same timeouts */
  clientConfig(applicationName: string): pg.ClientConfig;
  /** NOTIFY outside a transaction: what one turn of the event loop asks for is one statement */
  readonly notifier: Notifier;
  destroy(): Promise<void>;
}

export interface OpenDatabaseOptions {
  readonly max?: number;
  /** shown in pg_stat_activity: every pool and long-lived client has its own */
  readonly applicationName?: string;
  /** defaults to LONG_RUNNING: a connect timeout, no statement limits (the CLI, rebuilds) */
  readonly timeouts?: DatabaseTimeouts;
  /** where lost connections are reported */
  readonly logger?: Logger;
}

/** A pool (and kysely instances over it) whose lost connections are logged, never fatal. */
export function openDatabase(connectionString: string, options: OpenDatabaseOptions = {}): Database {
  const timeouts = options.timeouts ?? LONG_RUNNING;
  const applicationName = options.applicationName ?? 'keyledger';
  const pool = createPool(
    { ...clientConfigFor(connectionString, applicationName, timeouts), max: options.max ?? 10 },
    options.logger,
  );
  const db = new Kysely<CoreDatabase>({ dialect: new PostgresDialect({ pool }) });
  const rmRaw = new Kysely<ReadModelDatabase>({ dialect: new PostgresDialect({ pool }) });
  const rm = rmRaw.withSchema(READ_MODEL_SCHEMA);
  let destroyed = false;
  return {
    pool,
    db,
    rm,
    rmRaw,
    connectionString,
    applicationName,
    timeouts,
    clientConfig: (applicationName) => clientConfigFor(connectionString, applicationName, timeouts),
    notifier: createNotifier(pool),
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await db.destroy(); // ends the shared pool
    },
  };
}

/**
 * Whether the database answers now: `check` runs through the pool, so the probe also fails
 * while no connection can be had. Callers at the same moment share one probe.
 */
export function createDatabaseProbe<T>(check: () => Promise<T>): () => Promise<{ available: true; value: T } | { available: false }> {
  let running: Promise<{ available: true; value: T } | { available: false }> | undefined;
  return () =>
    (running ??= check()
      .then(
        (value) => ({ available: true as const, value }),
        () => ({ available: false as const }),
      )
      .finally(() => {
        running = undefined;
      }));
}

export class StaticProvider implements MigrationProvider {
  constructor(private readonly migrations: Record<string, Migration>) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return this.migrations;
  }
}

/** exported for migration tests */
export const CORE_MIGRATIONS: Record<string, Migration> = {
  '001_event_log': eventLog,
  '002_accounts': accounts,
  '003_access': access,
  '004_signin': signin,
  '005_support': support,
  '006_denial_counts': denialCounts,
  '011_staff_revision': staffRevision,
  '007_explain': explain,
  '050_group_commit': groupCommit,
  '080_end_user_accounts': endUserAccounts,
  '090_support_limits_in_memory': supportLimitsInMemory,
  '095_assignment_marks': assignmentMarks,
  '040_xwms_profile_addresses': xwmsProfileAddresses,
  '060_rate_leases': rateLeases,
  '030_session_organisation': sessionOrganisation,
};

const READ_MODEL_MIGRATIONS: Record<string, Migration> = {
  '001_read_models': readModels,
  '002_support': supportReadModels,
  '050_projection_lanes': projectionLanes,
  '080_user_accounts': userAccountReadModels,
  '040_client_listings': clientListings,
  '070_desk': deskReadModels,
  '030_invitations': invitationReadModels,
  '090_domain_lookup_index': domainLookupIndex,
};

async function runMigrator(migrator: Migrator): Promise<void> {
  const { error } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
}

/** Core tables (event log, accounts), then the live read-model schema. Safe to run on every start and from several nodes. */
export async function migrate(database: Database): Promise<void> {
  const { pool } = database;
  // Serialise concurrent migrators (several nodes starting at once).
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(1262, 0)');
    await runMigrator(new Migrator({ db: database.db, provider: new StaticProvider(CORE_MIGRATIONS) }));
    await migrateReadModels(database.db, READ_MODEL_SCHEMA);
  } finally {
    await client.query('SELECT pg_advisory_unlock(1262, 0)').catch(() => {});
    client.release();
  }
}

/** Creates (or brings up to date) the read-model tables in `schema`. */
export async function migrateReadModels(db: Kysely<unknown> | Kysely<CoreDatabase>, schema: string): Promise<void> {
  await db.schema.createSchema(schema).ifNotExists().execute();
  await runMigrator(
    new Migrator({
      db: db.withSchema(schema) as Kysely<unknown>,
      provider: new StaticProvider(READ_MODEL_MIGRATIONS),
      migrationTableSchema: schema,
    }),
  );
}
