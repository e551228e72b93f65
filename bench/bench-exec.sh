#!/usr/bin/env bash
# bench-exec.sh - start-to-exit wall time of `true` through each executor
# (`$DGRID exec --executor X true`), median over RUNS runs (default 30).
# Prints a table and the ratio native/process (the price of the sandbox).
set -u
: "${DGRID:?DGRID must name the dgrid binary}"
RUNS=${RUNS:-30}

median_ms() {
	local ex=$1 i t0 t1
	for i in $(seq "$RUNS"); do
		t0=$(date +%s%N)
		"$DGRID" exec --executor "$ex" true >/dev/null 2>&1 || return 1
		t1=$(date +%s%N)
		echo $(( (t1 - t0) / 1000 ))
	done | sort -n | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f\n", m / 1000 }'
}

declare -A med
printf '%-10s %12s\n' executor "median ms"
for ex in process native docker; do
	if [ "$ex" = docker ] && ! timeout 5 docker info >/dev/null 2>&1; then
		printf '%-10s %12s\n' docker "n/a (no engine)"
		continue
	fi
	if m=$(median_ms "$ex"); then
		med[$ex]=$m
		printf '%-10s %12s\n' "$ex" "$m"
	else
		printf '%-10s %12s\n' "$ex" "fails"
	fi
done
if [ -n "${med[native]:-}" ] && [ -n "${med[process]:-}" ]; then
	awk -v n="${med[native]}" -v p="${med[process]}" \
		'BEGIN { printf "ratio native/process: %.2f (%d runs each)\n", n / p, '"$RUNS"' }'
fi

# The cost a worker pays per task: start-to-exit of `true` inside one
# process (dg_job_start to the job's end), without starting a dgrid command.
TOOL=$DGRID_SRC/${BUILD:-build}/tests/tools/exec_bench
echo
printf '%-10s %12s %12s   (in-process, as the worker runs tasks; %d runs)\n' executor "median ms" "p90 ms" "$RUNS"
declare -A inproc
for ex in process native; do
	if out=$("$TOOL" "$ex" "$RUNS" 2>/dev/null); then
		read -r _ m p <<<"$out"
		inproc[$ex]=$m
		printf '%-10s %12s %12s\n' "$ex" "$m" "$p"
	else
		printf '%-10s %12s\n' "$ex" "fails"
	fi
done
if [ -n "${inproc[native]:-}" ]; then
	awk -v n="${inproc[native]}" 'BEGIN { printf "native target <= 20 ms: %s\n", (n <= 20 ? "met" : "missed") }'
fi
