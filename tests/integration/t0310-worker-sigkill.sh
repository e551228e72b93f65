#!/usr/bin/env bash
# t0310: a worker killed with SIGKILL mid-task. Its heartbeat stops, a second
# worker reaps the claim after node_timeout (policy: heartbeat_interval 1,
# node_timeout 4) and runs the task again as attempt 2.
#
# Semantics under test (DESIGN §2.2): execution is at-least-once. The task
# may start twice (once on the dead worker, once on its successor), but it
# ends with exactly one result, from the successor, with "attempt": 2.
#
# Two tasks, two dead workers:
#   p  - worker A, --executor process, appends to $T/log on the host. The
#        process executor puts the task in its own process group, so the
#        task SURVIVES kill -9 of its worker (checked). We then kill that
#        orphan group ourselves, as an operator would, so that the log shows
#        exactly one "done" (from B) and two starts.
#   n  - worker A2, --executor native. The sandbox dies with its worker
#        (PDEATHSIG): no process of the task survives kill -9 (checked by a
#        unique marker in its script).
# Worker B (process executor, 2 slots) reaps and finishes both.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/srv"
make_bare "$T/srv/grid.git"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
clone_work "$T/srv/grid.git" "$T/work"
mkdir -p "$T/work/tasks/queue"
printf '{"heartbeat_interval": 1, "node_timeout": 4}\n' >"$T/work/dgrid.json"
printf '{"task_id": "n", "script": "echo n-start; sleep 20.32; echo n-out", "timeout_seconds": 60}\n' \
	>"$T/work/tasks/queue/n.json"
commit_push "$T/work" "policy and task n"

run_worker() { # NAME EXECUTOR SLOTS LIMIT
	DGRID_CACHE=$T/cache-$1 HEARTBEAT_INTERVAL=1 PULL_INTERVAL=1 LOG_LEVEL=debug \
		timeout "$4" "$DGRID" worker --repo "$URL" --node-id "$1" --slots "$3" \
		--executor "$2" --http off >"$T/$1.log" 2>&1 &
}
bare() { git -C "$T/srv/grid.git" "$@"; }

# --- A2: native executor, killed mid-task ---------------------------------
DGRID_CACHE=$T/cache-A2 HEARTBEAT_INTERVAL=1 PULL_INTERVAL=1 \
	"$DGRID" worker --repo "$URL" --node-id A2 --executor native --http off >"$T/A2.log" 2>&1 &
A2=$!
track "$A2"
running() { pgrep -f "$1" >/dev/null; }
check "task n started in A2's sandbox" wait_for 20 running 'sleep 20[.]32'
kill -9 "$A2"
wait "$A2" 2>/dev/null
gone() { ! pgrep -f 'sleep 20.32' >/dev/null; }
check "native executor: no process of A2's task survives kill -9 of A2" wait_for 3 gone
# if the sandbox outlived A2 (a bug), stop what is left of it, by pid
left=$(pgrep -f 'sleep 20.32')
[ -n "$left" ] && note "left over from A2: $(ps -o pid=,ppid=,user=,args= -p "${left//$'\n'/,}" | tr '\n' ';')"
[ -n "$left" ] && kill -9 $left 2>/dev/null

# --- A: process executor, killed mid-task --------------------------------
# A claims p in its first turn and, busy from then on, never reaps n.
git -C "$T/work" fetch -q origin && git -C "$T/work" reset -q --hard origin/main
mkdir -p "$T/work/tasks/queue"
printf '{"task_id": "p", "script": "echo start-$$ >> %s/log; sleep 20.31; echo done >> %s/log; echo p-out", "timeout_seconds": 60}\n' \
	"$T" "$T" >"$T/work/tasks/queue/p.json"
commit_push "$T/work" "task p"
# exec so that $! is the worker itself, not a wrapper shell
DGRID_CACHE=$T/cache-A HEARTBEAT_INTERVAL=1 PULL_INTERVAL=1 \
	"$DGRID" worker --repo "$URL" --node-id A --executor process --http off >"$T/A.log" 2>&1 &
A=$!
track "$A"
check "task p started on A" wait_for 20 grep -qs '^start' "$T/log"
check "p is in_progress, owned by A, attempt 1" bash -c \
	"git -C '$T/srv/grid.git' show main:tasks/in_progress/p.json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"node_id\"]==\"A\" and d[\"attempt\"]==1, d'"
kill -9 "$A"
wait "$A" 2>/dev/null
sleep 0.5
orphan=$(pgrep -f 'sleep 20.31' | head -1)
check "process executor: A's task survives kill -9 of A (own process group)" test -n "$orphan"
if [ -n "$orphan" ]; then
	pg=$(ps -o pgid= -p "$orphan" | tr -d ' ')
	note "killing A's orphaned task group $pg"
	kill -9 -- "-$pg" 2>/dev/null
fi

check_eq "both tasks held in_progress by dead workers" 2 "$(count_files "$T/srv/grid.git" tasks/in_progress)"

# --- B: reaps after node_timeout and finishes both ------------------------
t0=$(date +%s)
run_worker B process 2 120
B=$!
track "$B"
reaped() { grep -q 'task=p event=reaped' "$T/B.log" && grep -q 'task=n event=reaped' "$T/B.log"; }
check "B reaps both orphaned claims" wait_for 30 reaped
note "B reaped after $(($(date +%s) - t0)) s"
check "B claims p as attempt 2" wait_for 10 grep -q 'task=p event=claimed attempt=2' "$T/B.log"
done_both() { [ "$(count_files "$T/srv/grid.git" tasks/completed)" -eq 2 ]; }
check "both tasks completed" wait_for 70 done_both
kill "$B"
wait "$B"
check_eq "B exits 0 on SIGTERM" 0 $?

check_eq "in_progress is empty" 0 "$(count_files "$T/srv/grid.git" tasks/in_progress)"
check_eq "queue is empty" 0 "$(count_files "$T/srv/grid.git" tasks/queue)"
check_eq "nothing failed" 0 "$(count_files "$T/srv/grid.git" tasks/failed)"
check_eq "exactly one result for p" 1 "$(bare ls-tree -r --name-only main tasks | grep -c -- '/p\.[^/]*\.json$')"
check_eq "exactly one result for n" 1 "$(bare ls-tree -r --name-only main tasks | grep -c -- '/n\.[^/]*\.json$')"
for id in p n; do
	check "result of $id is from B, attempt 2, success, original output" bash -c \
		"git -C '$T/srv/grid.git' show main:tasks/completed/$id.B.2.json | python3 -c '
import json,sys
d=json.load(sys.stdin)
assert d[\"node_id\"]==\"B\" and d[\"attempt\"]==2 and d[\"status\"]==\"success\", d
assert d[\"stdout\"].endswith(\"$id-out\n\"), d
'"
done
starts=$(grep -c '^start' "$T/log")
check "p started at most twice (at-least-once: A and B)" test "$starts" -le 2
check_eq "p started exactly twice here (A's run was killed, B re-ran it)" 2 "$starts"
check_eq "p finished exactly once (A's orphan was killed before its end)" 1 "$(grep -c '^done' "$T/log")"
check "no error in B's log" bash -c "! grep -E ' (error|crit|fatal) ' '$T/B.log'"
finish
