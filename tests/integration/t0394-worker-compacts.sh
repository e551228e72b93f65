#!/usr/bin/env bash
# t0394: a worker compacts main's history once it is longer than the
# policy's compact_after (doc/protocol.md, "Compaction"), counting the
# commits without reading the whole history, and goes on working; the old
# history stays under refs/dgrid/epochs/1. A grid without compact_after is
# never compacted by a worker.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
git -C "$BARE" config receive.denyNonFastForwards false
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
clone_work "$BARE" "$T/work"
: >"$T/runs"

queue() {   # queue FIRST LAST: tasks tFIRST..tLAST, one plain-git commit each
	local i
	git -C "$T/work" fetch -q origin && git -C "$T/work" reset -q --hard origin/main
	mkdir -p "$T/work/tasks/queue"
	for i in $(seq "$1" "$2"); do
		printf '{"task_id": "t%d", "script": "echo t%d >>%s", "timeout_seconds": 60}\n' \
			"$i" "$i" "$T/runs" >"$T/work/tasks/queue/t$i.json"
		git -C "$T/work" add -A && git -C "$T/work" commit -qm "task t$i"
	done
	git -C "$T/work" push -q origin HEAD:main
}
work() {   # work NAME: one worker until the queue is empty, checking upkeep every second
	DGRID_CACHE=$T/cache-$1 PULL_INTERVAL=1 DGRID_UPKEEP_INTERVAL=1 timeout 120 "$DGRID" worker \
		--repo "$URL" --node-id "$1" --executor process --http off --exit-when-idle >>"$T/$1.log" 2>&1
}

# without compact_after: a long history stays
printf '{"protocol": 3}\n' >"$T/work/dgrid.json"
commit_push "$T/work" "policy: protocol 3"
queue 1 30
work wa
check_eq "wa ran the 30 tasks" 30 "$(wc -l <"$T/runs")"
n=$(git -C "$BARE" rev-list --count main)
check "main's history is long ($n commits)" [ "$n" -gt 30 ]
check_eq "no compaction without compact_after" 0 "$(grep -c 'event=compacted' "$T/wa.log")"
check_eq "no epoch ref" "" "$(git -C "$BARE" for-each-ref refs/dgrid/epochs)"

# with it, the next worker turn compacts, and work goes on from the new root
old=$(git -C "$BARE" rev-parse main)
git -C "$T/work" fetch -q origin && git -C "$T/work" reset -q --hard origin/main
printf '{"protocol": 3, "compact_after": 20}\n' >"$T/work/dgrid.json"
commit_push "$T/work" "policy: compact after 20 commits"
queue 31 35
# not --exit-when-idle: its first upkeep check comes up to a second after
# the start, and five short tasks may be done before that
DGRID_CACHE=$T/cache-wb PULL_INTERVAL=1 DGRID_UPKEEP_INTERVAL=1 "$DGRID" worker --repo "$URL" \
	--node-id wb --executor process --http off >>"$T/wb.log" 2>&1 &
WB=$!
track $WB
check "wb compacted main" wait_for 60 grep -q 'event=compacted epoch=1 ' "$T/wb.log"
ran_all() { [ "$(wc -l <"$T/runs")" -ge 35 ]; }
check "and ran the new tasks" wait_for 60 ran_all
kill -TERM $WB
wait $WB
check "the old history is kept as refs/dgrid/epochs/1" git -C "$BARE" merge-base --is-ancestor "$old" refs/dgrid/epochs/1
n=$(git -C "$BARE" rev-list --count main)
check "main's history restarted ($n commits)" [ "$n" -le 20 ]
check_eq "every task ran once" 35 "$(sort -u "$T/runs" | wc -l)"
check_eq "and only once" 35 "$(wc -l <"$T/runs")"
check_eq "every result is on main" 35 "$(count_all "$BARE" tasks/completed)"
check_eq "nothing is queued or running" 0 "$(($(count_all "$BARE" tasks/queue) + $(count_all "$BARE" tasks/in_progress)))"
check_eq "no worker logged an error, or a warning but the process executor's" 0 \
	"$(cat "$T"/w[ab].log | awk '($2 == "warning" && $3 != "event=unsandboxed") || $2 == "error"' | wc -l)"
finish
