#!/usr/bin/env bash
# t0120: a long-running store keeps its cache compact and its descriptors
# bounded. Against a git daemon, a peer pushes a commit before each of 200
# fetches (so every fetch brings a pack), and every fourth round the fetching
# store commits too (loose objects). Afterwards its cache holds a bounded
# number of packs and loose objects, the process never had many descriptors
# open, and the cache still holds the whole, consistent branch.
. "$(dirname "$0")/lib.sh"

CHURN=$DGRID_SRC/${BUILD:-build}/tests/tools/store_churn
ROUNDS=${T0120_ROUNDS:-80}   # 17+ forces repacks; 80 keeps make test short, 200+ for a longer look
mkdir -p "$T/srv"
make_bare "$T/srv/grid.git"
"$DGRID" init "$T/srv/grid.git" >/dev/null 2>&1
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"

"$CHURN" "$URL" $ROUNDS "$T/cache" "$T/peer" >"$T/churn.out" 2>&1
rc=$?
note "$(cat "$T/churn.out")"
check_eq "$ROUNDS fetches with a peer pushing: no error" 0 "$rc"
val() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$T/churn.out"; }
check "the cache holds at most 17 packs ($(val packs)), not one per fetch" test "$(val packs)" -le 17
check "the cache holds few loose objects ($(val loose))" test "$(val loose)" -le 3000
check "open descriptors stayed bounded (max $(val max_fds))" test "$(val max_fds)" -le 80
files=$(git -C "$T/srv/grid.git" ls-tree -r --name-only main -- churn | wc -l)
check_eq "every commit landed on the server" $((ROUNDS + ROUNDS / 4)) "$files"
check_eq "the cache knows the server's tip" "$(git -C "$T/srv/grid.git" rev-parse main)" \
	"$(git -C "$T/cache" rev-parse refs/remotes/origin/main)"
check "the repacked cache is complete (git fsck)" git -C "$T/cache" fsck --no-dangling --no-progress
check_eq "the cache holds all files of the tip" "$files" \
	"$(git -C "$T/cache" ls-tree -r --name-only refs/remotes/origin/main -- churn | wc -l)"
finish
