#!/usr/bin/env bash
# bench-budget.sh - many workers within the host's push budget (issue 11:
# "unlimited workers within the host's budget").
#
# Everything runs in a fresh temporary directory against one
# `git daemon --verbose --reuseaddr --listen=127.0.0.1 --port=FREE
# --base-path=DIR --export-all --enable=receive-pack --max-connections=0`
# (stderr to a log), killed by the exit trap with every other process this
# script started (each worker runs under `timeout` in a process group of its
# own; the trap signals the whole group). --max-connections=0: with the
# daemon's default limit of 32 clients, from W = 32 on it SIGTERMs a running
# client from the same address (all are 127.0.0.1: workers logged
# "Connection reset by peer") and sleeps 1 s before accepting again, which
# is the daemon's behaviour, not dgrid's.
#
# For each W:T pair of RUNS (plus 256:2560 with LARGE=1):
#  1. A bare repository budget-wW-tT.git with receive.denyNonFastForwards,
#     no auto gc, and two hooks:
#       pre-receive   appends one line per push: the time (bash's
#                     $EPOCHREALTIME, microseconds; the hooks fork nothing,
#                     so they add little to a push) and the refs the push
#                     updates (all refs count: main, heartbeats
#                     refs/dgrid/nodes/*, anything else);
#       post-receive  appends one line per push that updated a ref.
#  2. Submission with plain git, before any worker starts: one commit
#     holding dgrid.json = {"push_budget": BUDGET} (plus "protocol": N when
#     PROTOCOL is set) and a README, one commit adding T files
#     tasks/queue/tK.json = {"task_id": "tK", "script": "echo tK >>RUNS;
#     sleep 2", "timeout_seconds": 60}, pushed together with `git push`
#     (its hook line is checked, then left out of the counts: only lines
#     stamped after the workers started count).
#     dgrid versions without a push budget skip the unknown key (one
#     event=policy-keys-ignored log line), so against them this measures the
#     unbudgeted behaviour; the header says which dgrid ran. Without
#     "protocol" the grid is protocol 1: every worker also pushes a
#     heartbeat ref every 30 s, and those pushes count too.
#  3. W workers started at once: `dgrid worker --repo git://... --node-id wI
#     --exit-when-idle --http off --slots 1 --executor process`, each with
#     its own DGRID_CACHE, PULL_INTERVAL=1 (the 256-worker run of LARGE=1:
#     LARGE_PULL_INTERVAL, below), under `timeout -k 45 LIMIT`
#     (SIGTERM gives running tasks dgrid's 30 s grace, then SIGKILL). LIMIT
#     is WORKER_TIMEOUT, or less when BENCH_TIMEOUT (the whole benchmark's
#     time) would be exceeded: each run may use an equal share of the time
#     left for the runs still to come, less 60 s (what an early run leaves
#     goes to the later ones). Wall time from just before the first start to
#     the last exit. A run cut by its LIMIT is reported as a timeout: its
#     wall time and ratio are then lower bounds ("> "), and tasks it never
#     got to are "not run".
#     Detail lines also give when the last worker registered (its
#     event=started) and the first task was claimed, seconds after the
#     start, and the pushes in each minute of the run (main / other refs);
#     and the run's tail: when the last task was claimed (the queue ran
#     dry), when the last task finished (worker logs), when the last
#     result landed on main (the newest post-receive update whose commit
#     adds a file under tasks/completed or tasks/failed) and the last exit,
#     with how many workers ran a task at all. The gaps say where the end
#     of a run goes: the last batch's own work, the wait for a push slot to
#     report it, or the idle workers' next look before they exit.
#
# Counting (per run):
#  bound        max(T*2/W, 2*W/BUDGET*60) seconds: the tasks' own sleep
#               spread over W slots, or two pushes per worker at BUDGET
#               pushes a minute. ratio = wall / bound (target <= 2).
#  pushes       pre-receive lines stamped after the workers started: every
#               push that sent its commands and pack, including those whose
#               ref update then lost the compare-and-swap. Beside it:
#               "updated" (post-receive lines) and "connections" (the
#               daemon's `Request receive-pack` lines for the repository,
#               which also count pushes abandoned after the advertisement).
#  max/60s      the most pre-receive timestamps in any 60 s window
#               [t, t+60) (target <= BUDGET).
#  tasks/push   tasks with a result (T unless a timeout cut the run) / pushes.
#  fetch/s      the daemon's `Request upload-pack` lines for the repository
#               during the run / wall seconds.
#  exactly-once every tK appears exactly once in the runs file (what the
#               task scripts appended) and has exactly one result file
#               under tasks/completed or tasks/failed of main (searched
#               recursively - results live in shards
#               tasks/completed/a/b/c/tK.NODE.ATTEMPT.json - by the name
#               prefix "tK."). Failed results are counted separately.
#
# Then one summary table and the targets as PASS/FAIL lines. They are
# informational: the exit status is non-zero only when the benchmark itself
# broke (daemon, submission, hook) or a task ran twice, never ran, or has no
# or several results - except tasks a timed-out run never got to, which are
# reported, not failed.
#
# Environment: DGRID (binary; default $SRC/build/dgrid), RUNS ("8:80 8:320
#   32:320 64:320 64:640", W:T pairs: issue 11 asks for 32 workers and 320
#   tasks, then "the same run with 8 and 64 workers", read here both ways:
#   the same 320 tasks (8:320, 64:320), and the same 10 tasks a worker
#   (8:80, 64:640), whose bound for 8 workers is the tighter one), LARGE=1 (adds 256:2560; its workers poll at
#   LARGE_PULL_INTERVAL, 10 by default: dgrid's own default. 256 workers
#   that each look every second are what PULL_INTERVAL=1 asks for, and on
#   2 cores the host saturates: 0.14.3 ran 1,673 of the 2,560 tasks in
#   1,100 s at a load of 100-145, 9 of 10 push attempts found main moved
#   since their fetch, 56 members landed nothing after their join, and 8
#   tasks ran twice when the 720 s leases of such members lapsed
#   (doc/scaling.md; 0.14.4, whose reapers allow for their own drought,
#   and 0.14.5, whose starved members push 39 rescues of their leases,
#   ran none twice in that run); at 10 it ran all 2,560 once in 751 s. LARGE_PULL_INTERVAL=1 repeats
#   that run. WORKER_TIMEOUT defaults to 1200 s with LARGE=1, past twice
#   the large run's bound), BUDGET (pushes a minute
#   for the grid, 60), TASK_SLEEP (each task's `sleep`, 2 s; the bound's
#   T*2/W becomes T*TASK_SLEEP/W, and the tasks' timeout_seconds 3 times
#   it, at least 60: long tasks against a cycle of a few seconds are
#   where a first claim, sized before a task has run, holds the most), PROTOCOL (3, the protocol the README's figures and
#   the budget assume; empty: no "protocol" key, i.e. protocol 1, whose
#   heartbeats are pushed outside the schedule - 256 workers made 169
#   pushes in the busiest minute, 1,511 of 1,578 pushes to heartbeat refs),
#   WORKER_TIMEOUT (seconds for one run's workers, 900), BENCH_TIMEOUT
#   (seconds for all runs, 1380; 0 = no limit, the default with LARGE=1),
#   PULL_INTERVAL (1), LOG_LEVEL (the workers', info), KEEP_TMP=1 keeps the
#   directory (logs, repositories, push and run records).
# Machine: written and measured on a 2-core machine that was also running
# other work (the header and the last line show the load average); all W
# workers share its 2 CPUs with the git daemon and every upload-pack and
# receive-pack it forks, so timings are only comparable within one run.
# Duration: the default RUNS take at most BENCH_TIMEOUT (23 min) plus the
# checks. Against dgrid 0.4.0 (no push budget; load average 10-36) the
# 8-worker run took 120 s, and BENCH_TIMEOUT cut the others after ~570 s
# each: 32 workers had run 66 of 320 tasks, 64 workers 48 of 640 (the last
# of them registered after 551 s); the whole run took 23 minutes.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
DGRID=${DGRID:-$SRC/build/dgrid}
RUNS=${RUNS:-8:80 8:320 32:320 64:320 64:640}
[ "${LARGE:-}" = 1 ] && RUNS="$RUNS 256:2560"
BUDGET=${BUDGET:-60}
PROTOCOL=${PROTOCOL-3}
if [ "${LARGE:-}" = 1 ]; then WORKER_TIMEOUT=${WORKER_TIMEOUT:-1200}; else WORKER_TIMEOUT=${WORKER_TIMEOUT:-900}; fi
if [ "${LARGE:-}" = 1 ]; then BENCH_TIMEOUT=${BENCH_TIMEOUT:-0}; else BENCH_TIMEOUT=${BENCH_TIMEOUT:-1380}; fi
BENCH_PULL_INTERVAL=${PULL_INTERVAL:-1}
LARGE_PULL_INTERVAL=${LARGE_PULL_INTERVAL:-10}
BENCH_LOG_LEVEL=${LOG_LEVEL:-info}
TASK_SLEEP=${TASK_SLEEP:-2}   # the tasks' `sleep 2`: the bound's T*2/W
case $TASK_SLEEP in '' | 0 | *[!0-9]*) echo "bench-budget: TASK_SLEEP must be a whole number of seconds, 1 or more"; exit 1 ;; esac
TASK_TIMEOUT=$((TASK_SLEEP * 3 > 60 ? TASK_SLEEP * 3 : 60))
BENCH=bench-budget
KILL_AFTER=45         # dgrid's --grace (30) + time to push what finished

