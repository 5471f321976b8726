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
import { explainRequest } from '../audit/denials.ts';
import { clientStateAt, parseStateQuery } from '../audit/state.ts';
import { isExplainLanguage } from '../audit/i18n.ts';
import { clientStateText, explanationText } from '../audit/text.ts';

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

program
  .command('explain')
  .argument('<requestId>', 'the denial id: the request_id / X-Request-Id of a refused partner API call (den_…)')
  .option('--json', 'print the explanation as JSON (the shape of GET /manage/v1/auth-decisions/:requestId/explain)')
  .option('--lang <language>', 'en or nl', 'en')
  .description('why a partner API request was refused: the failing check, the event behind it and who made it, and the fix')
  .action(async (requestId: string, opts: { json?: boolean; lang: string }) => {
    if (!isExplainLanguage(opts.lang)) {
      console.error('--lang must be en or nl');
      process.exitCode = 2;
      return;
    }
    const language = opts.lang;
    await withConnection(async ({ database, store }) => {
      const outcome = await explainRequest({ database, store }, requestId, { language, now: new Date() });
      switch (outcome.kind) {
        case 'explained':
          console.log(opts.json ? JSON.stringify(outcome.explanation, null, 2) : explanationText(outcome.explanation));
          return;
        case 'not_found':
          console.error(`no denial ${requestId} in the decision log (denials are kept 30 days)`);
          break;
        case 'not_a_denial':
          console.error(
            `${requestId} is not a denial id: only refused requests can be explained, and their ids start with den_` +
              (outcome.denials.length > 0 ? `; it was the caller's own X-Request-Id of ${outcome.denials.join(', ')}` : ''),
          );
          break;
        default: {
          const _exhaustive: never = outcome;
          return _exhaustive;
        }
      }
      process.exitCode = 1;
    });
  });

program
  .command('state')
  .argument('<clientId>', 'the client')
  .option('--at <time>', 'ISO-8601 with a time zone, e.g. 2026-03-01T10:00:00Z')
  .option('--position <position>', 'an event-store position shown by the API (commit/prepare), instead of --at')
  .option('--json', 'print JSON (the shape of GET /manage/v1/clients/:clientId plus asOf)')
  .description('a client as it was at a time (or position), rebuilt from its events')
  .action(async (clientId: string, opts: { at?: string; position?: string; json?: boolean }) => {
    const query = parseStateQuery({ at: opts.at, position: opts.position }, new Date());
    if ('field' in query) {
      console.error(`--${query.field} ${query.message}`);
      process.exitCode = 2;
      return;
    }
    await withConnection(async ({ database, store }) => {
      const outcome = await clientStateAt({ database, store }, clientId, query);
      switch (outcome.kind) {
        case 'state':
          console.log(opts.json ? JSON.stringify(outcome.state, null, 2) : clientStateText(outcome.state));
          return;
        case 'not_found':
          console.error(`no client ${clientId}`);
          break;
        case 'not_yet_created':
          console.error(`client ${clientId} did not exist yet then`);
          break;
        case 'no_such_position':
          console.error(`--position is not the position of an event of client ${clientId} or its organisation, nor of one of its denials`);
          break;
        default: {
          const _exhaustive: never = outcome;
          return _exhaustive;
        }
      }
      process.exitCode = 1;
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
