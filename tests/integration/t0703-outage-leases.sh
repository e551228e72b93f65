#!/usr/bin/env bash
# t0703: the host goes away for longer than a lease, and every worker
# lives. The first worker back used to judge the others' claims by its own
# clock alone: their leases had lapsed, so it reaped them and ran the tasks
# a second time, although their owners had finished them and were only
# slower to come back (issue 11: no task runs twice unless a worker died;
# bench-budget's 256 workers on a saturated host ran 8 twice). A worker
# now adds its own drought at the host, and the longest retry wait, to
# every lease it judges (src/worker_drought.c).
#
# w2 claims t2 (9 s; a 15 s lease: timeout 10 s + lease_margin 5); w1 runs t1 and,
# idle, watches w2's claim. The git daemon stops for 15 s; when it comes
# back, w2 is held (SIGSTOP) for 40 s more - alive, but slower to return
# than w1, whose retries reach the host within ~30 s. t2 must run once,
# nothing be reaped, and w2's result reach main. Tasks append to a file on
# the host (--executor process).
. "$(dirname "$0")/lib.sh"

bare() { git -C "$T/srv/grid.git" "$@"; }
task() { printf '{"task_id": "%s", "script": "sleep %s; echo %s >>%s/runs", "timeout_seconds": 10}\n' \
	"$1" "$2" "$1" "$T" >"$T/work/tasks/queue/$1.json"; }
start_worker() {
	DGRID_CACHE=$T/cache-$1 PULL_INTERVAL=1 timeout 240 "$DGRID" worker --repo "$URL" --node-id "$1" \
		--slots 1 --executor process --http off >"$T/$1.log" 2>&1 &
	track $!
	echo $! >"$T/$1.timeout-pid"
}
in_dir() { bare ls-tree -r --name-only main "tasks/$1" | grep -c '\.json$'; }

mkdir -p "$T/srv"
PORT=$(free_port)
git_daemon_at "$PORT" "$T/srv"
make_bare "$T/srv/grid.git"
URL="git://127.0.0.1:$PORT/grid.git"
clone_work "$T/srv/grid.git" "$T/work"
printf '{"protocol": 3, "lease_margin": 5}\n' >"$T/work/dgrid.json"
mkdir -p "$T/work/tasks/queue"
task t2 9
commit_push "$T/work" "policy and t2"

start_worker w2
check "w2 claimed t2" wait_for 30 grep -q "node=w2 task=t2 event=claimed" "$T/w2.log"
# the worker itself, the child of its timeout (other tests run workers of the same names)
w2pid=$(pgrep -P "$(cat "$T/w2.timeout-pid")")
git -C "$T/work" pull -q --rebase origin main
mkdir -p "$T/work/tasks/queue"
task t1 1
commit_push "$T/work" "t1"
start_worker w1
t1_done() { bare ls-tree -r --name-only main tasks/completed | grep -q '/t1\.'; }
check "w1 ran and reported t1" wait_for 30 t1_done
# w1 is idle now: its reaper looked at w2's claim right after that report
sleep 2
check_eq "t2 is still w2's, in progress" 1 "$(in_dir in_progress)"

git_daemon_stop "$PORT"
note "host down at $(date +%T) for 15 s; t2's 15 s lease lapses by w1's clock meanwhile"
sleep 15
kill -STOP "$w2pid"
git_daemon_at "$PORT" "$T/srv"
note "host back at $(date +%T); w2 held for 40 s"
sleep 40
kill -CONT "$w2pid"

both_done() { [ "$(in_dir completed)" = 2 ]; }
check "w2's result reaches main" wait_for 90 both_done
# a reap pushed after the result would still run t2 again: let w1 look a while
sleep 5
check_eq "t1 ran once" 1 "$(grep -c '^t1$' "$T/runs")"
check_eq "t2 ran once" 1 "$(grep -c '^t2$' "$T/runs")"
check_eq "no worker reaped a live worker's task" 0 "$(cat "$T"/w1.log "$T"/w2.log | grep -c 'event=reaped')"
check_eq "no reap on main" 0 "$(bare log --format=%s main | grep -c '^reap by')"
check_eq "nothing left in progress" 0 "$(in_dir in_progress)"
check "w2's result is its own run's, not superseded" bash -c "! grep -q 'event=superseded' '$T/w2.log'"
finish
