#!/usr/bin/env bash
# t0393: one worker at a time archives (doc/protocol.md, "Who archives").
# Appending a batch needs the archive's tip, which libgit2 1.5 can only
# fetch whole, so every node that archives once downloads everything
# archived so far. The archive's summary names the node that archived
# last; only it archives until main holds keep_results + 2,000 results,
# then any worker does. `dgrid archive` names nobody and leaves main with
# keep_results to keep_results + 499 results.
#
# A protocol 3 grid with 2,700 flat results keeps 100 on main:
#  1. wa archives (nobody is the archiver yet and main is past the lag
#     threshold), names itself and brings main below 600;
#  2. 800 more results: wb defers to wa and downloads no archive;
#  3. wa archives them;
#  4. 2,000 more results (past the lag threshold): wb archives and is the
#     archiver from then on;
#  5. `dgrid archive` leaves main with 100 to 599 results and no archiver.
# Every result is on main or in the archive, exactly once.
. "$(dirname "$0")/lib.sh"

KEEP=100
mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
python3 "$DGRID_SRC/tests/tools/flat_grid.py" 2700 | git -C "$BARE" fast-import --quiet --done
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
clone_work "$BARE" "$T/work"
printf '{"protocol": 3, "keep_results": %d}\n' $KEEP >"$T/work/dgrid.json"
commit_push "$T/work" "policy: protocol 3, keep $KEEP results on main"

dg() { DGRID_CACHE=$T/cache-cli "$DGRID" "$@"; }
dg upgrade --repo "$URL" >"$T/upgrade.out" 2>&1
check "dgrid upgrade moves the flat results into shards" grep -q "moved 2700 flat files into shards" "$T/upgrade.out"

on_main() { git -C "$BARE" ls-tree -r --name-only main -- tasks/completed tasks/failed | wc -l; }
archiver() {   # the archiver the summary names, "none" without one
	git -C "$BARE" show refs/dgrid/archive:summary.json |
		python3 -c 'import json, sys; print(json.load(sys.stdin).get("archiver", "none"))'
}
add_results() {   # add_results N PREFIX: N more flat results, then sharded by dgrid upgrade
	rm -rf "$T/more.git"
	git init -q --bare "$T/more.git"
	python3 "$DGRID_SRC/tests/tools/flat_grid.py" "$1" --prefix "$2" | git -C "$T/more.git" fast-import --quiet --done
	git -C "$T/work" pull -q --rebase origin main >/dev/null 2>&1
	git -C "$T/more.git" archive main tasks | tar -x -C "$T/work"
	commit_push "$T/work" "$1 more flat results"
	dg upgrade --repo "$URL" >>"$T/upgrade.out" 2>&1
}
start_worker() {   # start_worker NAME: a worker checking every second whether to archive
	DGRID_CACHE=$T/cache-$1 PULL_INTERVAL=1 DGRID_UPKEEP_INTERVAL=1 "$DGRID" worker --repo "$URL" \
		--node-id "$1" --executor process --http off >>"$T/$1.log" 2>&1 &
	WPID=$!
	track $WPID
}
stop_worker() { kill -TERM "$WPID"; wait "$WPID" 2>/dev/null; }
below() { [ "$(on_main)" -lt "$1" ]; }

# 1. nobody archives yet, and main is past keep + 2,000: the first worker does
start_worker wa
check "wa archives a grid with no archiver that is past the lag threshold" \
	wait_for 120 below $((KEEP + 500))
stop_worker
check_eq "the summary names wa as the archiver" wa "$(archiver)"
check_eq "the summary ref readers fetch names it too" wa \
	"$(git -C "$BARE" show refs/dgrid/archive-summary:summary.json |
		python3 -c 'import json, sys; print(json.load(sys.stdin).get("archiver"))')"

# 2. 800 more results, below the lag threshold: wb leaves them to wa
add_results 800 second
n=$(on_main)
check "main now holds more than keep_results + 500 results ($n)" [ "$n" -ge $((KEEP + 500)) ]
start_worker wb
check "wb defers to the archiver" wait_for 60 grep -q 'event=archive-deferred archiver=wa' "$T/wb.log"
sleep 3   # three more checks
stop_worker
check_eq "wb archived nothing" 0 "$(grep -c 'event=archive ' "$T/wb.log")"
has_archive_cache() { compgen -G "$T/cache-$1/*-archive" >/dev/null; }
no_archive_cache() { ! has_archive_cache "$1"; }
check "wa has an archive cache" has_archive_cache wa
check "wb downloaded no archive (it has no archive cache)" no_archive_cache wb
check_eq "main still holds them" "$n" "$(on_main)"

# 3. the archiver comes back and archives them
start_worker wa
check "wa archives them" wait_for 120 below $((KEEP + 500))
stop_worker
check_eq "wa is still the archiver" wa "$(archiver)"

# 4. 2,000 more: the archiver lags, and any worker archives
add_results 2000 third
start_worker wb
check "wb archives once main is past keep_results + 2,000" wait_for 120 below $((KEEP + 500))
stop_worker
check "wb logged its batches" grep -q 'event=archive batches=[1-9]' "$T/wb.log"
check_eq "wb is the archiver now" wb "$(archiver)"

# 5. dgrid archive (e.g. a cron job) archives down to keep_results and names no archiver
add_results 600 fourth
dg archive --repo "$URL" >"$T/archive.out" 2>&1
n=$(on_main)
check "dgrid archive leaves keep_results to keep_results + 499 on main ($n)" \
	[ "$n" -ge $KEEP ] && [ "$n" -lt $((KEEP + 500)) ]
check_eq "and names no archiver" none "$(archiver)"

total=$((2700 + 800 + 2000 + 600))
check_eq "every result is on main or in the archive" "$total" \
	"$({ git -C "$BARE" ls-tree -r --name-only main -- tasks/completed tasks/failed
	     git -C "$BARE" ls-tree -r --name-only refs/dgrid/archive batches; } | sed 's|.*/||' | sort -u | wc -l)"
check_eq "and none is in both" "$total" \
	"$({ git -C "$BARE" ls-tree -r --name-only main -- tasks/completed tasks/failed
	     git -C "$BARE" ls-tree -r --name-only refs/dgrid/archive batches; } | wc -l)"
finish
