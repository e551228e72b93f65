#!/usr/bin/env bash
# t0378-stopped-nodes: a grid keeps the registration of every node that
# ever joined, and containers with fresh ids leave one each. `dgrid status`
# and the dashboard show a registration that says its node stopped
# ("stopped_at", written by a clean stop) as stopped, list every node that
# did not stop and the 10 that stopped last, and fold the others into one
# line; --json and status.json still list every node. A task that only a
# stopped node could run is unrunnable. Workers that die without stopping
# leave registrations that never say so: a node silent for longer than
# slot_keep_seconds (an hour; dead, or idle) is folded the same way, the
# 10 heard of last listed (since 0.14.10; before, each was an "unknown"
# line of its own, for ever).
# The grid, made with plain git on a bare repository behind a git daemon:
# 25 stopped registrations (old01 ... old25, stopped a minute apart; old25
# has the "gpu" label), 15 silent since November (gone01 ... gone15, last
# active a minute apart, never stopped), live1 holding a claim, idle1
# registered and idle, a queued task that needs "gpu" and one that needs
# nothing.
. "$(dirname "$0")/lib.sh"
export DGRID_CACHE=$T/cache

mkdir -p "$T/srv"
make_bare "$T/srv/g.git"
start_git_daemon "$T/srv"
URL=git://127.0.0.1:$GIT_DAEMON_PORT/g.git
clone_work "$T/srv/g.git" "$T/w"
W=$T/w
printf '{"protocol": 3}\n' >"$W/dgrid.json"
mkdir -p "$W/nodes" "$W/tasks/queue" "$W/tasks/in_progress"
reg_at() { # DIR ID REGISTERED_AT [EXTRA JSON FIELDS]
	printf '{"node_id": "%s", "registered_at": "%s", "version": "%s", "protocol": 3, "slots": 1%s}\n' \
		"$2" "$3" "$("$DGRID" --version | awk '{print $2}')" "${4:-}" >"$1/$2.json"
}
reg() { reg_at "$W/nodes" "$@"; }
for i in $(seq -w 1 25); do
	labels=
	[ "$i" = 25 ] && labels=', "labels": ["gpu"]'
	reg "old$i" "2026-11-01T10:00:00Z" ", \"stopped_at\": \"2026-11-01T11:$i:00Z\"$labels"
done
for i in $(seq -w 1 15); do
	reg "gone$i" "2026-11-01T10:00:00Z" ", \"active_at\": \"2026-11-01T12:$i:00Z\""
done
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
reg live1 "$now"
reg idle1 "$now"
printf '{"task_id": "busy", "script": "sleep 60", "node_id": "live1", "claimed_at": "%s", "attempt": 1, "lease_seconds": 600}\n' \
	"$now" >"$W/tasks/in_progress/busy.json"
printf '{"task_id": "train", "script": "./train.sh", "requires": {"labels": ["gpu"]}}\n' >"$W/tasks/queue/train.json"
printf '{"task_id": "plain", "script": "true"}\n' >"$W/tasks/queue/plain.json"
commit_push "$W" "a grid with a history of stopped nodes"

"$DGRID" status --repo "$URL" >"$T/status.out" 2>"$T/status.err"
check_eq "dgrid status exits 0" 0 $?
check "the header counts the stopped and the silent nodes" grep -qx 'nodes      42 (1 alive, 25 stopped, 15 silent)' "$T/status.out"
check "live1 (holding a claim) is alive" grep -Eq '^  live1 +alive ' "$T/status.out"
check "idle1 (registered, silent) is unknown" grep -Eq '^  idle1 +unknown ' "$T/status.out"
check "the node that stopped last is listed as stopped" grep -Eq '^  old25 +stopped ' "$T/status.out"
check_eq "the 10 that stopped last are listed: old16 ... old25" "old16 old17 old18 old19 old20 old21 old22 old23 old24 old25" \
	"$(grep -Eo '^  old[0-9]+ +stopped ' "$T/status.out" | awk '{print $1}' | sort | xargs)"
