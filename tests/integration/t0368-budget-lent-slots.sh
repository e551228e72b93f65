#!/usr/bin/env bash
# t0368: on a budget grid whose queue is empty, the join slots are lent to
# the members (pushslot.h, since 0.16.2), and since 0.16.4 so are the
# slots of members that hold no claim, to those that do: a member holding
# its last report pushes it in the first slot that is its own or lent to
# it, instead of waiting a whole cycle for its own.
#
# Three workers on a grid whose budget is 60 pushes a minute; a pre-receive
# hook records every push. Tasks come in rounds of six `sleep 1`, each
# submitted with plain git once the round before is reported, so that
# every round ends with members holding their last reports beside an empty
# queue. Shown:
#  - lent slots are used (event=lent-slot), and a push in one carries
#    reports only: nothing was queued to claim, so no newcomer could have
#    wanted that join slot;
#  - every task ran exactly once and has one result;
#  - no 60 s window holds more pushes than the budget.
# Which slot a report finds first, lent or its own, depends on when its
# task ends: three members after the joins have cycles of 4 slots, one of
# them a join slot, which 0.16.2 lent to each member every third cycle, so
# about one last report in four found a lent slot first; eight rounds make
# some 20 such reports (none in a lent slot: a chance of about 0.3 %).
# Since 0.16.4 every slot of a member that holds no claim is lent too, and
# more reports find one.
. "$(dirname "$0")/lib.sh"

BUDGET=60
ROUNDS=8
PER_ROUND=6
BARE=$T/srv/grid.git
daemon_grid "{\"protocol\": 3, \"push_budget\": $BUDGET}"
record_pushes "$BARE" "$T/pushes"
: >"$T/runs"
commit_push "$T/work" "policy"
: >"$T/pushes"

# round R: six tasks rR-1 ... rR-6, submitted with plain git
round() {
	local i
	git -C "$T/work" pull -q --rebase origin main 2>/dev/null
	mkdir -p "$T/work/tasks/queue"
	for i in $(seq 1 $PER_ROUND); do
		printf '{"task_id": "r%d-%d", "script": "echo r%d-%d >>%s; sleep 1", "timeout_seconds": 60}\n' \
			"$1" "$i" "$1" "$i" "$T/runs" >"$T/work/tasks/queue/r$1-$i.json"
	done
	commit_push "$T/work" "round $1: $PER_ROUND tasks"
}
results() { git -C "$BARE" ls-tree -r --name-only main tasks/completed tasks/failed | grep -c '\.json$'; }

for name in w1 w2 w3; do
	DGRID_CACHE=$T/cache-$name PULL_INTERVAL=1 LOG_LEVEL=debug "$DGRID" worker --repo "$URL" --node-id "$name" --slots 1 \
		--executor process --http off >"$T/$name.log" 2>&1 &
	track $!
done
for r in $(seq 1 $ROUNDS); do
	round "$r"
	check "round $r is reported" wait_for 120 bash -c "[ \$(git -C '$BARE' ls-tree -r --name-only main \
		tasks/completed tasks/failed | grep -c '\\.json\$') -ge $((r * PER_ROUND)) ]"
done

lent=$(cat "$T"/w*.log | grep -c 'event=lent-slot')
note "pushes in lent slots: $lent; pushes in all: $(wc -l <"$T/pushes")"
check "members pushed last reports in lent join slots" test "$lent" -ge 1
# the push that followed each event=lent-slot (debug: event=pushed commit=...) reports and claims nothing
bad=0 seen=0
for name in w1 w2 w3; do
	for c in $(awk '/event=lent-slot/ { lent = 1; next }
		lent && / event=pushed / { sub(/.*commit=/, ""); print $1; lent = 0 }' "$T/$name.log"); do
		subject=$(git -C "$BARE" log --format=%s -1 "$c" 2>/dev/null)
		seen=$((seen + 1))
		case $subject in *" report "*) case $subject in *" claim "*) bad=$((bad + 1)) ;; esac ;; *) bad=$((bad + 1)) ;; esac
	done
done
note "lent-slot pushes found on main: $seen"
check "the pushes made in lent slots are on main" test "$seen" -ge 1
check_eq "each push in a lent slot reports and claims nothing" 0 "$bad"

check_eq "every task has one result" "$((ROUNDS * PER_ROUND))" "$(results)"
check_eq "every task ran exactly once" "$((ROUNDS * PER_ROUND)) 0" \
	"$(sort -u "$T/runs" | wc -l) $(sort "$T/runs" | uniq -d | wc -l)"
max=$(awk '{ t[NR] = $1 } END { m = 0; for (i = 1; i <= NR; i++) { c = 0; for (j = i; j <= NR && t[j] < t[i] + 60; j++) c++; if (c > m) m = c }; print m }' "$T/pushes")
note "most pushes in any 60 s: $max (budget $BUDGET)"
check "no 60 s window holds more pushes than the budget" test "$max" -le $BUDGET
finish
