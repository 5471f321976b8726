import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import type { Database } from '../db/database.ts';
import { ApiError } from '../http/problem.ts';
import { countAuditRange, exportAuditTrail, parseExportRange } from './audit-export.ts';
import { AuditChainVerifier, type VerifyResult } from './audit-verify.ts';

/** `keyledger audit export|verify`: the same export as the HTTP API, and its check. */

type WithDatabase = (work: (c: { database: Database }) => Promise<void>) => Promise<void>;

class CliError extends Error {}

/** The organisation to export: the one named, or the only one there is. */
async function resolveOrganisation(database: Database, named: string | undefined): Promise<string> {
  const rows = await database.rm
    .selectFrom('organisations')
    .select('organisation_id')
    .$if(named !== undefined, (q) => q.where('organisation_id', '=', named!))
    .orderBy('created_at')
    .limit(11)
    .execute();
  if (named !== undefined) {
    if (rows.length === 0) throw new CliError(`no organisation ${named}`);
    return named;
  }
  if (rows.length === 1) return rows[0]!.organisation_id;
  if (rows.length === 0) throw new CliError('there is no organisation yet');
  const some = rows.slice(0, 10).map((r) => r.organisation_id);
  throw new CliError(`there are several organisations: pass --organisation <id> (e.g. ${some.join(', ')}${rows.length > 10 ? ', …' : ''})`);
}

async function runExport(database: Database, opts: { organisation?: string; from?: string; to?: string; out?: string; progress: boolean }) {
  const organisationId = await resolveOrganisation(database, opts.organisation);
  const range = {
    organisationId,
    ...parseExportRange({ ...(opts.from !== undefined ? { from: opts.from } : {}), ...(opts.to !== undefined ? { to: opts.to } : {}) }, new Date()),
  };
  // A bar only where someone watches, and never into the exported text.
  const showBar = opts.progress && process.stderr.isTTY && (opts.out !== undefined || !process.stdout.isTTY);
  const exported = exportAuditTrail(database, range);
  const bar = new cliProgress.SingleBar(
    { format: 'audit export |{bar}| {percentage}% | {value}/{total} events | {eta_formatted} left', hideCursor: true, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  let ticker: NodeJS.Timeout | undefined;
  if (showBar) {
    bar.start(await countAuditRange(database, range), 0);
    ticker = setInterval(() => bar.update(exported.summary().events), 200);
  }
  try {
    await pipeline(exported.readable, opts.out !== undefined ? createWriteStream(opts.out) : process.stdout);
  } finally {
    clearInterval(ticker);
    if (showBar) {
      bar.update(exported.summary().events);
      bar.stop();
    }
  }
  const { events, headHash } = exported.summary();
  const span = `${range.from?.toISOString() ?? 'the first event'} to ${range.to.toISOString()}`;
  console.error(`exported ${events} events of organisation ${organisationId} (${span})${opts.out ? ` to ${opts.out}` : ''}`);
  console.error(`last hash: ${headHash}  (keep it apart from the file: \`keyledger audit verify\` prints it too)`);
}

/** Reads the file (or stdin for `-`) through the verifier, stopping at the first bad line. */
export async function verifyFile(path: string): Promise<VerifyResult> {
  const verifier = new AuditChainVerifier();
  const input = path === '-' ? process.stdin.setEncoding('utf8') : createReadStream(path, { encoding: 'utf8' });
  for await (const chunk of input as AsyncIterable<string>) {
    verifier.write(chunk);
    if (verifier.failed) break;
  }
  return verifier.end();
}

export function addAuditCommands(program: Command, withDatabase: WithDatabase): void {
  const audit = program.command('audit').description("the organisation's audit trail: export it as a hash-chained file, verify such a file");

  audit
    .command('export')
    .description('write every event of an organisation in a time range as NDJSON, each line chained to the previous by SHA-256')
    .option('--organisation <id>', 'the organisation (may be left out when there is only one)')
    .option('--from <time>', 'first event time, inclusive (ISO-8601 with a time zone); default: the first event')
    .option('--to <time>', 'end time, exclusive (ISO-8601 with a time zone); default: now')
    .option('--out <file>', 'write to this file instead of standard output')
    .option('--no-progress', 'do not draw a progress bar')
    .addHelpText(
      'after',
      `
Example:
  keyledger audit export --organisation org_… --from 2026-01-01T00:00:00Z --to 2026-04-01T00:00:00Z --out q1.ndjson
  keyledger audit verify q1.ndjson`,
    )
    .action(async (opts: { organisation?: string; from?: string; to?: string; out?: string; progress: boolean }) => {
      try {
        await withDatabase(({ database }) => runExport(database, opts));
      } catch (error) {
        if (!(error instanceof CliError || error instanceof ApiError)) throw error;
        console.error(error instanceof ApiError ? (error.detail ?? error.title) : error.message);
        process.exitCode = 2;
      }
    });

  audit
    .command('verify')
    .argument('<file>', 'an export made by `audit export` or GET /manage/v1/audit/export (- for standard input)')
    .description('check an export on its own: every line unchanged, none removed, added or moved, the file complete')
    .addHelpText('after', '\nPrints "ok" and the number of events, or the first line that does not match and why (exit code 1).')
    .action(async (file: string) => {
      let result: VerifyResult;
      try {
        result = await verifyFile(file);
      } catch (error) {
        console.error(`cannot read ${file}: ${(error as Error).message}`);
        process.exitCode = 2;
        return;
      }
      if (result.ok) {
        console.log(`ok: ${result.events} events (organisation ${result.organisationId}, ${result.from ?? 'the first event'} to ${result.to})`);
        console.log(`last hash: ${result.headHash}`);
      } else {
        console.error(`line ${result.line}: ${result.problem.replaceAll('_', ' ')}: ${result.message}`);
        process.exitCode = 1;
      }
    });
}
