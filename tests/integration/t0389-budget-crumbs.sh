#!/usr/bin/env bash
# t0389: on a budget grid a newcomer leaves a few queued tasks to the
# members, for one cycle at most (worker_budget.c, dg_worker_leaves_crumbs;
# doc/protocol.md "Push budget", "Joining"). While the queue holds no more
# tasks than there are members, their next claims take them, and a join
# would cost two pushes and move every member's slot. But members can be
# dead: three registrations here belong to no running worker, so the
# newcomer must stop waiting after a cycle and run the tasks itself.
# Shown: it said it left them (event=crumbs-left), then claimed and ran
# each task exactly once; and with more tasks queued than members, it
# joins at once (no crumbs-left).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/srv"
start_git_daemon "$T/srv"
: >"$T/runs"

# grid NAME TASKS: a budget grid with three dead members and TASKS queued
grid() {
	local bare=$T/srv/$1.git work=$T/work-$1 i
	make_bare "$bare"
	clone_work "$bare" "$work"
	printf '{"protocol": 3, "push_budget": 60}\n' >"$work/dgrid.json"
	mkdir -p "$work/nodes"
	for i in 1 2 3; do
		printf '{"node_id": "dead%s", "name": "dead%s", "version": "0.13.3", "protocol": 3, "slots": 1, "registered_at": "%s"}\n' \
			"$i" "$i" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$work/nodes/dead$i.json"
	done
	commit_push "$work" "three dead members"
	# submitted into the queue's shards: a flat plain-git submission would
	# make the newcomer's first push an intake, which registers it
	for i in $(seq "$2"); do
		"$DGRID" submit --repo "git://127.0.0.1:$GIT_DAEMON_PORT/$1.git" --id "$1-$i" --timeout 30 \
			--script "echo $1-$i >>$T/runs" >>"$T/submit.log" 2>&1
	done
}

# run NAME: one newcomer until the queue is empty
run() {
	DGRID_CACHE=$T/cache-$1 PULL_INTERVAL=1 LOG_LEVEL=debug timeout 120 "$DGRID" worker \
		--repo "git://127.0.0.1:$GIT_DAEMON_PORT/$1.git" --node-id "new-$1" --slots 1 \
		--executor process --exit-when-idle --http off >"$T/$1.log" 2>&1
}

grid crumbs 2
run crumbs
check_eq "crumbs: the newcomer ran to the end (exit 0)" 0 $?
check "crumbs: it left 2 tasks to 3 members first" grep -q 'event=crumbs-left queued=2 members=3' "$T/crumbs.log"
check_eq "crumbs: then ran both, each once" "crumbs-1 crumbs-2" "$(grep '^crumbs-' "$T/runs" | sort | tr '\n' ' ' | sed 's/ $//')"

grid plenty 4
run plenty
check_eq "plenty: the newcomer ran to the end (exit 0)" 0 $?
check "plenty: 4 tasks for 3 members are no crumbs" bash -c "! grep -q 'event=crumbs-left' '$T/plenty.log'"
check_eq "plenty: all 4 ran, each once" "plenty-1 plenty-2 plenty-3 plenty-4" \
	"$(grep '^plenty-' "$T/runs" | sort | tr '\n' ' ' | sed 's/ $//')"
[ "$_tap_failed" -eq 0 ] || tail -n 20 "$T/crumbs.log" "$T/plenty.log" | sed 's/^/# /'
finish
