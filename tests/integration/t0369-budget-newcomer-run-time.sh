#!/usr/bin/env bash
# t0369: on a budget grid that has run tasks, a newcomer sizes its first
# claim by the run time main's reports show (run_time.h; doc/protocol.md
# "Batches") and by its first turn as a member, not at 16 a slot.
#
# Two grids on one git daemon, each with "push_budget": 60. On each, w0
# runs a few tasks first and leaves (--exit-when-idle), so that main holds
# their reports and results; then tasks like them are submitted with plain
# git and a newcomer, w1, starts.
#  - quick tasks (`true`): w1's first claim takes 64 (claim_batch_max; its
#    share of 300 among two members is 150): its first turn as a member is
#    10 s or more away, hundreds of such tasks.
#  - three-second tasks: w1's first claim takes a few, what lasts until its
#    first turn (at most three short cycles of a two-member grid), not 16.
# Before 0.16.1 both first claims took 16. A grid without results still
# gives a first claim of 16 (t0373).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/srv"
start_git_daemon "$T/srv"

# grid NAME SCRIPT N: a budget grid NAME.git with N tasks running SCRIPT, queued with plain git
grid() {
	make_bare "$T/srv/$1.git"
	clone_work "$T/srv/$1.git" "$T/$1"
	printf '{"protocol": 3, "push_budget": 60}\n' >"$T/$1/dgrid.json"
	queue "$@"
}
# queue NAME SCRIPT N [PREFIX]: N more tasks PREFIXi
queue() {
	local i
	git -C "$T/$1" pull -q --rebase origin main 2>/dev/null   # what the workers pushed since
	mkdir -p "$T/$1/tasks/queue"
	for i in $(seq 1 "$3"); do
		printf '{"task_id": "%s%d", "script": "%s", "timeout_seconds": 60}\n' "${4:-a}" "$i" "$2" \
			>"$T/$1/tasks/queue/${4:-a}$i.json"
	done
	commit_push "$T/$1" "$3 tasks, submitted with plain git"
}
worker() {   # worker GRID NAME [ARGS...]
	local g=$1 name=$2; shift 2
	DGRID_CACHE=$T/cache-$g-$name PULL_INTERVAL=1 "$DGRID" worker --repo "git://127.0.0.1:$GIT_DAEMON_PORT/$g.git" \
		--node-id "$name" --slots 1 --executor process --http off "$@" >>"$T/$g-$name.log" 2>&1 &
	PID=$!
	track $PID
}
first_claims() {   # first_claims GRID NODE: the claims of NODE's first commit that claims
	git -C "$T/srv/$1.git" log --reverse --format=%s main | grep "^$2:.* claim " | head -1 | grep -o ' claim ' | wc -l
}
reports() { git -C "$T/srv/$1.git" log --format=%s main | grep -o ' report ' | wc -l; }

# the grids run their first tasks
grid quick true 4
grid long "sleep 3" 2
worker quick w0 --exit-when-idle; Q0=$PID
worker long w0 --exit-when-idle; L0=$PID
wait $Q0; wait $L0
check_eq "the quick grid reported its first 4 tasks" 4 "$(reports quick)"
check_eq "the long grid reported its first 2 tasks" 2 "$(reports long)"

# then more like them, and a newcomer
queue quick true 300 q
queue long "sleep 3" 40 l
worker quick w1; Q1=$PID
worker long w1; L1=$PID
check "w1 claims on the quick grid" wait_for 60 bash -c "[ \$(git -C '$T/srv/quick.git' log --format=%s main | grep -c '^w1:.* claim ') -gt 0 ]"
check "w1 claims on the long grid" wait_for 60 bash -c "[ \$(git -C '$T/srv/long.git' log --format=%s main | grep -c '^w1:.* claim ') -gt 0 ]"
QN=$(first_claims quick w1)
LN=$(first_claims long w1)
note "first claims: quick grid $QN, long grid $LN"
check_eq "quick tasks: the first claim takes claim_batch_max, not 16" 64 "$QN"
check "three-second tasks: the first claim takes what lasts until the first turn (1-8, not 16)" \
	test "$LN" -ge 1 -a "$LN" -le 8

# w1 stops: what it holds goes back, nothing is lost
kill -TERM $Q1 $L1
wait $Q1; wait $L1
for g in quick long; do
	ran=$(reports $g)
	queued=$(git -C "$T/srv/$g.git" ls-tree -r --name-only main tasks/queue | grep -c '\.json$')
	running=$(git -C "$T/srv/$g.git" ls-tree -r --name-only main tasks/in_progress | grep -c '\.json$')
	total=$([ $g = quick ] && echo 304 || echo 42)
	check_eq "$g grid: every task reported or queued again ($ran + $queued), none held" "$total 0" \
		"$((ran + queued)) $running"
done
finish
