#!/usr/bin/env bash
# t0340: the worker's signals, parallel slots and idle footprint. Each part
# has its own bare repository behind one git daemon.
#  (a) SIGTERM during a 3 s task, --grace 30: the task completes (success),
#      the worker exits 0, its heartbeat ref says state "stopped".
#  (b) SIGTERM during a 30 s task, --grace 1: the task is handed back to
#      tasks/queue/ (not failed), the worker exits 0 within a few seconds and
#      no process of the task survives. Checked for the native sandbox and
#      for the process executor (b2).
#  (c) --slots 4, 4 tasks recording start and end times on the host (process
#      executor): the intervals overlap, max concurrency 4.
#  (d) an idle worker for 20 s (PULL_INTERVAL=1, HEARTBEAT_INTERVAL=1) adds no
#      commit to main after its registration while its heartbeat ref moves:
#      heartbeats stay off main; stopped, it adds one, which marks its
#      registration stopped (since 0.14.10). It runs while (a)-(c) do.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/srv"
start_git_daemon "$T/srv"
url() { echo "git://127.0.0.1:$GIT_DAEMON_PORT/$1.git"; }
bare() { git -C "$T/srv/$1.git" "${@:2}"; }
# new_grid NAME: a bare repo with a queue made of the task files $T/tasks-NAME/*.json
new_grid() {
	make_bare "$T/srv/$1.git"
	clone_work "$T/srv/$1.git" "$T/work-$1"
	mkdir -p "$T/work-$1/tasks/queue"
	cp "$T/tasks-$1"/*.json "$T/work-$1/tasks/queue/" 2>/dev/null
	touch "$T/work-$1/tasks/queue/.gitkeep"
	commit_push "$T/work-$1" "grid $1"
}
# worker NAME LIMIT ARGS...: starts a worker on grid NAME, node id NAME; sets WPID
worker() {
	local name=$1 limit=$2; shift 2
	DGRID_CACHE=$T/cache-$name PULL_INTERVAL=1 HEARTBEAT_INTERVAL=1 \
		timeout "$limit" "$DGRID" worker --repo "$(url "$name")" --node-id "$name" --http off "$@" \
		>"$T/$name.log" 2>&1 &
	WPID=$!
	track "$WPID"
}
# json_get FIELD: a field of the JSON document on stdin
json_get() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]))' "$1"; }

# ---------------------------------------------------------------- (d) start
mkdir -p "$T/tasks-d"
new_grid d
# Everything an idle worker does comes back periodically: a fetch every
# PULL_INTERVAL, a heartbeat every HEARTBEAT_INTERVAL and a reaping pass
# every node_timeout / 3. With node_timeout 6 the window of D_SECONDS
# (20 s) sees each of them ten times or more; with the default policy
# (reaping every 30 s) it took 60 s to see a reaping pass twice.
D_SECONDS=20
printf '{"heartbeat_interval": 1, "node_timeout": 6}\n' >"$T/work-d/dgrid.json"
commit_push "$T/work-d" "policy d"
worker d 120
WD=$WPID
check "(d) idle worker registered" wait_for 20 grep -q 'event=started executor' "$T/d.log"
check "(d) first heartbeat on the side ref" wait_for 10 bare d show-ref -q refs/dgrid/nodes/d
d_start=$(date +%s)
d_main0=$(bare d rev-list --count main)
d_hb0=$(bare d log -1 --format=%ct refs/dgrid/nodes/d)
d_hbid0=$(bare d rev-parse refs/dgrid/nodes/d)

# ---------------------------------------------------------------- (a)
mkdir -p "$T/tasks-a"
printf '{"task_id": "a1", "script": "sleep 3; echo a-done", "timeout_seconds": 60}\n' >"$T/tasks-a/a1.json"
new_grid a
worker a 60 --grace 30
WA=$WPID
check "(a) task started" wait_for 20 grep -q 'task=a1 event=started' "$T/a.log"
kill -TERM "$WA"
wait "$WA"
check_eq "(a) worker exits 0 after SIGTERM with grace 30" 0 $?
check "(a) it logged event=stopping" grep -q 'event=stopping signal=15' "$T/a.log"
check_eq "(a) the running task completed: success" success \
	"$(bare a show main:tasks/completed/a1.a.1.json 2>/dev/null | json_get status)"
check_eq "(a) with its output" "a-done" \
	"$(bare a show main:tasks/completed/a1.a.1.json 2>/dev/null | json_get stdout | head -1)"
check_eq "(a) in_progress empty" 0 "$(count_files "$T/srv/a.git" tasks/in_progress)"
check_eq "(a) heartbeat ref says state stopped" stopped \
	"$(bare a show refs/dgrid/nodes/a:heartbeat.json 2>/dev/null | json_get state)"

# ---------------------------------------------------------------- (b) and (b2), side by side
mkdir -p "$T/tasks-b" "$T/tasks-b2"
printf '{"task_id": "b1", "script": "sleep 31.5; echo b-done", "timeout_seconds": 60}\n' >"$T/tasks-b/b1.json"
printf '{"task_id": "b2", "script": "sleep 31.6; echo b2-done", "timeout_seconds": 60}\n' >"$T/tasks-b2/b2.json"
new_grid b
new_grid b2
worker b 60 --grace 1
WB=$WPID
worker b2 60 --grace 1 --executor process
WB2=$WPID
running() { pgrep -f "$1" >/dev/null; }
check "(b) the native task is running" wait_for 20 running 'sleep 31[.]5'
check "(b2) the process task is running" wait_for 20 running 'sleep 31[.]6'
sleep 0.5
t0=$(date +%s.%N)
kill -TERM "$WB" "$WB2"
wait "$WB"
rc=$?
tb=$(echo "$(date +%s.%N) - $t0" | bc)
wait "$WB2"
rc2=$?
tb2=$(echo "$(date +%s.%N) - $t0" | bc)
note "(b) exited after ${tb}s, (b2) after ${tb2}s"
for v in b b2; do
	# the marks are patterns that do not match their own command lines
	if [ $v = b ]; then id=b1 r=$rc el=$tb mark='sleep 31[.]5'; else id=b2 r=$rc2 el=$tb2 mark='sleep 31[.]6'; fi
	check_eq "($v) worker exits 0 after SIGTERM with grace 1" 0 "$r"
	check "($v) ... within 6 s (took ${el}s)" test "$(echo "$el < 6" | bc)" = 1
	check_eq "($v) the task is handed back to tasks/queue" "$id.json" \
		"$(bare $v ls-tree --name-only main:tasks/queue 2>/dev/null | grep -v '^\.' | tr '\n' ' ' | sed 's/ $//')"
	check_eq "($v) ... not failed" 0 "$(count_files "$T/srv/$v.git" tasks/failed)"
	check_eq "($v) ... not completed" 0 "$(count_files "$T/srv/$v.git" tasks/completed)"
	check_eq "($v) in_progress empty" 0 "$(count_files "$T/srv/$v.git" tasks/in_progress)"
	check_eq "($v) the handed-back task keeps attempt 1, no claim" "1 None" \
		"$(bare $v show main:tasks/queue/$id.json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("attempt"), d.get("node_id"))')"
	check "($v) it logged event=grace-over and event=handed-back" \
		bash -c "grep -q event=grace-over '$T/$v.log' && grep -q 'task=$id event=handed-back' '$T/$v.log'"
	check "($v) no process of the task survives" bash -c "! pgrep -f '$mark' >/dev/null"
	left=$(pgrep -f "$mark")
	[ -n "$left" ] && kill -9 $left   # only the marked processes of this test
done

# ---------------------------------------------------------------- (c)
mkdir -p "$T/tasks-c"
for i in 1 2 3 4; do
	printf '{"task_id": "c%d", "script": "echo c%d start $(date +%%s.%%N) >> %s/times; sleep 3; echo c%d end $(date +%%s.%%N) >> %s/times", "timeout_seconds": 60}\n' \
		"$i" "$i" "$T" "$i" "$T" >"$T/tasks-c/c$i.json"
done
new_grid c
worker c 60 --slots 4 --executor process --exit-when-idle
WC=$WPID
wait "$WC"
check_eq "(c) worker exits 0 when idle" 0 $?
check_eq "(c) 4 completed" 4 "$(count_files "$T/srv/c.git" tasks/completed)"
check_eq "(c) 4 starts and 4 ends recorded" 8 "$(wc -l <"$T/times" 2>/dev/null || echo 0)"
conc=$(python3 - "$T/times" <<'PY'
import sys
ev = []
for line in open(sys.argv[1]):
    _, kind, t = line.split()
    ev.append((float(t), 1 if kind == "start" else -1))
ev.sort(key=lambda e: (e[0], e[1]))
cur = best = 0
for _, d in ev:
    cur += d
    best = max(best, cur)
print(best)
PY
)
note "(c) times: $(tr '\n' ';' <"$T/times" 2>/dev/null)"
check_eq "(c) max concurrency is 4 (all intervals overlap)" 4 "$conc"

# ---------------------------------------------------------------- (d) end
rest=$((D_SECONDS - ($(date +%s) - d_start)))
[ "$rest" -gt 0 ] && sleep "$rest"
check "(d) idle worker still running after $D_SECONDS s" kill -0 "$WD"
check_eq "(d) no commit on main after registration" "$d_main0" "$(bare d rev-list --count main)"
check "(d) the heartbeat ref moved" test "$(bare d rev-parse refs/dgrid/nodes/d)" != "$d_hbid0"
d_hb1=$(bare d log -1 --format=%ct refs/dgrid/nodes/d)
check "(d) its commit time advanced (${d_hb0} -> ${d_hb1})" test "$d_hb1" -gt "$d_hb0"
check "(d) the heartbeat is not in main's history" bash -c \
	"! git -C '$T/srv/d.git' merge-base --is-ancestor refs/dgrid/nodes/d main"
note "(d) commits reachable from the heartbeat ref: $(bare d rev-list --count refs/dgrid/nodes/d)"
check_eq "(d) state idle" idle "$(bare d show refs/dgrid/nodes/d:heartbeat.json | json_get state)"
kill -TERM "$WD"
wait "$WD"
check_eq "(d) worker exits 0 on SIGTERM" 0 $?
# stopping, it says so in its registration: one commit, and nothing else (since 0.14.10)
check_eq "(d) one commit on main after stopping" "$((d_main0 + 1))" "$(bare d rev-list --count main)"
check_eq "(d) it says the node stopped" "d: stopped" "$(bare d log -1 --format=%s main)"
check_eq "(d) and touches nodes/d.json alone" "nodes/d.json" "$(bare d diff --name-only main~1 main)"
check "(d) which says stopped_at" bash -c "git -C '$T/srv/d.git' show main:nodes/d.json | grep -q '\"stopped_at\"'"
finish
