# lib-workers.sh - sourced by the benchmarks that run many workers against
# one git daemon (bench-budget.sh, bench-collapse.sh): checks RUNS (W:T
# pairs), makes the temporary directory $T and the exit trap that stops
# every worker's process group and the daemon, a git CLI without user
# config, number helpers, make_grid NAME (a bare repository whose hooks
# record every push, and main's commit after each), results_on_main,
# drained_at (when main first held every result) and run_workers (W workers until they exit). The
# caller sets BENCH (its name, for messages), RUNS, DGRID, KILL_AFTER and
# the workers' PULL_INTERVAL and LOG_LEVEL (BENCH_*) first, and URL before
# run_workers.
for r in $RUNS; do
	case $r in
	[1-9]*:[1-9]*) case ${r%%:*}${r#*:} in *[!0-9]*) echo "$BENCH: bad RUNS entry '$r' (W:T)"; exit 1 ;; esac ;;
	*) echo "$BENCH: bad RUNS entry '$r' (W:T)"; exit 1 ;;
	esac
done
[ "$(printf '%s\n' $RUNS | sort | uniq -d)" = "" ] || { echo "$BENCH: RUNS names a W:T pair twice"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/dgrid-bench.XXXXXX")
_pids=()     # plain processes (the daemon)
_groups=()   # process groups (each worker's `timeout`, which leads its group)
cleanup() {
	local p i
	for p in "${_groups[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
	# workers give running tasks a grace period: wait a little, then kill
	for i in $(seq 50); do
		local alive=0
		for p in "${_groups[@]}"; do kill -0 -- "-$p" 2>/dev/null && alive=1 && break; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${_groups[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
	for p in "${_groups[@]}" "${_pids[@]}"; do wait "$p" 2>/dev/null; done
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# git CLI: no user config, fixed identity, no auto gc
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$T/gitconfig
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost
git config --file "$T/gitconfig" gc.auto 0
git config --file "$T/gitconfig" init.defaultBranch main

. "$SRC/tests/integration/net.sh"

now() { date +%s.%N; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
# fdiv A B [FORMAT]: A / B, "n/a" when either is missing or B is 0
fdiv() {
	awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN {
		if (a == "" || a == "n/a" || b == "" || b == "n/a" || b + 0 == 0) print "n/a"; else printf f, a / b }'
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# holds_le A B, holds_ge A B: 1 when both are numbers and A <= B (A >= B)
holds_le() {
	awk -v a="$1" -v b="$2" 'BEGIN { num = "^-?[0-9]+([.][0-9]+)?$"
		if (a !~ num || b !~ num) print 0; else print (a + 0 <= b + 0) }'
}
holds_ge() { holds_le "$2" "$1"; }

# make_grid NAME: the bare repository $T/srv/NAME.git with the recording hooks
make_grid() {
	local b=$T/srv/$1.git
	git init -q --bare -b main "$b" || return 1
	git -C "$b" config receive.denyNonFastForwards true
	git -C "$b" config receive.advertisePushOptions false
	git -C "$b" config receive.autogc false
	git -C "$b" config gc.auto 0
	# bash builtins only: a hook that forks (date, awk) widens every push's
	# window for losing the compare-and-swap on a busy machine
	cat >"$b/hooks/pre-receive" <<EOF
#!/bin/bash
# $BENCH: one line per push, "SECONDS.MICROSECONDS REF...", and one per
# ref it updates in pushed-refs-NAME, "SECONDS.MICROSECONDS OLD NEW REF": the
# objects of a push that then loses the compare-and-swap stay in the
# repository, so NEW names the loser too (for replaying who pushed when)
LC_ALL=C   # a decimal point, whatever the locale
ts=\$EPOCHREALTIME refs=
while read -r old new ref; do
	refs+=" \$ref"
	printf '%s %s %s %s\n' "\$ts" "\$old" "\$new" "\$ref" >>'$T/pushed-refs-$1'
done
printf '%s%s\n' "\$ts" "\$refs" >>'$T/pushes-$1'
EOF
	# "SECONDS.MICROSECONDS [MAIN]": MAIN is main's new commit, when it moved
	cat >"$b/hooks/post-receive" <<EOF
#!/bin/bash
LC_ALL=C
main=
while read -r old new ref; do [ "\$ref" = refs/heads/main ] && main=\$new; done
printf '%s %s\n' "\$EPOCHREALTIME" "\$main" >>'$T/updates-$1'
EOF
	chmod +x "$b/hooks/pre-receive" "$b/hooks/post-receive"
}

# results_on_main NAME [COMMIT]: how many task results main (or COMMIT) holds
results_on_main() {
	git -C "$T/srv/$1.git" ls-tree -r --name-only "${2:-main}" -- tasks/completed tasks/failed 2>/dev/null |
		grep -c '/t[0-9]*\.'
}
# drained_at NAME T: the post-receive time of the push after which main
# first held T results ("" if it never did). Results on main only grow in
# these runs (fewer than keep_results), so it walks the updates back from
# the newest while they hold T: a few tree reads, after the run.
drained_at() {
	local at="" ts c
	while read -r ts c; do
		[ -n "$c" ] || continue
		[ "$(results_on_main "$1" "$c")" -ge "$2" ] || break
		at=$ts
	done < <(tac "$T/updates-$1" 2>/dev/null)
	echo "$at"
}

# task_id K WIDTH
task_id() { printf 't%0*d' "$2" "$1"; }

# start_workers NAME W LIMIT [ARG...]: W workers (w1..wW) on $URL/NAME.git,
# each `dgrid worker --http off --slots 1 --executor process ARG...` under
# `timeout -k KILL_AFTER LIMIT` in a process group of its own, logs in
# $T/logs/NAME/; WORKER_PIDS: their process groups.
start_workers() {
	local name=$1 nw=$2 limit=$3 i
	shift 3
	WORKER_PIDS=()
	for i in $(seq "$nw"); do
		PULL_INTERVAL=$BENCH_PULL_INTERVAL LOG_LEVEL=$BENCH_LOG_LEVEL DGRID_CACHE="$T/cache/$name/w$i" \
			timeout -k "$KILL_AFTER" "$limit" "$DGRID" worker --repo "$URL/$name.git" \
			--node-id "w$i" --http off --slots 1 --executor process "$@" \
			>"$T/logs/$name/w$i.log" 2>&1 &
		WORKER_PIDS+=($!)
		_groups+=($!)
	done
}

# wait_workers W T: waits for WORKER_PIDS. TOUT: how many the limit cut; any
# other non-zero exit (a worker stopped by SIGTERM exits 0) adds a line to
# problems.
wait_workers() {
	local nw=$1 nt=$2 i rc
	TOUT=0
	for i in "${WORKER_PIDS[@]}"; do
		wait "$i" 2>/dev/null   # no "Killed" line per worker that needed SIGKILL
		rc=$?
		case $rc in
		0) ;;
		124 | 137) TOUT=$((TOUT + 1)) ;;
		*) problems+=("W=$nw T=$nt: a worker exited with status $rc") ;;
		esac
	done
	_groups=()
}

# run_workers NAME W T LIMIT: W workers with --exit-when-idle until all exit.
run_workers() {
	start_workers "$1" "$2" "$4" --exit-when-idle
	wait_workers "$2" "$3"
}
