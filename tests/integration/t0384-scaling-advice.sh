#!/usr/bin/env bash
# t0384: what limits the grid (advice.h), said by `dgrid status`, `dgrid
# status --json` and the dashboard from what the repository holds. Real
# grid states over a git daemon: a real worker busy while a task waits
# (workers), then busy with the queue empty (ok), then idle (idle); a grid
# whose push budget of 6 a minute plain-git commits used up (push budget),
# and the same with a budget of 600 (not); main's history older than the
# window (not counted, nor read: a walk bounded by the window), and
# compacted (counted what exists); registered
# nodes without claims under a fetch budget that stretches their poll
# (fetch budget), and without one (queue); a registration silent for two
# hours, a member without a push budget and a weighed sharer of the fetch
# budget with one.
. "$(dirname "$0")/lib.sh"

export DGRID_CACHE=$T/cache
mkdir -p "$T/srv"
start_git_daemon "$T/srv"

# new_grid NAME POLICY: a bare repository served by the daemon with a work
# clone; sets BARE, URL and WORK
new_grid() {
	BARE=$T/srv/$1.git
	URL="git://127.0.0.1:$GIT_DAEMON_PORT/$1.git"
	WORK=$T/work-$1
	make_bare "$BARE"
	clone_work "$BARE" "$WORK"
	printf '%s\n' "$2" >"$WORK/dgrid.json"
}

# task ID SCRIPT: a queued task in the work clone (flat; readers take both layouts)
task() {
	mkdir -p "$WORK/tasks/queue"
	printf '{"task_id": "%s", "script": "%s", "timeout_seconds": 60}\n' "$1" "$2" \
		>"$WORK/tasks/queue/$1.json"
}

# observe NAME: status (text and JSON) and the dashboard of $URL into $T/NAME.*
observe() {
	"$DGRID" status --repo "$URL" >"$T/$1.txt" 2>"$T/$1.err" &&
	"$DGRID" status --repo "$URL" --json >"$T/$1.json" 2>>"$T/$1.err" &&
	"$DGRID" dashboard --repo "$URL" --out "$T/$1.site" 2>>"$T/$1.err"
}

# advice FILE EXPR: a Python expression over the "advice" object a of a
# status --json document or a dashboard's status.json
advice() {
	python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["advice"]; print(eval(sys.argv[2]))' "$1" "$2"
}

# says NAME VERDICT LINE: the three views of $T/NAME agree on VERDICT, and
# the text's "limits:" line is exactly LINE
says() {
	local n=$1 v=$2 line=$3 got
	check_eq "$n: status says '$line'" "$line" "$(grep '^limits:' "$T/$n.txt")"
	mapfile -t got < <(python3 - "$T/$n.json" "$T/$n.site/status.json" <<'PY'
import json, sys
s, d = (json.load(open(f))["advice"] for f in sys.argv[1:3])
print(s["verdict"]); print(s["text"]); print(d["verdict"]); print(d["text"])
PY
)
	check_eq "$n: status --json verdict" "$v" "${got[0]-}"
	check_eq "$n: status --json text is the line's" "${line#limits:    }" "${got[1]-}"
	check_eq "$n: dashboard status.json verdict" "$v" "${got[2]-}"
	check_eq "$n: dashboard status.json text" "${line#limits:    }" "${got[3]-}"
	check "$n: dashboard page shows it" grep -qF "data-verdict=\"$v\"><strong>${line#limits:    }</strong>" \
		"$T/$n.site/index.html"
}

# ------------------------------------------------- a real worker: workers, ok, idle
new_grid busy '{"protocol": 3}'
task t1 'sleep 20'
task t2 'sleep 20'
commit_push "$WORK" "policy and two tasks"
DGRID_CACHE=$T/cache-w1 PULL_INTERVAL=1 "$DGRID" worker --repo "$URL" --node-id w1 --slots 1 \
	--executor process --http off >"$T/w1.log" 2>&1 &
