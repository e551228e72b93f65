#!/usr/bin/env bash
# t0392: the previous release, 0.3.0 (protocol 2: leases, flat layout), built
# from its Git tag, and this dgrid on one grid that already holds 300 flat
# results, before, during and after `dgrid upgrade` to protocol 3 (shards),
# with a plain-git submitter adding flat tasks/queue/ID.json all along.
# Before: both drain the queue, this dgrid writing the flat layout 0.3.0
# reads. During: the upgrade refuses while 0.3.0 holds a claim, then
# migrates while both run and the submitter submits; the running 0.3.0
# stops by itself. After: 0.3.0 refuses the grid at start with the
# documented message and writes nothing. Every task ran
# exactly once and has one result; every old result is in its shard, byte
# for byte; no flat file is left.
. "$(dirname "$0")/lib.sh"

PREV=v0.3.0
OLD=$(build_release $PREV)
if [ -z "$OLD" ]; then
	skip "no tag $PREV in this clone (a shallow clone?): the previous release cannot be built"
	finish
	exit 0
fi
check "the previous release $PREV builds from its tag" test -x "$OLD"
check "it is version 0.3.0" bash -c "'$OLD' version | grep -q '0\.3\.0'"

OLD_RESULTS=300
mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
: >"$T/runs"
python3 "$DGRID_SRC/tests/tools/flat_grid.py" $OLD_RESULTS |
	git -C "$BARE" fast-import --quiet --done
git -C "$BARE" ls-tree -r main tasks/completed tasks/failed |
	awk '{ n = $4; sub(".*/", "", n); print n, $3 }' | sort >"$T/old-blobs"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
clone_work "$BARE" "$T/work"
printf '{"lease_margin": 5, "protocol": 2}\n' >"$T/work/dgrid.json"
commit_push "$T/work" "policy: protocol 2"

submit() {   # submit ID...: plain git, one commit, retried on a race; each sleeps $TASK_SLEEP (0.5) s
	local id
	git -C "$T/work" pull -q --rebase origin main
	mkdir -p "$T/work/tasks/queue"
	for id in "$@"; do
		printf '{"task_id": "%s", "script": "echo %s >>%s; sleep %s", "timeout_seconds": 60}\n' \
			"$id" "$id" "$T/runs" "${TASK_SLEEP:-0.5}" >"$T/work/tasks/queue/$id.json"
	done
	git -C "$T/work" add -A && git -C "$T/work" commit -qm "tasks $*"
	until git -C "$T/work" push -q origin HEAD:main 2>/dev/null; do
		git -C "$T/work" pull -q --rebase origin main 2>/dev/null || sleep 0.2
	done
}
start() {    # start NAME BINARY
	DGRID_CACHE=$T/cache-$1 PULL_INTERVAL=1 "$2" worker --repo "$URL" --node-id "$1" \
		--executor process --http off >>"$T/$1.log" 2>&1 &
	PID=$!
	track $PID
}
results_of() {   # results of a task id on main, in any layout
	git -C "$BARE" ls-tree -r --name-only main tasks/completed tasks/failed |
		grep -Ec "(^|/)$1\.[^/]*$" || true
}
ended() {        # ended ID...: every one has a result
	local id
	for id in "$@"; do [ "$(results_of "$id")" -ge 1 ] || return 1; done
}

# before: 0.3.0 alone, then both, on protocol 2
start old "$OLD"; OLDPID=$PID
submit a1 a2 a3 a4
check "protocol 2: the previous release runs tasks" wait_for 60 ended a1 a2 a3 a4
TASK_SLEEP=15 submit hold
check "it claims a long task (flat, as protocol 2 has it)" wait_for 30 bash -c \
	"git -C '$BARE' show main:tasks/in_progress/hold.json 2>/dev/null | grep -q '\"node_id\": \"old\"'"
start n1 "$DGRID"; N1=$PID
submit a5 a6 a7 a8 a9 a10
check "protocol 2: the previous release and this dgrid drain the queue together" \
	wait_for 60 ended a5 a6 a7 a8 a9 a10
check_eq "on protocol 2 this dgrid writes flat results, as 0.3.0 reads them" 0 \
	"$(git -C "$BARE" ls-tree -r --name-only main tasks/completed tasks/failed | grep -Ec '^tasks/[a-z]+/.*/')"

