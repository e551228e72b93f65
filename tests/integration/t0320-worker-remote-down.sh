#!/usr/bin/env bash
# t0320: the Git remote goes away under a working worker and comes back on
# the same address (DESIGN §2.2: no lost result; a result that cannot be
# pushed is kept on disk and pushed later).
#
# Part 1: 6 tasks, --slots 2, the git daemon is killed while tasks run and
#         stays down until two have finished and three network turns have
#         failed, then is restarted on the SAME port and base path. The
#         worker logs event=remote-error, keeps running, and all 6 results
#         arrive.
# Part 2: a result finished while the remote is down is spooled; SIGTERM
#         makes the worker exit 0 without pushing (event=stop-unpushed), the
#         result stays in $DGRID_SPOOL; after the remote is back, a new worker
#         life with the same node id and spool pushes the ORIGINAL result
#         (same started_at and a stdout that is unique per run): no re-run.
# Tasks run in the native sandbox (the default); nothing is written on the host.
. "$(dirname "$0")/lib.sh"

daemon_start() { git_daemon_at "$1" "$T/srv"; }
daemon_stop() { git_daemon_stop "$PORT"; }
bare() { git -C "$T/srv/$1" "${@:2}"; }

mkdir -p "$T/srv"
PORT=$(free_port)
daemon_start "$PORT"
check "git daemon listening on $PORT" wait_port "$PORT"

# ---------------------------------------------------------------- part 1
make_bare "$T/srv/grid.git"
URL="git://127.0.0.1:$PORT/grid.git"
clone_work "$T/srv/grid.git" "$T/work"
mkdir -p "$T/work/tasks/queue"
for i in 1 2 3 4 5 6; do
	printf '{"task_id": "t%d", "script": "sleep 2; echo X%d", "timeout_seconds": 60}\n' "$i" "$i" \
		>"$T/work/tasks/queue/t$i.json"
done
commit_push "$T/work" "6 tasks"

DGRID_CACHE=$T/cache-1 HEARTBEAT_INTERVAL=1 PULL_INTERVAL=1 \
	timeout 150 "$DGRID" worker --repo "$URL" --node-id w1 --slots 2 --http off >"$T/w1.log" 2>&1 &
W1=$!
track "$W1"
# a task's start, not the worker's ("event=started executor=... slots=...")
check "tasks are running" wait_for 30 grep -q 'task=.* event=started executor' "$T/w1.log"
daemon_stop
check "the daemon is down" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null"
note "remote down at $(date +%T)"
# The outage lasts until the two running tasks have finished and the worker
# has failed three network turns in a row (the push of their results, then
# retries after growing backoffs) - what a fixed 10 s used to cover, in
# about half of it; the deadline only bounds a worker that never gets there.
outage_seen() {
	[ "$(grep -c 'event=finished' "$T/w1.log")" -ge 2 ] &&
		[ "$(grep -c 'event=remote-error' "$T/w1.log")" -ge 3 ]
}
check "two results finished and 3 network turns failed while the remote is down" wait_for 30 outage_seen
check "worker still running while the remote is down" kill -0 "$W1"
check "worker logged event=remote-error while the remote was down" grep -q 'event=remote-error' "$T/w1.log"
daemon_start "$PORT"
note "remote back at $(date +%T)"
six() { [ "$(count_files "$T/srv/grid.git" tasks/completed)" -eq 6 ]; }
check "all 6 results arrive after the remote is back" wait_for 60 six
check "worker logged event=remote-back" grep -q 'event=remote-back' "$T/w1.log"
check "worker still running after the outage" kill -0 "$W1"
kill -TERM "$W1"
wait "$W1"
check_eq "worker exits 0 on SIGTERM" 0 $?
check_eq "6 completed" 6 "$(count_files "$T/srv/grid.git" tasks/completed)"
check_eq "nothing failed" 0 "$(count_files "$T/srv/grid.git" tasks/failed)"
check_eq "queue empty" 0 "$(count_files "$T/srv/grid.git" tasks/queue)"
check_eq "in_progress empty" 0 "$(count_files "$T/srv/grid.git" tasks/in_progress)"
# the six results in one python run (each python3 start costs, pyenv's shim most)
okres=$(python3 - "$T/srv/grid.git" <<'PY'
import json, subprocess, sys
good = 0
for i in range(1, 7):
    show = subprocess.run(["git", "-C", sys.argv[1], "show", "main:tasks/completed/t%d.w1.1.json" % i],
                          capture_output=True, text=True)
    try:
        r = json.loads(show.stdout)
    except ValueError:
        continue
    if str(r.get("stdout")).rstrip("\n") == "X%d" % i and str(r.get("attempt")) == "1":
        good += 1
print(good)
PY
)
check_eq "each result has its output and attempt 1 (no re-run)" 6 "$okres"
check "no crash in the log" bash -c "! grep -Eiq 'crit|fatal|segv|abort' '$T/w1.log'"

