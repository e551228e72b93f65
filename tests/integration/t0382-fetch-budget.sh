#!/usr/bin/env bash
# t0382: the fetch budget. dgrid.json "fetch_budget" (fetches a minute for
# the whole grid) makes idle workers share it: each polls every 72 s x
# registered nodes / budget (a fifth stays free for busy workers) instead
# of every PULL_INTERVAL, and a worker's reaper rides on its step's fetch
# instead of fetching on its own. Four idle workers with PULL_INTERVAL=1
# used to fetch ~240 times a minute; the git daemon's own log (every
# upload-pack request, timestamped) must show at most the budget in any
# 60 s window, and a task submitted meanwhile still runs.
. "$(dirname "$0")/lib.sh"

BUDGET=30
mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
clone_work "$BARE" "$T/work"
printf '{"fetch_budget": %s}\n' "$BUDGET" >"$T/work/dgrid.json"
commit_push "$T/work" "policy"

# every request the daemon serves, with the second it came in
start_git_daemon_logged "$T/srv"
URL="git://127.0.0.1:$PORT/grid.git"

for n in w1 w2 w3 w4; do
	DGRID_CACHE=$T/cache-$n PULL_INTERVAL=1 "$DGRID" worker --repo "$URL" --node-id "$n" \
		--executor process --http off >"$T/$n.log" 2>&1 &
	track $!
done
check "all four registered" wait_for 60 bash -c "[ \$(git -C '$BARE' ls-tree --name-only main nodes/ | wc -l) -eq 4 ]"
check "each worker computes its share: 72 s x 4 nodes / $BUDGET = 9.6 s" \
	wait_for 60 bash -c "grep -q 'event=poll-interval ms=9600 nodes=4 fetch_budget=$BUDGET' '$T/w1.log'"
sleep 10   # the first polls at the old pace are over
t0=$(date +%s)
sleep 35
git -C "$T/work" pull -q --rebase origin main
mkdir -p "$T/work/tasks/queue"
printf '{"task_id": "t1", "script": "echo hi", "timeout_seconds": 30}\n' >"$T/work/tasks/queue/t1.json"
commit_push "$T/work" "task t1"
check "a task submitted meanwhile still runs" wait_for 40 bash -c \
	"git -C '$BARE' ls-tree -r --name-only main tasks/completed | grep -q '^tasks/completed/t1\.'"
sleep $(( t0 + 90 - $(date +%s) ))
t1=$(date +%s)

# the daemon's busiest 60 s window over [t0, t1), and its fetches in all
max=$(busiest_fetches "$t0" "$t1")
total=$(fetches_in "$t0" "$t1")
note "fetches in $((t1 - t0)) s: $total; busiest 60 s window: $max (PULL_INTERVAL=1 alone would make ~240)"
check "at most the budget ($BUDGET) in any 60 s window (busiest: $max)" test "$max" -le "$BUDGET"
check "the workers kept polling (at least 15 fetches in the busiest window)" test "$max" -ge 15
finish