[ -x "$DGRID" ] || { echo "bench-budget: $DGRID missing (make)"; exit 1; }
case $BUDGET in '' | *[!0-9]* | 0) echo "bench-budget: BUDGET must be a positive integer"; exit 1 ;; esac
case $WORKER_TIMEOUT in '' | *[!0-9]* | 0) echo "bench-budget: WORKER_TIMEOUT must be a positive integer"; exit 1 ;; esac
case $BENCH_TIMEOUT in '' | *[!0-9]*) echo "bench-budget: BENCH_TIMEOUT must be an integer (0: no limit)"; exit 1 ;; esac
case $PROTOCOL in *[!0-9]*) echo "bench-budget: PROTOCOL must be an integer"; exit 1 ;; esac
. "$SRC/bench/lib-workers.sh"

# submit NAME T: policy and T tasks, pushed with plain git
submit() {
	local name=$1 n=$2 w=${#2} dir=$T/submit-$1 k id policy
	git init -q -b main "$dir" || return 1
	policy="{\"push_budget\": $BUDGET"
	[ -n "$PROTOCOL" ] && policy="$policy, \"protocol\": $PROTOCOL"
	printf '%s}\n' "$policy" >"$dir/dgrid.json"
	printf 'bench-budget state repository\n' >"$dir/README"
	git -C "$dir" add -A && git -C "$dir" commit -qm "grid policy: push_budget $BUDGET" || return 1
	mkdir -p "$dir/tasks/queue"
	for k in $(seq "$n"); do
		id=$(task_id "$k" "$w")
		printf '{"task_id": "%s", "script": "echo %s >>%s; sleep %s", "timeout_seconds": %s}\n' \
			"$id" "$id" "$T/runs-$name" "$TASK_SLEEP" "$TASK_TIMEOUT" >"$dir/tasks/queue/$id.json"
	done
	git -C "$dir" add -A && git -C "$dir" commit -qm "submit $n tasks" || return 1
	git -C "$dir" push -q "$URL/$name.git" main:main || return 1
	rm -rf "$dir"
}

# window_max FILE T0: the most pushes stamped >= T0 in any 60 s window
window_max() {
	awk -v t0="$2" '$1 >= t0 { print $1 }' "$1" 2>/dev/null | sort -n | awk '
		{ t[NR] = $1 }
		END { j = 1; m = 0
			for (i = 1; i <= NR; i++) { while (t[i] - t[j] >= 60) j++; if (i - j + 1 > m) m = i - j + 1 }
			print m }'
}

declare -A R_WALL R_BOUND R_RATIO R_PUSH R_WIN R_TPP R_FPS R_ONCE
broken=0
budget_ignored=0   # 1 once a worker logged that it does not know push_budget
problems=()

# run W T LIMIT: LIMIT seconds for the workers before SIGTERM
run() {
	local nw=$1 nt=$2 limit=$3 name="budget-w$1-t$2" i t0 t1 wall bound rc tout=0 pids=() log
	local last_start first_claim permin
	local pushes p_main p_hb p_other updates conns fetches win runs_dup runs_miss runs_total
	local res_none res_multi res_failed leftover_q leftover_ip ids once warn ignored share ex_cut
	local idle_exit last_claim last_finish last_result ran

	echo "# W=$nw T=$nt: grid $name, submitting $nt tasks"
	if ! make_grid "$name" || ! submit "$name" "$nt"; then
		echo "!!!!! FAIL: W=$nw T=$nt: could not create or submit the grid"
		broken=1
		R_ONCE[$nw:$nt]="broken"
		return
	fi
	if [ "$(wc -l <"$T/pushes-$name" 2>/dev/null || echo 0)" != 1 ]; then
		echo "!!!!! FAIL: W=$nw T=$nt: the pre-receive hook did not record the submission"
		broken=1
		R_ONCE[$nw:$nt]="broken"
		return
	fi
	: >"$T/runs-$name"
	mkdir -p "$T/logs/$name"

	t0=$(now)
	run_workers "$name" "$nw" "$nt" "$limit"
	tout=$TOUT
	t1=$(now)
	wall=$(fsub "$t1" "$t0")

	# pushes after the workers started (the submission is older)
	pushes=$(awk -v t0="$t0" '$1 >= t0' "$T/pushes-$name" | wc -l)
	p_main=$(awk -v t0="$t0" '$1 >= t0 && / refs\/heads\/main( |$)/' "$T/pushes-$name" | wc -l)
	p_hb=$(awk -v t0="$t0" '$1 >= t0 && / refs\/dgrid\/nodes\//' "$T/pushes-$name" | wc -l)
	p_other=$(awk -v t0="$t0" '$1 >= t0 && !/ refs\/heads\/main( |$)/ && !/ refs\/dgrid\/nodes\//' "$T/pushes-$name" | wc -l)
	updates=$(awk -v t0="$t0" '$1 >= t0' "$T/updates-$name" 2>/dev/null | wc -l)
	# the daemon's log has no time stamps: one repository per run, minus the submission
	conns=$(( $(grep -c "Request receive-pack for '/$name.git'" "$T/daemon.log") - 1 ))
	fetches=$(grep -c "Request upload-pack for '/$name.git'" "$T/daemon.log")
	win=$(window_max "$T/pushes-$name" "$t0")

	# executions: the runs file against the submitted ids
	ids=$T/ids-$name
	for i in $(seq "$nt"); do task_id "$i" "${#nt}"; echo; done >"$ids"
	runs_total=$(wc -l <"$T/runs-$name")
	runs_dup=$(sort "$T/runs-$name" | uniq -d | wc -l)
	runs_miss=$(sort "$T/runs-$name" | uniq | comm -13 - <(sort "$ids") | wc -l)
	# results: file names tK.NODE.ATTEMPT.json anywhere below completed/failed
	git -C "$T/srv/$name.git" ls-tree -r --name-only main -- tasks/completed tasks/failed 2>/dev/null |
		awk -F/ '$NF ~ /^t[0-9]+\..*\.json$/ { split($NF, p, "."); print ($2 == "failed" ? "F" : "C"), p[1], p[2] }' \
		>"$T/results-$name"
	res_failed=$(awk '$1 == "F"' "$T/results-$name" | wc -l)
	res_multi=$(awk '{ print $2 }' "$T/results-$name" | sort | uniq -d | wc -l)
	res_none=$(awk '{ print $2 }' "$T/results-$name" | sort -u | comm -13 - <(sort "$ids") | wc -l)
	leftover_q=$(git -C "$T/srv/$name.git" ls-tree -r --name-only main -- tasks/queue 2>/dev/null | grep -c '\.json$')
	leftover_ip=$(git -C "$T/srv/$name.git" ls-tree -r --name-only main -- tasks/in_progress 2>/dev/null | grep -c '\.json$')

	log=$T/logs/$name
	# warnings and errors, but not the one every --executor process worker logs at start
	cat "$log"/w*.log | awk '($2 == "warning" || $2 == "error") && $3 != "event=unsandboxed"' >"$log.warn"
	warn=$(wc -l <"$log.warn")
	ignored=$(cat "$log"/w*.log | sed -n 's/.*event=policy-keys-ignored .*first="\([^"]*\)".*/\1/p' | sort -u | tr '\n' ' ')
	idle_exit=$(cat "$log"/w*.log | grep -c 'event=idle-exit')
	# results on main per worker (node id in the result's name), workers without any included
	share=$( { awk '{ print $3 }' "$T/results-$name"; seq -f 'w%g' "$nw"; } | sort | uniq -c |
		awk '{ print $1 - 1 }' | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "min %d median %d max %d", v[1], v[int((NR + 1) / 2)], v[NR] }')

	# worker log stamps are UTC ISO 8601 with milliseconds
	last_start=$(cat "$log"/w*.log | awk '$4 == "event=started" && $5 ~ /^executor=/ { print $1 }' |
		sort | tail -1)
	[ -n "$last_start" ] && last_start=$(fsub "$(date -d "$last_start" +%s.%N)" "$t0")
	first_claim=$(cat "$log"/w*.log | awk '/ event=claimed / { print $1 }' | sort | head -1)
	[ -n "$first_claim" ] && first_claim=$(fsub "$(date -d "$first_claim" +%s.%N)" "$t0")
	# the tail: the last claim (the queue ran dry), the last task's end, the last result on main
	last_claim=$(cat "$log"/w*.log | awk '/ event=claimed / { print $1 }' | sort | tail -1)
	[ -n "$last_claim" ] && last_claim=$(fsub "$(date -d "$last_claim" +%s.%N)" "$t0")
	last_finish=$(cat "$log"/w*.log | awk '/ event=finished / { print $1 }' | sort | tail -1)
	[ -n "$last_finish" ] && last_finish=$(fsub "$(date -d "$last_finish" +%s.%N)" "$t0")
	last_result=$(tac "$T/updates-$name" 2>/dev/null | while read -r ts sha; do
		if git -C "$T/srv/$name.git" diff-tree -r --no-commit-id --name-only --diff-filter=A "$sha" -- \
			tasks/completed tasks/failed 2>/dev/null | grep -q .; then
			fsub "$ts" "$t0"
			break
		fi
	done)
	ran=$(cat "$log"/w*.log | awk '/ event=finished / { for (i = 3; i <= NF; i++) if ($i ~ /^node=/) print $i }' |
		sort -u | wc -l)
	permin=$(awk -v t0="$t0" '$1 >= t0 { m = int(($1 - t0) / 60); if (m > last) last = m
			if ($2 == "refs/heads/main" && NF == 2) a[m]++; else b[m]++ }
		END { for (i = 0; i <= last; i++) printf "%s%d/%d", (i ? " " : ""), a[i], b[i] }' "$T/pushes-$name")

	bound=$(awk -v t="$nt" -v w="$nw" -v s="$TASK_SLEEP" -v b="$BUDGET" 'BEGIN {
		x = t * s / w; y = 2 * w / b * 60; printf "%.1f", (x > y ? x : y) }')
	R_WALL[$nw:$nt]=$wall
	R_BOUND[$nw:$nt]=$bound
	R_RATIO[$nw:$nt]=$(fdiv "$wall" "$bound")
	R_PUSH[$nw:$nt]=$pushes
	R_WIN[$nw:$nt]=$win
	# tasks that have a result (all T, unless a timeout cut the run) per push
	R_TPP[$nw:$nt]=$(fdiv "$(awk '{ print $2 }' "$T/results-$name" | sort -u | wc -l)" "$pushes" "%.3f")
	R_FPS[$nw:$nt]=$(fdiv "$fetches" "$wall" "%.1f")
	if [ $tout -gt 0 ]; then
		R_WALL[$nw:$nt]=">$wall"
		R_RATIO[$nw:$nt]=">${R_RATIO[$nw:$nt]}"
	fi

	echo "# W=$nw T=$nt: wall ${wall}s (bound ${bound}s), workers cut by the ${limit} s limit: $tout of $nw," \
		"idle exits: $idle_exit, load average $(loadavg)"
	echo "# W=$nw T=$nt: seconds after the start: last worker registered (event=started) ${last_start:-never}," \
		"first claim ${first_claim:-never}; pushes per minute (main/other refs): $permin"
	echo "# W=$nw T=$nt: the tail, seconds after the start: last claim ${last_claim:-never}, last task finished" \
		"${last_finish:-never}, last result on main ${last_result:-never}, last exit $wall; workers that ran a task: $ran of $nw"
	echo "# W=$nw T=$nt: pushes $pushes (main $p_main, heartbeat refs $p_hb, other $p_other), updated $updates," \
		"receive-pack connections $conns; max in 60 s: $win; upload-pack requests $fetches"
	echo "# W=$nw T=$nt: task runs $runs_total (ids run twice or more: $runs_dup, never run: $runs_miss);" \
		"result files $(wc -l <"$T/results-$name") (failed $res_failed; ids with several: $res_multi, with none: $res_none);" \
		"left on main: queue $leftover_q, in_progress $leftover_ip"
	echo "# W=$nw T=$nt: results per worker: ${share:-n/a}; warnings/errors (event=unsandboxed aside): $warn;" \
		"policy keys ignored by this dgrid: ${ignored:-none}"
	if [ "$warn" != 0 ]; then
		echo "# W=$nw T=$nt: most frequent warnings/errors:$(awk '{ e = "?"; for (i = 3; i <= NF; i++) if ($i ~ /^event=/) { e = $i; break }
			print $2, e }' "$log.warn" | sort | uniq -c | sort -rn | head -5 | awk '{ printf " %s %s %s;", $1, $2, $3 }')"
	fi

	# exactly once: a timed-out run is judged on what it ran; tasks it never got to are reported
	once=yes
	ex_cut=""
	if [ "$runs_dup" != 0 ] || [ "$res_multi" != 0 ] || [ "$runs_total" -gt "$nt" ]; then
		once="NO: dup"
		problems+=("W=$nw T=$nt: tasks ran more than once ($runs_dup ids run twice or more, $runs_total runs) or have several results ($res_multi ids)")
		broken=1
	fi
	if [ "$runs_miss" != 0 ] || [ "$res_none" != 0 ]; then
		if [ $tout -gt 0 ]; then
			ex_cut="timeout: $runs_miss not run, $res_none no result"
			[ "$once" = yes ] && once="timeout"
		else
			[ "$once" = yes ] && once="NO: lost" || once="$once+lost"
			problems+=("W=$nw T=$nt: $runs_miss tasks never ran, $res_none have no result")
			broken=1
		fi
	fi
	[ "$res_failed" != 0 ] && problems+=("W=$nw T=$nt: $res_failed failed results (informational)")
	[ -n "$ex_cut" ] && echo "# W=$nw T=$nt: cut after ${limit}s (WORKER_TIMEOUT / BENCH_TIMEOUT): $ex_cut"
	R_ONCE[$nw:$nt]=$once
	case " $ignored " in *" push_budget "*) budget_ignored=1 ;; esac

	[ -n "${KEEP_TMP:-}" ] || rm -rf "$T/cache/$name" "$T/srv/$name.git"
}

