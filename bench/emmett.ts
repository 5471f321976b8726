/**
 * Loads Emmett's PostgreSQL event store for the comparison in section 1.
 *
 * Emmett lives in its own package (bench/emmett/package.json), not in the root devDependencies:
 * its peer dependencies (commander ^12, uuid ^10) conflict with the app's (commander 14,
 * uuid 14), and adding it at the root breaks a plain `npm install` / `npm ci` for everyone.
 * The first run installs it there from its lock file (`npm ci --prefix bench/emmett`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'emmett');
const ENTRY = join(PACKAGE_DIR, 'node_modules/@event-driven-io/emmett-postgresql/dist/index.js');

/** The part of Emmett's API the benchmark uses (its own types live in bench/emmett/node_modules). */
export interface EmmettEventStore {
  appendToStream(
    streamName: string,
    events: { type: string; data: Record<string, unknown>; metadata?: Record<string, unknown> }[],
  ): Promise<{ nextExpectedStreamVersion: bigint; createdNewStream: boolean }>;
  schema: { migrate(): Promise<unknown> };
  close(): Promise<void>;
}

interface EmmettPostgresModule {
  getPostgreSQLEventStore(connectionString: string, options?: Record<string, unknown>): EmmettEventStore;
}

export async function loadEmmett(): Promise<EmmettPostgresModule> {
  if (!existsSync(ENTRY)) {
    console.log('  (installing Emmett into bench/emmett/node_modules, once: npm ci --prefix bench/emmett)');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const result = spawnSync(npm, ['ci', '--prefix', PACKAGE_DIR, '--no-audit', '--no-fund'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (result.status !== 0 || !existsSync(ENTRY)) throw new Error(`could not install Emmett (npm ci --prefix ${PACKAGE_DIR} exited ${result.status})`);
  }
  const specifier: string = pathToFileURL(ENTRY).href;
  return (await import(specifier)) as EmmettPostgresModule;
}
