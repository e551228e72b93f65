#!/usr/bin/env bash
# t0124: a worker killed while it updated its cache (SIGKILL, the OOM
# killer, a power cut) leaves git's lock files there. libgit2 refuses a ref
# while its lock file exists, so every later fetch failed ("failed to lock
# file ... main.lock") and the restarted worker never recovered. The cache
# is the worker's alone (dgrid.lock), so at start its lock files are stale:
# the worker removes them, says so, and works. Files that are not git's
# locks, and dgrid's own flock files, stay.
. "$(dirname "$0")/lib.sh"

daemon_grid '{"protocol": 3}'
commit_push "$T/work" "policy"
BARE=$T/srv/grid.git
worker() {
	DGRID_CACHE=$T/cache PULL_INTERVAL=1 timeout 60 "$DGRID" worker --repo "$URL" --node-id w1 \
		--executor process --http off --exit-when-idle >"$T/$1.log" 2>&1
}

worker first
check_eq "a first run fills the cache and exits" 0 $?
cache=$(ls -d "$T"/cache/*-w1 | head -1)
check "the cache tracks the branch" test -f "$cache/refs/remotes/origin/main"

# what a kill in the middle of a fetch and of a ref update leaves behind
: >"$cache/refs/remotes/origin/main.lock"
: >"$cache/packed-refs.lock"
: >"$cache/HEAD.lock"
echo keep >"$cache/refs/remotes/origin/notalock"
"$DGRID" submit --repo "$URL" --id t1 --script "echo t1" >/dev/null 2>&1
check_eq "a task is submitted" 0 $?

worker second
check_eq "restarted over the stale locks, the worker runs and exits" 0 $?
check "it ran the task" grep -q 'task=t1 event=finished status=success' "$T/second.log"
check_eq "the result is on the branch" 1 \
	"$(git -C "$BARE" ls-tree -r --name-only main tasks/completed | grep -c '/t1\.')"
check "it says which lock file it removed, and why" grep -q \
	"event=stale-lock-removed file=\"$cache/refs/remotes/origin/main.lock\" reason=\"left by a process killed" "$T/second.log"
check_eq "every stale lock was removed and named" 3 "$(grep -c 'event=stale-lock-removed' "$T/second.log")"
check "none is left" bash -c "! find '$cache' -name '*.lock' ! -name 'dgrid.lock' ! -name 'dgrid-refs.lock' | grep -q ."
check "a file that is no lock stays" test -f "$cache/refs/remotes/origin/notalock"
check "dgrid's own lock file stays" test -f "$cache/dgrid.lock"
check "no fetch failed" bash -c "! grep -q 'event=remote-error' '$T/second.log'"

# the next start finds nothing to remove
worker third
check_eq "a clean cache: nothing to remove" 0 "$(grep -c 'event=stale-lock-removed' "$T/third.log")"
finish
