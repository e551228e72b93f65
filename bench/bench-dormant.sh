#!/usr/bin/env bash
# bench-dormant.sh - a budget grid that remembers its dead (doc/protocol.md,
# "Push budget": slot_keep_seconds). Volunteers' workers die without
# stopping - killed, the machine off, the container gone - and leave a
# registration that says nothing of it. Up to 0.14.8 each kept a push slot
# for good, so a grid's cycle grew with every such death.
#
# Against a git daemon on 127.0.0.1, for DEAD (default 40) registrations of
# nodes last active two hours ago, and for none (the baseline, in the same
# run): a bare repository with {"protocol": 3, "push_budget": BUDGET}
# (default 60), TASKS (default 20) tasks of `true` submitted with plain git
# as tasks/queue/tK.json, then WORKERS (default 2) workers started at once
# (--slots 1 --exit-when-idle --executor process --http off,
# PULL_INTERVAL=1, each under `timeout LIMIT`, default 300 s). Wall time
# from the first start to the last exit; REPS (default 3) runs of each,
# alternated; the median of each and their ratio (target: about 1). With
# BASE_DGRID, the same runs with that binary too (a build before 0.14.9:
# its ratio is the cost of the dead).
set -u
DGRID=${DGRID:?DGRID: the dgrid binary}
BASE_DGRID=${BASE_DGRID:-}
DEAD=${DEAD:-40}
BUDGET=${BUDGET:-60}
TASKS=${TASKS:-20}
WORKERS=${WORKERS:-2}
REPS=${REPS:-3}
LIMIT=${LIMIT:-300}

BENCH=bench-dormant
. "$(dirname "$0")/lib-daemon.sh"

# grid NAME DEAD: a fresh budget grid with DEAD silent registrations and the tasks;
# two hours: past the default slot_keep_seconds (an hour) by far, not by a second
grid() {
	dead_grid "$1" "{\"protocol\": 3, \"push_budget\": $BUDGET}" "$2" "$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)" "$TASKS"
}

# run BIN NAME: the workers until idle; prints the wall seconds (or ">LIMIT")
run() {
	local bin=$1 name=$2 i t0 t1 cut=0
	t0=$(date +%s.%N)
	for i in $(seq 1 "$WORKERS"); do
		DGRID_CACHE=$T/cache-$name-$i PULL_INTERVAL=1 setsid timeout "$LIMIT" "$bin" worker \
			--repo "git://127.0.0.1:$port/$name.git" --node-id "w$i" --slots 1 --exit-when-idle \
			--executor process --http off >"$T/$name-w$i.log" 2>&1 &
		pids+=($!)
	done
	for i in $(seq 1 "$WORKERS"); do
		wait "${pids[-$i]}" || cut=1
	done
	t1=$(date +%s.%N)
	done_nr=$(git -C "$T/srv/$name.git" ls-tree -r --name-only main tasks/completed | wc -l)
	if [ "$cut" = 1 ] || [ "$done_nr" -ne "$TASKS" ]; then
		echo ">$LIMIT"
	else
		python3 -c "print(f'{$t1 - $t0:.1f}')"
	fi
}

echo "bench-dormant: budget $BUDGET, $WORKERS workers, $TASKS tasks of 'true', $DEAD dead registrations vs none, $REPS runs each"
for label in new base; do
	bin=$DGRID
	if [ "$label" = base ]; then
		[ -n "$BASE_DGRID" ] || continue
		bin=$BASE_DGRID
	fi
	echo "# $label: $("$bin" --version 2>/dev/null | head -n 1)"
	dead_runs="" none_runs=""
	for r in $(seq 1 "$REPS"); do
		grid "none-$label-$r" 0
		none_runs="$none_runs $(run "$bin" "none-$label-$r")"
		grid "dead-$label-$r" "$DEAD"
		dead_runs="$dead_runs $(run "$bin" "dead-$label-$r")"
	done
	m0=$(echo "$none_runs" | median)
	m1=$(echo "$dead_runs" | median)
	echo "$label: no dead:$none_runs s (median $m0); $DEAD dead:$dead_runs s (median $m1); ratio $(python3 -c "print(f'{$m1 / $m0:.2f}')")x"
done
