#!/usr/bin/env bash
# t0121: repository content is untrusted, so every read is bounded before it
# is loaded. A 64 MiB blob behind a heartbeat ref (refs/dgrid/nodes/x), as a
# file in tasks/in_progress/ and as dgrid.json: `dgrid status` and `dgrid
# reap` either succeed or fail naming the file, and their peak memory stays
# far below the blob's size (before the fix they loaded it whole).
. "$(dirname "$0")/lib.sh"

BIG_MB=64

mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
# `dgrid reap` watches a claim for node_timeout + 5 s before it ends an
# unreadable one (reap-inprog below rejects big.json that way): the
# smallest node_timeout the policy allows makes that wait 7 s instead of
# the default policy's 95 s; what is read, and how, is the same.
echo '{"heartbeat_interval": 1, "node_timeout": 2}' >"$T/policy.json"
"$DGRID" init --policy "$T/policy.json" "$BARE" >"$T/init.out" 2>&1 || { cat "$T/init.out"; fail "init"; finish; exit 1; }
# the peak of a small grid (~11 MB; more under ASan) plus half the blob
/usr/bin/time -f 'maxrss_kb=%M' -o "$T/base.time" "$DGRID" status --repo "$BARE" >/dev/null 2>&1
BASE_KB=$(sed -n 's/^maxrss_kb=//p' "$T/base.time")
LIMIT_KB=$((BASE_KB + (BIG_MB << 10) / 2))
note "status of a small grid peaks at $BASE_KB kB; allowed with the big blob: $LIMIT_KB kB"
head -c $((BIG_MB << 20)) /dev/urandom >"$T/big"
BLOB=$(git -C "$BARE" hash-object -w "$T/big")
rm -f "$T/big"

# side_ref NAME: refs/dgrid/NAME -> a commit holding heartbeat.json = the big blob
side_ref() {
	local tree commit
	tree=$(printf '100644 blob %s\theartbeat.json\n' "$BLOB" | git -C "$BARE" mktree)
	commit=$(git -C "$BARE" -c user.name=t -c user.email=t@l commit-tree -m "$1" "$tree")
	git -C "$BARE" update-ref "refs/dgrid/$1" "$commit"
}

# main_file PATH: a commit on main that makes PATH the big blob
main_file() {
	local idx=$T/index
	rm -f "$idx"
	GIT_INDEX_FILE=$idx git -C "$BARE" read-tree main
	GIT_INDEX_FILE=$idx git -C "$BARE" update-index --add --cacheinfo "100644,$BLOB,$1"
	local tree commit
	tree=$(GIT_INDEX_FILE=$idx git -C "$BARE" write-tree)
	commit=$(git -C "$BARE" -c user.name=t -c user.email=t@l commit-tree -p main -m "big $1" "$tree")
	git -C "$BARE" update-ref refs/heads/main "$commit"
}

# run NAME CMD...: runs dgrid with /usr/bin/time; sets RC and RSS_KB
run() {
	local name=$1; shift
	/usr/bin/time -f 'maxrss_kb=%M' -o "$T/$name.time" "$DGRID" "$@" >"$T/$name.out" 2>&1
	RC=$?
	RSS_KB=$(sed -n 's/^maxrss_kb=//p' "$T/$name.time")
	note "$name: exit $RC, max RSS ${RSS_KB} kB: $(head -c 300 "$T/$name.out" | tr '\n' ' ')"
}

# bounded NAME PATTERN: succeeded, or failed with a message naming the file
bounded() {
	check "$1: peak memory ${RSS_KB} kB below $LIMIT_KB kB (blob $BIG_MB MiB)" test "${RSS_KB:-999999999}" -lt "$LIMIT_KB"
	if [ "$RC" -eq 0 ]; then
		ok "$1: succeeded"
	else
		check "$1: failed naming '$2' and its size" grep -q "$2.*67,108,864 bytes" "$T/$1.out"
	fi
}

side_ref nodes/x
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"

run status-side status --repo "$BARE"
bounded status-side "nodes/x"
check_eq "status-side: a big heartbeat does not make status fail" 0 "$RC"
check "status-side: the skipped heartbeat is reported with its size" \
	grep -q 'nodes/x.*67,108,864 bytes, limit 65,536' "$T/status-side.out"
# The first run over git:// fetches the blob: libgit2's indexer maps the
# pack it writes, so that run's peak is the fetch's, not a read's (the Git
# protocol of libgit2 1.5 has no blob size filter). Later runs read the cache.
DGRID_CACHE=$T/cache run status-side-fetch status --repo "$URL"
check_eq "status-side-fetch: succeeds over git://" 0 "$RC"
DGRID_CACHE=$T/cache run status-side-remote status --repo "$URL"
bounded status-side-remote "nodes/x"
run reap-side reap --repo "$BARE"
bounded reap-side "nodes/x"
check_eq "reap-side: a big heartbeat does not make reap fail" 0 "$RC"

main_file tasks/in_progress/big.json
run status-inprog status --repo "$BARE"
bounded status-inprog "tasks/in_progress/big.json"
run reap-inprog reap --repo "$BARE"
bounded reap-inprog "tasks/in_progress/big.json"

main_file dgrid.json
run status-policy status --repo "$BARE"
bounded status-policy "dgrid.json"
run reap-policy reap --repo "$BARE"
bounded reap-policy "dgrid.json"
DGRID_CACHE=$T/cache run status-policy-fetch status --repo "$URL"
DGRID_CACHE=$T/cache run status-policy-remote status --repo "$URL"
bounded status-policy-remote "dgrid.json"
finish