track $!
state() {   # state QUEUED RUNNING DONE
	[ "$(count_all "$BARE" tasks/queue)" -eq "$1" ] &&
	[ "$(count_all "$BARE" tasks/in_progress)" -eq "$2" ] &&
	[ "$(count_all "$BARE" tasks/completed)" -eq "$3" ]
}
check "w1 runs t1 while t2 waits" wait_for 60 state 1 1 0
observe busy
says busy workers 'limits:    workers: 1 task waits and every worker is busy - more workers would help (no push budget)'
check_eq "busy: figures (active, idle, free slots, queued, running)" "1 0 0 1 1" \
	"$(advice "$T/busy.json" '"%d %d %d %d %d" % tuple(a["figures"][k] for k in ("active_nodes", "idle_nodes", "free_slots", "queued", "running"))')"
check "busy: the figures line counts main's pushes since the grid began" \
	grep -qE '^           [0-9]+ pushes on main since its history begins, [0-9]+ s ago \(a new or compacted grid: counted what exists' "$T/busy.txt"

check "w1 runs t2, nothing waits" wait_for 60 state 0 1 1
observe ok
says ok ok 'limits:    ok: nothing limits the grid now: the queue is empty and every worker holds a claim (1 running)'

check "w1 has run both" wait_for 60 state 0 0 2
observe idle
says idle idle 'limits:    idle: the queue is empty; 1 worker waits'
check_eq "idle: one registered, active, idle worker" "1 1 1" \
	"$(advice "$T/idle.json" '"%d %d %d" % (a["figures"]["registered_nodes"], a["figures"]["active_nodes"], a["figures"]["idle_nodes"])')"

# ------------------------------------------------- push budget used up by plain git
new_grid pushes '{"protocol": 3, "push_budget": 6}'
task p1 'true'
commit_push "$WORK" "policy and a task"
for i in $(seq 1 60); do
	echo "$i" >"$WORK/note"
	git -C "$WORK" add note && git -C "$WORK" commit -qm "note $i"
done
git -C "$WORK" push -q origin HEAD:main
observe saturated
says saturated push_budget 'limits:    push budget: 61.0 pushes/min of 6 used (the schedule allows 5.1 for 0 workers) - more workers will not help: raise claim_batch_max (now 64), or add a repository'
check_eq "saturated: 61 commits, budget 6, history begins in the window" "61 6 True" \
	"$(advice "$T/saturated.json" '"%d %d %s" % (a["figures"]["pushes"], a["figures"]["push_budget"], a["figures"]["history_begins_in_window"])')"
# the same pushes against a budget of 600: the budget is not what limits
printf '{"protocol": 3, "push_budget": 600}\n' >"$WORK/dgrid.json"
commit_push "$WORK" "policy: 600 pushes a minute"
observe roomy
says roomy workers 'limits:    workers: 1 task waits and no worker is active - start a worker'
check_eq "roomy: 62 pushes counted against 600" "62 600" \
	"$(advice "$T/roomy.json" '"%d %d" % (a["figures"]["pushes"], a["figures"]["push_budget"])')"

# ------------------------------------------------- the window, and compaction
new_grid history '{"protocol": 3, "push_budget": 6}'
git -C "$BARE" config receive.denyNonFastForwards false   # compaction is a forced update
old=$(( $(date +%s) - 3600 ))
for i in $(seq 1 40); do
	echo "old $i" >"$WORK/note"
	git -C "$WORK" add -A
	GIT_COMMITTER_DATE="@$((old + i)) +0000" GIT_AUTHOR_DATE="@$((old + i)) +0000" \
		git -C "$WORK" commit -qm "an hour ago $i"
done
for i in 1 2 3; do
	echo "new $i" >"$WORK/note"
	git -C "$WORK" commit -qam "now $i"
