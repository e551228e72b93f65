#!/usr/bin/env bash
# bench-dead-polls.sh - how soon an idle worker of a fetch budget's grid
# notices a submission when the grid remembers many dead nodes (doc/policy.md,
# "Fetch budget"). The idle share the budget: each polls every 72 s x
# sharers / budget. Up to 0.14.9 every registration that did not say its
# node stopped was a whole sharer, so 300 nodes that died without stopping
# made a lone live worker on github.com's 900 poll every 24 s, for good;
# since 0.14.10 a registration silent past slot_keep_seconds weighs
# slot_keep_seconds / its silence.
#
# Against a git daemon on 127.0.0.1, for DEAD (default 300) registrations of
# nodes last active AGE_HOURS (default 24) hours ago, and for none (the
# baseline, in the same run): a bare repository with {"protocol": 3,
# "push_budget": 60, "fetch_budget": FETCH_BUDGET} (default 900), one worker
# (--slots 1 --executor process --http off, PULL_INTERVAL=1) that first runs
# one task (it is a member then), then REPS (default 5) times: idle for a
# random 4-8 s, a task of `true` submitted with plain git, and the seconds
# from that push to the worker's "claimed" log line. Medians of each and
# their ratio (target: about 1). With BASE_DGRID, the same runs with that
# binary too (a build before 0.14.10: its ratio is the cost of the dead).
set -u
DGRID=${DGRID:?DGRID: the dgrid binary}
BASE_DGRID=${BASE_DGRID:-}
DEAD=${DEAD:-300}
AGE_HOURS=${AGE_HOURS:-24}
FETCH_BUDGET=${FETCH_BUDGET:-900}
REPS=${REPS:-5}
LIMIT=${LIMIT:-120}

BENCH=bench-dead-polls
. "$(dirname "$0")/lib-daemon.sh"

# grid NAME DEAD: a fresh grid with DEAD silent registrations, no task
grid() {
	dead_grid "$1" "{\"protocol\": 3, \"push_budget\": 60, \"fetch_budget\": $FETCH_BUDGET}" "$2" \
		"$(date -u -d "-$AGE_HOURS hours" +%Y-%m-%dT%H:%M:%SZ)" 0
}

# submit NAME ID: a task pushed with plain git; prints the push's end, Unix s
submit() {
	local work=$T/work-$1
	git -C "$work" pull -q --rebase "$T/srv/$1.git" main
	mkdir -p "$work/tasks/queue"
	printf '{"task_id": "%s", "script": "true", "timeout_seconds": 60}\n' "$2" >"$work/tasks/queue/$2.json"
	git -C "$work" add -A
	git -C "$work" -c user.name=bench -c user.email=bench@localhost commit -q -m "task $2"
	until git -C "$work" push -q "$T/srv/$1.git" main 2>/dev/null; do
		git -C "$work" pull -q --rebase "$T/srv/$1.git" main
	done
	date +%s.%N
}

# claimed_at LOG ID: the Unix time of the worker's "claimed" line for ID, once it is there
claimed_at() {
	local i line
	for i in $(seq $((LIMIT * 5))); do
		line=$(grep -m 1 "task=$2 event=claimed" "$1") && break
		sleep 0.2
	done
	[ -n "${line:-}" ] || { echo ""; return; }
	date -d "$(echo "$line" | cut -d' ' -f1)" +%s.%N
}

# run BIN NAME: one worker; prints the REPS notice delays, s
run() {
	local bin=$1 name=$2 log=$T/$2.log r t0 t1 out=""
	DGRID_CACHE=$T/cache-$name PULL_INTERVAL=1 setsid "$bin" worker --repo "git://127.0.0.1:$port/$name.git" \
		--node-id w1 --slots 1 --executor process --http off >"$log" 2>&1 &
	pids+=($!)
	submit "$name" warm >/dev/null
	claimed_at "$log" warm >/dev/null
	for r in $(seq 1 "$REPS"); do
		sleep "$(python3 -c 'import random; print(f"{random.uniform(4, 8):.2f}")')"
		t0=$(submit "$name" "t$r")
		t1=$(claimed_at "$log" "t$r")
		if [ -z "$t1" ]; then
			out="$out >$LIMIT"
		else
			out="$out $(python3 -c "print(f'{$t1 - $t0:.2f}')")"
		fi
	done
	kill -- -"${pids[-1]}" 2>/dev/null
	wait "${pids[-1]}" 2>/dev/null
	echo "$out"
}

echo "bench-dead-polls: fetch budget $FETCH_BUDGET, 1 idle member, $DEAD registrations silent ${AGE_HOURS} h vs none, $REPS submissions each"
for label in new base; do
	bin=$DGRID
	if [ "$label" = base ]; then
		[ -n "$BASE_DGRID" ] || continue
		bin=$BASE_DGRID
	fi
	echo "# $label: $("$bin" --version 2>/dev/null | head -n 1)"
	grid "none-$label" 0
	none_runs=$(run "$bin" "none-$label")
	grid "dead-$label" "$DEAD"
	dead_runs=$(run "$bin" "dead-$label")
	m0=$(echo "$none_runs" | median)
	m1=$(echo "$dead_runs" | median)
	echo "$label: submission to claim, no dead:$none_runs s (median $m0); $DEAD dead:$dead_runs s (median $m1); ratio $(python3 -c "print(f'{$m1 / $m0:.2f}')")x"
done
