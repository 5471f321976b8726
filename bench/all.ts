/**
 * npm run bench:all — every bench, one after another, then bench/RESULTS.md: each figure with
 * its same-run peer (or floor) and the ratio, the machine's CPU count and its load before and
 * after each bench. Benches print a `BENCH_JSON {…}` line (bench/figures.ts) beside their own
 * output, which is passed through.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { BENCH_JSON_PREFIX, type BenchFigure } from './figures.ts';

interface BenchSpec {
  readonly script: string;
  /** takes more than 3 minutes at its defaults: skipped unless asked for */
  readonly slow: boolean;
  readonly quickArgs: readonly string[];
}

const BENCHES: readonly BenchSpec[] = [
  { script: 'bench', slow: true, quickArgs: ['--quick'] },
  { script: 'bench:access', slow: false, quickArgs: ['--quick'] },
  { script: 'bench:support', slow: true, quickArgs: ['--sockets', '500', '--seconds', '10'] },
  { script: 'bench:audit', slow: true, quickArgs: ['--quick'] },
  { script: 'bench:explain', slow: false, quickArgs: ['--runs', '50'] },
  { script: 'bench:flood', slow: false, quickArgs: [] },
  { script: 'bench:dashboard', slow: false, quickArgs: ['--runs', '50'] },
];

const HELP = `npm run bench:all [-- options]

Runs ${BENCHES.map((b) => b.script).join(', ')} one after another and writes
bench/RESULTS.md. Benches that take over 3 minutes at their defaults
(${BENCHES.filter((b) => b.slow).map((b) => b.script).join(', ')}) are skipped unless included.

  --include-slow      run the slow ones too
  --only a,b          run only these (slow or not), e.g. --only bench:access,bench:flood
  --quick             pass each bench its short form (slow ones then take a minute or two)
  --out FILE          write the table here (default bench/RESULTS.md)`;

const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log(HELP);
  process.exit(0);
}
const valueOf = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = valueOf('--only')?.split(',').filter(Boolean);
const quick = args.includes('--quick');
const includeSlow = args.includes('--include-slow');
const out = valueOf('--out') ?? 'bench/RESULTS.md';
for (const name of only ?? []) {
  if (!BENCHES.some((b) => b.script === name)) {
    console.error(`unknown bench ${name}; one of ${BENCHES.map((b) => b.script).join(', ')}`);
    process.exit(2);
  }
}

interface Run {
  readonly spec: BenchSpec;
  readonly ran: boolean;
  readonly exitCode?: number | null;
  readonly seconds?: number;
  readonly loadBefore: string;
  readonly loadAfter?: string;
  readonly figures: BenchFigure[];
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

function runBench(spec: BenchSpec): Promise<Omit<Run, 'spec' | 'loadBefore' | 'ran'>> {
  const npmArgs = ['run', spec.script, ...(quick && spec.quickArgs.length > 0 ? ['--', ...spec.quickArgs] : [])];
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn('npm', npmArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
    const figures: BenchFigure[] = [];
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith(BENCH_JSON_PREFIX)) continue;
        try {
          figures.push(...(JSON.parse(line.slice(BENCH_JSON_PREFIX.length)) as { figures: BenchFigure[] }).figures);
        } catch {
          console.error(`bench:all: could not read ${line.slice(0, 80)}…`);
        }
      }
    });
    child.on('exit', (exitCode) => resolve({ exitCode, seconds: (performance.now() - started) / 1000, loadAfter: load(), figures }));
  });
}

const number = (n: number | undefined) =>
  n === undefined || !Number.isFinite(n) ? '' : Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 2);
const cell = (text: string) => text.replaceAll('|', '\\|');

function table(runs: readonly Run[]): string {
  const rows = ['| bench | figure | value | peer / floor | peer value | ratio | target | |', '|---|---|--:|---|--:|--:|---|---|'];
  for (const run of runs) {
    if (!run.ran) {
      rows.push(`| ${run.spec.script} | skipped: over 3 minutes (\`--include-slow\` runs it) | | | | | | |`);
      continue;
    }
    if (run.figures.length === 0) rows.push(`| ${run.spec.script} | no figures (exit code ${run.exitCode}) | | | | | | |`);
    for (const f of run.figures) {
      const peerValue = f.peerValue ?? f.floorValue;
      const ratio = peerValue ? f.value / peerValue : undefined;
      const met = f.met === undefined ? '' : f.met ? 'met' : '**missed**';
      rows.push(
        `| ${run.spec.script} | ${cell(f.name)} | ${number(f.value)} ${cell(f.unit)} | ${cell(f.peer ?? f.floor ?? '')} | ${number(peerValue)} | ${ratio === undefined ? '' : ratio.toFixed(3)} | ${cell(f.target ?? '')} | ${met} |`,
      );
    }
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const started = new Date();
  const cpuList = cpus();
  const runs: Run[] = [];
  for (const spec of BENCHES) {
    const selected = only ? only.includes(spec.script) : !spec.slow || includeSlow;
    const loadBefore = load();
    if (!selected) {
      runs.push({ spec, ran: false, loadBefore, figures: [] });
      continue;
    }
    console.log(`\n=== npm run ${spec.script}${quick ? ' (quick)' : ''} — load average ${loadBefore} ===\n`);
    runs.push({ spec, ran: true, loadBefore, ...(await runBench(spec)) });
  }
  const ranRuns = runs.filter((r) => r.ran);
  const markdown = `# Benchmark results

Written by \`npm run bench:all${process.argv.slice(2).length > 0 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\` on ${started.toISOString()}.
Ratios are our figure ÷ its same-run peer (or the floor/target it is read against); absolute figures
drift between machines and runs, the ratios are what count.

- machine: ${cpuList.length} CPUs (${cpuList[0]?.model.trim() ?? 'unknown'}), Node ${process.version}
- load average (1, 5, 15 min) before: ${runs[0]?.loadBefore ?? load()}; after: ${load()}

${table(runs)}

| bench | exit | seconds | load before | load after |
|---|--:|--:|---|---|
${ranRuns.map((r) => `| ${r.spec.script} | ${r.exitCode} | ${r.seconds!.toFixed(0)} | ${r.loadBefore} | ${r.loadAfter} |`).join('\n')}
`;
  await writeFile(out, markdown);
  console.log(`\nbench:all: wrote ${out}`);
  if (ranRuns.some((r) => r.exitCode !== 0)) process.exitCode = 1;
}

await main();
