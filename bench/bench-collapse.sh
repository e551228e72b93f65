#!/usr/bin/env bash
# bench-collapse.sh - no collapse under contention (issue 11, item 5:
# "without any budget set, more workers never make the grid slower").
#
# Everything runs in a fresh temporary directory against one
# `git daemon --verbose --reuseaddr --listen=127.0.0.1 --port=FREE
# --base-path=DIR --export-all --enable=receive-pack --max-connections=0`
# (stderr to a log), killed by the exit trap with every other process this
# script started (each worker runs under `timeout` in a process group of its
# own; the trap signals the whole group). --max-connections=0: with the
# daemon's default limit of 32 clients, from W = 32 on it SIGTERMs a running
# client from the same address and sleeps 1 s before accepting again, which
# is the daemon's behaviour, not dgrid's (see bench-budget.sh).
#
# For each W:T pair of RUNS:
#  1. A bare repository collapse-wW-tT.git with receive.denyNonFastForwards,
#     no auto gc, and two hooks (bash builtins only, so that they widen no
#     push's window for losing the compare-and-swap):
#       pre-receive   appends one line per push that sent its commands and
#                     pack: the time ($EPOCHREALTIME) and the refs it
#                     updates;
#       post-receive  appends one line per push that updated a ref.
#  2. Submission with plain git, before any worker starts: one commit
#     holding dgrid.json = {"protocol": PROTOCOL} - no "push_budget", no
#     "fetch_budget": the unbudgeted grid this benchmark is about - and a
#     README, one commit adding T flat files tasks/queue/tK.json =
#     {"task_id": "tK", "script": "echo tK >>RUNS", "timeout_seconds":
#     TASK_TIMEOUT}, pushed together with `git push` (its hook line is
#     checked, then left out: only lines stamped after the workers started
#     count). The tasks are trivial: what is measured is the grid, not them.
#  3. W workers started at once: `dgrid worker --repo git://... --node-id wI
#     --exit-when-idle --http off --slots 1 --executor process`, each with
#     its own DGRID_CACHE, PULL_INTERVAL=1, LOG_LEVEL (debug by default: the
#     diagnosis lines need event=pushed and event=contention), under
#     `timeout -k 45 WORKER_TIMEOUT`. Wall time from just before the first
#     start to the last exit. A run cut by the timeout is reported as such:
#     its tasks/s is then an upper bound of what it managed ("< ") and the
#     tasks it never got to are "not run".
#
# Counting (per run):
#  drain        seconds from the start to the push that landed the last
#               result: the post-receive hook records main's commit after
#               each push, and drained_at (lib-workers.sh) finds the first
#               that holds all T results. Since 0.13.0 tasks/s is counted
#               from it, not from the wall time to the last worker's exit:
#               an --exit-when-idle worker that stood aside notices the
#               drained grid at its next look (up to ~30 s later), which
#               is no task run slower. Both are reported.
#  claim        seconds from the start to main's first commit that claims:
#               the part of the drain the grid took to notice the work.
#               Warm, that is the idle workers' looks: one worker polls
#               every PULL_INTERVAL, a crowd shares its looks
#               (doc/protocol.md), and the rest of the drain is the
#               carriers' pace.
#  tasks/s      T / drain seconds. ratio = tasks/s / tasks/s of the W = 1
#               run (the first run when RUNS has none) of the same round;
#               target >= 1 (with ROUNDS > 1: the median of the rounds'
#               ratios). A second W = 1 run, with a task more so that its
#               W:T differs (RUNS="1:400 1:401 8:400 32:400"), measures one
#               worker against itself: the noise floor of the round's
#               ratios, reported as such, not as a target (doc/scaling.md,
#               "0.16.12": 0.71-1.62 over twenty rounds).
#  pushes       pre-receive lines stamped after the workers started: every
#               push that sent its commands and pack. "updated": the
#               post-receive lines, pushes that moved a ref. "lost": pushes
#               - updated, packs sent whose compare-and-swap then failed at
#               the server. "abandoned": the daemon's `Request receive-pack`
#               lines for the repository (less the submission) - pushes:
#               pushes libgit2 gave up after the ref advertisement showed
#               the branch had moved (it sends nothing then).
#  tasks/push   tasks with a result / updated pushes.
#  exactly-once every tK appears exactly once in the runs file (what the
#               task scripts appended) and has exactly one result file
#               under tasks/completed or tasks/failed of main (searched
#               recursively, by the name prefix "tK."); "dup" and "miss"
#               count ids run twice or more and ids never run.
#  reaps        claims taken from their worker: the task ids in main's
#               "reap by wI: tK ..." commits (the reaper, src/reaper.c),
#               plus the workers' event=superseded lines (a result dropped
#               because its claim was reaped). Target 0: no worker died.
#               The detail line also gives the reaper's event=reaped and
#               event=abandoned log lines, written once per attempt of its
#               transaction, whether that attempt landed or not.
#
# Detail lines per run (diagnosis; most need LOG_LEVEL=debug):
#  - main's history after the submission, from the commit messages every
#    worker writes ("wI: report tK (success) claim tJ.json ..."): commits
#    that claim, report, register, intake, reap; claims per claiming
#    commit (mean, max) and reports per reporting commit.
#  - the workers' event=contention lines (a step that lost the race; the
#    loop then waits uniform(0, 50 ms << min(streak - 1, 7)) before it
#    tries again, src/worker.c) per task, the longest streak, and that
#    wait's expected total over all workers (sum of 25 ms << (streak - 1),
#    capped at streak 8).
#  - the registration, a transaction of its own before the loop starts
#    (src/worker.c until_reachable: event=contention step=register
#    retry_in_ms=N on each lost race): lost attempts, their waits, and when
#    the workers were registered (event=started), seconds after the start.
#  - the workers' event=pushed lines: steps that landed, the step time
#    (ms=, fetch excluded) median and p90.
#  - looks: the daemon's upload-pack connections for the repository (every
#    clone, fetch and peek), the workers' event=stand-aside lines and their
#    event=peek lines (a fetch skipped because the branch kept moving).
#  - report latency: from a task's event=finished to the event=pushed of
#    the commit whose message reports it (median, p90, max), and the wait
#    from a worker's first event=started (registered) to its first claim.
#
# Then one summary table and the targets as PASS/FAIL lines. They are
# informational: the exit status is non-zero only when the benchmark itself
# broke (daemon, submission, hook) or a task ran twice, never ran, or has no
# or several results - except tasks a timed-out run never got to, which are
# reported, not failed.
#
# Environment: DGRID (binary; default $SRC/build/dgrid), RUNS ("1:200 8:400
#   32:400", W:T pairs), TASK_SLEEP (0; N > 0 makes each task `sleep N;
#   echo tK >>RUNS`: tasks longer than a turn, where 32 workers should be
#   about 32 times as fast as one - with N = 2 the lower bound is T x N / W),
#   PROTOCOL (3; the grid's "protocol"), PUSH_BUDGET
#   (unset; a number adds "push_budget" to dgrid.json, to compare the
#   unbudgeted figures with the push schedule's), CLAIM_BATCH_MAX (unset; a
#   number adds "claim_batch_max" to dgrid.json), TASK_TIMEOUT
#   (the tasks' timeout_seconds, 60: the lease is this plus lease_margin,
#   60), WORKER_TIMEOUT (seconds for one run's workers, 300), PULL_INTERVAL
#   (1), LOG_LEVEL (the workers', debug), KEEP_TMP=1 keeps the directory
#   (logs, repositories, push and run records). WARM=1: a grid already
#   running - the W workers start on the policy commit alone, without
#   --exit-when-idle, and once all are in their loop (event=started) and
#   WARM_SETTLE (3) seconds more and a random part of PULL_INTERVAL, the T
#   tasks are pushed in a second commit. (Without that part, one worker's
#   poll kept the same phase against the submission from run to run: its
#   first claim came 0.1-0.4 s after it, where a poll every second makes
#   0.2-1.2 s.) Wall time is then from that push's end to the moment main holds
#   all T results (the drain); then every worker gets SIGTERM. Start-up
#   (clone, node key) is outside it, the idle crowd's first race is in.
#   ROUNDS (1): run RUNS that many times, alternated (every W:T, then
#   again, each round starting one W:T further along), each on a grid of
#   its own: one line per run, then the medians. A multiple of the number
#   of W:T pairs gives every run every place equally often.
#   On a shared 2-core machine one worker's drain of the same 400 tasks
#   varies by a third between runs, so one pair of runs says little.
# Machine: written on a 2-core machine that was also running other work
#   (the header and the last line show the load average); all W workers
#   share its CPUs with the git daemon and every upload-pack and
#   receive-pack it forks, so timings are only comparable within one run.
# Duration: each run takes at most WORKER_TIMEOUT + 45 s plus its checks.
#   Against dgrid 0.5.0 (load average 2-19, other work beside it) the
#   1-worker run took 47-70 s (2.9-4.3 tasks/s) and the 8- and 32-worker
#   runs were cut at 300 s having run 161-280 and 25-37 of their 400 tasks
#   (0.5-0.9 and 0.07-0.11 tasks/s): about 12 minutes in all.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
DGRID=${DGRID:-$SRC/build/dgrid}
RUNS=${RUNS:-1:200 8:400 32:400}
PROTOCOL=${PROTOCOL:-3}
PUSH_BUDGET=${PUSH_BUDGET:-}
CLAIM_BATCH_MAX=${CLAIM_BATCH_MAX:-}
TASK_TIMEOUT=${TASK_TIMEOUT:-60}
TASK_SLEEP=${TASK_SLEEP:-0}
case $TASK_SLEEP in '' | *[!0-9]*) echo "bench-collapse: TASK_SLEEP must be a whole number of seconds"; exit 1 ;; esac
TASK_PREFIX=
[ "$TASK_SLEEP" -gt 0 ] && TASK_PREFIX="sleep $TASK_SLEEP; "
WORKER_TIMEOUT=${WORKER_TIMEOUT:-300}
BENCH_PULL_INTERVAL=${PULL_INTERVAL:-1}
BENCH_LOG_LEVEL=${LOG_LEVEL:-debug}
WARM=${WARM:-}
WARM_SETTLE=${WARM_SETTLE:-3}
ROUNDS=${ROUNDS:-1}
SUBMIT_PUSHES=1
[ -n "$WARM" ] && SUBMIT_PUSHES=2
BENCH=bench-collapse
KILL_AFTER=45         # dgrid's --grace (30) + time to push what finished

