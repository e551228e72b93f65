#!/usr/bin/env bash
# t0702: node clocks skewed by up to ten minutes, without any other fault
# (the deterministic part of issue 9's chaos run).
#
# Three live workers whose clocks are 600 s behind, right, and 600 s ahead
# (DGRID_TEST_CLOCK_SKEW, which shifts every wall-clock reading dgrid makes)
# share 9 tasks of 4 s; the policy's node_timeout is 8 s. Nobody dies, so a
# reap is always a mistake: a worker that judged another's heartbeat by its
# own skewed clock took a live worker's task. Invariants (check_repo.py):
# every task ran exactly once and ended with one success at attempt 1. The
# logs must show no event=reaped and no event=superseded.
. "$(dirname "$0")/lib.sh"
. "$DGRID_SRC/tests/chaos/lib.sh"
trap 'kill_leftover_tasks; _cleanup' EXIT

mkdir -p "$SRV"
: >"$T/exec.log"
: >"$T/submitted"
chaos_daemon_start
chaos_repo grid '{"heartbeat_interval": 2, "node_timeout": 8}'
chaos_submit grid tasks 4 k1 k2 k3 k4 k5 k6 k7 k8 k9 || fail "could not submit the tasks"

declare -A SKEW=([behind]=-600 [right]=0 [ahead]=600)
pids=()
for n in behind right ahead; do
	DGRID_TEST_CLOCK_SKEW=${SKEW[$n]} DGRID_CACHE=$T/cache-$n DGRID_SPOOL=$T/spool-$n \
		PULL_INTERVAL=1 HEARTBEAT_INTERVAL=2 LOG_LEVEL=debug \
		timeout 90 "$DGRID" worker --repo "$URL" --node-id "$n" --executor process \
		--exit-when-idle --http off --grace 1 >"$T/$n.log" 2>&1 &
	pids+=($!)
	track $!
done
for i in 0 1 2; do
	wait "${pids[$i]}"
	check_eq "worker $i exits 0 once the grid is idle" 0 $?
done
now=$(date -u +%s)

# The skew must have reached dgrid, or this test proves nothing: the last
# heartbeat of "behind" was written moments ago by a clock 600 s slow.
hb=$(git -C "$SRV/grid.git" show refs/dgrid/nodes/behind:heartbeat.json 2>/dev/null |
	python3 -c 'import json,sys,calendar,time; print(calendar.timegm(time.strptime(json.load(sys.stdin)["time"], "%Y-%m-%dT%H:%M:%SZ")))' 2>/dev/null)
diff=$(( ${hb:-$now} - now ))
check "DGRID_TEST_CLOCK_SKEW=-600 shifts the heartbeat time of node behind (it is ${diff}s from the real clock)" \
	test "$diff" -le -500 -a "$diff" -ge -700

tap_from_checker python3 "$CHAOS_DIR/check_repo.py" --repo "$SRV/grid.git" \
	--submitted "$T/submitted" --exec-log "$T/exec.log" --nodes behind,right,ahead \
	--expect-status success --exact-once
for n in behind right ahead; do
	r=$(grep -E 'event=(reaped|abandoned|superseded)' "$T/$n.log" | head -3 | sed 's/^[^ ]* //' | tr '\n' ';')
	check_eq "worker $n (skew ${SKEW[$n]}s) reaped, abandoned or lost no live task" "" "$r"
done
finish
