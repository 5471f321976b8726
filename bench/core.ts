/**
 * npm run bench — the core figures of the write and projection paths, on an embedded Postgres
 * in a temporary directory (each section in its own fresh database):
 *   1. single-event appends/s: ours vs Emmett's PostgreSQL event store vs a bare INSERT
 *   2. end-to-end commands/s over HTTP (command → event → projected → answered)
 *   3. projection lag at a steady rate: half the end-to-end maximum of section 2
 *   4. rebuild speed over 200,000 client events
 * It prints figures next to their targets; it asserts nothing.
 */
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { appendsSection } from './appends.ts';
import { commandsSection, lagSection } from './commands.ts';
import { rebuildSection } from './rebuild.ts';
import { type BenchOptions, type Figure, errorText, printSummary } from './lib.ts';

/** The number a figure shows ("4,296" → 4296), or undefined when it failed. */
const figureValue = (figure: Figure | undefined): number | undefined => {
  const n = Number(figure?.figure.replace(/,/g, '').match(/^-?\d+(\.\d+)?/)?.[0]);
  return Number.isFinite(n) && n > 0 ? n : undefined;
};

const SECTIONS = ['appends', 'commands', 'lag', 'rebuild'] as const;
type Section = (typeof SECTIONS)[number];

const HELP = `npm run bench [-- options]

Starts its own embedded Postgres in a temporary directory and prints:
  1. appends    single-event appends/s, 8 writers over 200 streams: ours, Emmett, bare INSERT
  2. commands   end-to-end commands/s over HTTP (renames and redirect URIs, 32 in flight)
  3. lag        projection lag (append done → read models have it) at half the end-to-end maximum
  4. rebuild    rebuild of the read models over 200,000 client events, events/s
and a summary with the targets. A failing section prints its error; the others still run.

Options:
  --quick            short runs and small data (2 s runs, 20,000 events) to try it out
  --seconds N        measured seconds per timed run (default 10, quick 2)
  --warmup N         warm-up seconds before each timed run (default 2, quick 0.5)
  --events N         events to rebuild (default 200,000, quick 20,000)
  --rate N           commands/s for the lag section (default: half the end-to-end rate measured
                     in section 2 of the same run, or 250 when it did not run)
  --only a,b         run only these sections (${SECTIONS.join(', ')})
  --help             this text

Emmett is installed on first use into bench/emmett/node_modules (its own package: its peer
dependencies conflict with the app's).`;

function parseArgs(argv: string[]) {
  const args = [...argv];
  const flags = { quick: false, seconds: undefined as number | undefined, warmup: undefined as number | undefined, events: undefined as number | undefined, rate: undefined as number | undefined, only: [...SECTIONS] as Section[] };
  const number = (name: string, value: string | undefined) => {
    const n = Number(value);
    if (!value || !Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number`);
    return n;
  };
  while (args.length > 0) {
    const arg = args.shift()!;
    if (arg === '--help' || arg === '-h') {
      console.log(HELP);
      process.exit(0);
    } else if (arg === '--quick') flags.quick = true;
    else if (arg === '--seconds') flags.seconds = number(arg, args.shift());
    else if (arg === '--warmup') flags.warmup = number(arg, args.shift());
    else if (arg === '--rate') flags.rate = number(arg, args.shift());
    else if (arg === '--events') flags.events = Math.round(number(arg, args.shift()));
    else if (arg === '--only') {
      const names = (args.shift() ?? '').split(',').filter(Boolean);
      const unknown = names.filter((n) => !SECTIONS.includes(n as Section));
      if (names.length === 0 || unknown.length > 0) throw new Error(`--only takes some of ${SECTIONS.join(', ')}`);
      flags.only = names as Section[];
    } else throw new Error(`unknown option ${arg} (see --help)`);
  }
  return flags;
}

async function main(): Promise<void> {
  let flags;
  try {
    flags = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  const dir = await mkdtemp(join(tmpdir(), 'keyledger-bench-'));
  // We may run as root; Postgres then runs as its own user and must reach the directory.
  await chmod(dir, 0o755);
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`Keyledger core benchmark${flags.quick ? ' (quick)' : ''}; ${cpus().length} CPUs, load average ${load()}; embedded Postgres in ${dir}`);
  const server = await startEmbeddedPostgres(dir, { database: 'bench' });
  const figures: Figure[] = [];
  try {
    const adminUrl = server.connectionString.replace(/\/bench$/, '/postgres');
    const options: BenchOptions = {
      quick: flags.quick,
      seconds: flags.seconds ?? (flags.quick ? 2 : 10),
      warmup: flags.warmup ?? (flags.quick ? 0.5 : 2),
      rate: flags.rate ?? 250,
      adminUrl,
    };
    const valueOf = (metric: string) => figureValue(figures.find((f) => f.metric === metric));
    // the lag is read at half of what the same run measured end to end (the condition)
    const lagOptions = (): BenchOptions => {
      const measured = valueOf('commands/s end to end');
      return { ...options, rate: flags.rate ?? (measured ? Math.max(10, Math.round(measured / 2)) : 250) };
    };
    const events = flags.events ?? (flags.quick ? 20_000 : 200_000);
    const sections: Record<Section, { title: string; metrics: string[]; run: () => Promise<Figure[]> }> = {
      appends: { title: '1. appends', metrics: ['appends ours / Emmett'], run: () => appendsSection(options) },
      commands: { title: '2. end-to-end commands', metrics: ['commands/s end to end'], run: () => commandsSection(options) },
      lag: { title: '3. projection lag', metrics: ['projection lag p99'], run: () => lagSection(lagOptions()) },
      rebuild: { title: '4. rebuild', metrics: ['rebuild events/s'], run: () => rebuildSection(options, events) },
    };
    for (const name of flags.only) {
      const section = sections[name];
      try {
        figures.push(...(await section.run()));
      } catch (error) {
        console.log(`\n${section.title} FAILED:\n${errorText(error)}`);
        for (const metric of section.metrics) figures.push({ metric, figure: 'failed', target: '' });
      }
    }
    // ratios to the same run's bare INSERT rate (the floor), as the issue reads them
    const floor = valueOf('appends/s, bare INSERT');
    const commands = valueOf('commands/s end to end');
    const rebuild = valueOf('rebuild events/s');
    if (floor && commands) figures.push({ metric: 'commands / bare INSERT', figure: `${(commands / floor).toFixed(3)}×`, target: '≥ 0.15×', met: commands / floor >= 0.15 });
    if (floor && rebuild) figures.push({ metric: 'rebuild / bare INSERT', figure: `${(rebuild / floor).toFixed(2)}×`, target: '≥ 5×', met: rebuild / floor >= 5 });
  } finally {
    printSummary(figures);
    console.log(`\nload average at the end: ${load()} (other work on the machine skews every figure)`);
    await server.stop().catch((error: unknown) => console.error(`stopping Postgres: ${errorText(error)}`));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
