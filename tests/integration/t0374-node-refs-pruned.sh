#!/usr/bin/env bash
# t0374: a grid with heartbeats keeps a ref of every node that ever ran
# (refs/dgrid/nodes/NODE), stopped or dead, and every fetch of every worker
# lists them all: 5,000 made an idle worker's polls cost 70 times the CPU.
# A worker's reaper deletes the node refs it saw unchanged for
# "node_ref_keep_seconds" (a day by default; 20 s here) by its own clock,
# in one push (reaper.h, dg_reaper_prune). Shown, on a heartbeat grid
# behind a git daemon and on the same grid as a local path:
#  - 40 refs of nodes gone long ago (20 "stopped", 20 stale) are deleted,
#    and only once the worker has watched them unchanged for that long;
#  - the ref of a live node (rewritten every 2 s, its clock a day slow: its
#    heartbeat's time and commit date are a day old) stays, as does the
#    worker's own;
#  - a task still runs meanwhile.
. "$(dirname "$0")/lib.sh"

POLICY='{"heartbeat_interval": 3, "node_timeout": 10, "node_ref_keep_seconds": 20, "timeout_max": 10, "lease_margin": 5}'
mkdir -p "$T/srv"
start_git_daemon "$T/srv"

# gone_refs BARE: 40 node refs of nodes gone a day, 20 stopped and 20 dead
gone_refs() { python3 "$DGRID_SRC/tests/integration/gone_refs.py" 40 20 | git -C "$1" fast-import --quiet; }

# live_beats BARE: a live node whose clock is a day slow, beating every 2 s
live_beats() {
	local bare=$1 i=0 blob tree commit
	while :; do
		i=$((i + 1))
		blob=$(printf '{"node_id": "live", "state": "idle", "time": "2026-01-01T00:00:%02dZ", "seq": %d}\n' \
			$((i % 60)) "$i" | git -C "$bare" hash-object -w --stdin)
		tree=$(printf '100644 blob %s\theartbeat.json\n' "$blob" | git -C "$bare" mktree)
		commit=$(GIT_COMMITTER_DATE="$(( $(date +%s) - 86400 )) +0000" GIT_AUTHOR_DATE="$(( $(date +%s) - 86400 )) +0000" \
			git -C "$bare" -c user.name=live -c user.email=live@localhost commit-tree -m beat "$tree")
		git -C "$bare" update-ref refs/dgrid/nodes/live "$commit"
		sleep 2
	done
}

node_refs() { git -C "$1" for-each-ref --format='%(refname:lstrip=3)' refs/dgrid/nodes/ | sort | xargs; }

for kind in daemon local; do
	BARE=$T/srv/$kind.git
	make_bare "$BARE"
	clone_work "$BARE" "$T/work-$kind"
	printf '%s\n' "$POLICY" >"$T/work-$kind/dgrid.json"
	commit_push "$T/work-$kind" "a heartbeat grid"
	gone_refs "$BARE"
	live_beats "$BARE" &
	track $!
	if [ $kind = daemon ]; then URL="git://127.0.0.1:$GIT_DAEMON_PORT/$kind.git"; else URL=$BARE; fi
	check "$kind: 41 node refs before" wait_for 10 bash -c "[ \$(git -C '$BARE' for-each-ref refs/dgrid/nodes/ | wc -l) -eq 41 ]"
	t0=$(date +%s)
	DGRID_CACHE=$T/cache-$kind PULL_INTERVAL=1 HEARTBEAT_INTERVAL=3 "$DGRID" worker --repo "$URL" \
		--node-id "w-$kind" --executor process --http off >"$T/w-$kind.log" 2>&1 &
	track $!
	check "$kind: the worker prunes the 40" wait_for 90 grep -q 'event=node-refs-pruned count=40' "$T/w-$kind.log"
	waited=$(( $(date +%s) - t0 ))
	check "$kind: not before it watched them for node_ref_keep_seconds (${waited} s)" test "$waited" -ge 20
	check_eq "$kind: the live node's ref and the worker's own stay" "live w-$kind" "$(node_refs "$BARE")"
	"$DGRID" submit --repo "$URL" --id "t-$kind" --timeout 10 --script true >/dev/null 2>&1
	check "$kind: a task still runs" wait_for 60 bash -c \
		"git -C '$BARE' ls-tree -r --name-only main tasks/completed | grep -q 't-$kind'"
	sleep 10
	check_eq "$kind: and the live node's ref is still there after more judgements" "live w-$kind" "$(node_refs "$BARE")"
	check "$kind: no task was reaped" bash -c "! grep -q 'event=reaped' '$T/w-$kind.log'"
done
finish