# --- main

mkdir -p "$T/srv" "$T/logs" "$T/cache"
PORT=$(free_port)
git daemon --verbose --reuseaddr --listen=127.0.0.1 --port="$PORT" --base-path="$T/srv" \
	--export-all --enable=receive-pack --informative-errors --max-connections=0 "$T/srv" 2>"$T/daemon.log" >&2 &
_pids+=($!)
wait_port "$PORT" || { echo "bench-budget: git daemon did not start"; exit 1; }
URL=git://127.0.0.1:$PORT

large_note=
[ "${LARGE:-}" = 1 ] && large_note=" (256:2560: $LARGE_PULL_INTERVAL)"
echo "# dgrid budget benchmark: $("$DGRID" version), $(nproc) CPUs, load average $(loadavg), git daemon on 127.0.0.1"
echo "# runs (W:T): $RUNS; dgrid.json {\"push_budget\": $BUDGET${PROTOCOL:+, \"protocol\": $PROTOCOL}};" \
	"tasks \`sleep $TASK_SLEEP\`; workers --slots 1 --executor process, PULL_INTERVAL=$BENCH_PULL_INTERVAL$large_note," \
	"WORKER_TIMEOUT=${WORKER_TIMEOUT}s, BENCH_TIMEOUT=${BENCH_TIMEOUT}s"
