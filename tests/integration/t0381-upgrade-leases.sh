#!/usr/bin/env bash
# t0381: the previous release (built from its Git tag) and this dgrid on one
# grid, before, during and after `dgrid upgrade` to protocol 3 (leases
# since protocol 2, shards since 3).
# Before: both work side by side (this dgrid heartbeats, as protocol 1
# needs). The upgrade refuses while the old worker is alive. After: the old
# release refuses the grid and writes nothing; idle workers of this dgrid
# push nothing at all (a pre-receive hook counts every push); a worker that
# dies holding a task loses it when its lease lapses, to a worker that saw
# the claim itself; every task ran once, except the dead worker's.
. "$(dirname "$0")/lib.sh"

PREV=v0.2.0
OLD=$(build_release $PREV)
if [ -z "$OLD" ]; then
	skip "no tag $PREV in this clone (a shallow clone?): the previous release cannot be built"
	finish
	exit 0
fi
check "the previous release $PREV builds from its tag" test -x "$OLD"
check "it is version 0.2.0" bash -c "'$OLD' version | grep -q '0\.2\.0'"

mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
cat >"$BARE/hooks/pre-receive" <<EOF
#!/bin/sh
while read old new ref; do echo "\$(date +%s) \$ref" >>"$T/pushes"; done
EOF
chmod +x "$BARE/hooks/pre-receive"
: >"$T/pushes"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
clone_work "$BARE" "$T/work"
: >"$T/runs"

submit() {   # submit ID SCRIPT TIMEOUT: plain git, as any user would
	git -C "$T/work" pull -q --rebase origin main
	mkdir -p "$T/work/tasks/queue"
	printf '{"task_id": "%s", "script": "echo %s >>%s; %s", "timeout_seconds": %s}\n' \
		"$1" "$1" "$T/runs" "$2" "$3" >"$T/work/tasks/queue/$1.json"
	commit_push "$T/work" "task $1"
}
runs_of() { grep -cx "$1" "$T/runs"; }
completed() { git -C "$BARE" ls-tree -r --name-only main tasks/completed | grep -Ec "(^|/)$1\.[^/]*$" ; }
start() {    # start NAME BINARY LOG
	DGRID_CACHE=$T/cache-$1 PULL_INTERVAL=1 "$2" worker --repo "$URL" --node-id "$1" \
		--executor process --http off >"$3" 2>&1 &
	PID=$!
	track $PID
}

# lease_margin is unknown to 0.2.0, which skips it
printf '{"lease_margin": 5}\n' >"$T/work/dgrid.json"
commit_push "$T/work" "policy"
for i in 1 2 3 4 5 6; do submit "a$i" "sleep 1" 20; done
start old "$OLD" "$T/old.log"; OLDPID=$PID
start n1 "$DGRID" "$T/n1.log"; N1=$PID
check "protocol 1: old and new drain the queue together" wait_for 90 bash -c \
	"[ \$(git -C '$BARE' ls-tree -r --name-only main tasks/completed | wc -l) -eq 6 ]"
check "on protocol 1 this dgrid still heartbeats (old reapers need it)" \
	bash -c "git -C '$BARE' rev-parse -q --verify refs/dgrid/nodes/n1 >/dev/null"
check "the old release skipped the key it does not know" grep -q 'policy-keys-ignored.*lease_margin' "$T/old.log"

DGRID_CACHE=$T/cache-u "$DGRID" upgrade --repo "$URL" >"$T/up1.out" 2>&1
check_eq "upgrade refuses while a node of protocol 1 is alive" 1 $?
check "and names it" grep -q 'node old (dgrid 0.2.0, protocol 1) is alive' "$T/up1.out"
check "dgrid.json is unchanged" bash -c "! git -C '$BARE' show main:dgrid.json | grep -q protocol"

kill -TERM $OLDPID; wait $OLDPID
check "the old worker stopped (a goodbye heartbeat)" bash -c \
	"git -C '$BARE' show refs/dgrid/nodes/old:heartbeat.json | grep -q '\"stopped\"'"
