#!/usr/bin/env bash
# t0380: version skew. A dgrid.json key this version does not know is
# skipped (it used to make the whole policy invalid, so an older worker ran
# with the default limits); a grid whose "protocol" is newer than this
# dgrid's gets nothing written by it: no claim, result, reap, registration
# or goodbye heartbeat. A running worker stops when the grid moves on, and
# status and the dashboard name the nodes that need an upgrade.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/srv"
make_bare "$T/srv/grid.git"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
BARE=$T/srv/grid.git
clone_work "$BARE" "$T/work"
mkdir -p "$T/work/tasks/queue"
# fan_out is a key of a later version; timeout_max 600 must still apply
printf '{"fan_out": 6, "timeout_max": 600}\n' >"$T/work/dgrid.json"
printf '{"task_id": "t1", "script": "echo one", "timeout_seconds": 400}\n' >"$T/work/tasks/queue/t1.json"
commit_push "$T/work" "policy with a newer key, task t1"

all_refs() { git -C "$BARE" for-each-ref --format='%(refname) %(objectname)'; }
worker() {
	DGRID_CACHE=$T/cache-$1 PULL_INTERVAL=1 "$DGRID" worker --repo "$URL" --node-id "$1" \
		--executor process --http off
}

worker a >"$T/a.log" 2>&1 &
A=$!
track $A
check "an unknown policy key is logged once, by name" \
	wait_for 30 grep -q 'event=policy-keys-ignored count=1 first="fan_out"' "$T/a.log"
check "the rest of the policy applies: t1 (timeout 400 > the default 300) completes" \
	wait_for 60 bash -c "git -C '$BARE' ls-tree -r --name-only main tasks/completed | grep -q '^tasks/completed/t1\.a\.1\.json$'"
check_eq "the unknown key is logged once, not at every step" 1 "$(grep -c 'event=policy-keys-ignored' "$T/a.log")"

# a long task runs when the grid moves to protocol 2
git -C "$T/work" pull -q --rebase origin main
mkdir -p "$T/work/tasks/queue"
printf '{"task_id": "t2", "script": "sleep 15", "timeout_seconds": 120}\n' >"$T/work/tasks/queue/t2.json"
commit_push "$T/work" "task t2"
check "t2 started" wait_for 30 grep -q 'task=t2 event=started' "$T/a.log"
git -C "$T/work" pull -q --rebase origin main
printf '{"fan_out": 6, "timeout_max": 600, "protocol": 4}\n' >"$T/work/dgrid.json"
commit_push "$T/work" "protocol 4"
bumped=$(git -C "$BARE" rev-parse main)

check "the running worker refuses the newer grid" wait_for 30 bash -c "! kill -0 $A 2>/dev/null"
wait $A
check_eq "it exits with status 1" 1 $?
check "its log says what the grid needs" \
	grep -q 'event=protocol-refused protocol=3 grid_protocol=4 .*the grid requires protocol 4' "$T/a.log"
check "its last words name the upgrade" grep -q 'upgrade dgrid on this node' "$T/a.log"
check_eq "it wrote nothing to main after the bump" "$bumped" "$(git -C "$BARE" rev-parse main)"
check "no goodbye heartbeat either" bash -c \
	"! git -C '$BARE' show refs/dgrid/nodes/a:heartbeat.json | grep -q '\"stopped\"'"
check "t2 is still a's claim (not reported, not handed back)" \
	bash -c "git -C '$BARE' show main:tasks/in_progress/t2.json | grep -q '\"node_id\": *\"a\"'"

before=$(all_refs)
worker b >"$T/b.log" 2>&1
check_eq "a new worker on the newer grid exits with status 1" 1 $?
check "it says why" grep -q 'the grid requires protocol 4 .*speaks protocol 3' "$T/b.log"
DGRID_CACHE=$T/cache-r "$DGRID" reap --repo "$URL" >"$T/reap.out" 2>&1
check_eq "dgrid reap refuses too (status 1)" 1 $?
check "reap says why" grep -q 'the grid requires protocol 4' "$T/reap.out"
check_eq "neither wrote anything: no registration, heartbeat or reap" "$before" "$(all_refs)"

DGRID_CACHE=$T/cache-s "$DGRID" status --repo "$URL" >"$T/status.out" 2>&1
check "status says the grid is newer than this dgrid" grep -q '^protocol   4: NEWER than this dgrid' "$T/status.out"
check "status names the node that needs an upgrade" \
	grep -q '^  a .*dgrid [0-9.]* (NEEDS UPGRADE: speaks protocol 3, the grid needs 4)' "$T/status.out"
DGRID_CACHE=$T/cache-s "$DGRID" status --repo "$URL" --json >"$T/status.json"
check "status --json: the grid's protocol and the node's" python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
a = [n for n in s["nodes"] if n["node_id"] == "a"][0]
assert s["protocol"] == 4 and a["protocol"] == 3 and a["needs_upgrade"] is True, (s["protocol"], a)
' "$T/status.json"
DGRID_CACHE=$T/cache-s "$DGRID" dashboard --repo "$URL" --out "$T/site" >/dev/null 2>&1
check "the dashboard marks the node" grep -q 'needs upgrade: protocol 3, the grid needs 4' "$T/site/index.html"

# back on protocol 1 (as if this dgrid had been upgraded): nothing was lost
git -C "$T/work" pull -q --rebase origin main
printf '{"timeout_max": 600, "protocol": 1}\n' >"$T/work/dgrid.json"
commit_push "$T/work" "protocol 1 again"
DGRID_CACHE=$T/cache-a PULL_INTERVAL=1 "$DGRID" worker --repo "$URL" --node-id a \
	--executor process --http off --exit-when-idle >"$T/a2.log" 2>&1 &
A2=$!
track $A2
check "the restarted worker takes its claim back and finishes t2" wait_for 120 bash -c \
	"git -C '$BARE' ls-tree -r --name-only main tasks/completed | grep -q '^tasks/completed/t2\.a\.'"
check_eq "t2 has one result" 1 "$(git -C "$BARE" ls-tree -r --name-only main tasks | grep -c '/t2\.')"
kill -TERM $A2 2>/dev/null
wait $A2
finish
