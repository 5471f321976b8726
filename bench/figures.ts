/**
 * Machine-readable figures: each bench prints one `BENCH_JSON {…}` line beside its human
 * output, which `npm run bench:all` collects into bench/RESULTS.md.
 */
export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** the same-run peer (ratio = value ÷ peerValue) */
  readonly peer?: string;
  readonly peerValue?: number;
  /** or a floor / target the figure is read against (ratio = value ÷ floorValue) */
  readonly floor?: string;
  readonly floorValue?: number;
  readonly target?: string;
  readonly met?: boolean;
}

export const BENCH_JSON_PREFIX = 'BENCH_JSON ';

export function emitFigures(bench: string, figures: readonly BenchFigure[]): void {
  const clean = figures.filter((f) => Number.isFinite(f.value));
  console.log(`${BENCH_JSON_PREFIX}${JSON.stringify({ bench, figures: clean })}`);
}
