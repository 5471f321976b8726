import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrate, openDatabase } from '../../src/db/database.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
    templateDatabase: string;
  }
}

/**
 * One embedded Postgres for the whole run, and a template database that already holds the
 * migrations; every test file clones it (CREATE DATABASE … TEMPLATE) for isolation.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'keyledger-test-'));
  const server = await startEmbeddedPostgres(dir, { database: 'kl_template' });
  const database = openDatabase(server.connectionString, { max: 2 });
  await migrate(database);
  await database.destroy();
  const admin = new pg.Client({ connectionString: server.connectionString.replace(/\/kl_template$/, '/postgres') });
  await admin.connect();
  await admin.query(`ALTER DATABASE kl_template WITH IS_TEMPLATE true`);
  await admin.end();
  project.provide('postgresUrl', server.connectionString.replace(/\/kl_template$/, '/postgres'));
  project.provide('templateDatabase', 'kl_template');
  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
