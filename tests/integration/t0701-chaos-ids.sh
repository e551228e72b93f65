#!/usr/bin/env bash
# t0701: dotted and dashed node and task ids, without any fault (the
# deterministic part of issue 9's chaos run, so that a failure here points
# at the naming and not at the faults).
#
# Each grid gets one task per worker, run one worker after the other, so that
# the node/task pairs are exactly those chosen:
#   collide: node "w" runs task "1-t", then node "w-1" runs task "t". Under
#            the old naming {node}-{task}.json both results are "w-1-t.json".
#   dotted:  node "w1.example.com" runs "a_b-c", then node "w-2" runs "t-1".
# Invariants (tests/chaos/check_repo.py, from the repository alone): each
# task has exactly one result, with its own output and node id, attempt 1,
# run exactly once; queue and in_progress empty; no result file rewritten.
. "$(dirname "$0")/lib.sh"
. "$DGRID_SRC/tests/chaos/lib.sh"
trap 'kill_leftover_tasks; _cleanup' EXIT

mkdir -p "$SRV"
: >"$T/exec.log"
chaos_daemon_start
POLICY='{"heartbeat_interval": 1, "node_timeout": 10}'

# run_one GRID NODE TASK: submits TASK, runs NODE until the grid is idle.
run_one() {
	chaos_submit "$1" "$3" 0 "$3" || fail "could not submit $3 to $1"
	DGRID_CACHE=$T/cache-$2 DGRID_SPOOL=$T/spool-$2 PULL_INTERVAL=1 HEARTBEAT_INTERVAL=1 \
		timeout 25 "$DGRID" worker --repo "$URL" --node-id "$2" --executor process \
		--exit-when-idle --http off --grace 1 >"$T/$1-$2.log" 2>&1
	check_eq "grid $1: worker $2 ran task $3 and exited 0 when idle" 0 $?
}

grid() { # NAME NODE TASK NODE TASK
	: >"$T/submitted"
	chaos_repo "$1" "$POLICY"
	run_one "$1" "$2" "$3"
	run_one "$1" "$4" "$5"
	: >"$T/exec-$1.log"
	grep -E " ($3|$5) " "$T/exec.log" >"$T/exec-$1.log"
	note "grid $1: $2 runs $3, then $4 runs $5"
	tap_from_checker python3 "$CHAOS_DIR/check_repo.py" --repo "$SRV/$1.git" \
		--submitted "$T/submitted" --exec-log "$T/exec-$1.log" --nodes "$2,$4" \
		--expect-status success --exact-once
	local f
	for f in "$T/$1-"*.log; do
		if grep -Eq ' (error|crit|fatal) ' "$f"; then
			fail "grid $1: error in $(basename "$f"): $(grep -E ' (error|crit|fatal) ' "$f" | head -2 | tr '\n' ' ')"
		fi
	done
}

grid collide w 1-t w-1 t
grid dotted w1.example.com a_b-c w-2 t-1
finish