[ -x "$DGRID" ] || { echo "bench-collapse: $DGRID missing (make)"; exit 1; }
case $WORKER_TIMEOUT in '' | *[!0-9]* | 0) echo "bench-collapse: WORKER_TIMEOUT must be a positive integer"; exit 1 ;; esac
case $WARM_SETTLE in '' | *[!0-9]*) echo "bench-collapse: WARM_SETTLE must be a whole number of seconds"; exit 1 ;; esac
case $ROUNDS in '' | *[!0-9]* | 0) echo "bench-collapse: ROUNDS must be a positive integer"; exit 1 ;; esac
case $TASK_TIMEOUT in '' | *[!0-9]* | 0) echo "bench-collapse: TASK_TIMEOUT must be a positive integer"; exit 1 ;; esac
case $PROTOCOL in '' | *[!0-9]* | 0) echo "bench-collapse: PROTOCOL must be a positive integer"; exit 1 ;; esac
case $PUSH_BUDGET in *[!0-9]* | 0) echo "bench-collapse: PUSH_BUDGET must be a positive integer (unset: none)"; exit 1 ;; esac
case $CLAIM_BATCH_MAX in *[!0-9]* | 0) echo "bench-collapse: CLAIM_BATCH_MAX must be a positive integer (unset: dgrid's default)"; exit 1 ;; esac
POLICY="{\"protocol\": $PROTOCOL${PUSH_BUDGET:+, \"push_budget\": $PUSH_BUDGET}${CLAIM_BATCH_MAX:+, \"claim_batch_max\": $CLAIM_BATCH_MAX}}"
BUDGET_DESC=${PUSH_BUDGET:+push_budget $PUSH_BUDGET}
BUDGET_DESC=${BUDGET_DESC:-no budget}
. "$SRC/bench/lib-workers.sh"

