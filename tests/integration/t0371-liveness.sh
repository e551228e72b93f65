#!/usr/bin/env bash
# t0371: no live task is reaped, no dead one is kept (issue 9, defects 3, 4
# and 10). Liveness is judged from what the reaper saw itself, on its own
# clock, never from a stale cache or another machine's clock.
#
#  A. A stale cache: the observer B fetches only every 60 s
#     (PULL_INTERVAL), longer than the node timeout; A's task must not be
#     reaped while A heartbeats.
#  B. Clocks ten minutes apart (DGRID_TEST_CLOCK_SKEW): the task of a live
#     node whose clock is slow is not reaped; the task of a dead node whose
#     clock is fast is reaped after the node timeout and finished.
#  C. Adoption: a worker killed and restarted with the same id runs its
#     task again as a new attempt (attempt 2); with max_attempts 1 the task
#     ends abandoned instead of running past the limit.
#  D. HEARTBEAT_INTERVAL not below the grid's node_timeout is refused.
#  F. A second live worker with the same node id exits with an error
#     (it used to retry its registration for ever).
#  E. dgrid reap judges by watching: a claim of a node that never
#     heartbeats goes back to the queue after --watch seconds, not before.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/srv"
start_git_daemon "$T/srv"
POLICY='{"heartbeat_interval": 1, "node_timeout": 6}'

new_grid() { # NAME [POLICY]
	make_bare "$T/srv/$1.git"
	clone_work "$T/srv/$1.git" "$T/$1"
	mkdir -p "$T/$1/tasks/queue"
	touch "$T/$1/tasks/queue/.gitkeep"
	printf '%s\n' "${2:-$POLICY}" >"$T/$1/dgrid.json"
}
task() { # GRID ID SCRIPT
	printf '{"task_id": "%s", "script": "%s", "timeout_seconds": 120}\n' "$2" "$3" \
		>"$T/$1/tasks/queue/$2.json"
}
worker() { # GRID NODE [env...] -- [args]: background, pid in $WPID, log $T/GRID-NODE.log
	local grid=$1 node=$2; shift 2
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	env DGRID_CACHE="$T/cache-$grid-$node" PULL_INTERVAL=1 HEARTBEAT_INTERVAL=1 "${envs[@]}" \
		timeout 150 "$DGRID" worker --repo "git://127.0.0.1:$GIT_DAEMON_PORT/$grid.git" \
		--node-id "$node" --executor process --http off "$@" >>"$T/$grid-$node.log" 2>&1 &
	WPID=$!
	track $WPID
}
bare() { local g=$1; shift; git -C "$T/srv/$g.git" "$@"; }
# kill9 PID: SIGKILL for the worker that `timeout` PID runs, as a dying machine
kill9() { local child; child=$(pgrep -P "$1"); kill -9 $child "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
field() { # GRID PATH KEY
	bare "$1" show "main:$2" 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['$3'])" 2>/dev/null
}
runs() { grep -c "^$1\$" "$T/exec.log" 2>/dev/null || true; }
started() { grep -q "task=$2 event=started" "$T/$1.log" 2>/dev/null; }
has_result() { bare "$1" ls-tree -r --name-only main tasks/completed tasks/failed 2>/dev/null | grep -q "/$2\."; }

# --- A: an observer whose cache is older than the node timeout ---------------
new_grid a
task a long "echo long >> $T/exec.log; sleep 16; echo long-done"
commit_push "$T/a" "task long"
worker a A
A=$WPID
check "A: A started the task" wait_for 30 started a-A long
worker a B PULL_INTERVAL=60
B=$WPID
check "A: the task finished" wait_for 60 has_result a long
sleep 2
kill -TERM $A $B; wait $A $B
check_eq "A: it ran once" 1 "$(runs long)"
check_eq "A: its result is A's first attempt" "A 1" \
	"$(field a tasks/completed/long.A.1.json node_id) $(field a tasks/completed/long.A.1.json attempt)"
check "A: B reaped nothing" bash -c "! grep -q event=reaped '$T/a-B.log'"

# --- B: clocks ten minutes off ------------------------------------------------
new_grid b
task b slow "echo slow >> $T/exec.log; sleep 16; echo slow-done"
commit_push "$T/b" "task slow"
worker b behind DGRID_TEST_CLOCK_SKEW=-600
S=$WPID
check "B: the node whose clock is slow started 'slow'" wait_for 30 started b-behind slow
# one task each: 'fast' is queued only once 'behind' is busy
git -C "$T/b" pull -q --rebase origin main
task b fast "echo fast >> $T/exec.log; [ -e $T/fast-killed ] && echo fast-done || sleep 100"
commit_push "$T/b" "task fast"
worker b ahead DGRID_TEST_CLOCK_SKEW=600
F=$WPID
check "B: the node whose clock is fast started 'fast'" wait_for 30 started b-ahead fast
kill9 $F
pkill -9 -f 'sleep 100' ; touch "$T/fast-killed"
worker b observer
O=$WPID
check "B: the dead node's task is finished by the observer" wait_for 60 has_result b fast
check "B: the slow-clock node's task is finished" wait_for 60 has_result b slow
kill -TERM $S $O; wait $S $O
check_eq "B: 'slow' ran once" 1 "$(runs slow)"
check_eq "B: ... and its result is the slow-clock node's first attempt" success \
	"$(field b tasks/completed/slow.behind.1.json status)"
