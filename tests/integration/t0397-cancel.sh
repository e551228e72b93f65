#!/usr/bin/env bash
# Cancellation (doc/tasks.md, "Cancelling"), over a real git daemon with a
# real worker: `dgrid cancel` of a queued task, of one waiting for its
# not_before, and of a running one (its process gone within the worker's
# poll interval); a cancel by plain git (a request file); and refusals.
. "$(dirname "$0")/lib.sh"

daemon_grid '{"protocol": 3}'
printf '{"task_id": "queued1", "script": "echo ran >> %s/queued1.ran", "timeout_seconds": 30}\n' "$T" \
	>"$T/work/tasks/queue/queued1.json"
printf '{"task_id": "later1", "script": "true", "timeout_seconds": 30, "not_before": "2099-01-01T00:00:00Z"}\n' \
	>"$T/work/tasks/queue/later1.json"
commit_push "$T/work" "two tasks"

status_of() {   # status_of ID: the status of the task's newest result on main
	local f
	f=$(git -C "$T/srv/grid.git" ls-tree -r --name-only main -- tasks/completed tasks/failed | grep "/$1\." | tail -1)
	[ -n "$f" ] && git -C "$T/srv/grid.git" show "main:$f" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["status"], r.get("reason", ""))'
}

# ---- queued and waiting, no worker running
"$DGRID" cancel --repo "$URL" --reason "changed my mind" queued1 later1 >"$T/cancel1.out" 2>&1
check_eq "dgrid cancel of two queued tasks exits 0" 0 $?
check "it says what it did" grep -q "cancelled queued1 (it was queued)" "$T/cancel1.out"
check_eq "queued1 ended cancelled, with the reason" "cancelled cancelled before it started: changed my mind" "$(status_of queued1)"
check_eq "later1 (waiting for its time) ended cancelled" "cancelled cancelled before it started: changed my mind" "$(status_of later1)"
check_eq "the queue is empty" 0 "$(count_all "$T/srv/grid.git" tasks/queue)"
check_eq "one commit for both" 1 "$(git -C "$T/srv/grid.git" log --format=%s main | grep -c '^cancel 2 tasks')"

"$DGRID" cancel --repo "$URL" queued1 >"$T/again.out" 2>&1
check_eq "cancelling an ended task fails" 1 $?
check "... saying it has ended" grep -q "task 'queued1' has ended already" "$T/again.out"
"$DGRID" cancel --repo "$URL" nosuch >"$T/nosuch.out" 2>&1
check_eq "cancelling an unknown id fails" 1 $?
check "... saying so" grep -q "no task 'nosuch' is queued or running" "$T/nosuch.out"
"$DGRID" cancel --repo "$URL" '../x' >"$T/badid.out" 2>&1
check_eq "an invalid id is a usage error" 2 $?

# ---- running: the worker kills it within its poll interval
git -C "$T/work" pull -q --rebase origin main
mkdir -p "$T/work/tasks/queue"
printf '{"task_id": "long1", "script": "echo $$ > %s/long1.pid; exec sleep 120", "timeout_seconds": 300}\n' "$T" \
	>"$T/work/tasks/queue/long1.json"
printf '{"task_id": "next1", "script": "echo ran >> %s/next1.ran", "timeout_seconds": 30}\n' "$T" \
	>"$T/work/tasks/queue/next1.json"
printf '{"protocol": 3, "timeout_max": 300}\n' >"$T/work/dgrid.json"
commit_push "$T/work" "a long task"
DGRID_CACHE=$T/cache PULL_INTERVAL=2 timeout 200 "$DGRID" worker --repo "$URL" --node-id w1 --slots 1 \
	--executor process --exit-when-idle --http off >"$T/w1.log" 2>&1 &
W1=$!
wait_for 30 test -s "$T/long1.pid"
pid=$(cat "$T/long1.pid")
check "the long task runs" kill -0 "$pid"
t0=$(date +%s)
"$DGRID" cancel --repo "$URL" --reason "too slow" long1 >"$T/cancel2.out" 2>&1
check_eq "dgrid cancel of a running task exits 0" 0 $?
check "it says a request was made" grep -q "cancel requested for long1 (running)" "$T/cancel2.out"
check "the request file is in the repository" bash -c "git -C '$T/srv/grid.git' cat-file -e main:tasks/cancel/long1.json"
wait_for 30 bash -c "! kill -0 $pid 2>/dev/null"
gone=$(( $(date +%s) - t0 ))
note "the task's process was gone $gone s after the cancel (poll interval 2 s)"
check "the task's process is gone within a few poll intervals" test "$gone" -le 10
wait "$W1"
check_eq "the worker went on and exited cleanly" 0 $?
check_eq "long1 ended cancelled, with the reason" "cancelled cancelled while running: too slow" "$(status_of long1)"
check "the next task ran" test -s "$T/next1.ran"
check "the request was removed with the result" bash -c "! git -C '$T/srv/grid.git' cat-file -e main:tasks/cancel/long1.json 2>/dev/null"
check_eq "nothing left running" 0 "$(count_all "$T/srv/grid.git" tasks/in_progress)"

# ---- plain git: a request file for a queued task, acted on by a worker
git -C "$T/work" pull -q --rebase origin main
mkdir -p "$T/work/tasks/queue" "$T/work/tasks/cancel"
printf '{"task_id": "queued2", "script": "echo ran >> %s/queued2.ran", "timeout_seconds": 30, "not_before": "2099-01-01T00:00:00Z"}\n' "$T" \
	>"$T/work/tasks/queue/queued2.json"
commit_push "$T/work" "a task for much later"
printf '{"reason": "by pull request"}\n' >"$T/work/tasks/cancel/queued2.json"
: >"$T/work/tasks/cancel/stale1.json"   # a request for nothing: removed
commit_push "$T/work" "cancel queued2 by plain git"
DGRID_CACHE=$T/cache PULL_INTERVAL=1 timeout 60 "$DGRID" worker --repo "$URL" --node-id w1 \
	--executor process --exit-when-idle --http off >>"$T/w1.log" 2>&1
check_eq "the worker exited cleanly" 0 $?
check_eq "queued2 ended cancelled with the request's reason" "cancelled cancelled before it started: by pull request" "$(status_of queued2)"
check "it never ran" test ! -e "$T/queued2.ran"
check_eq "no request is left" "" "$(git -C "$T/srv/grid.git" ls-tree --name-only main tasks/cancel/)"
finish
