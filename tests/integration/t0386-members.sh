#!/usr/bin/env bash
# t0386: a grid that spans two repositories (issue 11, item 6; members.h,
# doc/protocol.md "Several repositories"). The home's dgrid.json lists the
# second repository; eight workers are pointed at the home, and each starts
# on the member its node id hashes to.
#  1. 24 tasks queued (plain git) in the second repository only: workers
#     that started on the empty home look at it, move there and help; every
#     task runs exactly once and its one result lands where it was queued;
#     the home gets no task, claim or result.
#  2. 20 tasks in each: both drain, exactly once, each in its own member.
#  3. A worker killed with a result in its spool for a member other than
#     the one it hashes to delivers it there on its next start.
#  4. Invalid lists (a URL with a password, a non-string) are refused by
#     `dgrid validate --policy` with the reason, without the password.
# Workers use --exit-when-idle, which now waits for every member to drain.
. "$(dirname "$0")/lib.sh"

WORKERS=8
mkdir -p "$T/srv"
make_bare "$T/srv/home.git"
make_bare "$T/srv/second.git"
start_git_daemon "$T/srv"
HOME_URL="git://127.0.0.1:$GIT_DAEMON_PORT/home.git"
SECOND_URL="git://127.0.0.1:$GIT_DAEMON_PORT/second.git"
: >"$T/runs"

clone_work "$T/srv/home.git" "$T/home"
printf '{"protocol": 3, "repositories": ["%s"]}\n' "$SECOND_URL" >"$T/home/dgrid.json"
commit_push "$T/home" "policy: a second repository"
clone_work "$T/srv/second.git" "$T/second"
# One claim a push: the workers that start there cannot claim the whole
# queue in their first pushes before those on the home look (under ASan,
# start-up is slow enough that they could, and then nobody moves).
printf '{"protocol": 3, "claim_batch_max": 1}\n' >"$T/second/dgrid.json"
commit_push "$T/second" "policy"

queue() {   # queue DIR PREFIX FROM TO [SECONDS]
	mkdir -p "$1/tasks/queue"
	for i in $(seq "$3" "$4"); do
		printf '{"task_id": "%s%d", "script": "sleep %s; echo %s%d >>%s", "timeout_seconds": 30}\n' \
			"$2" "$i" "${5:-0}" "$2" "$i" "$T/runs" >"$1/tasks/queue/$2$i.json"
	done
	git -C "$1" add -A
	git -C "$1" commit -qm "queue $2$3..$2$4"
	# workers may push in between: rebase onto theirs and try again
	for _ in $(seq 1 20); do
		git -C "$1" push -q origin HEAD:main 2>/dev/null && return 0
		git -C "$1" pull -q --rebase
	done
	return 1
}

run_workers() {   # run_workers ROUND
	local pids=() rc=0
	for n in $(seq 1 $WORKERS); do
		DGRID_CACHE=$T/cache-w$n DGRID_SPOOL=$T/spool-w$n PULL_INTERVAL=1 LOG_LEVEL=debug timeout 300 \
			"$DGRID" worker --repo "$HOME_URL" --node-id "w$n" --executor process --http off \
			--exit-when-idle >"$T/w$n.$1.log" 2>&1 &
		track $!
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=$?; done
	return $rc
}

results_of() { count_all "$T/srv/$1.git" tasks/completed; }
started_on() { grep -l "event=members count=2 start=$1" "$T"/w*."$2".log | wc -l; }

# 1. work in the second repository only
# Four seconds each, longer than a turn even under ASan (1.7 s): tasks
# quicker than a turn on a busy branch have one carrier, and the others,
# movers included, stand aside (worker_branch.c) - with one-second tasks
# under ASan one worker ran all 40 and nobody moved in to help.
queue "$T/second" s 1 24 4
run_workers 1
check_eq "round 1: every worker exits 0 once both members are drained" 0 $?
check_eq "every task ran" 24 "$(sort -u "$T/runs" | wc -l)"
check_eq "exactly once" 24 "$(wc -l <"$T/runs")"
check_eq "each has one result, in the repository it was queued in" 24 "$(results_of second)"
check_eq "the home holds no result" 0 "$(results_of home)"
check_eq "nor any task or claim" 0 \
	"$(($(count_all "$T/srv/home.git" tasks/queue) + $(count_all "$T/srv/home.git" tasks/in_progress)))"
check_eq "nothing left queued or claimed in the second" 0 \
	"$(($(count_all "$T/srv/second.git" tasks/queue) + $(count_all "$T/srv/second.git" tasks/in_progress)))"
home_starters=$(started_on 0 1)
note "workers that started on the home: $home_starters of $WORKERS"
check "the node ids spread the fleet over both members" [ "$home_starters" -ge 1 -a "$home_starters" -lt $WORKERS ]
helped=0
for log in $(grep -l "event=members count=2 start=0" "$T"/w*.1.log); do
	n=$(basename "$log" .1.log)
	grep -q "event=moved .*member=1" "$log" || continue
	git -C "$T/srv/second.git" log --format=%s main | grep -q "^$n: .*report " && helped=$((helped + 1))
