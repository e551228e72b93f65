#!/usr/bin/env bash
# bench-worker.sh - dgrid worker throughput, pushes per task and idle memory,
# against the naive "D-GRID seed" algorithm measured in the same run.
#
# Everything runs in a fresh temporary directory against one
# `git daemon --enable=receive-pack` on 127.0.0.1 (free port), killed by the
# exit trap with every other process this script started.
#
#  1. dgrid, --slots 1, N = 1 2 4 8 workers: a fresh bare repo holding TASKS
#     trivial tasks (`true`) in one commit; N `dgrid worker --exit-when-idle
#     --http off --slots 1 --executor native` with distinct node ids and own
#     DGRID_CACHE dirs; wall time until all exited; results verified on main.
#  2. dgrid, --slots 4, N = 1 4.
#  3. naive seed algorithm, N = 1 2 4 8: N bash loops, each in its own clone,
#     doing what the original Python worker did (pull --rebase, first file of
#     the queue, git mv, commit, push; reset and retry on rejection; run;
#     write the result, git rm, commit, push with pull --rebase retries).
#  4. the resident memory of an idle worker (VmRSS / VmHWM after 5 s).
#
# Counting:
#  pushes      commits on main after the run minus before, minus the
#              registration commits (nodes/*.json on main; a worker whose
#              registration gave up made none).
#  rejected    "log": sum over `event=pushed ... attempts=K` of K-1, plus
#              30 for each transaction that gave up (event=remote-error ...
#              gave up after 30 attempts).
#              A transaction whose retry ended with nothing to commit is not
#              logged, so this can undercount.
#              "srv": receive-pack connections the git daemon served for that
#              repository minus pushes that updated a ref (counted by a
#              post-receive hook; includes registrations and heartbeats on
#              side refs). Also counts a push libgit2 gave up on after seeing
#              the advertised tip had moved.
#
# Environment: DGRID (binary), TASKS (400), NAIVE_TASKS (TASKS),
#   NAIVE_BUDGET (seconds for all naive runs together, 180; a run that hits
#   its share stops at the top of its loop and tasks/s is computed on what it
#   did: the naive way does ~2.5 tasks/s here, 400 tasks x 4 runs would take
#   ~10 minutes, so the naive runs default to NAIVE_TASKS=100), NAIVE_PICK
#   (first|random|both; first), PULL_INTERVAL for the throughput runs (1),
#   WORKER_TIMEOUT (seconds one dgrid run may take, 240), KEEP_TMP=1 keeps
#   the directory (logs).
set -u
: "${DGRID:?DGRID must name the dgrid binary}"
TASKS=${TASKS:-400}
NAIVE_TASKS=${NAIVE_TASKS:-100}
NAIVE_BUDGET=${NAIVE_BUDGET:-180}
NAIVE_PICK=${NAIVE_PICK:-first}
BENCH_PULL_INTERVAL=${PULL_INTERVAL:-1}
WORKER_TIMEOUT=${WORKER_TIMEOUT:-240}
NS_1="1 2 4 8"
NS_4="1 4"

