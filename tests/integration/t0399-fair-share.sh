#!/usr/bin/env bash
# Fair share between submitters (doc/tasks.md, "Fair share"): with policy
# "fair_share", Alice commits 200 tasks, then Bob 10; three real workers
# over a real git daemon take them. Bob's tasks start long before Alice's
# 200 are done, interleaved with hers; intake put each submitter's tasks in
# a group of their own; every task runs exactly once.
. "$(dirname "$0")/lib.sh"

daemon_grid '{"protocol": 3, "fair_share": true}'
commit_push "$T/work" "policy: fair share"

submit_as() {   # submit_as NAME PREFIX N: N tasks committed by NAME
	local name=$1 prefix=$2 n=$3 i
	for i in $(seq -w 1 "$n"); do
		printf '{"task_id": "%s%s", "script": "echo %s%s >> %s/exec.log; sleep 0.1", "timeout_seconds": 30}\n' \
			"$prefix" "$i" "$prefix" "$i" "$T" >"$T/work/tasks/queue/$prefix$i.json"
	done
	git -C "$T/work" add -A
	git -C "$T/work" -c user.name="$name" -c user.email="$(echo "$name" | tr A-Z a-z)@example.org" \
		commit -qm "$n tasks from $name"
	git -C "$T/work" push -q origin HEAD:main
}
submit_as Alice a 200
submit_as Bob b 10

check_eq "3 workers exited cleanly" 0 "$(run_workers 3)"
check_eq "210 executions" 210 "$(wc -l <"$T/exec.log")"
check_eq "no task ran twice" 0 "$(sort "$T/exec.log" | uniq -d | wc -l)"
groups=$(git -C "$T/srv/grid.git" log --format=%H main | while read -r c; do
	git -C "$T/srv/grid.git" ls-tree --name-only "$c" tasks/queue/ 2>/dev/null; done | grep -c '^tasks/queue/g-' | tr -d ' ')
note "group directories seen in the history: $groups entries"
alice=$(printf %s "Alice <alice@example.org>" | sha256sum | cut -c1-12)
bob=$(printf %s "Bob <bob@example.org>" | sha256sum | cut -c1-12)
check "intake put Alice's and Bob's tasks in their own groups" bash -c \
	"git -C '$T/srv/grid.git' log -p --format= main -- 'tasks/queue/g-$alice' | grep -q '^+++ b/tasks/queue/g-$alice/' &&
	 git -C '$T/srv/grid.git' log -p --format= main -- 'tasks/queue/g-$bob' | grep -q '^+++ b/tasks/queue/g-$bob/'"
first=$(grep -n '^b' "$T/exec.log" | head -1 | cut -d: -f1)
last=$(grep -n '^b' "$T/exec.log" | tail -1 | cut -d: -f1)
note "Bob's 10 tasks started at positions $(grep -n '^b' "$T/exec.log" | cut -d: -f1 | tr '\n' ' ')of 210"
check "Bob's first task started among the first 30" test "$first" -le 30
check "all of Bob's tasks started before Alice's first 100 were done" test "$last" -le 110
check "interleaved: Alice's tasks ran between Bob's first and last" test "$(sed -n "${first},${last}p" "$T/exec.log" | grep -c '^a')" -gt 0

# bad policy values are refused with the reason
printf '{"fair_share": "yes"}\n' >"$T/bad.json"
"$DGRID" validate --policy "$T/bad.json" "$T/work/tasks" >"$T/bad.out" 2>&1
check "a fair_share that is no boolean is refused" grep -q "expected true or false for fair_share, got string" "$T/bad.out"
finish