done
check "workers that started on the empty home moved and reported results there ($helped)" [ "$helped" -ge 1 ]
check_eq "no claim was reaped" 0 "$(git -C "$T/srv/second.git" log --format=%s main | grep -c '^reap by')"

# 2. work in both
: >"$T/runs"
git -C "$T/home" pull -q --rebase
git -C "$T/second" pull -q --rebase
queue "$T/home" h 1 20
printf '{"protocol": 3}\n' >"$T/second/dgrid.json"   # batches again (round 1's limit is for its check)
queue "$T/second" b 1 20
run_workers 2
check_eq "round 2: every worker exits 0" 0 $?
check_eq "every task of both ran exactly once" "40 40" "$(sort -u "$T/runs" | wc -l) $(wc -l <"$T/runs")"
check_eq "the home's 20 results are in the home" 20 "$(results_of home)"
check_eq "the second's 20 more are in the second" 44 "$(results_of second)"
check_eq "no result of one member's task in the other" 0 \
	"$(git -C "$T/srv/home.git" ls-tree -r --name-only main tasks | grep -c '/[sb][0-9]*\.')"

# 3. a result left in the spool of the member a worker does not hash to
other=$(grep -L "event=members count=2 start=1" "$T"/w*.2.log | head -1)
n=$(basename "$other" .2.log)   # starts on the home
: >"$T/runs"
git -C "$T/second" pull -q --rebase
queue "$T/second" late 1 1
printf '{"task_id": "slow", "script": "sleep 3; echo slow >>%s", "timeout_seconds": 30}\n' "$T/runs" \
	>"$T/second/tasks/queue/slow.json"
printf '{"task_id": "hold", "script": "sleep 6", "timeout_seconds": 30}\n' >"$T/second/tasks/queue/hold.json"
commit_push "$T/second" "queue slow and hold"
# Once "slow" is claimed, the second member declines every push, so its
# result stays in the spool until the kill (a free slot or an idle poll
# made the worker report it first, under the sanitizers: 88 ms before the
# kill, in one run of several).
cat >"$T/srv/second.git/hooks/pre-receive" <<HOOK
#!/bin/sh
[ -e "$T/decline-second" ] && { echo "declined for t0386 part 3" >&2; exit 1; }
exit 0
HOOK
chmod +x "$T/srv/second.git/hooks/pre-receive"
# the worker moves to the second, claims; kill it once "slow" finished into the spool
DGRID_CACHE=$T/cache-$n DGRID_SPOOL=$T/spool-$n PULL_INTERVAL=1 LOG_LEVEL=debug BATCH_MS=0 \
	"$DGRID" worker --repo "$HOME_URL" --node-id "$n" --executor process --http off --slots 2 \
	--batch-ms 60000 >"$T/$n.3.log" 2>&1 &
pid=$!
track $pid
check "the worker claimed 'slow'" wait_for 30 grep -q "task=slow event=claimed" "$T/$n.3.log"
touch "$T/decline-second"
check "'slow' finished" wait_for 30 grep -q "task=slow event=finished" "$T/$n.3.log"
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
rm -f "$T/decline-second"
check "the worker ran 'slow' on the second member" grep -q "task=slow event=finished" "$T/$n.3.log"
check "its result waits in the second member's spool, not the home's" \
	sh -c "ls '$T/spool-$n'-member-*/ | grep -q slow && ! ls '$T/spool-$n/' | grep -q slow"
DGRID_CACHE=$T/cache-$n DGRID_SPOOL=$T/spool-$n PULL_INTERVAL=1 timeout 120 \
	"$DGRID" worker --repo "$HOME_URL" --node-id "$n" --executor process --http off \
	--exit-when-idle >"$T/$n.3b.log" 2>&1
check_eq "restarted, it exits 0" 0 $?
check "it started on the member its spool holds results for" grep -q "event=members count=2 start=1" "$T/$n.3b.log"
# evidence when this part fails: the spools and what the two lives logged
if [ "$_tap_failed" -gt 0 ]; then
	ls -lR "$T/spool-$n"* 2>&1 | sed 's/^/# spool: /'
	grep -hvE 'event=fetch|event=unsandboxed' "$T/$n.3.log" "$T/$n.3b.log" | cut -c1-240 | tail -60 | sed 's/^/# log: /'
fi
check_eq "the result reached the second member" 1 \
	"$(git -C "$T/srv/second.git" ls-tree -r --name-only main tasks/completed | grep -c '/slow\.')"
check_eq "'slow' ran once" 1 "$(grep -c slow "$T/runs")"

