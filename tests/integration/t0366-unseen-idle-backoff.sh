#!/usr/bin/env bash
# t0366: without any budget, the idle that lost the race to register look
# less and less often while nothing moves (worker.c, unseen_idle_ms). A
# worker registers with its first claim or, on an idle grid, with its
# first step; one that loses that race and then finds nothing to claim
# pushes nothing (doc/protocol.md, "No registration alone while crowded"),
# so nobody counts it where the registered share PULL_INTERVAL, and it
# polled every PULL_INTERVAL for good: 28 of 32 idle workers made 23
# upload-pack connections a second, half of a 2-core host
# (bench-collapse.sh).
#
# Eight workers arrive at once on a git daemon whose pre-receive hook
# takes a second, so that their registrations race and most lose. Shown:
#  1. some lost (the test is not vacuous) and stayed unregistered;
#  2. each of those doubled its wait with every quiet look, up to 16 s
#     (event=unseen-idle), and none of the registered did;
#  3. the host saw fewer looks in the second half-minute than the old
#     rule (every PULL_INTERVAL each) would have made by a wide margin;
#  4. a task submitted afterwards still runs, exactly once: the
#     registered look at their share, and anything that moves resets the
#     wait.
. "$(dirname "$0")/lib.sh"

WORKERS=8
mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
clone_work "$BARE" "$T/work"
printf '{"protocol": 3}\n' >"$T/work/dgrid.json"
commit_push "$T/work" "policy"
# a slow host: pushes that arrive together overlap, and all but one lose
printf '#!/bin/sh\nsleep 1\n' >"$BARE/hooks/pre-receive"
chmod +x "$BARE/hooks/pre-receive"

start_git_daemon_logged "$T/srv"
URL="git://127.0.0.1:$PORT/grid.git"
: >"$T/runs"

start=$(date +%s)
for i in $(seq 1 "$WORKERS"); do
	DGRID_CACHE=$T/cache-w$i PULL_INTERVAL=1 LOG_LEVEL=debug "$DGRID" worker --repo "$URL" --node-id "w$i" \
		--executor process --http off >"$T/w$i.log" 2>&1 &
	pid[$i]=$!
	track $!
done
t0=$((start + 30))
t1=$((start + 60))
sleep $((t1 - $(date +%s)))

registered=$(git -C "$BARE" ls-tree --name-only main nodes/ | wc -l)
unseen=$((WORKERS - registered))
looks=$(fetches_in "$t0" "$t1")
note "$registered registered, $unseen not; the host served $looks looks in $((t1 - t0)) s (the old rule: about $(((t1 - t0) * WORKERS)))"
check "some registered (the registered look for the grid)" test "$registered" -ge 1
check "at least three lost the race to register ($unseen)" test "$unseen" -ge 3
backed=0
for i in $(seq 1 "$WORKERS"); do
	check "w$i still runs" kill -0 "${pid[$i]}"
	if git -C "$BARE" cat-file -e "main:nodes/w$i.json" 2>/dev/null; then
		check_eq "w$i (registered) does not back off" 0 "$(grep -c 'event=unseen-idle' "$T/w$i.log")"
	else
		grep -q 'event=unseen-idle quiet_looks=[0-9]* poll_ms=1[6-7][0-9][0-9][0-9]$' "$T/w$i.log" && backed=$((backed + 1))
	fi
done
check_eq "every unregistered worker's quiet looks doubled its wait to 16 s" "$unseen" "$backed"
# the registered look every PULL_INTERVAL each (fewer than four of them);
# the unseen at most every 16 s once backed off: two or three each in 30 s
most=$(((t1 - t0) * registered + 4 * unseen + 10))
check "the host saw at most $most looks in those $((t1 - t0)) s ($looks; every PULL_INTERVAL each: ~$(((t1 - t0) * WORKERS)))" \
	test "$looks" -le "$most"

git -C "$T/work" pull -q --rebase origin main
mkdir -p "$T/work/tasks/queue"
printf '{"task_id": "t1", "script": "echo t1 >>%s", "timeout_seconds": 30}\n' "$T/runs" >"$T/work/tasks/queue/t1.json"
commit_push "$T/work" "task t1"
check "a task submitted after the quiet runs" wait_for 60 bash -c \
	"git -C '$BARE' ls-tree -r --name-only main tasks/completed | grep -q '/t1\.[^/]*json\$'"
check_eq "exactly once" 1 "$(grep -c '^t1$' "$T/runs")"
finish
