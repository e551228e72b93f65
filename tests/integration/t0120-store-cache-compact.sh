#!/usr/bin/env bash
# t0120: a long-running store keeps its cache compact and its descriptors
# bounded. Against a git daemon, a peer pushes a commit before each of 200
# fetches (so every fetch brings a pack), and every fourth round the fetching
# store commits too (loose objects). Afterwards its cache holds a bounded
# number of packs and loose objects, the process never had many descriptors
# open, and the cache still holds the whole, consistent branch. With the
# repacking held (a worker's turn), fetches do not repack and a tidy after
# them does. Then the same
# on a grid of 3,000 queued tasks, where repacks after the first full one
# write only what is new since it (incremental), and the cache stays whole.
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

# A worker's turn holds the repacking (it must push within its slot) and
# tidies after it: held, 30 fetches that each bring a pack leave 30 packs;
# the tidy then repacks them, and the cache is whole.
make_bare "$T/srv/held.git"
"$DGRID" init "$T/srv/held.git" >/dev/null 2>&1
STORE_CHURN_HOLD=1 "$CHURN" "git://127.0.0.1:$GIT_DAEMON_PORT/held.git" 30 "$T/cache3" "$T/peer3" \
	>"$T/churn3.out" 2>&1
rc=$?
note "$(cat "$T/churn3.out")"
held=$(sed -n 's/^held_packs=\([0-9]*\).*/\1/p' "$T/churn3.out")
tidied=$(sed -n 's/.* packs=\([0-9]*\).*/\1/p' "$T/churn3.out")
check_eq "30 fetches with repacking held: no error" 0 "$rc"
check "held, no fetch repacked: a pack each (${held:-none} > 17)" test "${held:-0}" -gt 17
check "the tidy after it repacked (${tidied:-none} packs)" test "${tidied:-99}" -le 2
check "the tidied cache is complete (git fsck)" git -C "$T/cache3" fsck --no-dangling --no-progress
check_eq "the tidied cache knows the server's tip" "$(git -C "$T/srv/held.git" rev-parse main)" \
	"$(git -C "$T/cache3" rev-parse refs/remotes/origin/main)"

# A grid that holds much - 3,000 queued tasks - and changes a little at
# each fetch: a repack writes what is new since the last full one, beside
# it, rather than all 3,000 again (store_compact.c).
BIG=3000
make_bare "$T/srv/big.git"
python3 "$DGRID_SRC/tests/tools/unfit_queue.py" $BIG | git -C "$T/srv/big.git" fast-import --quiet --done
STORE_CHURN_DEBUG=1 "$CHURN" "git://127.0.0.1:$GIT_DAEMON_PORT/big.git" 60 "$T/cache2" "$T/peer2" \
	>"$T/churn2.out" 2>"$T/churn2.log"
rc=$?
note "$(cat "$T/churn2.out"); $(grep -c "kind=full" "$T/churn2.log") full and $(grep -c "kind=incremental" "$T/churn2.log") incremental repacks"
check_eq "60 fetches of a large grid: no error" 0 "$rc"
check "a full repack made the base" grep -q "event=repack kind=full objects=" "$T/churn2.log"
check "later repacks wrote only what was new" grep -q "event=repack kind=incremental" "$T/churn2.log"
largest=$(sed -n 's/.*kind=incremental objects=\([0-9]*\).*/\1/p' "$T/churn2.log" | sort -n | tail -1)
check "an incremental pack holds far fewer objects than the grid (${largest:-none} < $BIG)" test "${largest:-$BIG}" -lt $BIG
base=$(cut -d' ' -f1 "$T/cache2/dgrid-base-pack" | head -1)
check "the base pack is still there ($base)" test -f "$T/cache2/objects/pack/$base.pack"
check "the cache is complete beside its base (git fsck)" git -C "$T/cache2" fsck --no-dangling --no-progress
check_eq "the cache holds every file of the tip" \
	"$(git -C "$T/srv/big.git" ls-tree -r --name-only main | wc -l)" \
	"$(git -C "$T/cache2" ls-tree -r --name-only refs/remotes/origin/main | wc -l)"
finish
