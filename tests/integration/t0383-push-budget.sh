#!/usr/bin/env bash
# t0383: a grid-wide push budget (dgrid.json "push_budget", pushslot.h).
# Five workers on a grid whose budget is 20 pushes a minute, four arriving at once;
# a pre-receive hook records every push (to any ref, one line each). Shown: no 60 s window
# holds more than 20 pushes; every task ran exactly once and has one
# result; tasks were claimed in batches (a claim's lease covers the wait of
# its batch); workers registered in the push that claimed; a worker stopped
# by SIGTERM hands back the part of its batch it had not started, in a push
# that also says it stopped (its slot is freed 64 slots later); idle workers push
# nothing.
. "$(dirname "$0")/lib.sh"

BUDGET=20
TASKS=30
mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
# one line per push (record_pushes). Until 0.14.9 this wrote a line per
# ref, and a minute holding a few joins could count 21 at a budget of 20
# with 13 pushes made.
record_pushes "$BARE" "$T/pushes"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
clone_work "$BARE" "$T/work"
: >"$T/runs"
printf '{"protocol": 3, "push_budget": %d, "claim_batch_max": 4, "lease_margin": 30}\n' $BUDGET >"$T/work/dgrid.json"
mkdir -p "$T/work/tasks/queue"
for i in $(seq 1 $TASKS); do
	printf '{"task_id": "t%d", "script": "echo t%d >>%s; sleep 1", "timeout_seconds": 20}\n' \
		"$i" "$i" "$T/runs" >"$T/work/tasks/queue/t$i.json"
done
commit_push "$T/work" "policy and $TASKS tasks"
: >"$T/pushes"

start() {   # start NAME [ARGS...]
	local name=$1; shift
	DGRID_CACHE=$T/cache-$name PULL_INTERVAL=1 "$DGRID" worker --repo "$URL" --node-id "$name" \
		--executor process --http off "$@" >"$T/$name.log" 2>&1 &
	PID=$!
	track $PID
}
results_of() {
	git -C "$BARE" ls-tree -r --name-only main tasks/completed tasks/failed | grep -Ec "/$1\.[^/]*$" || true
}
# w5 alone first: once a task has run on it, it knows how long one takes and
# claims a batch for its cycle; it is stopped while it runs a task of it
start w5; W5=$PID
check "w5 claims a batch" wait_for 120 bash -c \
	"git -C '$BARE' log --format=%s main | grep -Eq '^w5:.* claim [^ ]+ claim [^ ]+'"
check "and starts a task of it" wait_for 30 bash -c \
	"[ \$(grep -c 'node=w5 .*event=started executor' '$T/w5.log') -ge 2 ]"
kill -TERM $W5
wait $W5
check "w5 hands back the tasks of its batch it had not started" grep -q 'event=handed-back unstarted=1' "$T/w5.log"
check "and says in nodes/w5.json that it stopped" bash -c \
	"git -C '$BARE' show main:nodes/w5.json | grep -q '\"stopped_at\"'"
check "in the push that handed them back" bash -c \
	"git -C '$BARE' log -1 --format=%s main -- nodes/w5.json | grep -q 'hand back'"
# unstarted, they say so: max_attempts does not count those claims (doc/tasks.md)
STOP=$(git -C "$BARE" log -1 --format=%H main -- nodes/w5.json)
check "each task handed back unstarted is queued with handed_back 1" bash -c "
	for id in \$(git -C '$BARE' log -1 --format=%s $STOP | grep -o 'hand back [^ ]*' | awk '{ print \$3 }'); do
		grep -q \"task=\$id event=handed-back unstarted=1\" '$T/w5.log' || continue
		f=\$(git -C '$BARE' ls-tree -r --name-only $STOP tasks/queue | grep \"/\$id\\.json\$\")
		git -C '$BARE' show $STOP:\$f | python3 -c 'import json, sys; sys.exit(json.load(sys.stdin).get(\"handed_back\") != 1)' || exit 1
		n=\$((n + 1))
	done
	[ \${n:-0} -ge 1 ]"
for n in 1 2 3 4; do start "w$n" --exit-when-idle; done

all_done() {
	local i
	for i in $(seq 1 $TASKS); do [ "$(results_of "t$i")" -ge 1 ] || return 1; done
}
check "every task ends" wait_for 300 all_done
bad=""
for i in $(seq 1 $TASKS); do
	r="$(grep -cx "t$i" "$T/runs") $(results_of "t$i")"
	[ "$r" = "1 1" ] || bad="$bad t$i:($r)"
done
check_eq "every task ran exactly once and has one result" "" "$bad"

max_window() {
	python3 - "$T/pushes" <<'EOF'
import sys
ts = sorted(float(l.split()[0]) for l in open(sys.argv[1]) if l.strip())
print(max((sum(1 for u in ts if t <= u < t + 60) for t in ts), default=0))
EOF
}
note "pushes: $(wc -l <"$T/pushes"), the most in one 60 s window: $(max_window)"
check "no 60 s window holds more than the budget ($BUDGET pushes)" test "$(max_window)" -le $BUDGET
check "claims came in batches (several tasks in one push)" bash -c \
	"git -C '$BARE' log --format=%s main | grep -Eq 'claim [^ ]+ claim [^ ]+'"
claim=$(git -C "$BARE" log --format=%H -G lease_seconds main -- tasks/in_progress | tail -1)
check "a batched claim's lease covers the tasks ahead of it and the wait for a slot" bash -c "
	git -C '$BARE' show $claim | grep -o '\"lease_seconds\": [0-9]*' | awk '{ print \$2 }' | sort -n | tail -1 |
	awk '{ exit !(\$1 > 20 + 30) }'"
check_eq "no registration cost a push of its own (it rides on a claim)" 0 \
	"$(git -C "$BARE" log --format=%s main | grep -c ': register node$' || true)"
check "the workers that claimed are registered" bash -c "
	for n in \$(git -C '$BARE' log --format=%s main | grep ' claim ' | cut -d: -f1 | sort -u); do
		git -C '$BARE' cat-file -e main:nodes/\$n.json || exit 1
	done"
check "the workers exit when the grid is drained" wait_for 120 bash -c \
	"! pgrep -f -- '$URL --node-id w[1-4] ' >/dev/null"
check_eq "no worker logged an error" "" "$(grep -h ' error ' "$T"/w*.log | head -3)"

# idle on a budget grid: no push at all
start i1; start i2
check "two idle workers start" wait_for 30 bash -c "grep -q event=started '$T/i1.log' && grep -q event=started '$T/i2.log'"
p0=$(wc -l <"$T/pushes")
sleep 20
check_eq "idle workers push nothing in 20 s" "$p0" "$(wc -l <"$T/pushes")"
finish
