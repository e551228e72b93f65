#!/usr/bin/env bash
# The transaction layer under contention: 8 processes, each adding one file
# per transaction to the same branch, against a git daemon (15 transactions
# each), git http-backend behind lighttpd with basic auth (15 each) and a
# local path (50 each). Afterwards the branch must hold all 120 (400) files,
# each added by exactly one commit.
. "$(dirname "$0")/lib.sh"

WRITER=$DGRID_SRC/${BUILD:-build}/tests/tools/txn_writer
WRITERS=8
# Transactions per writer. Commits on a remote land one at a time, each
# after a fetch and a push, so a remote phase takes time (and CPU: 66 s at
# 25, 126 s at 50 for the daemon) in proportion; at 50 they were nearly all
# of this test, and at 25 it was still the second longest of make test
# (184 s beside the others). 15 keep all 8 writers racing from start to
# end, the same race over again: about one lost race per transaction, every
# lost one retried on a fresh tip. The local path stays at 50: it takes a
# second. (A cache's compaction over many fetches is t0120's subject; the
# chaos and soak targets race longer.)
PER=15
PER_LOCAL=50
TOKEN=tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')

# verify NAME BARE PER: all files there, one commit each, nothing twice
verify() {
	local name=$1 bare=$2 per=$3 files commits dups
	files=$(git -C "$bare" ls-tree -r --name-only main -- data | wc -l)
	check_eq "$name: branch holds all $((WRITERS * per)) files" $((WRITERS * per)) "$files"
	commits=$(git -C "$bare" rev-list --count main)
	check_eq "$name: one commit per transaction" $((WRITERS * per)) "$commits"
	dups=$(git -C "$bare" log --format=%s main | sort | uniq -d | wc -l)
	check_eq "$name: no transaction committed twice" 0 "$dups"
	check "$name: repository is consistent (git fsck)" git -C "$bare" fsck --no-dangling --no-progress
}

# run_writers NAME URL PER: the 8 writers in parallel, each with its own cache
run_writers() {
	local name=$1 url=$2 per=$3 i pids=() bad=0
	for i in $(seq $WRITERS); do
		"$WRITER" "$url" "w$i" "$per" "$T/cache-$name-$i" >"$T/$name-$i.out" 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
	check_eq "$name: every writer finished" 0 "$bad"
	cat "$T/$name"-*.out | sed 's/^/# /'
	grep -q 'rejected=[1-9]' "$T/$name"-*.out && ok "$name: writers did race (some pushes were refused and retried)" ||
		note "$name: no push was refused in this run"
}

mkdir -p "$T/srv"

make_bare "$T/srv/daemon.git"
start_git_daemon "$T/srv"
run_writers daemon "git://127.0.0.1:$GIT_DAEMON_PORT/daemon.git" $PER
verify daemon "$T/srv/daemon.git" $PER

make_bare "$T/srv/http.git"
git -C "$T/srv/http.git" config http.receivepack true
start_http_git "$T/srv" x-access-token "$TOKEN"
GIT_TOKEN=$TOKEN run_writers http "http://127.0.0.1:$HTTP_GIT_PORT/git/http.git" $PER
verify http "$T/srv/http.git" $PER
if grep -q "$TOKEN" "$T"/http-*.out "$T/lighttpd-error.log" 2>/dev/null; then
	fail "http: the token appears in output"
else
	ok "http: the token appears in no output"
fi
if grep -rqs "$TOKEN" "$T"/cache-http-*/config; then
	fail "http: the token was written into a cache's config"
else
	ok "http: the token is in no cache config"
fi

make_bare "$T/srv/local.git"
run_writers local "$T/srv/local.git" $PER_LOCAL
verify local "$T/srv/local.git" $PER_LOCAL

# A wrong token fails fast, with a clear message, and is never printed.
start=$(date +%s)
GIT_TOKEN=wrong-$TOKEN "$WRITER" "http://127.0.0.1:$HTTP_GIT_PORT/git/http.git" bad 1 "$T/cache-bad" >"$T/bad.out" 2>&1
rc=$?
elapsed=$(( $(date +%s) - start ))
check "wrong token: fails (exit $rc)" test "$rc" -ne 0
check "wrong token: fails fast (${elapsed}s)" test "$elapsed" -lt 10
check "wrong token: message says authentication failed" grep -q 'authentication failed' "$T/bad.out"
if grep -q "wrong-$TOKEN" "$T/bad.out"; then fail "wrong token: token printed"; else ok "wrong token: token not printed"; fi
note "$(cat "$T/bad.out")"

# No token at all against a server that requires one.
"$WRITER" "http://127.0.0.1:$HTTP_GIT_PORT/git/http.git" none 1 "$T/cache-none" >"$T/none.out" 2>&1
check "no token: fails with a message naming GIT_TOKEN" grep -q 'GIT_TOKEN' "$T/none.out"

finish
