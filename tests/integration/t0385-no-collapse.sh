#!/usr/bin/env bash
# t0385: no collapse under contention without a push budget (issue 11).
# Sixteen workers arrive at once on one git daemon, with no push_budget, to
# 240 trivial tasks submitted with plain git. On a crowded grid a worker
# claims up to one task a slot per registered node, more while it loses
# races (dg_worker_contention), and waits for a part of (registered nodes x
# its own turn time) before it tries again; the registration rides on the
# first claim. Shown (no timing is asserted;
# bench/bench-collapse.sh measures the rates): every task ran exactly once
# and has one result; no claim was reaped from a live worker; claims came
# in batches no larger than claim_batch_max, with leases covering the wait
# of the batch; no worker pushed a registration of its own, and one that
# lost a race and then found the queue empty pushed nothing at all.
. "$(dirname "$0")/lib.sh"

WORKERS=16
TASKS=240
BATCH_MAX=6
mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
clone_work "$BARE" "$T/work"
: >"$T/runs"
printf '{"protocol": 3, "claim_batch_max": %d}\n' $BATCH_MAX >"$T/work/dgrid.json"
mkdir -p "$T/work/tasks/queue"
for i in $(seq 1 $TASKS); do
	printf '{"task_id": "t%d", "script": "echo t%d >>%s", "timeout_seconds": 30}\n' \
		"$i" "$i" "$T/runs" >"$T/work/tasks/queue/t$i.json"
done
commit_push "$T/work" "policy and $TASKS tasks"

PIDS=()
for n in $(seq 1 $WORKERS); do
	DGRID_CACHE=$T/cache-w$n PULL_INTERVAL=1 LOG_LEVEL=debug timeout 600 "$DGRID" worker --repo "$URL" \
		--node-id "w$n" --executor process --http off --exit-when-idle >"$T/w$n.log" 2>&1 &
	track $!
	PIDS+=($!)
done
rc=0
for p in "${PIDS[@]}"; do wait "$p" || rc=$?; done
check_eq "every worker exits 0 once the queue is empty" 0 $rc

check_eq "every task ran" $TASKS "$(sort -u "$T/runs" | wc -l)"
check_eq "exactly once" $TASKS "$(wc -l <"$T/runs")"
check_eq "and has one result" $TASKS "$(count_all "$BARE" tasks/completed)"
check_eq "nothing is left queued or claimed" 0 \
	"$(($(count_all "$BARE" tasks/queue) + $(count_all "$BARE" tasks/in_progress)))"
check_eq "no claim was reaped" 0 "$(git -C "$BARE" log --format=%s main | grep -c '^reap by')"
check_eq "no result was superseded" 0 "$(cat "$T"/w*.log | grep -c 'event=superseded')"

# each worker's commit subject lists what it did: "wN: claim A claim B ..."
claims() { git -C "$BARE" log --format=%s main | awk '/^w[0-9]+:/ { n = 0; for (i = 2; i <= NF; i++) n += $i == "claim"; print n }'; }
most=$(claims | sort -n | tail -1)
note "claims per commit: $(claims | sort -n | uniq -c | awk '{ printf "%s x%s  ", $2, $1 }')"
check "claims came in batches on the crowded grid (most in one push: $most)" [ "$most" -gt 1 ]
check "never more than claim_batch_max ($BATCH_MAX) in one push" [ "$most" -le $BATCH_MAX ]
check "lost races raised the batch size" grep -q 'event=crowd claims_per_slot=[2-9]' "$T"/w*.log
apart=0 unregistered=0 idle_pushed=0 claimers=0
for n in $(seq 1 $WORKERS); do
	if ! git -C "$BARE" log --format=%s main | grep -q "^w$n: .*claim "; then
		# it found nothing to claim: once it had lost a race, a registration
		# alone was no reason to push (the tail of a crowded run)
		lost_first=$(awk '/ event=contention / { print "yes"; exit } / event=pushed / { print "no"; exit }' "$T/w$n.log")
		[ "$lost_first" = yes ] && [ "$(git -C "$BARE" log --format=%s main | grep -c "^w$n:")" != 0 ] &&
			idle_pushed=$((idle_pushed + 1))
		continue
	fi
	claimers=$((claimers + 1))
	git -C "$BARE" cat-file -e "main:nodes/w$n.json" 2>/dev/null || unregistered=$((unregistered + 1))
	git -C "$BARE" log --diff-filter=A --format=%s main -- "nodes/w$n.json" | grep -q "^w$n: .*claim " ||
		apart=$((apart + 1))
done
note "$claimers of $WORKERS workers claimed tasks"
check_eq "every worker that claimed is registered" 0 $unregistered
check_eq "a worker that claimed registered in the push of its first claim, not in one of its own" 0 $apart
check_eq "a worker that lost a race and then found nothing to claim pushed nothing (no registration alone)" 0 $idle_pushed

# a batch's later claims wait for the earlier ones: their leases say so
check "a claim's lease covers the tasks ahead of it in its batch" python3 - "$BARE" <<'PY'
import json, subprocess, sys
bare = sys.argv[1]
# the claim files as they were written: every version of every tasks/in_progress file
revs = subprocess.run(["git", "-C", bare, "rev-list", "main"], capture_output=True, text=True).stdout.split()
longest = 0
for rev in revs[:400]:
    files = subprocess.run(["git", "-C", bare, "ls-tree", "-r", "--name-only", rev, "tasks/in_progress"],
                           capture_output=True, text=True).stdout.split()
    for f in files:
        doc = json.loads(subprocess.run(["git", "-C", bare, "show", f"{rev}:{f}"],
                                        capture_output=True, text=True).stdout)
        longest = max(longest, doc.get("lease_seconds", 0))
# timeout 30 + lease_margin 60 = 90 for a claim with nothing ahead
assert longest >= 90 + 30, longest
PY
check_eq "no worker logged an error, or a warning but the process executor's" 0 \
	"$(cat "$T"/w*.log | awk '($2 == "warning" && $3 != "event=unsandboxed") || $2 == "error"' | wc -l)"
finish
