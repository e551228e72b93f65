#!/usr/bin/env bash
# t0375: on a grid without a push budget, registrations of nodes that were
# killed weigh little in the idle polls' share, as on a budget grid
# (doc/protocol.md, "Fetch budget"; worker_budget.c, weigh_unscheduled).
# Up to 0.14.10 nobody refreshed "active_at" without a push budget, and
# every registration that did not say it stopped counted whole for good:
# beside 40 nodes killed a day ago, a live worker under a fetch budget of
# 60 polled every 72 s x 42 / 60 = 50 s (without a fetch budget, at the
# idle share's cap of a minute).
#
# The grid (protocol 3, no push budget, fetch budget 60, slot_keep_seconds
# 30) holds 40 registrations last active a day ago and one written by an
# older version (no active_at: it weighs 1 for good). Shown:
#  1. the worker's share counts the 40 at 30 s / a day each: it polls
#     every ~2.4 s (72 s x 2.01 / 60), not 50 s;
#  2. it writes its own active_at again in a report once that is a quarter
#     of slot_keep_seconds old, never in a push of its own, and keeps its
#     registered_at;
#  3. idle past slot_keep_seconds, it counts itself silent and polls less
#     often than while it worked.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
clone_work "$BARE" "$T/work"
printf '{"protocol": 3, "slot_keep_seconds": 30, "fetch_budget": 60}\n' >"$T/work/dgrid.json"
mkdir -p "$T/work/nodes"
day_ago=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%SZ)
for i in $(seq -w 1 40); do
	printf '{"node_id": "dead%s", "version": "0.14.10", "protocol": 3, "slots": 1, "registered_at": "%s", "active_at": "%s"}\n' \
		"$i" "$day_ago" "$day_ago" >"$T/work/nodes/dead$i.json"
done
printf '{"node_id": "old1", "version": "0.14.8", "protocol": 3, "slots": 1, "registered_at": "%s"}\n' \
	"$day_ago" >"$T/work/nodes/old1.json"
commit_push "$T/work" "40 nodes killed a day ago, and one of an older version"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
: >"$T/runs"

submit() {   # ID SCRIPT
	"$DGRID" submit --repo "$URL" --id "$1" --timeout 60 --script "$2" >>"$T/submit.log" 2>&1
}
runs_of() { grep -cx "$1" "$T/runs"; }
done_on_main() { git -C "$BARE" ls-tree -r --name-only main tasks/completed | grep -q "/$1\.w1\."; }
reg_field() { node_field "$BARE" w1 "$1"; }
poll_ms() { poll_interval_ms "$T/w1.log" "$1"; }

submit t1 "echo t1 >>$T/runs"
DGRID_CACHE=$T/cache PULL_INTERVAL=1 LOG_LEVEL=debug "$DGRID" worker --repo "$URL" --node-id w1 --slots 1 \
	--executor process --http off >"$T/w1.log" 2>&1 &
track $!

# ---- 1: the killed weigh little
check "t1 ran and reached main" wait_for 60 done_on_main t1
check_eq "t1 ran once" 1 "$(runs_of t1)"
check "w1's registration says when it was active" test -n "$(reg_field active_at)"
check "w1 computes its fetch share beside the 41" wait_for 30 grep -q 'event=poll-interval .*nodes=42 .*mine=1.000' "$T/w1.log"
member_ms=$(poll_ms 'nodes=42 .*mine=1.000')
check "the 40 killed a day ago weigh little: w1 polls every ${member_ms:-?} ms (72 s x 2.01 / 60), not 50,400" \
	test "${member_ms:-99999}" -le 4000

# ---- 2: active_at rides on a report, registered_at stays
registered_before=$(reg_field registered_at)
active_before=$(reg_field active_at)
sleep 9   # past a quarter of slot_keep_seconds
submit t2 "echo t2 >>$T/runs"
check "t2 ran and reached main" wait_for 60 done_on_main t2
active_after=$(reg_field active_at)
check "w1 wrote its active_at again ($active_before -> $active_after)" \
	test "$(date -d "$active_after" +%s)" -gt "$(date -d "$active_before" +%s)"
check_eq "and kept its registered_at" "$registered_before" "$(reg_field registered_at)"
alone=0
for c in $(git -C "$BARE" log --format=%H main -- nodes/w1.json); do
	git -C "$BARE" show --name-only --format= "$c" | grep -q '^tasks/' || alone=$((alone + 1))
done
check_eq "in pushes that carried tasks: no push of its own for it" 0 "$alone"

# ---- 3: idle, silent, fewer looks
check "idle past slot_keep_seconds, w1 polls less often (its own weight under 1)" \
	wait_for 60 grep -q 'event=poll-interval .*nodes=42 .*mine=0\.' "$T/w1.log"
silent_ms=$(poll_ms 'nodes=42 .*mine=0\.')
check "every ${silent_ms:-?} ms, more than the ${member_ms:-?} of a member" \
	test "${silent_ms:-0}" -gt "${member_ms:-99999}"
check_eq "t2 ran once" 1 "$(runs_of t2)"
check "no task was reaped" bash -c "! grep -q 'event=reaped' '$T/w1.log'"
[ "$_tap_failed" -eq 0 ] || grep -E 'event=(poll-interval|claimed)' "$T/w1.log" | tail -n 30 | sed 's/^/# /'
finish
