#!/usr/bin/env bash
# t0376: the fetch budget and the idle that nobody counts. On a grid with a
# push budget (github.com's default) a worker registers with its first
# claim, so a fleet waiting for work is in no count, and the registered
# nodes' share of "fetch_budget" (t0382) does not slow it: 6 such workers
# fetched at every join slot, 300 times a minute on a grid whose budget
# was 30. Now an idle worker's turn at its slot waits for its idle poll,
# and one that is not registered polls every quarter of the time the
# queue has been empty (at most 5 minutes). The daemon's own log must show
# at most the budget in any 60 s window of the second minute (the first
# is the fleet's start: clones and first looks, which no worker can
# count), nobody registered, and a task submitted after it still runs.
. "$(dirname "$0")/lib.sh"

BUDGET=30
WORKERS=6
mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
clone_work "$BARE" "$T/work"
printf '{"protocol": 3, "fetch_budget": %s, "push_budget": 60}\n' "$BUDGET" >"$T/work/dgrid.json"
commit_push "$T/work" "policy"

# every request the daemon serves, with the second it came in
start_git_daemon_logged "$T/srv"
URL="git://127.0.0.1:$PORT/grid.git"

start=$(date +%s)
for i in $(seq 1 "$WORKERS"); do
	DGRID_CACHE=$T/cache-w$i PULL_INTERVAL=1 "$DGRID" worker --repo "$URL" --node-id "w$i" \
		--executor process --http off >"$T/w$i.log" 2>&1 &
	pid[$i]=$!
	track $!
done
t0=$((start + 60))
t1=$((start + 125))
sleep $((t1 - $(date +%s)))

first=$(fetches_in "$start" "$t0")
second=$(fetches_in "$t0" "$t1")
# the busiest 60 s window after the first minute
max=$(busiest_fetches "$t0" "$t1")
note "fetches by $WORKERS idle workers: $first in the first minute, $second in the next $((t1 - t0)) s (busiest 60 s window: $max; at every join slot they made ~300 a minute)"
check_eq "nobody registered: the workers under test are in no count" \
	0 "$(git -C "$BARE" ls-tree --name-only main nodes/ | wc -l)"
check "at most the budget ($BUDGET) in any 60 s window after the first minute (busiest: $max)" test "$max" -le "$BUDGET"
check "the workers kept polling (at least one fetch each after the first minute: $second)" test "$second" -ge "$WORKERS"
# an idle worker sleeps between its looks: one that woke at every slot it
# would not take, and spun until its poll, burned a core (under the
# sanitizers 38 s of CPU in two minutes)
tck=$(getconf CLK_TCK)
for i in $(seq 1 "$WORKERS"); do
	check "w$i still runs" kill -0 "${pid[$i]}"
	cpu=$(awk -v t="$tck" '{ printf "%d", ($14 + $15) / t }' "/proc/${pid[$i]}/stat")
	check "w$i slept while idle: ${cpu} s of CPU in $((t1 - start)) s (at most 5)" test "$cpu" -le 5
done

git -C "$T/work" pull -q --rebase origin main
mkdir -p "$T/work/tasks/queue"
printf '{"task_id": "t1", "script": "echo hi", "timeout_seconds": 30}\n' >"$T/work/tasks/queue/t1.json"
commit_push "$T/work" "task t1"
submitted=$(date +%s)
# after 2 minutes of quiet the unseen look every 30-33 s, and the claim waits for a join slot
check "a task submitted after the quiet still runs, within a minute" wait_for 60 bash -c \
	"git -C '$BARE' ls-tree -r --name-only main tasks/completed | grep -q '/t1\.[^/]*json\$'"
note "t1 completed $(($(date +%s) - submitted)) s after its submission"
finish