T=$(mktemp -d "${TMPDIR:-/tmp}/dgrid-bench.XXXXXX")
_pids=()
cleanup() {
	local p
	for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do wait "$p" 2>/dev/null; done
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# git CLI: no user config, fixed identity, no auto gc in the clones
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$T/gitconfig
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost
git config --file "$T/gitconfig" gc.auto 0
git config --file "$T/gitconfig" advice.detachedHead false
git config --file "$T/gitconfig" init.defaultBranch main

now() { date +%s.%N; }
fdiv() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.3f", a / b }'; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }

. "$(dirname "$0")/../tests/integration/net.sh"

# seed DIR COUNT: a repository whose main holds COUNT tasks in one commit
seed() {
	local dir=$1 n=$2 i
	git init -q -b main "$dir"
	mkdir -p "$dir/tasks/queue"
	for i in $(seq -f '%04g' 1 "$n"); do
		printf '{"task_id": "t%s", "script": "true", "timeout_seconds": 10}\n' "$i" \
			>"$dir/tasks/queue/t$i.json"
	done
	printf 'bench state repository\n' >"$dir/README"
	git -C "$dir" add -A
	git -C "$dir" commit -qm "seed: $n tasks"
}

# make_bare NAME SEEDDIR: $T/srv/NAME.git served by the daemon
make_bare() {
	local b=$T/srv/$1.git
	git clone -q --bare --no-hardlinks "$2" "$b"
	git -C "$b" remote remove origin 2>/dev/null
	git -C "$b" config receive.denyNonFastForwards true
	git -C "$b" config receive.advertisePushOptions false
	git -C "$b" config gc.auto 0
	git -C "$b" config receive.autogc false
	printf '#!/bin/sh\necho push >>bench-receives\ncat >>bench-refs\n' >"$b/hooks/post-receive"
	chmod +x "$b/hooks/post-receive"
}

main_commits() { git -C "$T/srv/$1.git" rev-list --count main; }
tree_count() { git -C "$T/srv/$1.git" ls-tree --name-only "main:$2" 2>/dev/null | grep -c '\.json$'; }
srv_receives() { [ -f "$T/srv/$1.git/bench-receives" ] && wc -l <"$T/srv/$1.git/bench-receives" || echo 0; }
srv_connections() { grep -c "Request receive-pack for '/$1.git'" "$T/daemon.log"; }
# distinct task ids among completed results ({node}-{task}.json, node ids without '-')
completed_unique() {
	git -C "$T/srv/$1.git" ls-tree --name-only main:tasks/completed 2>/dev/null |
		sed 's/^[^-]*-//' | sort -u | grep -c '\.json$'
}

mkdir -p "$T/srv" "$T/logs"
seed "$T/seed" "$TASKS"
[ "$NAIVE_TASKS" = "$TASKS" ] || seed "$T/seed-naive" "$NAIVE_TASKS"
seed "$T/seed-empty" 0

PORT=$(free_port)
git daemon --verbose --reuseaddr --listen=127.0.0.1 --port="$PORT" --base-path="$T/srv" \
	--export-all --enable=receive-pack --informative-errors "$T/srv" >"$T/daemon.log" 2>&1 &
_pids+=($!)
wait_port "$PORT" || { echo "git daemon did not start"; exit 1; }
URL=git://127.0.0.1:$PORT

declare -A D_TPS D_PPT D_RPT D_RPTS D_NOTE N_TPS N_NOTE N_RPT
problems=()

# dgrid_run SLOTS N
dgrid_run() {
	local slots=$1 n=$2 name="d-s$1-n$2" i before after t0 t1 secs pids=() rc=0
	local done queue inprog failed uniq pushes rej_log gaveup conn recv rej_srv runs warn
	make_bare "$name" "$T/seed"
	before=$(main_commits "$name")
	t0=$(now)
	for i in $(seq "$n"); do
		PULL_INTERVAL=$BENCH_PULL_INTERVAL LOG_LEVEL=debug DGRID_CACHE="$T/cache/$name-w$i" \
			timeout "$WORKER_TIMEOUT" "$DGRID" worker --repo "$URL/$name.git" --node-id "w$i" \
			--slots "$slots" --executor native --exit-when-idle --http off \
			>"$T/logs/$name-w$i.log" 2>&1 &
		pids+=($!)
		_pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=$?; done
	t1=$(now)
	secs=$(fsub "$t1" "$t0")
	after=$(main_commits "$name")
	done=$(tree_count "$name" tasks/completed)
	queue=$(tree_count "$name" tasks/queue)
	inprog=$(tree_count "$name" tasks/in_progress)
	failed=$(tree_count "$name" tasks/failed)
	uniq=$(completed_unique "$name")
	# a worker whose registration gave up never committed: subtract the nodes on main
	pushes=$((after - before - $(tree_count "$name" nodes)))
	rej_log=$(cat "$T/logs/$name"-w*.log | sed -n 's/.*event=pushed .*attempts=\([0-9]*\).*/\1/p' |
		awk '{ s += $1 - 1 } END { print s + 0 }')
	gaveup=$(cat "$T/logs/$name"-w*.log | grep -c 'event=remote-error.*gave up')
	rej_log=$((rej_log + 30 * gaveup))   # a transaction gives up after 30 rejected attempts
	conn=$(srv_connections "$name")
	recv=$(srv_receives "$name")
	rej_srv=$((conn - recv))
	runs=$(cat "$T/logs/$name"-w*.log | grep -c 'event=finished')
	warn=$(cat "$T/logs/$name"-w*.log | awk '$2 == "warning" || $2 == "error"' | wc -l)
	D_TPS[$slots,$n]=$(fdiv "$done" "$secs")
	D_PPT[$slots,$n]=$(fdiv "$pushes" "$done")
	D_RPT[$slots,$n]=$(fdiv "$rej_log" "$done")
	D_RPTS[$slots,$n]=$(fdiv "$rej_srv" "$done")
	share=$(cat "$T/logs/$name"-w*.log | sed -n 's/.*node=\([^ ]*\) event=stopped completed=\([0-9]*\).*/\1:\2/p' | tr '\n' ' ')
	printf '# dgrid slots=%s N=%s: per worker: %s\n' "$slots" "$n" "$share"
	printf '# dgrid slots=%s N=%s: %ss, completed=%s (distinct %s) failed=%s queue=%s in_progress=%s runs=%s pushes=%s rejected(log)=%s gave_up=%s receive-pack=%s updates=%s warn/err lines=%s exit=%s\n' \
		"$slots" "$n" "$secs" "$done" "$uniq" "$failed" "$queue" "$inprog" "$runs" "$pushes" \
		"$rej_log" "$gaveup" "$conn" "$recv" "$warn" "$rc"
	if [ "$done" != "$TASKS" ] || [ "$uniq" != "$TASKS" ] || [ "$queue" != 0 ] || [ "$inprog" != 0 ] ||
	   [ "$failed" != 0 ] || [ "$rc" != 0 ]; then
		D_NOTE[$slots,$n]="!"
		problems+=("dgrid slots=$slots N=$n: completed=$done distinct=$uniq failed=$failed queue=$queue in_progress=$inprog exit=$rc")
	fi
	if [ "$runs" != "$TASKS" ]; then
		problems+=("dgrid slots=$slots N=$n: $runs task runs for $TASKS tasks")
	fi
	if [ "$warn" != 0 ]; then
		problems+=("dgrid slots=$slots N=$n: $warn warning/error log lines, e.g.: $(cat "$T/logs/$name"-w*.log |
			awk '$2 == "warning" || $2 == "error"' | sed 's/^[^ ]* //' | sed 's/node=[^ ]* //' | sort | uniq -c | sort -rn | head -3 | tr '\n' ';')")
	fi
}

# naive_worker CLONE NODE DEADLINE PICK: the seed algorithm, in bash
naive_worker() {
	local dir=$1 node=$2 deadline=$3 pick=$4 f t script out rc pushes=0 rej=0 ran=0
	cd "$dir" || return 1
	mkdir -p tasks/in_progress tasks/completed
	while :; do
		if [ "$(date +%s)" -ge "$deadline" ]; then echo timeout >"$dir.timedout"; break; fi
		if ! git pull --rebase -q >/dev/null 2>&1; then
			git rebase --abort >/dev/null 2>&1
			git reset -q --hard origin/main
		fi
		if [ "$pick" = random ]; then
			f=$(ls tasks/queue 2>/dev/null | shuf -n 1)
		else
			f=$(ls tasks/queue 2>/dev/null | head -1)
		fi
		[ -n "$f" ] || break
		mkdir -p tasks/in_progress
		git mv tasks/queue/"$f" tasks/in_progress/"$f"
		git commit -qm "$node: claim $f"
		if ! git push -q origin HEAD:main >/dev/null 2>&1; then
			rej=$((rej + 1))
			git fetch -q origin
			git reset -q --hard origin/main
			continue
		fi
		pushes=$((pushes + 1))
		t=${f%.json}
		script=$(jq -r .script tasks/in_progress/"$f")
		out=$(bash -c "$script" 2>&1)
		rc=$?
		ran=$((ran + 1))
		mkdir -p tasks/completed
		jq -n --arg t "$t" --arg n "$node" --argjson rc "$rc" --arg out "$out" \
			--arg ts "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
			'{task_id: $t, node_id: $n, exit_code: $rc, stdout: $out, stderr: "", timestamp: $ts, status: "success"}' \
			>tasks/completed/"$node-$t.json"
		git rm -q tasks/in_progress/"$f"
		git add tasks/completed/"$node-$t.json"
		git commit -qm "$node: result $t"
		until git push -q origin HEAD:main >/dev/null 2>&1; do
			rej=$((rej + 1))
			if ! git pull --rebase -q >/dev/null 2>&1; then
				git rebase --abort >/dev/null 2>&1
				echo "rebase failed for $t" >>"$dir.errors"
				break
			fi
		done
		pushes=$((pushes + 1))
	done
	echo "$pushes $rej $ran" >"$dir.stats"
}

# naive_run N PICK DEADLINE_SECONDS
naive_run() {
	local n=$1 pick=$2 limit=$3 name="n-$2-n$1" seeddir=$T/seed i t0 t1 secs pids=() deadline
	local done uniq queue inprog rej ran timedout
	[ "$NAIVE_TASKS" = "$TASKS" ] || seeddir=$T/seed-naive
	make_bare "$name" "$seeddir"
	for i in $(seq "$n"); do
		git clone -q "$URL/$name.git" "$T/naive/$name-n$i"
	done
	t0=$(now)
	deadline=$(( $(date +%s) + limit ))
	for i in $(seq "$n"); do
		naive_worker "$T/naive/$name-n$i" "n$i" "$deadline" "$pick" \
			>"$T/logs/$name-n$i.log" 2>&1 &
		pids+=($!)
		_pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	t1=$(now)
	secs=$(fsub "$t1" "$t0")
	done=$(tree_count "$name" tasks/completed)
	uniq=$(completed_unique "$name")
	queue=$(tree_count "$name" tasks/queue)
	inprog=$(tree_count "$name" tasks/in_progress)
	rej=$(cat "$T/naive/$name"-n*.stats 2>/dev/null | awk '{ s += $2 } END { print s + 0 }')
	ran=$(cat "$T/naive/$name"-n*.stats 2>/dev/null | awk '{ s += $3 } END { print s + 0 }')
	timedout=$(ls "$T/naive/$name"-n*.timedout 2>/dev/null | wc -l)
	N_TPS[$pick,$n]=$(fdiv "$done" "$secs")
	N_RPT[$pick,$n]=$(fdiv "$rej" "$done")
	printf '# naive(%s) N=%s: %ss, completed=%s (distinct %s) queue=%s in_progress=%s runs=%s rejected=%s%s\n' \
		"$pick" "$n" "$secs" "$done" "$uniq" "$queue" "$inprog" "$ran" "$rej" \
		"$([ "$timedout" -gt 0 ] && echo " TIMED OUT after ${limit}s (tasks/s on what it did)")"
	if [ "$timedout" -gt 0 ]; then
		N_NOTE[$pick,$n]="*"
	elif [ "$done" != "$NAIVE_TASKS" ] || [ "$uniq" != "$done" ] || [ "$inprog" != 0 ]; then
		N_NOTE[$pick,$n]="!"
		problems+=("naive($pick) N=$n: completed=$done distinct=$uniq queue=$queue in_progress=$inprog (lost or duplicated by the naive algorithm)")
	fi
	if [ -n "$(cat "$T/naive/$name"-n*.errors 2>/dev/null)" ]; then
		problems+=("naive($pick) N=$n: $(cat "$T/naive/$name"-n*.errors | wc -l) results not pushed after a failed rebase")
	fi
}

echo "# dgrid worker benchmark: $TASKS tasks (\`true\`), git daemon on 127.0.0.1, $(nproc) CPUs, one run each (no repeats)"
echo "# dgrid: --executor native --exit-when-idle --http off, PULL_INTERVAL=$BENCH_PULL_INTERVAL, own DGRID_CACHE per worker"
bench_t0=$(date +%s)

for n in $NS_1; do dgrid_run 1 "$n"; done
for n in $NS_4; do dgrid_run 4 "$n"; done

mkdir -p "$T/naive"
picks=$NAIVE_PICK
[ "$NAIVE_PICK" = both ] && picks="first random"
nn=$(echo $NS_1 | wc -w)
np=$(echo $picks | wc -w)
per_run=$(( NAIVE_BUDGET / (nn * np) ))
echo "# naive: $NAIVE_TASKS tasks per run, each run bounded to ${per_run}s (budget ${NAIVE_BUDGET}s for all naive runs)"
for pick in $picks; do
	for n in $NS_1; do naive_run "$n" "$pick" "$per_run"; done
done

# idle resident memory
make_bare idle "$T/seed-empty"
PULL_INTERVAL=1 DGRID_CACHE="$T/cache/idle" "$DGRID" worker --repo "$URL/idle.git" --node-id idle \
	--slots 1 --executor native --http off >"$T/logs/idle.log" 2>&1 &
idle_pid=$!
_pids+=($idle_pid)
sleep 5
rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$idle_pid/status" 2>/dev/null)
hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$idle_pid/status" 2>/dev/null)
idle_commits=$(main_commits idle)
kill "$idle_pid" 2>/dev/null
wait "$idle_pid" 2>/dev/null

echo
echo "dgrid --slots 1 vs naive seed algorithm ($TASKS tasks; naive: $NAIVE_TASKS tasks, pick=${picks// /+})"
printf '%-4s %12s %12s %8s %12s %14s %14s\n' N "dgrid t/s" "naive t/s" ratio "pushes/task" "rejected/task" "rej/task(srv)"
for n in $NS_1; do
	first=${picks%% *}
	printf '%-4s %12s %12s %8s %12s %14s %14s\n' "$n" "${D_TPS[1,$n]}${D_NOTE[1,$n]:-}" \
		"${N_TPS[$first,$n]}${N_NOTE[$first,$n]:-}" "$(fdiv "${D_TPS[1,$n]}" "${N_TPS[$first,$n]}")" \
		"${D_PPT[1,$n]}" "${D_RPT[1,$n]}" "${D_RPTS[1,$n]}"
done
if [ "$np" -gt 1 ]; then
	echo "naive, random pick:"
	for n in $NS_1; do
		printf '%-4s %12s %12s %8s\n' "$n" "${D_TPS[1,$n]}" "${N_TPS[random,$n]}${N_NOTE[random,$n]:-}" \
			"$(fdiv "${D_TPS[1,$n]}" "${N_TPS[random,$n]}")"
	done
fi
echo "naive rejected pushes/task: $(for p in $picks; do for n in $NS_1; do printf '%s N=%s %s; ' "$p" "$n" "${N_RPT[$p,$n]}"; done; done)"
echo
echo "dgrid --slots 4"
printf '%-4s %12s %12s %14s %14s\n' N "dgrid t/s" "pushes/task" "rejected/task" "rej/task(srv)"
for n in $NS_4; do
	printf '%-4s %12s %12s %14s %14s\n' "$n" "${D_TPS[4,$n]}${D_NOTE[4,$n]:-}" "${D_PPT[4,$n]}" \
		"${D_RPT[4,$n]}" "${D_RPTS[4,$n]}"
done
echo
echo "idle worker (empty queue, PULL_INTERVAL=1, after 5 s): VmRSS ${rss:-?} MB, VmHWM ${hwm:-?} MB; commits on main: $idle_commits (seed + registration = 2)"
echo
echo "targets: 8 workers >= 10x naive 8 workers and >= dgrid 1 worker; pushes/task <= 1.0 (slots 1), <= 0.35 (slots 4); idle RSS <= 10 MB"
v=$(awk -v d="${D_TPS[1,8]}" -v n="${N_TPS[${picks%% *},8]}" -v o="${D_TPS[1,1]}" 'BEGIN {
	printf "%s 10x naive (%.1fx), %s 1-worker", (d >= 10 * n ? "meets" : "MISSES"), (n > 0 ? d / n : 0), (d >= o ? "meets" : "MISSES") }')
echo "  8 workers: $v"
for n in $NS_1; do
	awk -v p="${D_PPT[1,$n]}" -v n="$n" 'BEGIN { if (p > 1.0) printf "  MISSES pushes/task <= 1.0 at slots 1 N=%s (%s)\n", n, p }'
done
for n in $NS_4; do
	awk -v p="${D_PPT[4,$n]}" -v n="$n" 'BEGIN { if (p > 0.35) printf "  MISSES pushes/task <= 0.35 at slots 4 N=%s (%s)\n", n, p }'
done
awk -v r="${rss:-999}" 'BEGIN { printf "  idle RSS: %s\n", (r <= 10 ? "meets" : "MISSES") }'
echo "  (* = naive run hit its time bound; ! = results missing, duplicated or left over)"
for p in "${problems[@]}"; do echo "problem: $p"; done
echo "# bench-worker took $(( $(date +%s) - bench_t0 ))s"
