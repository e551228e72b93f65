#!/usr/bin/env bash
# Scheduling fields (doc/tasks.md): priority, not_before and requires, on a
# protocol-3 grid over a real git daemon with real workers.
#
# - 60 tasks of priorities 0-9 submitted at once to 3 workers: the claims,
#   in the branch's (linear, compare-and-swap) history, never take a lower
#   priority while a higher one is queued; every task runs once; the
#   queued files of priority other than 5 wait in their lanes.
# - A task submitted while the grid runs low-priority work is claimed
#   before the low-priority tasks still queued.
# - not_before: a due task runs at once, one due in 6 s not before then; an
#   --exit-when-idle worker waits for it instead of leaving.
# - requires: workers with labels gpu and big each run only what fits
#   them; a task for no node stays queued and `dgrid status` names it.
# - validate: bad values are refused with their reason.
. "$(dirname "$0")/lib.sh"

daemon_grid '{"protocol": 3}'

# ---- priority: 60 tasks, 6 of each priority, in a shuffled order of ids
commit_push "$T/work" "protocol 3"
mkdir -p "$T/sub"
for i in $(seq 0 59); do
	p=$((i % 10))
	id=$(printf 't%02d-p%d' "$(( (i * 37) % 60 ))" "$p")
	printf '{"task_id": "%s", "script": "echo %s >> %s/exec.log", "timeout_seconds": 30, "priority": %d}\n' \
		"$id" "$id" "$T" "$p" >"$T/sub/$id.json"
done
check "dgrid submit takes the 60 tasks in one commit" bash -c "'$DGRID' submit --repo '$URL' '$T'/sub/*.json >'$T/submit.out'"
lanes=$(git -C "$T/srv/grid.git" ls-tree --name-only main:tasks/queue | grep -c '^p[0-9]$')
check_eq "tasks of priorities other than 5 wait in 9 lanes" 9 "$lanes"
check "a priority-3 task sits in lane p3's shard" bash -c \
	"git -C '$T/srv/grid.git' ls-tree -r --name-only main -- tasks/queue/p3 | grep -q '^tasks/queue/p3/[0-9a-f]/[0-9a-f]/t[0-9]*-p3.json$'"
check_eq "priority-5 tasks sit in the plain shards" 6 \
	"$(git -C "$T/srv/grid.git" ls-tree -r --name-only main -- tasks/queue | grep -c '^tasks/queue/[0-9a-f]/[0-9a-f]/t[0-9]*-p5.json$')"