# 4. dgrid submit: to the member with the fewest queued; an id known anywhere is refused
dg() { DGRID_CACHE=$T/cache-cli "$DGRID" "$@"; }
git -C "$T/home" pull -q --rebase
queue "$T/home" q 1 3   # the home now has 3 queued, the second none
dg submit --repo "$HOME_URL" --id sub1 --script "echo sub1" >"$T/sub1.out" 2>&1
check_eq "submit exits 0" 0 $?
check "it says where the task went" grep -q "^repository $SECOND_URL (0 queued, the fewest of 2)" "$T/sub1.out"
check_eq "the task is queued in the second member" 1 \
	"$(git -C "$T/srv/second.git" ls-tree -r --name-only main tasks/queue | grep -c '/sub1\.json$')"
dg submit --repo "$HOME_URL" --id b3 --script "echo again" >"$T/dup.out" 2>&1
check_eq "an id that ran in the other member is refused" 1 $?
check "naming the member and the result" grep -q "in repository $SECOND_URL: task 'b3' already exists: tasks/completed/" "$T/dup.out"
dg submit --repo "$HOME_URL" --id q2 --script "echo again" >"$T/dup2.out" 2>&1
check_eq "an id queued in the home is refused" 1 $?
check_eq "nothing more was queued anywhere" "3 1" \
	"$(count_all "$T/srv/home.git" tasks/queue) $(count_all "$T/srv/second.git" tasks/queue)"

# 5. a live worker on the second member already uses our node id (a grid
#    with heartbeats, where the twin check can see it): the worker moving
#    there must not work beside it, and goes back home.
fnv_member() {   # the member (of 2) a node id starts on: FNV-1a 32, as members.c
	python3 -c 'import sys
h = 2166136261
for b in sys.argv[1].encode(): h = ((h ^ b) * 16777619) & 0xffffffff
print(h % 2)' "$1"
}
twin=""
for i in $(seq 1 50); do [ "$(fnv_member "tw$i")" = 0 ] && { twin=tw$i; break; }; done
git -C "$T/second" pull -q --rebase
printf '{"protocol": 3, "heartbeat_interval": 2, "node_timeout": 30}\n' >"$T/second/dgrid.json"
commit_push "$T/second" "policy: heartbeats"
DGRID_CACHE=$T/cache-twin-b PULL_INTERVAL=1 "$DGRID" worker --repo "$SECOND_URL" --node-id "$twin" \
	--executor process --http off >"$T/twin-b.log" 2>&1 &
twin_pid=$!
track $twin_pid
for _ in $(seq 1 100); do grep -q "event=started" "$T/twin-b.log" && break; sleep 0.1; done
git -C "$T/second" pull -q --rebase
queue "$T/second" tw 0 0 15   # keeps the twin busy, so that the next two wait in the queue
for _ in $(seq 1 100); do grep -q "task=tw0 event=started" "$T/twin-b.log" && break; sleep 0.1; done
git -C "$T/second" pull -q --rebase
queue "$T/second" tw 1 2
DGRID_CACHE=$T/cache-twin-a PULL_INTERVAL=1 timeout 60 "$DGRID" worker --repo "$HOME_URL" --node-id "$twin" \
	--executor process --http off >"$T/twin-a.log" 2>&1 &
twin_a=$!
track $twin_a
for _ in $(seq 1 200); do grep -q "event=member-refused" "$T/twin-a.log" && break; sleep 0.1; done
check "the worker pointed at the home starts there" grep -q "event=members count=2 start=0" "$T/twin-a.log"
check "it refuses to work beside a live twin on the second member" grep -q "event=member-refused member=1" "$T/twin-a.log"
for _ in $(seq 1 300); do
	[ "$(grep -c 'task=tw[12] event=finished' "$T/twin-b.log")" = 2 ] && break
	sleep 0.2
done
kill $twin_a $twin_pid 2>/dev/null
wait $twin_a $twin_pid 2>/dev/null
check_eq "the twin on the second member ran its three tasks" 3 "$(grep -c 'task=tw[012] event=finished' "$T/twin-b.log")"
check_eq "the refused worker ran none of them" 0 "$(grep -c 'task=tw[0-9]* event=' "$T/twin-a.log")"

# 6. bad lists
printf '{"repositories": ["https://user:hunter2secret@example.com/g.git"]}\n' >"$T/bad1.json"
"$DGRID" validate --policy "$T/bad1.json" >"$T/bad1.out" 2>&1
check_eq "a URL with a password is refused (exit 2, a bad policy)" 2 $?
check "saying why" grep -q "repositories\[0\]: the URL holds a password or token" "$T/bad1.out"
check "without repeating the secret" sh -c "! grep -q hunter2secret '$T/bad1.out'"
printf '{"repositories": [42]}\n' >"$T/bad2.json"
"$DGRID" validate --policy "$T/bad2.json" >"$T/bad2.out" 2>&1
check "a number is no URL" grep -q "repositories\[0\]: expected a URL string, got integer" "$T/bad2.out"
check_eq "no worker logged an error, or a warning but the process executor's" 0 \
	"$(cat "$T"/w*.[12].log | awk '($2 == "warning" && $3 != "event=unsandboxed") || $2 == "error"' | wc -l)"
finish