# during: the upgrade waits for the old node's claim; a plain-git submitter goes on all along
DGRID_CACHE=$T/cache-u "$DGRID" upgrade --repo "$URL" >"$T/up1.out" 2>&1
check_eq "upgrade refuses while a node of protocol 2 holds a claim" 1 $?
check "and names it" grep -q 'node old (dgrid 0.3.0, protocol 2) holds a claim' "$T/up1.out"
check "the grid stays at protocol 2" bash -c "git -C '$BARE' show main:dgrid.json | grep -q '\"protocol\": 2'"
check "the old node finishes its task" wait_for 60 ended hold
submitter() {
	local i
	for i in $(seq 1 30); do
		submit "b$i"
		sleep 0.5
	done
	echo done >"$T/submitter.done"
}
submitter >"$T/submitter.log" 2>&1 &
track $!
sleep 2
# an idle protocol 2 node pushes nothing, so nothing says it is there: it
# cannot be cut off (it holds nothing) and stops at its next transaction
# the old node keeps claiming the submitter's short tasks: the upgrade
# refuses while it holds one, and succeeds at a moment it holds none
upgrade_once() { DGRID_CACHE=$T/cache-u "$DGRID" upgrade --repo "$URL" >"$T/up2.out" 2>"$T/up2.err"; }
check "with no claim held, the upgrade succeeds while both run and tasks arrive" wait_for 90 upgrade_once ||
	cat "$T/up2.err"
check "it says so" grep -q 'upgraded the grid from protocol 2 to 3' "$T/up2.out"
check "and moved the flat files into shards" grep -q 'flat files into shards' "$T/up2.out"
old_gone() { ! kill -0 "$OLDPID" 2>/dev/null; }
wait_for 60 old_gone || kill "$OLDPID"   # never hang on a release that did not stop
wait $OLDPID
check_eq "the running previous release stops (status 1)" 1 $?
check "saying why, in the documented words" grep -q \
	'the grid requires protocol 3 .* but dgrid 0.3.0 speaks protocol 2: upgrade dgrid on this node' "$T/old.log"

# after: 0.3.0 refuses at start and writes nothing (n1 is idle by now: nothing else moves)
check "the submitter finished" wait_for 120 test -e "$T/submitter.done"
check "its tasks end" wait_for 120 ended $(seq -f 'b%g' 1 30)
before=$(git -C "$BARE" for-each-ref --format='%(refname) %(objectname)')
DGRID_CACHE=$T/cache-old PULL_INTERVAL=1 timeout 60 "$OLD" worker --repo "$URL" --node-id old \
	--executor process --http off >"$T/old2.log" 2>&1
check_eq "the previous release now refuses the grid (status 1)" 1 $?
check "with the documented message" grep -q \
	'the grid requires protocol 3 .* but dgrid 0.3.0 speaks protocol 2: upgrade dgrid on this node' "$T/old2.log"
after=$(git -C "$BARE" for-each-ref --format='%(refname) %(objectname)')
check_eq "and writes nothing" "$before" "$after"
submit c1 c2 c3 c4

ids="$(seq -f 'a%g' 1 10) hold $(seq -f 'b%g' 1 30) c1 c2 c3 c4"
# shellcheck disable=SC2086
check "every task ends" wait_for 180 ended $ids
bad=""
for id in $ids; do
	r="$(grep -cx "$id" "$T/runs") $(results_of "$id")"
	[ "$r" = "1 1" ] || bad="$bad $id:($r)"
done
check_eq "every task ran exactly once and has one result" "" "$bad"
check_eq "no flat file is left in the queue or among the results" 0 \
	"$(git -C "$BARE" ls-tree --name-only main tasks/queue/ tasks/completed/ tasks/failed/ | grep -c '\.json$' || true)"
git -C "$BARE" ls-tree -r main tasks/completed tasks/failed |
	awk '{ n = $4; sub(".*/", "", n); print n, $3 }' | sort >"$T/new-blobs"
check_eq "every old result is still there, byte for byte" "" \
	"$(comm -23 "$T/old-blobs" "$T/new-blobs" | head -3)"
check_eq "every result is in a shard" "" "$(git -C "$BARE" ls-tree -r --name-only main tasks/completed tasks/failed |
	grep -Ev '^tasks/(completed|failed)/[0-9a-f]/[0-9a-f]/[0-9a-f]/[^/]+$' | head -3)"
check_eq "this dgrid logged no error" "" "$(grep -h ' error ' "$T/n1.log" | head -3)"
finish