check "the other 15 are one line" grep -qx '  ... and 15 more that stopped earlier (--json lists every node)' "$T/status.out"
check_eq "the 10 silent nodes heard of last are listed: gone06 ... gone15" \
	"gone06 gone07 gone08 gone09 gone10 gone11 gone12 gone13 gone14 gone15" \
	"$(grep -Eo '^  gone[0-9]+ +unknown ' "$T/status.out" | awk '{print $1}' | sort | xargs)"
check "the other 5 are one line" grep -qx '  ... and 5 more silent for longer (over slot_keep_seconds, 3600 s: dead, or idle; --json lists every node)' "$T/status.out"
check "the gpu task is unrunnable: only a stopped node had the label" grep -qx "  train: needs label 'gpu'" "$T/status.out"
check "status names one unrunnable task" grep -q '^unrunnable 1 queued task no active node can run' "$T/status.out"

"$DGRID" status --repo "$URL" --json >"$T/status.json" 2>>"$T/status.err"
check_eq "dgrid status --json exits 0" 0 $?
check_eq "--json lists all 42 nodes, old01 stopped, gone01 unknown" "42 stopped unknown" "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
nodes = {n["node_id"]: n for n in d["nodes"]}
print(len(nodes), nodes["old01"]["liveness"], nodes["gone01"]["liveness"])' "$T/status.json")"

"$DGRID" dashboard --repo "$URL" --out "$T/site" 2>"$T/dash.err"
check_eq "dgrid dashboard exits 0" 0 $?
check "the page folds the 15 stopped earlier" grep -q 'id="nodes-folded">15 more nodes that stopped earlier are not listed' "$T/site/index.html"
check "and the 5 silent longest" grep -q 'id="nodes-silent-folded">5 more nodes silent for longer' "$T/site/index.html"
check_eq "the page lists 22 nodes" 22 "$(grep -o '<tr><td><code>[a-z0-9]*</code>' "$T/site/index.html" | grep -c -E 'old|gone|live1|idle1')"
check_eq "status.json lists all 42" 42 "$(python3 -c '
import json, sys
print(len(json.load(open(sys.argv[1]))["nodes"]))' "$T/site/status.json")"

# ---- real workers stopped while idle say so (since 0.14.10)
# Up to 0.14.9 only a budget grid's worker wrote "stopped_at", and only in a
# push that reported: one stopped while idle - the common case: a volunteer's
# Ctrl-C, a container scaled down - left a registration that counted as a
# live node for good. On a lease grid without a budget, on a budget grid (in
# its own slot) and on a heartbeat grid, a worker that ran a task and then
# idled is stopped with SIGTERM: its registration says stopped_at, in a
# push of its own ("NODE: stopped"), and status calls it stopped. A worker
# that never claimed on the budget grid has no registration (there it
# registers with its first claim), and stops without a push.
stop_grid() {   # NAME POLICY
	make_bare "$T/srv/$1.git"
	clone_work "$T/srv/$1.git" "$T/w-$1"
	printf '%s\n' "$2" >"$T/w-$1/dgrid.json"
	commit_push "$T/w-$1" "policy"
}
stop_grid lease '{"protocol": 3}'
# 80 registered nodes there: the idle share PULL_INTERVAL, so the worker's
# next look is ~20 s away when it is stopped, longer than its stop mark may wait
mkdir -p "$T/w-lease/nodes"
for i in $(seq -w 1 80); do reg_at "$T/w-lease/nodes" "peer$i" "$now"; done
commit_push "$T/w-lease" "80 peers"
stop_grid budget '{"protocol": 3, "push_budget": 60}'
stop_grid beats '{}'
for g in lease budget beats; do
	GURL=git://127.0.0.1:$GIT_DAEMON_PORT/$g.git
	DGRID_CACHE=$T/cache-$g PULL_INTERVAL=1 "$DGRID" worker --repo "$GURL" --node-id "s-$g" --slots 1 \
		--executor process --http off >"$T/s-$g.log" 2>&1 &
	eval "pid_$g=$!"
	track $!
	"$DGRID" submit --repo "$GURL" --id "job-$g" --script true >/dev/null 2>&1
done
for g in lease budget beats; do
	check "$g: the worker ran its task" wait_for 60 bash -c \
		"git -C '$T/srv/$g.git' ls-tree -r --name-only main tasks/completed | grep -q 'job-$g'"
