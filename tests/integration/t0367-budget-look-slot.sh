#!/usr/bin/env bash
# t0367: on a budget grid, a busy member's looks do not cost it its slot.
# Between its turns a member running a task fetches every poll interval to
# see cancellations. On a loaded host such a fetch takes seconds, and until
# 0.16.5 one that began shortly before the member's own slot ended after
# the slot had passed: the turn found its slot gone and waited a whole
# cycle (bench-budget, 64 workers: a member holding its last report waited
# 38 s so, twice in a run). Since 0.16.5 the look is skipped when the slot
# comes within the poll interval; the turn fetches then anyway.
#
# Here the git daemon's pack-objects sleeps 2.5 s (uploadpack.packObjectsHook
# in the daemon's global config) and a submitter pushes a small commit every
# second, so that every fetch brings something and outlasts a slot (1.2 s
# at a budget of 60). One worker, PULL_INTERVAL=2, runs one task of 90 s
# beside seven registrations of members that never push (registered a
# minute before, active now): its cycle is 12 slots (14 s), and its looks
# come about every 4 s (the poll interval grows with the members). Shown,
# from its debug log: it looked while the task ran (else this shows
# nothing), and each of its turns then came one cycle after the one before
# (event=turn says the slot and the length of the cycle that holds it) - a
# look that ate the slot leaves a gap of two cycles or more; the task ran
# once and has its result. With the look taken whatever the slot, three
# runs of three failed (gaps of two and three cycles); this form passed in
# three of three, two of them beside three other runs of this test.
. "$(dirname "$0")/lib.sh"

slow_fetch_grid 2.5
: >"$T/runs"
printf '{"protocol": 3, "push_budget": 60}\n' >"$T/work/dgrid.json"
mkdir -p "$T/work/tasks/queue" "$T/work/nodes"
# seven members that never push (registered a minute ago, active now): their slots make w1's cycle long
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
before=$(date -u -d '-60 seconds' +%Y-%m-%dT%H:%M:%SZ)
for i in 1 2 3 4 5 6 7; do
	printf '{"node_id": "idle%d", "registered_at": "%s", "active_at": "%s"}\n' "$i" "$before" "$now" \
		>"$T/work/nodes/idle$i.json"
done
printf '{"task_id": "long", "script": "echo long >>%s; sleep 90", "timeout_seconds": 300}\n' "$T/runs" \
	>"$T/work/tasks/queue/long.json"
commit_push "$T/work" "policy, seven idle members and a task of 90 s"

DGRID_CACHE=$T/cache-w1 DGRID_SPOOL=$T/spool-w1 PULL_INTERVAL=2 LOG_LEVEL=debug \
	"$DGRID" worker --repo "$URL" --node-id w1 --executor process --http off --slots 1 \
	>"$T/w1.log" 2>&1 &
W1=$!
track $W1
check "w1 claims the task" wait_for 60 bash -c "grep -q 'task=long event=started' '$T/w1.log'"
# main moves every second while the task runs: every look and turn fetches something
clone_work "$BARE" "$T/other"
(
	i=0
	while ! grep -q 'task=long event=finished' "$T/w1.log"; do
		i=$((i + 1))
		echo "$i" >"$T/other/notes.txt"
		git -C "$T/other" add notes.txt
		git -C "$T/other" commit -qm "note $i"
		git -C "$T/other" pull -q --rebase origin main 2>/dev/null
		git -C "$T/other" push -q origin HEAD:main 2>/dev/null
		sleep 1
	done
) &
track $!
check "and reports it" wait_for 200 bash -c \
	"git -C '$BARE' ls-tree -r --name-only main tasks/completed | grep -q long"
kill -TERM $W1
wait $W1

# the turns and looks between the task's start and its end
awk '/task=long event=started/ { on = 1; next } /task=long event=finished/ { on = 0 }
	on && / event=turn / { s = c = ""; for (i = 1; i <= NF; i++) { if ($i ~ /^slot=/) s = substr($i, 6);
		if ($i ~ /^cycle=/) c = substr($i, 7) }; print "turn", s, c }
	on && / event=look / { print "look" }' "$T/w1.log" >"$T/busy"
turns=$(grep -c '^turn' "$T/busy")
looks=$(grep -c '^look' "$T/busy")
gaps=$(awk '$1 == "turn" { if (prev != "") print $2 - prev, cycle; prev = $2; cycle = $3 }' "$T/busy")
note "while the task ran: $turns turns, $looks looks; slots between turns, and the cycle: $(echo $gaps)"
check "w1 looked while the task ran (else this shows nothing)" test "$looks" -ge 2
check "w1 took turns while the task ran" test "$turns" -ge 3
check_eq "each turn came one cycle after the one before" "" \
	"$(awk '$1 == "turn" { if (prev != "" && $2 - prev != cycle) print prev "+" cycle "!=" $2; prev = $2; cycle = $3 }' "$T/busy")"
check_eq "the task ran once" "long" "$(cat "$T/runs")"
check "no warnings or errors" bash -c "! grep -E ' (warning|error) ' '$T/w1.log' | grep -v event=unsandboxed"
finish