# ---------------------------------------------------------------- part 2
make_bare "$T/srv/spool.git"
URL2="git://127.0.0.1:$PORT/spool.git"
clone_work "$T/srv/spool.git" "$T/work2"
mkdir -p "$T/work2/tasks/queue"
# the output is unique to the run: a re-run would print another number
printf '{"task_id": "s1", "script": "sleep 3; echo run-$(od -An -N8 -tx8 /dev/urandom | tr -d \\" \\")", "timeout_seconds": 60}\n' \
	>"$T/work2/tasks/queue/s1.json"
commit_push "$T/work2" "one task"
export DGRID_SPOOL=$T/spool-w2
DGRID_CACHE=$T/cache-2 HEARTBEAT_INTERVAL=1 PULL_INTERVAL=1 \
	timeout 60 "$DGRID" worker --repo "$URL2" --node-id w2 --grace 1 --http off >"$T/w2a.log" 2>&1 &
W2=$!
track "$W2"
check "s1 started" wait_for 30 grep -q 'task=s1 event=started' "$T/w2a.log"
daemon_stop
check "s1 finished while the remote is down" wait_for 20 grep -q 'task=s1 event=finished status=success' "$T/w2a.log"
check "the result is spooled in \$DGRID_SPOOL" test -f "$DGRID_SPOOL/s1.1.json"
check "the push failed (event=remote-error)" wait_for 10 grep -q 'event=remote-error' "$T/w2a.log"
t0=$(date +%s)
kill -TERM "$W2"
wait "$W2"
check_eq "SIGTERM with an unpushed result: worker exits 0" 0 $?
note "worker stopped $(($(date +%s) - t0)) s after SIGTERM"
check "it logged event=stop-unpushed" grep -q 'event=stop-unpushed' "$T/w2a.log"
check "the spooled result survived the exit" test -f "$DGRID_SPOOL/s1.1.json"
cp "$DGRID_SPOOL/s1.1.json" "$T/spooled.json" 2>/dev/null
check_eq "nothing reached the remote yet" "" "$(bare spool.git ls-tree --name-only main tasks/completed 2>/dev/null)"

daemon_start "$PORT"
DGRID_CACHE=$T/cache-2 HEARTBEAT_INTERVAL=1 PULL_INTERVAL=1 \
	timeout 60 "$DGRID" worker --repo "$URL2" --node-id w2 --exit-when-idle --http off >"$T/w2b.log" 2>&1 &
W2=$!
track "$W2"
wait "$W2"
check_eq "the restarted worker exits 0 when idle" 0 $?
check "it started with spooled=1" grep -q 'event=started .*spooled=1' "$T/w2b.log"
check "it never ran s1 again" bash -c "! grep -q 'task=s1 event=\(claimed\|adopted\|started\)' '$T/w2b.log'"
check_eq "the spooled result is in tasks/completed" "s1.w2.1.json" \
	"$(bare spool.git ls-tree --name-only main:tasks/completed 2>/dev/null)"
check "the pushed result is the original run (same started_at, stdout)" python3 - "$T/spooled.json" \
	<(git -C "$T/srv/spool.git" show main:tasks/completed/s1.w2.1.json) <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
assert b["stdout"].startswith("run-") and b["stdout"] == a["stdout"], (a, b)
assert b["started_at"] == a["started_at"] and b["attempt"] == 1 == a["attempt"], (a, b)
PY
check_eq "in_progress empty" 0 "$(count_files "$T/srv/spool.git" tasks/in_progress)"
check_eq "spool is empty afterwards" 0 "$(find "$DGRID_SPOOL" -name '*.json' | wc -l)"
finish