done
git -C "$WORK" push -q origin HEAD:main
observe window
says window idle 'limits:    idle: nothing is queued and no worker is active'
check_eq "window: only the 3 commits of the last 10 minutes count, history goes further back" "3 False 600" \
	"$(advice "$T/window.json" '"%d %s %d" % (a["figures"]["pushes"], a["figures"]["history_begins_in_window"], a["figures"]["span_seconds"])')"
check "window: the figures line says so" grep -q '^           3 pushes on main in the last 10 min (0.3/min); push budget 6/min' "$T/window.txt"
for i in $(seq 1 50); do
	echo "burst $i" >"$WORK/note"
	git -C "$WORK" commit -qam "burst $i"
done
git -C "$WORK" push -q origin HEAD:main
observe burst
says burst push_budget 'limits:    push budget: 5.3 pushes/min of 6 used (the schedule allows 5.1 for 0 workers) - more workers will not help: raise claim_batch_max (now 64), or add a repository'
"$DGRID" compact --repo "$URL" >"$T/compact.out" 2>&1
check "dgrid compact restarts main's history" grep -q '^compacted: main now starts at' "$T/compact.out"
check_eq "main is one parentless commit" 1 "$(git -C "$BARE" rev-list --count main)"
observe compacted
says compacted idle 'limits:    idle: nothing is queued and no worker is active'
check_eq "compacted: the one commit main holds counts, the history begins in the window" "1 True" \
	"$(advice "$T/compacted.json" '"%d %s" % (a["figures"]["pushes"], a["figures"]["history_begins_in_window"])')"
check "compacted: the figures line says it counted what exists" grep -qE \
	'^           1 push on main since its history begins, [0-9]+ s ago \(a new or compacted grid: counted what exists; 1\.0/min over 1 min\)' \
	"$T/compacted.txt"

# ------------------------------------------------- the walk stops at the window
# 100,000 commits an hour old, then four recent ones with a merge: the four
# count once each, and reading the old ones is not paid for (a walk of the
# whole history takes some 55 MB more than a small grid's status)
big_history() {   # big_history BARE N
	git init -q --bare -b main "$1"
	python3 - "$2" <<'PY' | git -C "$1" fast-import --quiet --done
import sys, time
n, now = int(sys.argv[1]), int(time.time())
w = sys.stdout.write
for i in range(n):
    w("commit refs/heads/main\nmark :%d\ncommitter t <t@x> %d +0000\ndata 3\nold\n" % (i + 1, now - 3600 - n + i))
    if i == 0:
        w('M 644 inline dgrid.json\ndata 16\n{"protocol": 3}\n')
    w("\n")
def commit(mark, ago, frm, merge=None):
    w("commit refs/heads/main\nmark :%d\ncommitter t <t@x> %d +0000\ndata 3\nnew\nfrom :%d\n" % (mark, now - ago, frm))
    if merge:
        w("merge :%d\n" % merge)
    w("\n")
commit(n + 1, 40, n)                # a
commit(n + 2, 30, n + 1)            # b, on a
commit(n + 3, 20, n + 1)            # c, on a too
commit(n + 4, 10, n + 2, n + 3)     # the merge of b and c
w("done\n")
PY
}
big_history "$T/big.git" 100000
big_history "$T/small.git" 10
"$DGRID" status --repo "$T/big.git" --json >"$T/big.json" 2>"$T/big.err"
check_eq "a long history: the 4 recent commits count, once each; history goes further back" "4 False" \
	"$(advice "$T/big.json" '"%d %s" % (a["figures"]["pushes"], a["figures"]["history_begins_in_window"])')"
/usr/bin/time -f '%M' -o "$T/big.kb" "$DGRID" status --repo "$T/big.git" >/dev/null 2>&1
/usr/bin/time -f '%M' -o "$T/small.kb" "$DGRID" status --repo "$T/small.git" >/dev/null 2>&1
note "status: $(tail -1 "$T/big.kb") KB on 100,000 commits, $(tail -1 "$T/small.kb") KB on 10"
check "and reading its 100,000 old commits costs nothing: status takes no more memory than on 10" \
	test "$(tail -1 "$T/big.kb")" -le $(( $(tail -1 "$T/small.kb") + 16384 ))