DGRID_CACHE=$T/cache-u "$DGRID" upgrade --repo "$URL" >"$T/up2.out" 2>&1
check_eq "with it stopped, the upgrade succeeds" 0 $?
check "it says so" grep -q 'upgraded the grid from protocol 1 to 3' "$T/up2.out"
check "and moved the six flat results into their shards" grep -q 'moved 6 flat files into shards' "$T/up2.out"
check_eq "none is left flat" 0 "$(git -C "$BARE" ls-tree main:tasks/completed | grep -c '	[^.]*\.json$')"
check "dgrid.json: protocol 3, the other keys kept" bash -c \
	"git -C '$BARE' show main:dgrid.json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d == {\"lease_margin\": 5, \"protocol\": 3}, d'"
DGRID_CACHE=$T/cache-u "$DGRID" upgrade --repo "$URL" >"$T/up3.out" 2>&1
check "a second upgrade has nothing to do" grep -q 'at protocol 3 already' "$T/up3.out"

before=$(git -C "$BARE" for-each-ref --format='%(refname) %(objectname)')
DGRID_CACHE=$T/cache-old PULL_INTERVAL=1 "$OLD" worker --repo "$URL" --node-id old \
	--executor process --http off >"$T/old2.log" 2>&1
check_eq "the old release now refuses the grid (status 1)" 1 $?
check "with the documented message" grep -q 'the grid requires protocol 3 .* but dgrid 0.2.0 speaks protocol 1: upgrade dgrid on this node' "$T/old2.log"
check_eq "and writes nothing" "$before" "$(git -C "$BARE" for-each-ref --format='%(refname) %(objectname)')"

start n2 "$DGRID" "$T/n2.log"; N2=$PID
check "n2 started" wait_for 30 grep -q 'event=started' "$T/n2.log"
sleep 3
p0=$(wc -l <"$T/pushes")
sleep 40
p1=$(wc -l <"$T/pushes")
check_eq "two idle workers on protocol 3 push nothing in 40 s" 0 $((p1 - p0))
check "both are still running" kill -0 $N1 $N2

# a worker dies holding a task: its lease (12 s + 5 s) lapses
submit slow "sleep 8" 12
claim=tasks/in_progress/$(shard slow 2)/slow.json
check "slow is claimed, in its shard" wait_for 30 bash -c "git -C '$BARE' cat-file -e main:$claim 2>/dev/null"
owner=$(git -C "$BARE" show main:$claim | python3 -c 'import json,sys; print(json.load(sys.stdin)["node_id"])')
# 12 s + 5 s, more if the claimer just lost a race (a crowded grid's lease)
lease=$(git -C "$BARE" show main:$claim | python3 -c 'import json,sys; print(json.load(sys.stdin).get("lease_seconds", 0))')
check "the claim carries its lease (timeout + lease_margin = 17, or more when contended: $lease)" \
	test "$lease" -ge 17 -a "$lease" -le 617
if [ "$owner" = n1 ]; then dead=$N1; survivor=n2; else dead=$N2; survivor=n1; fi
check "slow started on $owner" wait_for 20 grep -q 'task=slow event=started' "$T/$owner.log"
kill -KILL $dead
check "$survivor reaps it when the lease lapses" wait_for 120 grep -q 'task=slow event=reaped owner='"$owner"' attempt=1 reason="its lease lapsed"' "$T/$survivor.log"
check "and runs it to the end" wait_for 60 bash -c "[ \$(git -C '$BARE' ls-tree -r --name-only main tasks/completed | grep -c '^tasks/completed/$(shard slow 3)/slow\.$survivor\.2\.json') -eq 1 ]"

for i in 1 2 3 4 5 6; do
	check_eq "a$i ran once and has one result" "1 1" "$(runs_of "a$i") $(completed "a$i")"
done
check_eq "slow has one result" 1 "$(completed slow)"
DGRID_CACHE=$T/cache-s "$DGRID" status --repo "$URL" --json >"$T/status.json"
check "status shows the survivor's last activity" python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
n = [n for n in s["nodes"] if n["node_id"] == sys.argv[2]][0]
assert s["protocol"] == 3 and n["last_activity"], n
' "$T/status.json" "$survivor"
finish