bench_t0=$(date +%s)

# each run's workers get WORKER_TIMEOUT, or with BENCH_TIMEOUT an equal share
# of the time left for the runs still to come (what an early run leaves
# goes to the later ones), less the SIGKILL grace
left_runs=$(echo $RUNS | wc -w)
for r in $RUNS; do
	limit=$WORKER_TIMEOUT
	if [ "$BENCH_TIMEOUT" != 0 ]; then
		share=$(( (BENCH_TIMEOUT - ($(date +%s) - bench_t0)) / left_runs - KILL_AFTER - 15 ))
		[ $share -lt 30 ] && share=30
		[ $share -lt $limit ] && limit=$share
	fi
	# the large run polls at dgrid's own default (the header says why)
	BENCH_PULL_INTERVAL=${PULL_INTERVAL:-1}
	[ "${LARGE:-}" = 1 ] && [ "$r" = 256:2560 ] && BENCH_PULL_INTERVAL=$LARGE_PULL_INTERVAL
	run "${r%%:*}" "${r#*:}" "$limit"
	left_runs=$((left_runs - 1))
done

echo
echo "budget benchmark: push_budget $BUDGET ($("$DGRID" version))"
fmt='%7s %6s %8s %7s %6s %7s %8s %10s %7s  %s\n'
printf "$fmt" workers tasks "wall s" "bound s" ratio pushes "max/60s" "tasks/push" "fetch/s" exactly-once
for r in $RUNS; do
	k=${r%%:*}:${r#*:}
	printf "$fmt" "${r%%:*}" "${r#*:}" "${R_WALL[$k]:-n/a}" "${R_BOUND[$k]:-n/a}" "${R_RATIO[$k]:-n/a}" \
		"${R_PUSH[$k]:-n/a}" "${R_WIN[$k]:-n/a}" "${R_TPP[$k]:-n/a}" "${R_FPS[$k]:-n/a}" "${R_ONCE[$k]:-n/a}"
done
echo "(> = cut by WORKER_TIMEOUT or BENCH_TIMEOUT: wall and ratio are lower bounds)"
if [ $budget_ignored = 1 ]; then
	echo "(this dgrid skipped \"push_budget\" as an unknown key: these are the unbudgeted figures)"
fi
echo "targets (issue 11; informational):"
for r in $RUNS; do
	k=${r%%:*}:${r#*:}
	ratio=${R_RATIO[$k]:-n/a}
	if [ "$(holds_le "$ratio" 2)" = 1 ]; then v=PASS; else v=FAIL; fi
	echo "  $v  W=${r%%:*} T=${r#*:}: wall / bound = $ratio <= 2"
	if [ "$(holds_le "${R_WIN[$k]:-n/a}" "$BUDGET")" = 1 ]; then v=PASS; else v=FAIL; fi
	echo "  $v  W=${r%%:*} T=${r#*:}: pushes in the busiest 60 s = ${R_WIN[$k]:-n/a} <= $BUDGET"
	if [ "${R_ONCE[$k]:-}" = yes ]; then v=PASS; else v=FAIL; fi
	echo "  $v  W=${r%%:*} T=${r#*:}: every task ran exactly once and has exactly one result (${R_ONCE[$k]:-n/a})"
done
for p in "${problems[@]}"; do echo "problem: $p"; done
echo "# bench-budget took $(( $(date +%s) - bench_t0 ))s; load average now $(loadavg)"
exit $broken
