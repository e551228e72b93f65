#!/usr/bin/env bash
# t0705: a worker restarts holding a result it ran in its previous life
# (spooled, not yet reported), and its pushes to the branch do not land
# (a hook declines them) while another worker's do. Its claim's lease must
# not lapse: the restarted worker counts the lease from the time the claim
# says it was written and pushes a rescue before it ends, like t0704's
# worker that never restarted (src/worker_rescue.c, dg_worker_lease_seen).
# Without that, a restarted worker knew no lease for what its spool held,
# never rescued it, and a reaper ran the task again although its result
# was on disk and its owner alive.
#
# A pre-receive hook declines w2's pushes to main while $T/starve exists.
# w2 claims t1 (4 s; a 15 s lease: timeout 10 s + lease_margin 5), is
# starved, finishes t1 and is killed (SIGKILL) before it could rescue;
# it is started again at once on the same cache (spool and key) and stays
# starved for 60 s - four leases - while w1 runs a stream of small tasks
# and reaps with a free slot. t1 must run once, nothing be reaped, and
# w2's report land once it is fed again. Tasks append to a file on the
# host (--executor process).
. "$(dirname "$0")/lib.sh"

bare() { git -C "$T/srv/grid.git" "$@"; }
task() { printf '{"task_id": "%s", "script": "sleep %s; echo %s >>%s/runs", "timeout_seconds": 10}\n' \
	"$1" "$2" "$1" "$T" >"$T/work/tasks/queue/$1.json"; }
submit() {
	git -C "$T/work" pull -q --rebase origin main
	mkdir -p "$T/work/tasks/queue"
	task "$1" "$2"
	commit_push "$T/work" "$1"
}
# start_worker NODE SLOTS LOG
start_worker() {
	DGRID_CACHE=$T/cache-$1 PULL_INTERVAL=1 timeout 300 "$DGRID" worker --repo "$URL" --node-id "$1" \
		--slots "$2" --executor process --http off >>"$T/$3.log" 2>&1 &
	track $!
	echo $! >"$T/$3.timeout-pid"
}
pid_of() { pgrep -P "$(cat "$T/$1.timeout-pid")"; }
runs_of() { grep -c "^$1\$" "$T/runs" 2>/dev/null; }
done_on_main() { bare ls-tree -r --name-only main tasks/completed | grep -q "/$1\\."; }
stream() {
	local n=0
	while [ -e "$T/stream" ]; do
		n=$((n + 1))
		submit "s-$n" 0 >/dev/null 2>&1
		sleep 2
	done
}

mkdir -p "$T/srv"
PORT=$(free_port)
git_daemon_at "$PORT" "$T/srv"
make_bare "$T/srv/grid.git"
URL="git://127.0.0.1:$PORT/grid.git"
cat >"$T/srv/grid.git/hooks/pre-receive" <<HOOK
#!/bin/sh
[ -e "$T/starve" ] || exit 0
while read -r old new ref; do
	[ "\$ref" = refs/heads/main ] || continue
	case "\$(git log -1 --format=%s "\$new" 2>/dev/null)" in
	w2:*) echo x >>"$T/declined"; echo "w2 is throttled" >&2; exit 1 ;;
	esac
done
exit 0
HOOK
chmod +x "$T/srv/grid.git/hooks/pre-receive"
clone_work "$T/srv/grid.git" "$T/work"
printf '{"protocol": 3, "lease_margin": 5}\n' >"$T/work/dgrid.json"
mkdir -p "$T/work/tasks/queue"
task t1 4
commit_push "$T/work" "policy and t1"

start_worker w2 1 w2-first
check "w2 claimed t1" wait_for 30 grep -q "node=w2 task=t1 event=claimed" "$T/w2-first.log"
touch "$T/starve"
check "w2 finished t1" wait_for 30 grep -q "node=w2 task=t1 event=finished" "$T/w2-first.log"
# waited for, so that the shell does not report the kill
{ kill -KILL "$(pid_of w2-first)"; wait "$(cat "$T/w2-first.timeout-pid")"; } 2>/dev/null
note "w2 killed at $(date +%T) holding t1's result; restarted, starved for 60 s"
check "t1's result is in w2's spool" test -n "$(ls -A "$T/cache-w2/spool-w2" 2>/dev/null | grep -v '\.key')"
start_worker w2 1 w2
check "the restarted w2 found its spooled result" wait_for 30 grep -q "node=w2 event=started .*spooled=1" "$T/w2.log"
touch "$T/stream"
stream &
track $!
start_worker w1 2 w1
sleep 60
check "the hook declined the restarted w2's pushes" test -s "$T/declined"
check "the restarted w2 rescued t1's lease" test "$(grep -c 'node=w2 event=leases-rescued' "$T/w2.log")" -ge 2
rm -f "$T/starve"
note "w2 fed again at $(date +%T)"
check "w2's result for t1 reaches main" wait_for 90 done_on_main t1
rm -f "$T/stream"
sleep 3
check_eq "t1 ran once" 1 "$(runs_of t1)"
check_eq "no worker reaped t1" 0 "$(cat "$T"/w1.log "$T"/w2.log | grep -c 'task=t1 event=reaped')"
check_eq "no reap on main" 0 "$(bare log --format=%s main | grep -c '^reap by')"
check "w2's result is its own, not superseded" bash -c "! grep -q 'event=superseded' '$T/w2.log'"
check "w1 ran the stream all along (it fetched)" test "$(grep -c 'node=w1 task=s-' "$T/w1.log")" -ge 5
finish
