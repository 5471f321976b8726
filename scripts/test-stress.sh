#!/usr/bin/env bash
# npm run test:stress — `npm test` several times in a row (5 by default) while every core is kept
# busy by another process, stopping at the first failing run. The suite asserts behaviour, not
# time: it must pass on a machine that is busy with something else.
#
#   RUNS=5            how many runs (default 5)
#   STRESS_CPUS=N     busy workers (default: one per core, `nproc`)
#   STRESS=node       node busy loops even where stress-ng is installed
#
# The load comes from `stress-ng --cpu N` (Debian/Ubuntu: `sudo apt-get install stress-ng`);
# without it, one `node` busy loop per worker. Either is stopped when this script exits, however
# it exits. Each run's output is kept in .tmp/test-stress/run-N.log.
set -uo pipefail

cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
CPUS="${STRESS_CPUS:-$(nproc)}"
LOGS=.tmp/test-stress
mkdir -p "$LOGS"

load_pids=()
test_group=""
stop_everything() {
  # a run cut short (Ctrl-C, kill): its whole process group (npm, vitest, its workers)
  if [[ -n "$test_group" ]]; then
    kill -TERM -- "-$test_group" 2>/dev/null
    test_group=""
  fi
  if ((${#load_pids[@]} > 0)); then
    kill "${load_pids[@]}" 2>/dev/null
    wait "${load_pids[@]}" 2>/dev/null
    load_pids=()
  fi
}
trap stop_everything EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ "${STRESS:-}" != node ]] && command -v stress-ng >/dev/null 2>&1; then
  stress-ng --cpu "$CPUS" --quiet &
  load_pids+=($!)
  load="stress-ng --cpu $CPUS"
else
  [[ "${STRESS:-}" == node ]] || echo "stress-ng is not installed (Debian/Ubuntu: sudo apt-get install stress-ng); using $CPUS node busy loops instead" >&2
  for ((i = 0; i < CPUS; i++)); do
    node -e 'for (;;) {}' &
    load_pids+=($!)
  done
  load="$CPUS node busy loops"
fi

echo "npm test, $RUNS runs in a row, under load: $load ($CPUS busy workers, $(nproc) cores); logs in $LOGS/"
passed_runs=0
for ((run = 1; run <= RUNS; run++)); do
  for pid in "${load_pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "the load generator ($pid) is gone: stopping" >&2; exit 2; }
  done
  log="$LOGS/run-$run.log"
  started=$SECONDS
  # in its own process group, waited for in the background so a signal reaches the traps at once
  setsid npm test >"$log" 2>&1 &
  test_group=$!
  wait "$test_group"
  status=$?
  test_group=""
  took=$((SECONDS - started))
  # vitest's summary, e.g. "Tests  470 passed | 2 skipped (472)"; none when the type check failed
  summary=$(sed -e 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^\s+Tests\s' | tail -1 | sed -E 's/^\s+Tests\s+//')
  files=$(sed -e 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^\s+Test Files\s' | tail -1 | sed -E 's/^\s+Test Files\s+//')
  [[ -n "$summary" ]] || summary="no test summary (type check failed? see $log)"
  if ((status == 0)); then
    passed_runs=$((passed_runs + 1))
    printf 'run %d/%d  passed  tests: %s  files: %s  (%d s)\n' "$run" "$RUNS" "$summary" "$files" "$took"
  else
    printf 'run %d/%d  FAILED  tests: %s  files: %s  (%d s)\n' "$run" "$RUNS" "$summary" "$files" "$took"
    sed -e 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^\s*(FAIL|×)' | sort -u | head -20
    echo "stopped at the first failure; the whole output is in $log"
    exit 1
  fi
done
echo "all $passed_runs runs passed under load"
