#!/usr/bin/env bash
# t0370: every valid id is accepted and no result is dropped or overwritten
# (issue 9, defects 1, 2 and 12b).
#
#  A. A dotted node id (the default is the host name, often dotted): the
#     task's result is recorded, nothing stays in progress.
#  B. dgrid.json tightened (timeout_max, script_max, id_max) while a task
#     runs: the claim is not judged again, the result is recorded. An id of
#     150 characters (id_max allows 200) is recorded too.
#  C. Node ids that are not valid Git ref names are refused up front.
#  D. Names that collided in the original {node}-{task}.json layout (node
#     w + task 1-t, node w-1 + task t) give two results; a file already at
#     a result's path is never replaced (walk of the history: no result
#     path is ever modified or deleted).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/srv"
start_git_daemon "$T/srv"

new_grid() { # NAME: bare repo + work clone with an empty queue
	make_bare "$T/srv/$1.git"
	clone_work "$T/srv/$1.git" "$T/$1"
	mkdir -p "$T/$1/tasks/queue"
	touch "$T/$1/tasks/queue/.gitkeep"
}
task() { # GRID ID SCRIPT [TIMEOUT]
	printf '{"task_id": "%s", "script": "%s", "timeout_seconds": %s}\n' "$2" "$3" "${4:-30}" \
		>"$T/$1/tasks/queue/$2.json"
}
worker() { # GRID NODE LOG [extra args]: runs in the background, pid in $WPID
	local grid=$1 node=$2 log=$3; shift 3
	DGRID_CACHE=$T/cache-$grid-$node PULL_INTERVAL=1 timeout 120 "$DGRID" worker \
		--repo "git://127.0.0.1:$GIT_DAEMON_PORT/$grid.git" --node-id "$node" \
		--executor process --http off "$@" >"$log" 2>&1 &
	WPID=$!
	track $WPID
}
bare() { local g=$1; shift; git -C "$T/srv/$g.git" "$@"; }
field() { # GRID PATH KEY
	bare "$1" show "main:$2" 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['$3'])" 2>/dev/null
}

# --- A: a dotted node id ---------------------------------------------------
new_grid a
task a t1 'echo one'
commit_push "$T/a" "task t1"
worker a host.example.com "$T/a.log" --exit-when-idle
wait $WPID
check_eq "A: the worker with a dotted id exits 0" 0 $?
check_eq "A: its result is recorded under the run's name" success \
	"$(field a tasks/completed/t1.host.example.com.1.json status)"
check_eq "A: nothing stays in progress" 0 "$(count_files "$T/srv/a.git" tasks/in_progress)"
check "A: no result was dropped as superseded" bash -c "! grep -q event=superseded '$T/a.log'"

# --- B: policy tightened while tasks run ------------------------------------
new_grid b
printf '{"id_max": 200, "timeout_max": 120, "script_max": 5000}\n' >"$T/b/dgrid.json"
LONG=$(printf 'L%.0s' $(seq 150))
task b slow 'sleep 4; echo slow-done' 100
task b "$LONG" 'sleep 4; echo long-done' 30
commit_push "$T/b" "two tasks and a generous policy"
worker b w "$T/b.log" --slots 2
check "B: both tasks started" wait_for 30 bash -c "[ \$(grep -c 'task=.*event=started' '$T/b.log') -eq 2 ]"
printf '{"id_max": 10, "timeout_max": 30, "script_max": 10}\n' >"$T/b/dgrid.json"
commit_push "$T/b" "tighter policy"
check "B: both results arrive" wait_for 60 bash -c \
	"[ \$(git -C '$T/srv/b.git' ls-tree --name-only main:tasks/completed 2>/dev/null | grep -c json) -eq 2 ]"
kill -TERM $WPID; wait $WPID
check_eq "B: the claim made before the change is not judged again" slow-done \
	"$(field b tasks/completed/slow.w.1.json stdout | head -1)"
check_eq "B: a 150-character id is recorded" long-done \
	"$(field b "tasks/completed/$LONG.w.1.json" stdout | head -1)"
check "B: nothing superseded" bash -c "! grep -q event=superseded '$T/b.log'"
check_eq "B: nothing stays in progress" 0 "$(count_files "$T/srv/b.git" tasks/in_progress)"

# --- C: ids that are no valid ref names -------------------------------------
for id in a..b x.lock .x -x 'a/b' "$(printf 'n%.0s' $(seq 65))"; do
	out=$("$DGRID" worker --repo "$T/srv/a.git" --node-id "$id" --http off 2>&1)
	rc=$?
	check_eq "C: node id '${id:0:20}' is refused with status 2" 2 "$rc"
	check "C: ... and a reason ($(echo "$out" | head -1 | cut -c1-60))" \
		bash -c "echo \"\$1\" | grep -q 'node id\|node_id'" _ "$out"
done

# --- D: no collisions, no overwrites ----------------------------------------
new_grid d
task d 1-t 'echo from-w'
task d t 'echo from-w-1'
task d t2 'echo t2-real'
# a file already where w's result for t2 would go (by hand, or another run)
mkdir -p "$T/d/tasks/completed"
printf '{"task_id": "t2", "node_id": "w", "exit_code": 0, "stdout": "planted", "stderr": "", "timestamp": "2026-01-01T00:00:00Z", "status": "success"}\n' \
	>"$T/d/tasks/completed/t2.w.1.json"
commit_push "$T/d" "tasks whose old result names collide"
# w takes 1-t and t2, w-1 takes t: one worker at a time, each picking what it may
printf '{"task_id": "t", "script": "echo from-w-1", "timeout_seconds": 30}\n' >"$T/t.json"
git -C "$T/d" rm -q tasks/queue/t.json
commit_push "$T/d" "t later"
worker d w "$T/d-w.log" --exit-when-idle
wait $WPID
git -C "$T/d" pull -q --rebase origin main
cp "$T/t.json" "$T/d/tasks/queue/t.json"
commit_push "$T/d" "t now"
worker d w-1 "$T/d-w1.log" --exit-when-idle
wait $WPID
check_eq "D: w's result of 1-t" from-w "$(field d tasks/completed/1-t.w.1.json stdout | head -1)"
check_eq "D: w-1's result of t" from-w-1 "$(field d tasks/completed/t.w-1.1.json stdout | head -1)"
check_eq "D: the planted file is untouched" planted "$(field d tasks/completed/t2.w.1.json stdout)"
check_eq "D: t2's real result went beside it" t2-real "$(field d 'tasks/completed/t2.w.1~2.json' stdout | head -1)"
changed=$(bare d log --format= --name-status main -- tasks/completed tasks/failed | grep -v '^A' | sort -u)
check_eq "D: no result path was ever modified or deleted" "" "$changed"
finish