fastres=$(bare b ls-tree --name-only main:tasks/completed | grep '^fast\.' | head -1)
check_eq "B: 'fast' ended as attempt 2 of a live node" "fast-done 2" \
	"$(field b "tasks/completed/$fastres" stdout | head -1) $(field b "tasks/completed/$fastres" attempt)"
note "$(grep -h 'task=fast event=reaped' "$T/b-observer.log" "$T/b-behind.log" | cut -d' ' -f3-)"
# (killed before its first heartbeat was pushed, it "never sent" one)
check "B: it was reaped because the dead node's heartbeat stopped changing (or never came)" \
	grep -qE "task=fast event=reaped owner=ahead attempt=1 reason=\"owner('s heartbeat is stale| never sent a heartbeat)\"" \
	"$T/b-observer.log" "$T/b-behind.log"

# --- C: adoption is a new attempt -------------------------------------------
for max in 3 1; do
	g=c$max
	new_grid $g "{\"heartbeat_interval\": 1, \"node_timeout\": 6, \"max_attempts\": $max}"
	task $g ad$max "echo ad$max >> $T/exec.log; [ -e $T/ad$max-killed ] && echo ad-done || sleep 101"
	commit_push "$T/$g" "task ad$max"
	worker $g R
	R=$WPID
	check "C$max: R started the task" wait_for 30 started $g-R ad$max
	kill9 $R
	pkill -9 -f 'sleep 101'; touch "$T/ad$max-killed"
	worker $g R -- --exit-when-idle
	R=$WPID
	wait $R
	check_eq "C$max: the restarted worker exits 0" 0 $?
done
check_eq "C3: the adopted task ran again as attempt 2" "ad-done 2" \
	"$(field c3 tasks/completed/ad3.R.2.json stdout | head -1) $(field c3 tasks/completed/ad3.R.2.json attempt)"
check_eq "C3: and ran twice in all (its first run died with the worker)" 2 "$(runs ad3)"
check_eq "C1: with max_attempts 1 the task is abandoned" abandoned \
	"$(field c1 tasks/failed/ad1.R.1.json status)"
check_eq "C1: and never ran past the limit" 1 "$(runs ad1)"

# --- D: a heartbeat interval the grid cannot tolerate ---------------------------
out=$(DGRID_CACHE=$T/cache-d HEARTBEAT_INTERVAL=6 timeout 60 "$DGRID" worker \
	--repo "git://127.0.0.1:$GIT_DAEMON_PORT/a.git" --node-id D --http off --executor process 2>&1)
check "D: HEARTBEAT_INTERVAL 6 with node_timeout 6 is refused" test $? -ne 0
check "D: ... naming both" bash -c "echo \"\$1\" | grep -q 'HEARTBEAT_INTERVAL 6 is not below the grid.s node_timeout 6'" _ "$out"

# --- F: a second live worker with the same id ------------------------------------
worker a twin
TW=$WPID
check "F: the first 'twin' is up" wait_for 30 grep -q 'event=started' "$T/a-twin.log"
sleep 2
DGRID_CACHE=$T/cache-twin2 timeout 60 "$DGRID" worker --repo "git://127.0.0.1:$GIT_DAEMON_PORT/a.git" \
	--node-id twin --http off --executor process >"$T/twin2.log" 2>&1
rc=$?
out=$(tail -1 "$T/twin2.log")
check "F: a second worker with the same id exits at once, not after the 60 s limit (status $rc)" \
	test "$rc" -ne 0 -a "$rc" -ne 124
check "F: ... saying the id is in use by a live worker" bash -c "echo \"\$1\" | grep -q \"node id 'twin' is in use by a live worker\"" _ "$out"
kill -TERM $TW; wait $TW

# --- E: dgrid reap watches before it judges --------------------------------------
new_grid e
mkdir -p "$T/e/tasks/in_progress"
# a claim of a node that never heartbeats, with a claim time far in the future
printf '{"task_id": "ghost", "script": "true", "timeout_seconds": 30, "node_id": "gone", "claimed_at": "2099-01-01T00:00:00Z", "attempt": 1}\n' \
	>"$T/e/tasks/in_progress/ghost.json"
commit_push "$T/e" "a claim of a node that never heartbeats"
out=$("$DGRID" reap --repo "git://127.0.0.1:$GIT_DAEMON_PORT/e.git" --watch 0 2>&1)
check_eq "E: without watching nothing is judged dead" "examined 1, returned to the queue 0, abandoned 0" "$out"
out=$("$DGRID" reap --repo "git://127.0.0.1:$GIT_DAEMON_PORT/e.git" --watch 8 2>/dev/null)
check_eq "E: after watching longer than node_timeout it is returned" "examined 1, returned to the queue 1, abandoned 0" "$out"
check_eq "E: back in the queue with its attempt kept" 1 "$(field e tasks/queue/ghost.json attempt)"
finish
