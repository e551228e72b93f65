#!/usr/bin/env bash
# Dependencies (doc/tasks.md, "depends_on") over a real git daemon with two
# real workers: a diamond and a chain run in order; a failing middle task
# fails its descendants with dependency_failed, and so does a cancelled
# one; a cycle and a missing id are rejected by the workers, by `dgrid
# validate` and by `dgrid submit`; `dgrid status` and the dashboard's
# status.json say what a waiting task waits for.
. "$(dirname "$0")/lib.sh"

daemon_grid '{"protocol": 3}'

task() {   # task ID EXIT DEPS...: a task that logs its id when it starts
	local id=$1 code=$2 deps="" d; shift 2
	for d in "$@"; do deps="$deps${deps:+, }\"$d\""; done
	printf '{"task_id": "%s", "script": "echo %s >> %s/exec.log; sleep 0.3; exit %s", "timeout_seconds": 30, "depends_on": [%s]}\n' \
		"$id" "$id" "$T" "$code" "$deps" >"$T/work/tasks/queue/$id.json"
}
# a diamond, a chain, a failing middle, a cycle, a missing id, a cancelled root
task a 0;  task b 0 a;  task c 0 a;  task d 0 b c
task c3 0 c2;  task c2 0 c1;  task c1 0
task f1 1;  task f2 0 f1;  task f3 0 f2
task x 0 y;  task y 0 x
task m 0 nope
task p1 0 d;  task p2 0 p1
commit_push "$T/work" "tasks with dependencies"

"$DGRID" status --repo "$URL" >"$T/status0.txt" 2>&1
check "status says what a task waits for" grep -q "^  d (waits for 'b')$" "$T/status0.txt"
"$DGRID" dashboard --repo "$URL" --out "$T/site" >/dev/null 2>&1
check_eq "the dashboard's status.json says it too" "waits for 'a'" \
	"$(python3 -c 'import json,sys; print([q["waits_for"] for q in json.load(open(sys.argv[1]))["queue"] if q["task_id"] == "b"][0])' "$T/site/status.json")"
check "the page shows it" grep -q "waits for &#39;a&#39;\|waits for 'a'" "$T/site/index.html"
"$DGRID" cancel --repo "$URL" p1 >/dev/null

check_eq "both workers exited cleanly" 0 "$(run_workers 2)"
sed 's/^/# ran: /' "$T/exec.log" | tr '\n' ' '; echo
pos() { grep -n "^$1\$" "$T/exec.log" | cut -d: -f1; }
check "the diamond ran in order: a, then b and c, then d" bash -c \
	"[ $(pos a) -lt $(pos b) ] && [ $(pos a) -lt $(pos c) ] && [ $(pos b) -lt $(pos d) ] && [ $(pos c) -lt $(pos d) ]"
check "the chain ran in order" bash -c "[ $(pos c1) -lt $(pos c2) ] && [ $(pos c2) -lt $(pos c3) ]"
check_eq "each task that could run ran once" "a b c c1 c2 c3 d f1" "$(sort "$T/exec.log" | tr '\n' ' ' | sed 's/ $//')"

result() {   # result ID: "status: reason" of the task's result on main
	local f
	f=$(git -C "$T/srv/grid.git" ls-tree -r --name-only main -- tasks/completed tasks/failed | grep "/$1\." | tail -1)
	[ -n "$f" ] && git -C "$T/srv/grid.git" show "main:$f" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["status"] + ": " + (r.get("reason") or ""))'
}
check_eq "f1 failed" "failed: " "$(result f1 | cut -c1-8)"
check_eq "f2 ended dependency_failed, naming f1" "dependency_failed: dependency 'f1' ended failed" "$(result f2)"
check_eq "f3 followed, naming f2" "dependency_failed: dependency 'f2' ended dependency_failed" "$(result f3)"
check_eq "p2 followed its cancelled dependency" "dependency_failed: dependency 'p1' ended cancelled" "$(result p2)"
check "the cycle was rejected" bash -c "$(declare -f result); T='$T'; result x | grep -q '^rejected: .*dependency cycle: x -> y -> x' ||
	result y | grep -q '^rejected: .*dependency cycle: y -> x -> y'"
