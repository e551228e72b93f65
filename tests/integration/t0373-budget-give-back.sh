#!/usr/bin/env bash
# t0373: on a budget grid a member gives back what it holds beyond a
# cycle's work (worker_budget.c, dg_worker_backlog_surplus; doc/protocol.md
# "Push budget", "Batches"), in a push it makes anyway, and a claim given
# back unstarted does not count against max_attempts (tasksched.h,
# "handed_back"; doc/tasks.md).
#
# w1 starts alone: its first claim, made before any task ran here, takes
# 16 tasks; its cycle (one member) is a few seconds, so its next turn gives
# most of them back. Shown: the give-back rides on a push that reports;
# each task it gave back is queued again with "handed_back": 1 and no
# claim; w2, started then, takes part of the work; every task has exactly
# one result. Then, with "max_attempts": 2, w1 is killed (SIGKILL) while it
# holds a task it had given back and claimed again (attempt 2), and started
# again under its id: it adopts that claim and runs it. Before 0.16.0 a
# given-back claim counted as a crash: the adoption found 2 crash claims
# of 2 and abandoned a task that had never failed.
. "$(dirname "$0")/lib.sh"

TASKS=24
BARE=$T/srv/grid.git
daemon_grid '{"protocol": 3, "push_budget": 60, "max_attempts": 2}'
: >"$T/runs"
for i in $(seq 1 $TASKS); do
	printf '{"task_id": "t%d", "script": "echo t%d >>%s; sleep 2", "timeout_seconds": 30}\n' \
		"$i" "$i" "$T/runs" >"$T/work/tasks/queue/t$i.json"
done
commit_push "$T/work" "policy and $TASKS tasks, submitted with plain git"

start() {   # start NAME [ARGS...]
	local name=$1; shift
	DGRID_CACHE=$T/cache-$name PULL_INTERVAL=1 "$DGRID" worker --repo "$URL" --node-id "$name" \
		--slots 1 --executor process --http off "$@" >>"$T/$name.log" 2>&1 &
	PID=$!
	track $PID
}
gave_back() { git -C "$BARE" log --format='%H %s' main | grep ' give back ' | head -1; }

start w1; W1=$PID
check "w1's first claim takes a batch of 16" wait_for 60 bash -c \
	"git -C '$BARE' log --format=%s main | grep -Eq '^w1:( claim [^ ]+){16}'"
check "w1 gives back its surplus at a later turn" wait_for 60 bash -c \
	"git -C '$BARE' log --format=%s main | grep -q '^w1:.* give back '"
read -r GB SUBJECT <<<"$(gave_back)"
GIVEN=$(grep -o 'give back [^ ]*' <<<"$SUBJECT" | awk '{ print $3 }' | sort -u)
note "given back in ${GB:0:12}: $(echo $GIVEN)"
check "in a push that reports too (no push of its own)" grep -q ' report ' <<<"$SUBJECT"
check "w1 logged each one" bash -c \
	"for t in $(echo $GIVEN); do grep -q \"task=\$t event=handed-back unstarted=1 why=surplus\" '$T/w1.log' || exit 1; done"
queued_doc() {   # the queued file of task $1 as commit $2 left it
	local path
	path=$(git -C "$BARE" ls-tree -r --name-only "$2" tasks/queue | grep "/$1\.json$" | head -1)
	[ -n "$path" ] && git -C "$BARE" show "$2:$path"
}
check "each is queued again, unclaimed, with handed_back 1" bash -c "
	$(declare -f queued_doc); BARE='$BARE'
	for t in $(echo $GIVEN); do
		queued_doc \$t $GB | python3 -c 'import json, sys