done
# a newcomer that never claims on the budget grid (the queue is empty by then)
DGRID_CACHE=$T/cache-quiet PULL_INTERVAL=1 "$DGRID" worker --repo "git://127.0.0.1:$GIT_DAEMON_PORT/budget.git" \
	--node-id s-quiet --executor process --http off >"$T/s-quiet.log" 2>&1 &
pid_quiet=$!
track $!
check "the quiet newcomer started" wait_for 30 grep -q 'event=started' "$T/s-quiet.log"
sleep 3
budget_commits=$(git -C "$T/srv/budget.git" rev-list --count main)
for g in lease budget beats quiet; do
	eval "kill -TERM \$pid_$g"
done
for g in lease budget beats quiet; do
	eval "wait \$pid_$g"
	check_eq "$g: the worker exits 0" 0 $?
done
for g in lease budget beats; do
	check "$g: its registration says it stopped" bash -c \
		"git -C '$T/srv/$g.git' show main:nodes/s-$g.json | grep -q '\"stopped_at\"'"
	check "$g: in a push of its own" bash -c \
		"git -C '$T/srv/$g.git' log -1 --format=%s main -- nodes/s-$g.json | grep -qx 's-$g: stopped'"
	check "$g: status calls it stopped" bash -c \
		"'$DGRID' status --repo 'git://127.0.0.1:$GIT_DAEMON_PORT/$g.git' | grep -Eq '^  s-$g +stopped '"
done
check "the quiet newcomer has no registration" bash -c "! git -C '$T/srv/budget.git' cat-file -e main:nodes/s-quiet.json"
check_eq "and pushed nothing: the budget grid's main grew by s-budget's stop alone" "$((budget_commits + 1))" \
	"$(git -C "$T/srv/budget.git" rev-list --count main)"

# ---- --exit-when-idle workers say so too (since 0.14.11)
# A batch of workers with fresh ids (CI runners, containers) that exit when
# the grid is drained left a registration each that never said it stopped:
# on a grid without a push budget nothing goes dormant, so each counted as
# a live node for good. Now an idle exit writes stopped_at first, in a push
# of its own. On a budget grid the worker leaves at once (the mark would
# wait for its slot; the registration goes dormant in slot_keep_seconds).
stop_grid idle-lease '{"protocol": 3}'
stop_grid idle-beats '{}'
stop_grid idle-budget '{"protocol": 3, "push_budget": 60}'
for g in idle-lease idle-beats idle-budget; do
	GURL=git://127.0.0.1:$GIT_DAEMON_PORT/$g.git
	"$DGRID" submit --repo "$GURL" --id "job-$g" --script true >/dev/null 2>&1
	DGRID_CACHE=$T/cache-$g PULL_INTERVAL=1 timeout 120 "$DGRID" worker --repo "$GURL" --node-id "x-$g" \
		--slots 1 --executor process --http off --exit-when-idle >"$T/x-$g.log" 2>&1
	check_eq "$g: the --exit-when-idle worker exits 0 by itself" 0 $?
	check "$g: it ran its task" bash -c \
		"git -C '$T/srv/$g.git' ls-tree -r --name-only main tasks/completed | grep -q 'job-$g'"
	check "$g: it logged its idle exit" grep -q 'event=idle-exit' "$T/x-$g.log"
done
for g in idle-lease idle-beats; do
	check "$g: its registration says it stopped" bash -c \
		"git -C '$T/srv/$g.git' show main:nodes/x-$g.json | grep -q '\"stopped_at\"'"
	check "$g: in a push of its own" bash -c \
		"git -C '$T/srv/$g.git' log -1 --format=%s main -- nodes/x-$g.json | grep -qx 'x-$g: stopped'"
	check "$g: status calls it stopped" bash -c \
		"'$DGRID' status --repo 'git://127.0.0.1:$GIT_DAEMON_PORT/$g.git' | grep -Eq '^  x-$g +stopped '"
done
check "idle-budget: the last push on main is the worker's report, not a stop" bash -c \
	"git -C '$T/srv/idle-budget.git' log -1 --format=%s main | grep -vq ': stopped\$'"

finish