# stats: "median M p90 P max X" of the numbers on stdin (n/a when none)
stats() {
	sort -n | awk -v f="${1:-%.2f}" '{ v[NR] = $1 }
		END { if (!NR) { print "n/a"; exit }
			printf "median " f " p90 " f " max " f, v[int((NR + 1) / 2)], v[int((NR * 9 + 9) / 10)], v[NR] }'
}
# log stamps (UTC ISO 8601, milliseconds) as Unix seconds, one awk for all
# lines: FIELD is the stamp's field number; the stamp is replaced in place
epoch_of() {
	TZ=UTC awk -v f="${1:-1}" '{ s = $f; gsub(/[-:TZ]/, " ", s); split(s, p, " ")
		sec = mktime(p[1] " " p[2] " " p[3] " " p[4] " " p[5] " " int(p[6]))
		$f = sprintf("%.3f", sec + (p[6] - int(p[6]))); print }'
}

# submit_policy NAME: a clone-to-be with the policy commit (not pushed)
submit_policy() {
	local dir=$T/submit-$1
	git init -q -b main "$dir" || return 1
	printf '%s\n' "$POLICY" >"$dir/dgrid.json"
	printf 'bench-collapse state repository\n' >"$dir/README"
	git -C "$dir" add -A && git -C "$dir" commit -qm "grid policy: $POLICY"
}
# submit_tasks NAME T: commits T trivial tasks on top
submit_tasks() {
	local name=$1 n=$2 w=${#2} dir=$T/submit-$1 k id
	mkdir -p "$dir/tasks/queue"
	for k in $(seq "$n"); do
		id=$(task_id "$k" "$w")
		printf '{"task_id": "%s", "script": "%secho %s >>%s", "timeout_seconds": %s}\n' \
			"$id" "$TASK_PREFIX" "$id" "$T/runs-$name" "$TASK_TIMEOUT" >"$dir/tasks/queue/$id.json"
	done
	git -C "$dir" add -A && git -C "$dir" commit -qm "submit $n tasks"
}
submit_push() { git -C "$T/submit-$1" push -q "$URL/$1.git" main:main; }
# submit NAME T: policy and T trivial tasks, pushed together with plain git
submit() {
	submit_policy "$1" && submit_tasks "$1" "$2" && submit_push "$1" || return 1
	rm -rf "$T/submit-$1"
}
# run_warm NAME W T: W workers started on the grid with an empty queue and
# in their loop (event=started) before T tasks are pushed; t0 is when the
# submission is on the server, t1 when main holds all T results (or the
# limit passed), then each worker gets SIGTERM.
run_warm() {
	local name=$1 nw=$2 nt=$3 i p up deadline pushed
	submit_policy "$name" && submit_push "$name" || return 1
	start_workers "$name" "$nw" "$WORKER_TIMEOUT"
	deadline=$(( $(date +%s) + 120 ))
	while [ "$(cat "$T/logs/$name"/w*.log 2>/dev/null | grep -c ' event=started executor=')" -lt "$nw" ] &&
		[ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
	sleep "$WARM_SETTLE"
	# and a random part of a poll interval: a user's submission comes at any phase of the idle polls
	sleep "$(awk -v r="$RANDOM" -v p="$BENCH_PULL_INTERVAL" 'BEGIN { printf "%.3f", r / 32768 * p }')"
	up=$(cat "$T/logs/$name"/w*.log | grep -c ' event=started executor=')
	[ "$up" = "$nw" ] || problems+=("W=$nw T=$nt: only $up of $nw workers were in their loop before the submission")
	submit_tasks "$name" "$nt" || return 1
	# the idle workers registered meanwhile (their first step): on top of that, retried while they push
	pushed=0
	for i in $(seq 10); do
		git -C "$T/submit-$name" pull -q --rebase "$URL/$name.git" main 2>/dev/null &&
			submit_push "$name" 2>/dev/null && pushed=1 && break
	done
	[ "$pushed" = 1 ] || return 1
	# the submission's clone stays until the bench ends, as the grids do (run): a deletion here starts the drain
	t0=$(now)
	conns_before=$(grep -c "Request receive-pack for '/$name.git'" "$T/daemon.log")
	looks_before=$(grep -c "Request upload-pack for '/$name.git'" "$T/daemon.log")
	deadline=$(( $(date +%s) + WORKER_TIMEOUT ))
	# a look a second, at the server's repository: the exact time comes from the hook (drained_at)
	while [ "$(results_on_main "$name")" -lt "$nt" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 1; done
	t1=$(now)
	looks_drain=$(( $(grep -c "Request upload-pack for '/$name.git'" "$T/daemon.log") - looks_before ))
	[ "$(results_on_main "$name")" -lt "$nt" ] && WARM_CUT=1
	for p in "${WORKER_PIDS[@]}"; do pkill -TERM -P "$p" 2>/dev/null; done
	wait_workers "$nw" "$nt"
}

declare -A R_CLAIM R_WALL R_DRAIN R_TPS R_PUSH R_UPD R_LOST R_ABAND R_TPP R_ONCE R_REAP R_CUT
broken=0
problems=()

# run W T ROUND: one grid, W workers, T tasks; results under R_*[W:T:ROUND]
run() {
	local nw=$1 nt=$2 round=$3 name="collapse-w$1-t$2" i t0 t1 wall rc tout=0 pids=() log k="$1:$2:$3" tag
	local first_claim
	local pushes updates conns lost aband runs_dup runs_miss runs_total done_nr
	local res_none res_multi res_failed leftover_q leftover_ip ids once warn reaps superseded
	local idle_exit hist cont pushed lat wait1 share regc reg reaped conns_before drained drain
	looks_drain=0
	[ "$ROUNDS" -gt 1 ] && name="$name-r$round"
	tag="W=$nw T=$nt"
	[ "$ROUNDS" -gt 1 ] && tag="$tag round $round"

	echo "# $tag: grid $name, submitting $nt tasks${WARM:+ once the workers are in their loop}"
	if ! make_grid "$name" || { [ -z "$WARM" ] && ! submit "$name" "$nt"; }; then
		echo "!!!!! FAIL: $tag: could not create or submit the grid"
		broken=1
		R_ONCE[$k]="broken"
		return
	fi
	: >"$T/runs-$name"
	mkdir -p "$T/logs/$name"
	if [ -n "$WARM" ]; then
		WARM_CUT=0
		if ! run_warm "$name" "$nw" "$nt"; then
			echo "!!!!! FAIL: $tag: could not submit to the running workers"
			broken=1
			R_ONCE[$k]="broken"
			return
		fi
		tout=$((TOUT + WARM_CUT))
	else
		conns_before=1   # the submission
		t0=$(now)
		run_workers "$name" "$nw" "$nt" "$WORKER_TIMEOUT"
		tout=$TOUT
		t1=$(now)
	fi
	# before t0: the submission's pushes (and, warm, the idle workers' registrations)
	if [ "$(awk -v t0="$t0" '$1 < t0' "$T/pushes-$name" 2>/dev/null | wc -l)" -lt "$SUBMIT_PUSHES" ]; then
		echo "!!!!! FAIL: $tag: the pre-receive hook did not record the submission"
		broken=1
		R_ONCE[$k]="broken"
		return
	fi
	wall=$(fsub "$t1" "$t0")
	# the drain: from the start to the push that landed the last result
	drained=$(drained_at "$name" "$nt")
	if [ -n "$drained" ]; then drain=$(fsub "$drained" "$t0"); else drain=$wall; fi
	# the drain's first part: from the start to main's first commit that claims (the grid noticed the work)
	first_claim=$(awk -v t0="$t0" '$1 >= t0' "$T/updates-$name" | while read -r ts c; do
			git -C "$T/srv/$name.git" log -1 --format=%s "$c" | grep -q ' claim ' && { echo "$ts"; break; }
		done)
	R_CLAIM[$k]=n/a
	[ -n "$first_claim" ] && R_CLAIM[$k]=$(fsub "$first_claim" "$t0")

	# pushes after the workers started (the submission is older)
	pushes=$(awk -v t0="$t0" '$1 >= t0' "$T/pushes-$name" | wc -l)
	updates=$(awk -v t0="$t0" '$1 >= t0' "$T/updates-$name" 2>/dev/null | wc -l)
	# the daemon's log has no time stamps: one repository per run, minus those before t0
	conns=$(( $(grep -c "Request receive-pack for '/$name.git'" "$T/daemon.log") - conns_before ))
	lost=$((pushes - updates))
	aband=$((conns - pushes))

	# executions: the runs file against the submitted ids
	ids=$T/ids-$name
	for i in $(seq "$nt"); do task_id "$i" "${#nt}"; echo; done >"$ids"
	runs_total=$(wc -l <"$T/runs-$name")
	runs_dup=$(sort "$T/runs-$name" | uniq -d | wc -l)
	runs_miss=$(sort "$T/runs-$name" | uniq | comm -13 - <(sort "$ids") | wc -l)
	git -C "$T/srv/$name.git" ls-tree -r --name-only main -- tasks/completed tasks/failed 2>/dev/null |
		awk -F/ '$NF ~ /^t[0-9]+\..*\.json$/ { split($NF, p, "."); print ($2 == "failed" ? "F" : "C"), p[1], p[2] }' \
		>"$T/results-$name"
	res_failed=$(awk '$1 == "F"' "$T/results-$name" | wc -l)
	res_multi=$(awk '{ print $2 }' "$T/results-$name" | sort | uniq -d | wc -l)
	res_none=$(awk '{ print $2 }' "$T/results-$name" | sort -u | comm -13 - <(sort "$ids") | wc -l)
	done_nr=$(awk '{ print $2 }' "$T/results-$name" | sort -u | wc -l)
	leftover_q=$(git -C "$T/srv/$name.git" ls-tree -r --name-only main -- tasks/queue 2>/dev/null | grep -c '\.json$')
	leftover_ip=$(git -C "$T/srv/$name.git" ls-tree -r --name-only main -- tasks/in_progress 2>/dev/null | grep -c '\.json$')

	log=$T/logs/$name
	cat "$log"/w*.log >"$log.all"
	# warnings and errors, but not the one every --executor process worker logs at start
	awk '($2 == "warning" || $2 == "error") && $3 != "event=unsandboxed"' "$log.all" >"$log.warn"
	warn=$(wc -l <"$log.warn")
	# logged inside the reaper's transaction: a line per attempt, landed or not
	reaps=$(grep -cE ' event=(reaped|abandoned) ' "$log.all")
	superseded=$(grep -c ' event=superseded ' "$log.all")
	idle_exit=$(grep -c ' event=idle-exit' "$log.all")
	share=$( { awk '{ print $3 }' "$T/results-$name"; seq -f 'w%g' "$nw"; } | sort | uniq -c |
		awk '{ print $1 - 1 }' | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "min %d median %d max %d", v[1], v[int((NR + 1) / 2)], v[NR] }')

	# main's history after the submission: what each worker commit did
	git -C "$T/srv/$name.git" log --format='%H %s' main 2>/dev/null | awk '$2 != "submit" && $2 != "grid"' \
		>"$log.history"
	hist=$(awk '{ c = gsub(/ claim /, "&"); r = gsub(/ report /, "&")
			n++; if (c) { nc++; cl += c; if (c > cm) cm = c }; if (r) { nr++; rp += r; if (r > rm) rm = r }
			if (c && r) both++; if (/register node/) reg++; if (/ intake /) ik++; if (/^[0-9a-f]+ reap by /) rb++
			if (/^[0-9a-f]+ archive/) ar++ }
		END { printf "%d commits: %d claim (%.2f claims each, max %d), %d report (%.2f each, max %d), %d both, " \
			"%d register, %d intake, %d reap, %d archive", n, nc, nc ? cl / nc : 0, cm, nr, nr ? rp / nr : 0, rm,
			both, reg, ik, rb, ar }' "$log.history")

	# reaps that landed: the task ids in main's "reap by wI: tK tJ" commits
	reaped=$(awk '$2 == "reap" && $3 == "by" { n += NF - 4 } END { print n + 0 }' "$log.history")
	# contention: each line is a lost step; its wait is uniform(0, 50 ms << min(streak - 1, 7))
	cont=$(awk '/ event=contention streak=/ { split($NF, a, "="); s = a[2] + 0; n++; if (s > m) m = s
			k = s - 1; if (k > 7) k = 7; ms += 25 * 2 ^ k }
		END { printf "%d lost steps (%s a task), longest streak %d, expected backoff %.1f s in all (%.2f s a worker)",
			n, T ? sprintf("%.2f", n / T) : "n/a", m, ms / 1000, W ? ms / 1000 / W : 0 }' T="$done_nr" W="$nw" "$log.all")
	# start-up: the registration's own transaction (until_reachable in src/worker.c) and its waits
	regc=$(awk '/ event=contention step=/ { for (i = 1; i <= NF; i++) if ($i ~ /^retry_in_ms=/) { sub(/^retry_in_ms=/, "", $i); ms += $i }
			n++ } END { printf "%d lost start-up steps, %.1f s of waits in all", n, ms / 1000 }' "$log.all")
	reg=$(awk '$4 == "event=started" && $5 ~ /^executor=/ { print $1 }' "$log.all" | epoch_of 1 |
		awk -v t0="$t0" '{ print $1 - t0 }' | stats "%.1f")
	pushed=$(awk '/ event=pushed / { for (i = 1; i <= NF; i++) if ($i ~ /^ms=/) { sub(/^ms=/, "", $i); print $i } }' \
		"$log.all" | stats "%d")

	# report latency: event=finished of tK to the event=pushed of the commit reporting tK
	awk '/ event=pushed / { for (i = 1; i <= NF; i++) if ($i ~ /^commit=/) { sub(/^commit=/, "", $i); print $1, "P", $i } }
		/ event=finished / { for (i = 1; i <= NF; i++) if ($i ~ /^task=/) { sub(/^task=/, "", $i); print $1, "F", $i } }' \
		"$log.all" | epoch_of 1 >"$log.events"
	lat=$(awk 'FNR == NR { if ($2 == "F") fin[$3] = $1; else pushed[$3] = $1; next }
		{ c = substr($1, 1, 12); if (!(c in pushed)) next
		  for (i = 2; i < NF; i++) if ($i == "report" && ($(i + 1) in fin)) print pushed[c] - fin[$(i + 1)] }' \
		"$log.events" "$log.history" | stats "%.2f")
	# a worker's wait from registering (event=started executor=) to its first claim
	wait1=$(for f in "$log"/w*.log; do
			awk '$4 == "event=started" && $5 ~ /^executor=/ && !s { s = $1 }
				/ event=claimed / && !c { c = $1 } END { if (s && c) print s, c }' "$f"
		done | epoch_of 1 | epoch_of 2 | awk '{ print $2 - $1 }' | stats "%.1f")

	R_WALL[$k]=$wall
	R_DRAIN[$k]=$drain
	R_TPS[$k]=$(fdiv "$done_nr" "$drain" "%.2f")
	R_PUSH[$k]=$pushes
	R_UPD[$k]=$updates
	R_LOST[$k]=$lost
	R_ABAND[$k]=$aband
	R_TPP[$k]=$(fdiv "$done_nr" "$updates" "%.2f")
	R_REAP[$k]=$((reaped + superseded))
	R_CUT[$k]=$tout
	[ $tout -gt 0 ] && R_WALL[$k]=">$wall"

	echo "# $tag: drain ${drain}s, wall ${wall}s, tasks/s ${R_TPS[$k]}, workers cut by the ${WORKER_TIMEOUT} s limit: $tout of $nw," \
		"idle exits: $idle_exit, load average $(loadavg)"
	echo "# $tag: pushes $pushes (packs sent), updated $updates, lost at the server $lost," \
		"abandoned after the advertisement $aband (receive-pack connections $conns)"
	echo "# $tag: task runs $runs_total (ids run twice or more: $runs_dup, never run: $runs_miss);" \
		"result files $(wc -l <"$T/results-$name") (failed $res_failed; ids with several: $res_multi, with none: $res_none);" \
		"left on main: queue $leftover_q, in_progress $leftover_ip"
	echo "# $tag: reaps on main $reaped (reaper log lines event=reaped/abandoned $reaps), superseded $superseded; results per worker: ${share:-n/a};" \
		"warnings/errors (event=unsandboxed aside): $warn"
	if [ "$warn" != 0 ]; then
		echo "# $tag: most frequent warnings/errors:$(awk '{ e = "?"; for (i = 3; i <= NF; i++) if ($i ~ /^event=/) { e = $i; break }
			print $2, e }' "$log.warn" | sort | uniq -c | sort -rn | head -5 | awk '{ printf " %s %s %s;", $1, $2, $3 }')"
	fi
	echo "# $tag: main's history: $hist"
	echo "# $tag: contention in the loop: $cont"
	echo "# $tag: looks: $(grep -c "Request upload-pack for '/$name.git'" "$T/daemon.log") upload-pack connections" \
		"(clones, fetches and peeks, start-up included), $(grep -c ' event=stand-aside ' "$log.all") stand-asides," \
		"$(grep -c ' event=peek moved=1' "$log.all") fetches skipped after a peek${WARM:+; during the drain: $looks_drain in $wall s}"
	echo "# $tag: registration: $regc; registered (event=started) s after the start: $reg"
	echo "# $tag: steps pushed (event=pushed, ms without the fetch): $pushed"
	echo "# $tag: report latency s (finished -> pushed): $lat; registered -> first claim s: $wait1"

	once=yes
	if [ "$runs_dup" != 0 ] || [ "$res_multi" != 0 ] || [ "$runs_total" -gt "$nt" ]; then
		once="NO: dup $runs_dup"
		problems+=("$tag: tasks ran more than once ($runs_dup ids run twice or more, $runs_total runs) or have several results ($res_multi ids)")
		broken=1
	fi
	if [ "$runs_miss" != 0 ] || [ "$res_none" != 0 ]; then
		if [ $tout -gt 0 ]; then
			[ "$once" = yes ] && once="timeout: miss $runs_miss"
		else
			[ "$once" = yes ] && once="NO: miss $runs_miss" || once="$once miss $runs_miss"
			problems+=("$tag: $runs_miss tasks never ran, $res_none have no result")
			broken=1
		fi
	fi
	[ "$res_failed" != 0 ] && problems+=("$tag: $res_failed failed results (informational)")
	R_ONCE[$k]=$once

	# Nothing is deleted until the bench ends (its exit trap removes $T):
	# with each grid's caches and repository deleted after it, the later
	# grids of a bench drained at half the pace of the first (one worker,
	# 400 tasks: 3.8-6.2 s against 2.2-3.8 s; kept, 1.9-3.7 s for all),
	# the deletions' work on the disk holding up the pushes that came
	# after, at a load average under 1 (doc/scaling.md, "0.16.14"). About
	# 9 MB a worker's cache: ~1 GB for the default RUNS at ROUNDS=3.
}

# --- main

mkdir -p "$T/srv" "$T/logs" "$T/cache"
PORT=$(free_port)
git daemon --verbose --reuseaddr --listen=127.0.0.1 --port="$PORT" --base-path="$T/srv" \
	--export-all --enable=receive-pack --informative-errors --max-connections=0 "$T/srv" 2>"$T/daemon.log" >&2 &
_pids+=($!)
wait_port "$PORT" || { echo "bench-collapse: git daemon did not start"; exit 1; }
URL=git://127.0.0.1:$PORT

echo "# dgrid collapse benchmark: $("$DGRID" version), $(nproc) CPUs, load average $(loadavg), git daemon on 127.0.0.1"
echo "# runs (W:T): $RUNS${WARM:+ (warm: tasks pushed to running workers, wall = drain)}; dgrid.json $POLICY${PUSH_BUDGET:+ (a budget: not what issue 11 item 5 asks about)}; tasks \`${TASK_PREFIX}echo tK >>RUNS\`" \
	"(timeout_seconds $TASK_TIMEOUT); workers --slots 1 --executor process, PULL_INTERVAL=$BENCH_PULL_INTERVAL," \
	"LOG_LEVEL=$BENCH_LOG_LEVEL, WORKER_TIMEOUT=${WORKER_TIMEOUT}s"
bench_t0=$(date +%s)

# Each round starts one place further along RUNS (round 2 of "1:400
# 8:400 32:400" runs 8:400 32:400 1:400), so that no W:T always has the
# same place: while this bench deleted each grid's data after it, every
# grid drained more slowly than the first (below, in run), and the
# single worker, always first, made every ratio read low (doc/scaling.md,
# "0.16.14"). With ROUNDS a multiple of the runs, each takes every place
# equally often.
order=($RUNS)
for round in $(seq "$ROUNDS"); do
	for i in "${!order[@]}"; do
		r=${order[$(((i + round - 1) % ${#order[@]}))]}
		run "${r%%:*}" "${r#*:}" "$round"
	done
done

# the baseline: the W = 1 run, else the first; each round's runs are compared with its own
base=
for r in $RUNS; do [ "${r%%:*}" = 1 ] && base=$r && break; done
[ -n "$base" ] || base=${RUNS%% *}
# median_of: the median of the numbers on stdin (n/a when none; the mean of the middle two when even)
median_of() {
	grep -E '^[0-9.]+$' | sort -n | awk '{ v[NR] = $1 }
		END { if (!NR) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "collapse benchmark${WARM:+ (warm: the drain of tasks pushed to running workers)}: $BUDGET_DESC, protocol $PROTOCOL ($("$DGRID" version)); ratio against W:T = $base of the same round"
fmt='%7s %6s %5s %8s %8s %8s %7s %6s %7s %8s %5s %6s %10s %6s  %s\n'
printf "$fmt" workers tasks round "claim s" "drain s" "wall s" tasks/s ratio pushes updated lost aband. tasks/push reaps exactly-once
declare -A R_RATIO
for round in $(seq "$ROUNDS"); do
	base_tps=${R_TPS[$base:$round]:-n/a}
	for r in $RUNS; do
		k=$r:$round
		tps=${R_TPS[$k]:-n/a}
		R_RATIO[$k]=$(fdiv "${R_TPS[$k]:-n/a}" "$base_tps")
		[ "${R_CUT[$k]:-0}" != 0 ] && tps="<$tps"
		printf "$fmt" "${r%%:*}" "${r#*:}" "$round" "${R_CLAIM[$k]:-n/a}" "${R_DRAIN[$k]:-n/a}" "${R_WALL[$k]:-n/a}" "$tps" \
			"${R_RATIO[$k]}" "${R_PUSH[$k]:-n/a}" "${R_UPD[$k]:-n/a}" "${R_LOST[$k]:-n/a}" "${R_ABAND[$k]:-n/a}" \
			"${R_TPP[$k]:-n/a}" "${R_REAP[$k]:-n/a}" "${R_ONCE[$k]:-n/a}"
	done
done
echo "(claim: from the start to main's first commit that claims; tasks/s = tasks / drain: from the start to the push"
echo " that landed the last result; wall: to the last worker's exit; > / < = cut by WORKER_TIMEOUT: tasks/s counts"
echo " the tasks done by then; lost = packs sent that lost the compare-and-swap, aband. = pushes given up after the"
echo " advertisement; reaps = tasks reaped on main + superseded results)"
if [ "$ROUNDS" -gt 1 ]; then
	echo "medians over the $ROUNDS rounds (the runs alternate: every W:T of RUNS, each round starting one further along):"
	for r in $RUNS; do
		at_least=0
		for round in $(seq "$ROUNDS"); do [ "$(holds_ge "${R_RATIO[$r:$round]}" 1)" = 1 ] && at_least=$((at_least + 1)); done
		printf '  W=%s T=%s: claim %s s, drain %s s, tasks/s %s, ratio %s (>= 1 in %d of %d rounds)\n' "${r%%:*}" "${r#*:}" \
			"$(for round in $(seq "$ROUNDS"); do echo "${R_CLAIM[$r:$round]:-}"; done | median_of)" \
			"$(for round in $(seq "$ROUNDS"); do echo "${R_DRAIN[$r:$round]:-}"; done | median_of)" \
			"$(for round in $(seq "$ROUNDS"); do echo "${R_TPS[$r:$round]:-}"; done | median_of)" \
			"$(for round in $(seq "$ROUNDS"); do echo "${R_RATIO[$r:$round]:-}"; done | median_of)" "$at_least" "$ROUNDS"
	done
fi
echo "targets (issue 11 item 5; informational):"
for r in $RUNS; do
	ratio=$(for round in $(seq "$ROUNDS"); do echo "${R_RATIO[$r:$round]:-}"; done | median_of)
	cut=0 once=yes reap=0
	for round in $(seq "$ROUNDS"); do
		[ "${R_CUT[$r:$round]:-0}" = 0 ] || cut=1
		[ "${R_ONCE[$r:$round]:-}" = yes ] || once="${R_ONCE[$r:$round]:-n/a} (round $round)"
		[ "${R_REAP[$r:$round]:-x}" = 0 ] || reap="${R_REAP[$r:$round]:-n/a} (round $round)"
	done
	if [ "$r" != "$base" ] && [ "${r%%:*}" = 1 ]; then
		echo "  INFO  W=1 T=${r#*:}: one worker against itself (the noise floor of the ratios), median ratio $ratio"
	elif [ "$r" != "$base" ]; then
		if [ "$cut" = 0 ] && [ "$(holds_ge "$ratio" 1)" = 1 ]; then v=PASS; else v=FAIL; fi
		if [ "$ROUNDS" -gt 1 ]; then
			echo "  $v  W=${r%%:*} T=${r#*:}: tasks/s against W:T=$base in the same round, the median of $ROUNDS ratios: $ratio >= 1"
		else
			echo "  $v  W=${r%%:*} T=${r#*:}: tasks/s ${R_TPS[$r:1]:-n/a} >= ${R_TPS[$base:1]:-n/a} of W:T=$base (ratio $ratio >= 1)"
		fi
	fi
	if [ "$once" = yes ]; then v=PASS; else v=FAIL; fi
	echo "  $v  W=${r%%:*} T=${r#*:}: every task ran exactly once and has exactly one result ($once)"
	if [ "$reap" = 0 ]; then v=PASS; else v=FAIL; fi
	echo "  $v  W=${r%%:*} T=${r#*:}: no worker lost a task to a reaper (reaps $reap = 0)"
done
for p in "${problems[@]}"; do echo "problem: $p"; done
echo "# bench-collapse took $(( $(date +%s) - bench_t0 ))s; load average now $(loadavg)"
exit $broken