d = json.load(sys.stdin)
sys.exit(not (d.get(\"handed_back\") == 1 and d.get(\"attempt\") == 1 and all(k not in d for k in (\"node_id\", \"claimed_at\", \"lease_seconds\", \"lease_renewed_at\"))))' || exit 1
	done"

# w1 claims a given-back task again (attempt 2) and is killed holding it.
# It is frozen (SIGSTOP) before main and its log are read, so that what
# they show is what it holds when killed: running, not finished (a result
# spooled at the kill is reported by the next life, not adopted). A 2 s
# task claimed again could end, or be reported, between a look at main
# and the kill (seen under the sanitizers, once a member running a task
# took its share of a short queue, 0.16.2).
held_again() {   # a task w1 gave back, holds again on main and runs (started, not finished: no result spooled)
	local t path
	for t in $GIVEN; do
		grep -q "task=$t event=started" "$T/w1.log" && ! grep -q "task=$t event=finished" "$T/w1.log" || continue
		path=$(git -C "$BARE" ls-tree -r --name-only main tasks/in_progress | grep "/$t\.json$" | head -1)
		[ -n "$path" ] || continue
		git -C "$BARE" show "main:$path" | python3 -c 'import json, sys; d = json.load(sys.stdin)
sys.exit(not (d.get("node_id") == "w1" and d.get("handed_back", 0) >= 1))' && { echo "$t"; return 0; }
	done
	return 1
}
freeze_holding() {   # w1 stopped while main shows it holding such a task; else it runs on
	kill -STOP $W1
	sleep 0.5   # a push the host was taking when w1 stopped lands first
	held_again >/dev/null && return 0
	kill -CONT $W1
	return 1
}
check "w1 holds a task it gave back, claimed again" wait_for 60 freeze_holding
AGAIN=$(held_again)
kill -KILL $W1
wait $W1 2>/dev/null
CLAIM=$(git -C "$BARE" ls-tree -r --name-only main tasks/in_progress | grep "/$AGAIN\.json$" | head -1)
ATTEMPT=$(git -C "$BARE" show "main:$CLAIM" 2>/dev/null | python3 -c 'import json, sys; d = json.load(sys.stdin)
print(d["attempt"] if d.get("node_id") == "w1" and d.get("handed_back", 0) >= 1 else "")' 2>/dev/null)
note "w1 killed holding $AGAIN (claimed again, attempt ${ATTEMPT:-?})"
check "main holds w1's claim of $AGAIN, given back before (handed_back >= 1)" test -n "$ATTEMPT"
start w1; W1=$PID
start w2 --exit-when-idle
check "the new w1 adopts it (attempt $((ATTEMPT + 1))), not abandons it" wait_for 60 \
	grep -q "task=$AGAIN event=adopted attempt=$((ATTEMPT + 1))" "$T/w1.log"

results_of() {
	git -C "$BARE" ls-tree -r --name-only main tasks/completed tasks/failed | grep -Ec "/$1\.[^/]*$" || true
}
all_done() {
	local i
	for i in $(seq 1 $TASKS); do [ "$(results_of "t$i")" -ge 1 ] || return 1; done
}
check "every task ends" wait_for 240 all_done
kill -TERM $W1
bad=""
for i in $(seq 1 $TASKS); do
	r=$(results_of "t$i")
	[ "$r" = 1 ] || bad="$bad t$i:$r"
done
check_eq "every task has exactly one result" "" "$bad"
check_eq "none abandoned, none failed" "" "$(git -C "$BARE" ls-tree -r --name-only main tasks/failed)"
twice=$(sort "$T/runs" | uniq -d | tr '\n' ' ')
check "only a task w1 held when killed ran twice (${twice:-none})" bash -c \
	"for t in $twice; do git -C '$BARE' log --format=%s main | grep -q \"^w1:.* claim \$t\.json\" || exit 1; done"
check "w2 ran part of the work" bash -c \
	"git -C '$BARE' ls-tree -r --name-only main tasks/completed | grep -q '\.w2\.'"
check_eq "no worker logged an error" "" "$(grep -h ' error ' "$T"/w*.log | head -3)"
[ "$_tap_failed" -eq 0 ] || tail -n 30 "$T/w1.log" | sed 's/^/# /'
finish
