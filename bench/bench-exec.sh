#!/usr/bin/env bash
# bench-exec.sh - start-to-exit wall time of `true` through each executor
# (`$DGRID exec --executor X true`), median over RUNS runs (default 30).
# Prints a table and the ratio native/process (the price of the sandbox).
# Docker runs on the engine that answers, or on a private dockerd started
# with the tests' tests/integration/docker.sh (image debian:12-slim, made
# offline and cached); then docker's per-task start-up against batching:
# a worker draining trivial tasks with --slots 1 and --slots 4.
set -u
: "${DGRID:?DGRID must name the dgrid binary}"
RUNS=${RUNS:-30}
DRUNS=${DRUNS:-10}
DGRID_SRC=${DGRID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
. "$DGRID_SRC/tests/integration/lib.sh"
. "$DGRID_SRC/tests/integration/docker.sh"
have_docker=no
if command -v dockerd >/dev/null || _docker_answers; then
	docker_need base >"$T/docker-need.log" 2>&1 && have_docker=yes
	sed -n 's/^# /# docker: /p; s/^not ok.*/# docker: &/p' "$T/docker-need.log"
	export DGRID_DOCKER_IMAGE=$DOCKER_BASE_IMAGE
fi

median_ms() {
	local ex=$1 i t0 t1 runs=$RUNS
	[ "$ex" = docker ] && runs=$DRUNS
	for i in $(seq "$runs"); do
		t0=$(date +%s%N)
		"$DGRID" exec --executor "$ex" true >/dev/null 2>&1 || return 1
		t1=$(date +%s%N)
		echo $(( (t1 - t0) / 1000 ))
	done | sort -n | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f\n", m / 1000 }'
}

declare -A med
printf '%-10s %12s\n' executor "median ms"
for ex in process native docker; do
	if [ "$ex" = docker ] && [ "$have_docker" != yes ]; then
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
for ex in process native docker; do
	runs=$RUNS
	if [ "$ex" = docker ]; then
		[ "$have_docker" = yes ] || { printf '%-10s %12s\n' docker "n/a (no engine)"; continue; }
		runs=$DRUNS
	fi
	if out=$("$TOOL" "$ex" "$runs" 2>/dev/null); then
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
if [ -n "${inproc[docker]:-}" ] && [ -n "${inproc[native]:-}" ]; then
	awk -v d="${inproc[docker]}" -v n="${inproc[native]}" \
		'BEGIN { printf "docker costs %.0f ms more per task than native (%.0fx)\n", d - n, d / n }'
fi

# What a worker sees: trivial tasks drained through a git daemon, docker
# against native. With --slots 4 four containers start at once and results
# and claims share pushes, so part of docker's start-up overlaps (on 2 cores
# containerd and runc are themselves CPU-bound, which caps the overlap).
if [ "$have_docker" = yes ]; then
	NT=${DTASKS:-16}
	echo
	printf 'worker, %d tasks of `true` through a git daemon\n' "$NT"
	printf '%-10s %-8s %10s %12s\n' executor slots seconds "tasks/s"
	mkdir -p "$T/srv"
	start_git_daemon "$T/srv"
	for ex in native docker; do
		for slots in 1 4; do
			name=$ex-$slots
			make_bare "$T/srv/grid-$name.git"
			url="git://127.0.0.1:$GIT_DAEMON_PORT/grid-$name.git"
			export DGRID_CACHE=$T/cache-$name
			"$DGRID" init "$url" >/dev/null 2>&1
			mkdir -p "$T/q-$name"
			for i in $(seq "$NT"); do
				printf '{"task_id": "b%d", "script": "true", "timeout_seconds": 30}\n' "$i" >"$T/q-$name/b$i.json"
			done
			"$DGRID" submit --repo "$url" "$T/q-$name"/*.json >/dev/null 2>&1
			t0=$(date +%s%N)
			PULL_INTERVAL=1 "$DGRID" worker --repo "$url" --node-id "b$slots" \
				--executor "$ex" --slots "$slots" --exit-when-idle --http off >"$T/w-$name.log" 2>&1
			t1=$(date +%s%N)
			done_n=$(count_files "$T/srv/grid-$name.git" tasks/completed)
			awk -v e="$ex" -v s="$slots" -v ns=$((t1 - t0)) -v n="$done_n" \
				'BEGIN { printf "%-10s %-8s %10.1f %12.2f\n", e, s, ns / 1e9, n / (ns / 1e9) }'
		done
	done
fi
