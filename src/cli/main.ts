import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { openDatabase, migrate, type Database } from '../db/database.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../db/embedded.ts';
import { createEventStore } from '../eventstore/factory.ts';
import type { EventStore } from '../eventstore/port.ts';
import { rebuildReadModels } from '../../projections/rebuild.ts';
import { clientHistory } from '../clients/queries.ts';
import { CommandHandler } from '../eventstore/command-handler.ts';
import { StaffError, changeStaffRole, cliMetadata } from '../support/staff.ts';
import { addAuditCommands } from '../audit/audit-cli.ts';

interface Connection {
  database: Database;
  store: EventStore;
  close(): Promise<void>;
}

/** Same data as the server: DATABASE_URL, or the embedded Postgres under DATA_DIR (attached to if the server runs). */
async function connect(): Promise<Connection> {
  const config = loadConfig();
  const logger = createLogger({ level: 'warn' });
  let embedded: EmbeddedDatabase | undefined;
  let url = config.DATABASE_URL;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.DATA_DIR);
    url = embedded.connectionString;
  }
  const database = openDatabase(url, { max: 4, applicationName: 'keyledger-cli' });
  await migrate(database);
  const store = createEventStore(config, database, logger);
  return {
    database,
    store,
    async close() {
      await store.close();
      await database.destroy();
      await embedded?.stop();
    },
  };
}

async function withConnection(work: (c: Connection) => Promise<void>): Promise<void> {
  const connection = await connect();
  try {
    await work(connection);
  } finally {
    await connection.close();
  }
}

const program = new Command()
  .name('keyledger')
  .description('Keyledger command line: works on the same data as the server, whether or not it runs.')
  .version('0.1.0')
  .addHelpText(
    'after',
    `
Environment:
  DATA_DIR        where the embedded Postgres keeps its data (default ./data)
  DATABASE_URL    use this Postgres instead of the embedded one
  EVENTSTORE_URL  read events from EventStoreDB (esdb://host:2113?tls=false)`,
  );

program
  .command('rebuild')
  .description('replay every event into fresh read models and swap them in (the server keeps serving meanwhile)')
  .option('--no-progress', 'do not draw a progress bar')
  .action(async (opts: { progress: boolean }) => {
    await withConnection(async ({ database, store }) => {
      const bar = new cliProgress.SingleBar(
        { format: 'rebuild |{bar}| {percentage}% | {value}/{total} events | {eta_formatted} left', hideCursor: true, noTTYOutput: false },
        cliProgress.Presets.shades_classic,
      );
      let started = false;
      const result = await rebuildReadModels(database, store, {
        onProgress: ({ done, total }) => {
          if (!opts.progress) return;
          if (!started) {
            bar.start(total ?? done, done);
            started = true;
          }
          if (total !== undefined) bar.setTotal(total);
          bar.update(done);
        },
      });
      if (started) bar.stop();
      const rate = result.seconds > 0 ? Math.round(result.events / result.seconds) : result.events;
      console.log(`rebuilt read models from ${result.events} events in ${result.seconds.toFixed(2)} s (${rate} events/s); swapped in`);
    });
  });

program
  .command('history')
  .argument('<clientId>', 'the client whose events to list')
  .option('--json', 'print JSON lines instead of a table')
  .description("list a client's events, oldest first, with who made each change and when")
  .action(async (clientId: string, opts: { json?: boolean }) => {
    await withConnection(async ({ database }) => {
      const events = await clientHistory(database.rm, clientId);
      if (events.length === 0) {
        console.error(`no events for client ${clientId}`);
        process.exitCode = 1;
        return;
      }
      for (const e of events) {
        if (opts.json) console.log(JSON.stringify(e));
        else console.log(`${e.at}  ${e.position.padEnd(16)}  ${e.type.padEnd(26)}  actor=${e.actor}  ${JSON.stringify(e.data)}`);
      }
    });
  });

const staff = program.command('staff').description('staff roles: support agents answer every support ticket');
for (const [name, grant] of [['grant', true], ['revoke', false]] as const) {
  staff
    .command(name)
    .argument('<email>', 'the account')
    .description(grant ? 'make an account a support_agent (recorded as an event)' : 'take the support_agent role away (recorded as an event)')
    .action(async (email: string) => {
      await withConnection(async ({ database, store }) => {
        try {
          const result = await changeStaffRole(database, new CommandHandler(store), { email, grant, metadata: cliMetadata(new Date()) });
          const what = grant ? 'is a support_agent' : 'is no longer a support_agent';
          console.log(`${result.name} (sub ${result.sub}) ${what}${result.changed ? '' : ' (unchanged)'}`);
        } catch (error) {
          if (!(error instanceof StaffError)) throw error;
          console.error(error.message);
          process.exitCode = 1;
        }
      });
    });
}

addAuditCommands(program, withConnection);

await program.parseAsync(process.argv);
