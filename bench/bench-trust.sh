#!/usr/bin/env bash
# What trust costs (doc/trust.md), per record and per task, measured in one
# process by tests/tools/trust_bench against baselines from the same run:
# serialising a result (what every result already pays) and starting and
# ending `true` through the process executor (tests/tools/exec_bench; the
# least a task start pays). Sealing a result with the node key, judging a
# sealed result by its node's pinned key, and verifying a signed task
# before it starts are each reported in microseconds and as ratios.
#
# Knobs: BENCH_TRUST_N (2000 calls a round), BENCH_TRUST_ROUNDS (7; the median is reported).
set -u
: "${DGRID_SRC:=$(cd "$(dirname "$0")/.." && pwd)}"
BUILD=${BUILD:-build}
TB=$DGRID_SRC/$BUILD/tests/tools/trust_bench
EB=$DGRID_SRC/$BUILD/tests/tools/exec_bench
[ -x "$TB" ] || { echo "bench-trust: $TB missing (make $BUILD/tests/tools/trust_bench)"; exit 1; }

"$TB" "${BENCH_TRUST_N:-2000}" "${BENCH_TRUST_ROUNDS:-7}" >"${TMPDIR:-/tmp}/bench-trust.$$" || exit 1
start_ms=$("$EB" process 50 true 2>/dev/null | awk '{print $2}')
echo "operation                     median_us   x serialising a result   x starting a task (process, true: ${start_ms:-?} ms)"
while read -r name us ratio; do
	of_start=$(awk -v u="$us" -v m="${start_ms:-0}" 'BEGIN { if (m > 0) printf "%.3f", u / (m * 1000); else print "?" }')
	printf '%-29s %9s   %22s   %s\n' "$name" "$us" "$ratio" "$of_start"
done <"${TMPDIR:-/tmp}/bench-trust.$$"
rm -f "${TMPDIR:-/tmp}/bench-trust.$$"