# ------------------------------------------------- fetch budget, then none: queue
new_grid fetch '{"protocol": 3, "fetch_budget": 10}'
mkdir -p "$WORK/nodes"
for n in a b; do
	printf '{"node_id": "%s", "name": "%s", "version": "0.6.0", "protocol": 3, "slots": 1, "registered_at": "%s"}\n' \
		"$n" "$n" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$WORK/nodes/$n.json"
done
task f1 'true'
commit_push "$WORK" "two idle nodes, a fetch budget of 10, a task"
observe fetch
says fetch fetch_budget 'limits:    fetch budget: idle workers poll every 14 s (8.3 fetches/min for 2 nodes, budget 10) - queued tasks wait that long to be seen: raise fetch_budget if the host allows it, or run fewer workers with more --slots'
check_eq "fetch: the poll is 72 s x 2 nodes / 10" "14.4 True" \
	"$(advice "$T/fetch.json" '"%s %s" % (a["figures"]["idle_poll_seconds"], a["figures"]["fetch_budget_sets_poll"])')"
printf '{"protocol": 3}\n' >"$WORK/dgrid.json"
commit_push "$WORK" "no fetch budget"
observe queue
says queue queue 'limits:    queue: 1 task waits and 2 worker slots are free - the next poll or push slot claims them; if this lasts, check that those workers still run and can take these tasks'
# a node that said it stopped is no worker any more
python3 - "$WORK/nodes/b.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["stopped_at"] = "2026-01-01T00:00:00Z"
json.dump(d, open(sys.argv[1], "w"))
PY
commit_push "$WORK" "b stopped"
observe stopped
says stopped queue 'limits:    queue: 1 task waits and 1 worker slot is free - the next poll or push slot claims them; if this lasts, check that those workers still run and can take these tasks'
check_eq "stopped: 2 registered, 1 member, 1 active" "2 1 1" \
	"$(advice "$T/stopped.json" '"%d %d %d" % (a["figures"]["registered_nodes"], a["figures"]["member_nodes"], a["figures"]["active_nodes"])')"

# a registration last written two hours ago: without a push budget nobody
# writes active_at again, so it is a member (0.14.9 called it dormant)
python3 - "$WORK/nodes/a.json" <<'PY'
import datetime, json, sys
d = json.load(open(sys.argv[1]))
d["active_at"] = (datetime.datetime.utcnow() - datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
json.dump(d, open(sys.argv[1], "w"))
PY
commit_push "$WORK" "a last wrote its registration two hours ago"
observe silent
check_eq "silent, no push budget: 2 registered, 1 member, 1 active, 1 sharer" "2 1 1 1.0" \
	"$(advice "$T/silent.json" '"%d %d %d %.1f" % (a["figures"]["registered_nodes"], a["figures"]["member_nodes"], a["figures"]["active_nodes"], a["figures"]["fetch_sharers"])')"
# with a push budget members keep active_at fresh: a is dormant, half a sharer (3,600 / 7,200 s)
printf '{"protocol": 3, "push_budget": 60, "fetch_budget": 10}\n' >"$WORK/dgrid.json"
commit_push "$WORK" "a push budget"
observe dormant
check_eq "dormant: 2 registered, 0 members, 0.5 sharers" "2 0 0.5" \
	"$(advice "$T/dormant.json" '"%d %d %.1f" % (a["figures"]["registered_nodes"], a["figures"]["member_nodes"], a["figures"]["fetch_sharers"])')"

check_eq "no command wrote an error" "" "$(cat "$T"/*.err | grep -v 'event=dashboard_written' | head -3)"
finish