# A worker reporting about every second wins most races against a plain-git
# submitter on a loaded machine (make test runs three scripts at once): 20
# tries once took 14 s to land the urgent task, after the worker had run
# every low one and exited.
submit_git() {   # submit_git MESSAGE: commit the work clone's new files, rebase and push until it lands
	git -C "$T/work" add -A && git -C "$T/work" commit -qm "$1"
	for _ in $(seq 60); do
		git -C "$T/work" pull -q --rebase origin main && git -C "$T/work" push -q origin HEAD:main 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

check_eq "3 workers exited cleanly" 0 "$(run_workers 3)"
check_eq "60 executions" 60 "$(wc -l <"$T/exec.log")"
check_eq "no task ran twice" 0 "$(sort "$T/exec.log" | uniq -d | wc -l)"
check_eq "queue is empty" 0 "$(count_all "$T/srv/grid.git" tasks/queue)"
# claims in history order (the branch is linear: every push a compare-and-swap)
git -C "$T/srv/grid.git" log --reverse --format=%s main |
	grep -o 'claim t[0-9]*-p[0-9]' | sed 's/.*-p//' >"$T/claim-order"
check_eq "60 claims" 60 "$(wc -l <"$T/claim-order")"
check "claims never take a lower priority while a higher one is queued" \
	python3 -c 'import sys; s = [int(x) for x in open(sys.argv[1]).read().split()]; sys.exit(any(a < b for a, b in zip(s, s[1:])))' \
	"$T/claim-order"
note "claim order: $(tr '\n' ' ' <"$T/claim-order")"
note "start order: $(sed 's/.*-p//' "$T/exec.log" | tr '\n' ' ')"

# ---- a late urgent task, submitted with plain git, is claimed before the low ones still queued
git -C "$T/work" pull -q --rebase origin main
mkdir -p "$T/work/tasks/queue"
for i in $(seq 1 12); do
	printf '{"task_id": "low%02d", "script": "sleep 2; echo low%02d >> %s/late.log", "timeout_seconds": 30, "priority": 1}\n' \
		"$i" "$i" "$T" >"$T/work/tasks/queue/low$(printf %02d "$i").json"
done
submit_git "12 low-priority tasks"
DGRID_CACHE=$T/cache-1 PULL_INTERVAL=1 timeout 120 "$DGRID" worker --repo "$URL" --node-id w1 \
	--executor process --exit-when-idle --http off >>"$T/w1.log" 2>&1 &
W1=$!
wait_for 30 test -s "$T/late.log"
mkdir -p "$T/work/tasks/queue"
printf '{"task_id": "urgent", "script": "echo urgent >> %s/late.log", "timeout_seconds": 30, "priority": 9}\n' \
	"$T" >"$T/work/tasks/queue/urgent.json"
submit_git "an urgent task"
wait "$W1"
check_eq "13 late executions" 13 "$(wc -l <"$T/late.log")"
check "intake moved the low tasks into lane p1" bash -c \
	"git -C '$T/srv/grid.git' log --format=%s main | grep -q 'intake'"
git -C "$T/srv/grid.git" log --reverse --format=%s main | sed -n '/an urgent task/,$p' |
	grep -o 'claim [a-z0-9]*' >"$T/after-urgent"
check_eq "the first claim after the urgent task's push is the urgent task" "claim urgent" "$(head -1 "$T/after-urgent")"
note "urgent ran at position $(grep -n '^urgent$' "$T/late.log" | cut -d: -f1) of 13; $(grep -c low "$T/after-urgent") low tasks were still queued"

# ---- not_before
now=$(date +%s)
due=$(date -u -d "@$((now + 6))" +%Y-%m-%dT%H:%M:%SZ)
mkdir -p "$T/work/tasks/queue"
printf '{"task_id": "later", "script": "date +%%s >> %s/later.log", "timeout_seconds": 30, "not_before": "%s"}\n' \
	"$T" "$due" >"$T/work/tasks/queue/later.json"
printf '{"task_id": "now", "script": "date +%%s >> %s/now.log", "timeout_seconds": 30, "not_before": "2020-01-01T00:00:00Z"}\n' \
	"$T" >"$T/work/tasks/queue/now.json"
submit_git "a task for later"
check_eq "the worker waited for the due task, then exited" 0 "$(run_workers 1)"
check "the due task ran" test -s "$T/now.log"
check "the task for later ran" test -s "$T/later.log"
check "not before its time ($due)" test "$(cat "$T/later.log")" -ge "$((now + 6))"
note "later ran $(( $(cat "$T/later.log") - now - 6 )) s after its time"

# ---- requires
mkdir -p "$T/work/tasks/queue"
for spec in 'gpu1:{"labels": ["gpu"]}' 'gpu2:{"labels": ["gpu"], "min_cpus": 1}' \
	    'big1:{"labels": ["big"]}' 'both:{"labels": ["gpu", "big"]}' \
	    "arch:{\"arch\": \"$(uname -m)\"}" 'mem:{"min_memory_mb": 1}' \
	    'nowhere:{"arch": "s390x-not-here"}' 'future:{"tpu_cores": 8}'; do
	id=${spec%%:*} req=${spec#*:}
	printf '{"task_id": "r-%s", "script": "echo r-%s >> %s/req.log", "timeout_seconds": 30, "requires": %s}\n' \
		"$id" "$id" "$T" "$req" >"$T/work/tasks/queue/r-$id.json"
done
submit_git "tasks with requirements"
pids=()
for spec in g:gpu b:big; do
	w=${spec%%:*} label=${spec#*:}
	DGRID_LABELS="$label" DGRID_CACHE=$T/cache-$w PULL_INTERVAL=1 timeout 60 "$DGRID" worker --repo "$URL" \
		--node-id "$w" --executor process --http off >"$T/$w.log" 2>&1 &
	pids+=($!)
done
ran_on() {   # ran_on ID: the node whose result the task has
	git -C "$T/srv/grid.git" ls-tree -r --name-only main -- tasks/completed | grep "/r-$1\." | cut -d. -f2
}
wait_for 20 test "$(git -C "$T/srv/grid.git" ls-tree -r --name-only main -- tasks/completed | grep -c '/r-')" -ge 5
# the workers stay up: status judges the nodes that may still claim
"$DGRID" status --repo "$URL" >"$T/status.txt" 2>&1
"$DGRID" status --json --repo "$URL" >"$T/status.json"
kill -TERM "${pids[@]}"; wait "${pids[@]}"
check_eq "gpu1 ran on the gpu node" g "$(ran_on gpu1)"
check_eq "gpu2 ran on the gpu node" g "$(ran_on gpu2)"
check_eq "big1 ran on the big node" b "$(ran_on big1)"
check "arch ran" test -n "$(ran_on arch)"
check "mem ran" test -n "$(ran_on mem)"
check_eq "nothing else ran" 5 "$(wc -l <"$T/req.log")"
check_eq "three tasks stay queued" 3 "$(count_all "$T/srv/grid.git" tasks/queue)"
sed 's/^/# /' "$T/status.txt" | grep -A4 unrunnable
check "status counts the 3 unrunnable tasks" grep -q '^unrunnable 3 queued tasks no active node can run' "$T/status.txt"
check "status names the missing label" grep -q "r-both: needs label 'big'\|r-both: needs label 'gpu'" "$T/status.txt"
check "status names the architecture" grep -q "r-nowhere: needs arch s390x-not-here" "$T/status.txt"
check "status names the unknown requirement" grep -q "r-future: requirement 'tpu_cores' is not known to dgrid" "$T/status.txt"
check_eq "status --json lists them" "r-both r-future r-nowhere" \
	"$(python3 -c 'import json,sys; print(" ".join(sorted(u["task_id"] for u in json.load(open(sys.argv[1]))["unrunnable"])))' "$T/status.json")"
check "a registration states the node's labels" bash -c \
	"git -C '$T/srv/grid.git' show main:nodes/g.json | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)[\"labels\"] != [\"gpu\"])'"

# ---- validation
mkdir -p "$T/bad"
bad_case() {   # bad_case NAME JSON-FIELDS EXPECTED-REASON
	printf '{"task_id": "%s", "script": "true", %s}\n' "$1" "$2" >"$T/bad/$1.json"
	"$DGRID" validate "$T/bad/$1.json" >"$T/bad/$1.out" 2>&1
	check "validate refuses $1: $3" grep -q "$3" "$T/bad/$1.out"
}
bad_case prio-high '"priority": 12' 'priority 12 is out of range 0..9'
bad_case prio-str '"priority": "high"' 'expected integer for priority, got string'
bad_case nb-bad '"not_before": "tomorrow"' "not_before 'tomorrow' is not a UTC time"
bad_case nb-zone '"not_before": "2026-12-01T00:00:00+01:00"' 'is not a UTC time'
bad_case req-arr '"requires": ["gpu"]' 'expected object for requires, got array'
bad_case req-labels '"requires": {"labels": "gpu"}' 'requires.labels'
bad_case req-cpus '"requires": {"min_cpus": 0}' 'requires.min_cpus 0 is out of range'
check "the scheduling examples are valid" "$DGRID" validate "$DGRID_SRC/examples/scheduling"
bad_case req-label-comma '"requires": {"labels": ["a,b"]}' "label 'a,b' has a character"
finish
