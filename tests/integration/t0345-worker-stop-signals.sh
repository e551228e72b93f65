#!/usr/bin/env bash
# A stop request delivered twice at once (timeout(1) signals its child and
# then its whole process group) keeps the grace period; a second request a
# moment later ends it and hands the running task back to the queue.
. "$(dirname "$0")/lib.sh"

export DGRID_CACHE=$T/cache PULL_INTERVAL=1 HEARTBEAT_INTERVAL=1
start_grid() {
	local name=$1
	"$DGRID" init "$T/$name.git" >/dev/null
	printf '{"task_id": "t1", "script": "sleep 3; echo %s-done", "timeout_seconds": 60}\n' "$name" >"$T/t1.json"
	"$DGRID" submit --repo "$T/$name.git" "$T/t1.json" >/dev/null
	"$DGRID" worker --repo "$T/$name.git" --node-id "$name" --http off --grace 30 >"$T/$name.log" 2>&1 &
	WPID=$!
	track $WPID
	wait_for 20 grep -q 'task=t1 event=started' "$T/$name.log"
}
result() { git -C "$T/$1.git" show "main:tasks/$2" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null; }

start_grid twice
kill -TERM $WPID; kill -TERM $WPID
wait $WPID
check_eq "two signals at once: the worker exits 0" 0 $?
check_eq "and the task finished within the grace period" success "$(result twice completed/t1.twice.1.json)"

start_grid again
kill -TERM $WPID
sleep 1.5
kill -TERM $WPID
wait $WPID
check_eq "a second signal later: the worker exits 0" 0 $?
check "the task went back to the queue" git -C "$T/again.git" cat-file -e main:tasks/queue/t1.json
check_eq "and has no result" "" "$(result again completed/t1.again.1.json)"
check "the worker logged the hand-back" grep -q 'task=t1 event=handed-back' "$T/again.log"
finish
