#!/usr/bin/env bash
# t0388: on a budget grid, a fetch that outlasts the slot does not cost a
# cycle. A member takes its turn at the start of its slot: it fetches,
# then pushes. On a busy host the fetch can take longer than a slot (1.2 s
# at a budget of 60); until 0.13.2 the worker then took its slot for one
# that a fresh view had moved, pushed nothing and waited a whole cycle, at
# every such turn (32 workers held their finished results for minutes,
# bench-budget). The question after the fetch is whose the slot we woke
# for is in the fresh view, not whether we are still in it.
#
# Here the git daemon's pack-objects sleeps 2 s (uploadpack.packObjectsHook
# in the daemon's global config), so every fetch that brings something new
# outlasts a slot, and a submitter pushes a task every 3 s so that every
# fetch does. One worker alone: the members never change after its join,
# so its slot moves only when the cycle drops its join term (once, 23 s
# after it registered). Shown: its late turns (event=turn-late, debug) push
# instead of waiting (at most that one event=slot-moved); every task ran
# exactly once.
. "$(dirname "$0")/lib.sh"

slow_fetch_grid 2
: >"$T/runs"
printf '{"protocol": 3, "push_budget": 60}\n' >"$T/work/dgrid.json"
mkdir -p "$T/work/tasks/queue"
task() {   # task ID: a task file in $T/new
	printf '{"task_id": "%s", "script": "echo %s >>%s", "timeout_seconds": 20}\n' "$1" "$1" "$T/runs" >"$T/new/$1.json"
}
mkdir -p "$T/new"
task t0
mv "$T/new/t0.json" "$T/work/tasks/queue/"
commit_push "$T/work" "policy and a task"

DGRID_CACHE=$T/cache-w1 DGRID_SPOOL=$T/spool-w1 PULL_INTERVAL=1 LOG_LEVEL=debug \
	"$DGRID" worker --repo "$URL" --node-id w1 --executor process --http off --slots 1 \
	>"$T/w1.log" 2>&1 &
W1=$!
track $W1
check "w1 joins" wait_for 60 bash -c "git -C '$BARE' show main:nodes/w1.json >/dev/null 2>&1"
SUBMITTED=1
for i in $(seq 1 15); do
	task "t$i"
	DGRID_CACHE=$T/cache-submit "$DGRID" submit --repo "$URL" "$T/new/t$i.json" >>"$T/submit.out" 2>&1 &&
		SUBMITTED=$((SUBMITTED + 1))
	sleep 3
done
check "w1 runs every task" wait_for 120 bash -c "[ \$(sort -u '$T/runs' | wc -l) -ge $SUBMITTED ]"
check "and reports every one" wait_for 120 bash -c \
	"[ \$(git -C '$BARE' ls-tree -r --name-only main tasks/completed | wc -l) -ge $SUBMITTED ]"
kill -TERM $W1
wait $W1
check_eq "all $SUBMITTED submissions went in" 16 "$SUBMITTED"
check_eq "no task ran twice" 0 "$(sort "$T/runs" | uniq -d | wc -l)"
late=$(grep -c 'event=turn-late' "$T/w1.log")
moved=$(grep -c 'event=slot-moved' "$T/w1.log")
note "turns that outlasted their slot: $late; waits for a moved slot: $moved"
check "fetches outlasted the slot (the hook slows them: else this shows nothing)" test "$late" -ge 3
check "a late turn is no moved slot (at most the one move when the join term ends)" test "$moved" -le 1
check "no warnings or errors" bash -c "! grep -E ' (warning|error) ' '$T/w1.log' | grep -v event=unsandboxed"
finish
