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
. "$(dirname "$0")/starve.sh"

starve_grid w2 t1 4

start_worker w2 1 w2-first
check "w2 claimed t1" wait_for 30 grep -q "node=w2 task=t1 event=claimed" "$T/w2-first.log"
touch "$T/starve"
check "w2 finished t1" wait_for 30 grep -q "node=w2 task=t1 event=finished" "$T/w2-first.log"
# waited for, so that the shell does not report the kill
{ kill -KILL "$(pid_of w2-first)"; wait "$(cat "$T/w2-first.timeout-pid")"; } 2>/dev/null
note "w2 killed at $(date +%T) holding t1's result; restarted, starved for 60 s"
check "t1's result is in w2's spool" test -n "$(ls -A "$T/cache-w2/spool-w2" 2>/dev/null | grep -v '\.key')"
start_worker w2 1
check "the restarted w2 found its spooled result" wait_for 30 grep -q "node=w2 event=started .*spooled=1" "$T/w2.log"
start_stream s-
start_worker w1 2
sleep 60
check "the hook declined the restarted w2's pushes" test -s "$T/declined"
check "the restarted w2 rescued t1's lease" test "$(grep -c 'node=w2 event=leases-rescued' "$T/w2.log")" -ge 2
rm -f "$T/starve"
note "w2 fed again at $(date +%T)"
check "w2's result for t1 reaches main" wait_for 90 done_on_main t1
end_stream
sleep 3
check_eq "t1 ran once" 1 "$(runs_of t1)"
check_eq "no worker reaped t1" 0 "$(cat "$T"/w1.log "$T"/w2.log | grep -c 'task=t1 event=reaped')"
check_eq "no reap on main" 0 "$(bare log --format=%s main | grep -c '^reap by')"
check "w2's result is its own, not superseded" bash -c "! grep -q 'event=superseded' '$T/w2.log'"
check "w1 ran the stream all along (it fetched)" test "$(grep -c 'node=w1 task=s-' "$T/w1.log")" -ge 5
finish