check "m, whose dependency exists nowhere, was rejected" bash -c \
	"$(declare -f result); T='$T'; result m | grep -q \"^rejected: .*depends on 'nope', which is not queued, running or among the results on main\""
check_eq "the queue is empty" 0 "$(count_all "$T/srv/grid.git" tasks/queue)"

# ---- one --exit-when-idle worker alone runs a chain to its end: it does not
#      leave while a task waits for the result it has just pushed
git -C "$T/work" pull -q --rebase origin main
mkdir -p "$T/work/tasks/queue"
for i in 1 2 3 4; do
	d=""; [ "$i" -gt 1 ] && d="\"k$((i - 1))\""
	printf '{"task_id": "k%s", "script": "echo k%s >> %s/chain.log", "timeout_seconds": 30, "depends_on": [%s]}\n' \
		"$i" "$i" "$T" "$d" >"$T/work/tasks/queue/k$i.json"
done
commit_push "$T/work" "a chain for one worker"
DGRID_CACHE=$T/cache-1 PULL_INTERVAL=5 timeout 60 "$DGRID" worker --repo "$URL" --node-id w1 \
	--executor process --exit-when-idle --http off >>"$T/w1.log" 2>&1
check_eq "one worker ran the whole chain, in order, then left" "0 k1 k2 k3 k4" "$? $(tr '\n' ' ' <"$T/chain.log" | sed 's/ $//')"

# ---- validate and submit refuse them before they reach the grid
mkdir -p "$T/v"
printf '{"task_id": "v1", "script": "true", "depends_on": ["v2"]}\n' >"$T/v/v1.json"
printf '{"task_id": "v2", "script": "true", "depends_on": ["v3"]}\n' >"$T/v/v2.json"
printf '{"task_id": "v3", "script": "true", "depends_on": ["v1"]}\n' >"$T/v/v3.json"
printf '{"task_id": "v4", "script": "true", "depends_on": ["v4"]}\n' >"$T/v/v4.json"
printf '{"task_id": "v5", "script": "true", "depends_on": "v1"}\n' >"$T/v/v5.json"
printf '{"task_id": "v6", "script": "true", "depends_on": ["v1", "v1"]}\n' >"$T/v/v6.json"
"$DGRID" validate "$T/v" >"$T/v.out" 2>&1
check_eq "validate fails" 1 $?
check "validate names the cycle" grep -q "v1.json: dependency cycle: v1 -> v2 -> v3 -> v1" "$T/v.out"
check "validate refuses a task that depends on itself" grep -q "v4.json: depends_on names the task itself" "$T/v.out"
check "validate refuses a list that is no list" grep -q "v5.json: .*expected array of task ids for depends_on" "$T/v.out"
check "validate refuses a duplicate" grep -q "v6.json: depends_on names 'v1' twice" "$T/v.out"
printf '{"task_id": "s1", "script": "true", "depends_on": ["nowhere"]}\n' >"$T/s1.json"
"$DGRID" submit --repo "$URL" "$T/s1.json" >"$T/s1.out" 2>&1
check_eq "submit refuses a dependency that exists nowhere" 1 $?
check "... saying so" grep -q "depends on 'nowhere', which exists nowhere" "$T/s1.out"
"$DGRID" submit --repo "$URL" "$T/v/v1.json" "$T/v/v2.json" "$T/v/v3.json" >"$T/s2.out" 2>&1
check_eq "submit refuses a cycle within its batch" 1 $?
check "... naming it" grep -q "dependency cycle" "$T/s2.out"
printf '{"task_id": "s3", "script": "true", "depends_on": ["f1"]}\n' >"$T/s3.json"
"$DGRID" submit --repo "$URL" "$T/s3.json" >"$T/s3.out" 2>&1
check_eq "submit refuses a dependency that failed" 1 $?
check "... saying it could never run" grep -q "dependency 'f1' ended failed, so it could never run" "$T/s3.out"
printf '{"task_id": "s4", "script": "true", "depends_on": ["a"]}\n' >"$T/s4.json"
check "submit takes a dependency that succeeded" "$DGRID" submit --repo "$URL" "$T/s4.json"
finish
