#!/usr/bin/env bash
# t0377: on a budget grid a member silent on main for "slot_keep_seconds"
# gives its push slot up (doc/protocol.md, "Push budget"; worker_budget.c).
# Up to 0.14.8 a node that died without stopping - killed, its machine
# off, its container gone - kept its slot for good, and every such death
# made each live member's cycle one slot longer (at github.com's budget of
# 6, ~12 s more between two pushes of every member, for ever).
#
# The grid (budget 60, slot_keep_seconds 30) holds 40 registrations of
# nodes that died an hour ago (active_at an hour old) and one written by
# an older version (no active_at, which stays a member). Shown:
#  1. the worker counts the 40 as dormant, not as members, and runs tasks;
#     `dgrid status`'s advice counts the members the same way;
#  2. a task longer than slot_keep_seconds keeps its worker a member: the
#     worker writes its active_at again in its own slot (it never counts
#     itself dormant while it holds the task), and the task runs once;
#  3. idle longer than that, the worker is dormant too, and knows it; a
#     new task makes it join again (a newer registered_at, so a new rank)
#     and run the task once.
# And the fetch budget (60 a minute here): up to 0.14.9 each of the 40
# counted a whole share of it, and an idle member polled every 72 s x 42
# / 60 = 50 s; a dormant registration now weighs slot_keep_seconds / its
# silence (the dead here 1/120 each), so the member polls every ~2.8 s,
# and a dormant worker polls the less often the longer it has been
# silent (worker_budget.c, dg_worker_fetch_share_ms).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
clone_work "$BARE" "$T/work"
printf '{"protocol": 3, "push_budget": 60, "slot_keep_seconds": 30, "fetch_budget": 60}\n' >"$T/work/dgrid.json"
mkdir -p "$T/work/nodes"
hour_ago=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
two_ago=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)
for i in $(seq -w 1 40); do
	printf '{"node_id": "dead%s", "version": "0.14.9", "protocol": 3, "slots": 1, "registered_at": "%s", "active_at": "%s"}\n' \
		"$i" "$two_ago" "$hour_ago" >"$T/work/nodes/dead$i.json"
done
printf '{"node_id": "old1", "version": "0.14.8", "protocol": 3, "slots": 1, "registered_at": "%s"}\n' \
	"$two_ago" >"$T/work/nodes/old1.json"
commit_push "$T/work" "40 dead members and one of an older version"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
: >"$T/runs"

submit() {   # ID SCRIPT
	"$DGRID" submit --repo "$URL" --id "$1" --timeout 60 --script "$2" >>"$T/submit.log" 2>&1
}
runs_of() { grep -cx "$1" "$T/runs"; }
done_on_main() { git -C "$BARE" ls-tree -r --name-only main tasks/completed | grep -q "/$1\.w1\."; }
reg_field() { node_field "$BARE" w1 "$1"; }

for i in 1 2 3; do submit "t$i" "echo t$i >>$T/runs"; done
DGRID_CACHE=$T/cache PULL_INTERVAL=1 LOG_LEVEL=debug "$DGRID" worker --repo "$URL" --node-id w1 --slots 1 \
	--executor process --http off >"$T/w1.log" 2>&1 &
track $!

# ---- 1: the dead give their slots up
check "the worker counts 40 registrations as dormant" wait_for 30 grep -q 'event=members .*dormant=40' "$T/w1.log"
check "its first view: one member (the older version's, never dormant), and it a newcomer" \
	grep -q 'event=members members=1 rank=1 dormant=40' "$T/w1.log"
for i in 1 2 3; do
	check "t$i ran and reached main" wait_for 60 done_on_main "t$i"
done
check_eq "each of t1-t3 ran once" "1 1 1" "$(runs_of t1) $(runs_of t2) $(runs_of t3)"
check "w1's registration says when it was active" test -n "$(reg_field active_at)"
check "dgrid status's advice counts the schedule's 2 members, not 42" bash -c \
	"'$DGRID' status --repo '$URL' | grep -q 'schedule: [0-9.]* for 2 members'"
poll_ms() { poll_interval_ms "$T/w1.log" "$1"; }
check "as a member, w1 computes its fetch share" wait_for 30 grep -q 'event=poll-interval .*nodes=42 .*mine=1.000' "$T/w1.log"
member_ms=$(poll_ms 'nodes=42 .*mine=1.000')
check "the 40 long dead weigh little: w1 polls every ${member_ms:-?} ms (72 s x 2.33 / 60), not 50,400" \
	test "${member_ms:-99999}" -le 4000

# ---- 2: a task longer than slot_keep_seconds keeps the slot
submit t4 "sleep 36; echo t4 >>$T/runs"
check "w1 claimed t4" wait_for 60 grep -q 'node=w1 task=t4 event=claimed' "$T/w1.log"
active_claim=$(reg_field active_at)
check "t4 reached main" wait_for 90 done_on_main t4
check_eq "t4 ran once" 1 "$(runs_of t4)"
refreshes=$(git -C "$BARE" log --format=%s main -- nodes/w1.json | grep -c '^w1: update$')
check "while t4 ran, w1 wrote its active_at again in a push of its own ($refreshes)" test "$refreshes" -ge 1
check "w1 never counted itself dormant while it held t4" bash -c "! grep -q 'dormant=41' '$T/w1.log'"
note "active_at at t4's claim: $active_claim; after: $(reg_field active_at)"

# ---- 3: idle, dormant; work makes it join again
registered_before=$(reg_field registered_at)
check "idle past slot_keep_seconds, w1 counts itself dormant" wait_for 60 grep -q 'event=members members=1 rank=1 dormant=41' "$T/w1.log"
check "dormant, w1 polls less often than a member (its own weight under 1)" \
	wait_for 60 grep -q 'event=poll-interval .*nodes=42 .*mine=0\.' "$T/w1.log"
dormant_ms=$(poll_ms 'nodes=42 .*mine=0\.')
check "every ${dormant_ms:-?} ms, more than a member's ${member_ms:-?}" test "${dormant_ms:-0}" -gt "${member_ms:-99999}"
submit t5 "echo t5 >>$T/runs"
check "t5 ran and reached main" wait_for 90 done_on_main t5
check_eq "t5 ran once" 1 "$(runs_of t5)"
registered_after=$(reg_field registered_at)
check "w1 joined again: a newer registered_at ($registered_before -> $registered_after)" \
	test "$(date -d "$registered_after" +%s)" -gt "$(date -d "$registered_before" +%s)"
check "and is a member again (dormant back to 40)" wait_for 30 grep -q 'event=members members=2 rank=1 dormant=40' "$T/w1.log"
check "no task was reaped" bash -c "! grep -q 'event=reaped' '$T/w1.log'"
[ "$_tap_failed" -eq 0 ] || grep -E 'event=(members|claimed|joined|slot-moved)' "$T/w1.log" | tail -n 30 | sed 's/^/# /'
finish
