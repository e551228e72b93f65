#!/usr/bin/env bash
# Transactions per second on one branch against a git daemon on 127.0.0.1,
# dgrid's in-memory transactions (tests/tools/txn_writer) next to the naive
# way (a clone per writer: pull --rebase, add, commit, push, retry), both
# measured in this run, for 1, 2, 4 and 8 concurrent writers; the median of
# RUNS runs each. Then the bytes one transaction pushes when the branch
# already holds 100 and 10,000 tasks in tasks/queue.
#
# Knobs: BENCH_WRITERS ("1 2 4 8"), BENCH_RUNS (3), BENCH_PER (30 dgrid
# transactions per writer), BENCH_NAIVE_PER (10 naive commits per writer).
set -u
: "${DGRID_SRC:=$(cd "$(dirname "$0")/.." && pwd)}"
BUILD=${BUILD:-build}
WRITER=$DGRID_SRC/$BUILD/tests/tools/txn_writer
WRITERS=${BENCH_WRITERS:-1 2 4 8}
RUNS=${BENCH_RUNS:-3}
PER=${BENCH_PER:-30}
NAIVE_PER=${BENCH_NAIVE_PER:-10}

[ -x "$WRITER" ] || { echo "bench-txn: $WRITER missing (make $BUILD/tests/tools/txn_writer)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/dgrid-bench.XXXXXX")
DAEMON=
cleanup() { [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
mkdir -p "$T/srv"
git daemon --reuseaddr --listen=127.0.0.1 --port="$PORT" --base-path="$T/srv" --export-all \
	--enable=receive-pack "$T/srv" >"$T/daemon.log" 2>&1 &
DAEMON=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

now() { date +%s.%N; }
commits() { git -C "$1" rev-list --count main; }

# fresh NAME: a bare repository with one commit on main
fresh() {
	local bare=$T/srv/$1.git w=$T/seed-$1
	rm -rf "$bare" "$w"
	git init -q --bare -b main "$bare"
	git -C "$bare" config receive.denyNonFastForwards true
	git init -q -b main "$w" && echo seed >"$w/README.md" && mkdir "$w/data" && touch "$w/data/.keep"
	git -C "$w" add -A && git -C "$w" commit -qm seed && git -C "$w" push -q "$bare" main
	rm -rf "$w"
}

# dgrid_run N: prints transactions per second of N txn_writers
dgrid_run() {
	local n=$1 name=dg$1-$RANDOM i t0 t1 c0 pids=()
	fresh "$name"
	c0=$(commits "$T/srv/$name.git")
	t0=$(now)
	for i in $(seq "$n"); do
		"$WRITER" "git://127.0.0.1:$PORT/$name.git" "w$i" "$PER" "$T/cache-$name-$i" \
			>"$T/$name-$i.out" 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || echo "bench-txn: a dgrid writer failed" >&2; done
	t1=$(now)
	python3 -c "print('%.1f' % (($(commits "$T/srv/$name.git") - $c0) / ($t1 - $t0)))"
}

naive_writer() {
	local dir=$1 w=$2 count=$3 i tries
	cd "$dir" || return 1
	for i in $(seq "$count"); do
		git pull --rebase -q origin main 2>/dev/null
		echo "$w $i" >"data/$w-$i.txt"
		git add "data/$w-$i.txt"
		git commit -q -m "add data/$w-$i.txt"
		tries=0
		until git push -q origin HEAD:main 2>/dev/null; do
			tries=$((tries + 1))
			[ "$tries" -gt 200 ] && return 1
			git pull --rebase -q origin main 2>/dev/null
		done
	done
}

# naive_run N: prints commits per second of N shell loops
naive_run() {
	local n=$1 name=nv$1-$RANDOM i t0 t1 c0 pids=()
	fresh "$name"
	for i in $(seq "$n"); do
		git clone -q "git://127.0.0.1:$PORT/$name.git" "$T/clone-$name-$i"
	done
	c0=$(commits "$T/srv/$name.git")
	t0=$(now)
	for i in $(seq "$n"); do
		naive_writer "$T/clone-$name-$i" "w$i" "$NAIVE_PER" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || echo "bench-txn: a naive writer failed" >&2; done
	t1=$(now)
	python3 -c "print('%.1f' % (($(commits "$T/srv/$name.git") - $c0) / ($t1 - $t0)))"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

echo "transactions per second, one branch, git daemon on 127.0.0.1, median of $RUNS runs"
echo "(dgrid: $PER transactions per writer; naive: $NAIVE_PER commits per writer, clone + pull --rebase/commit/push)"
printf '%-8s %12s %12s %12s\n' writers "dgrid txn/s" "naive txn/s" "dgrid/naive"
for n in $WRITERS; do
	d=() v=()
	for _ in $(seq "$RUNS"); do
		d+=("$(dgrid_run "$n")")
		v+=("$(naive_run "$n")")
	done
	dm=$(median "${d[@]}")
	vm=$(median "${v[@]}")
	printf '%-8s %12s %12s %12s\n' "$n" "$dm" "$vm" \
		"$(python3 -c "print('%.2fx' % ($dm / $vm if $vm else 0))")"
	rm -rf "$T"/cache-* "$T"/clone-*
done

# bytes_run NTASKS: a branch holding NTASKS queued tasks, then transactions
# adding one task file each to tasks/queue (what submit does) and one file
# elsewhere (data/); prints bytes per transaction for both.
BYTES_TXNS=5
bytes_run() {
	local n=$1 name=by$1 w=$T/prep-$1 q d
	fresh "$name"
	git clone -q "$T/srv/$name.git" "$w"
	mkdir -p "$w/tasks/queue"
	python3 - "$w/tasks/queue" "$n" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open("%s/task-%05d.json" % (d, i), "w") as f:
        json.dump({"task_id": "task-%05d" % i, "script": "echo %d" % i, "timeout_seconds": 30}, f, indent=2)
        f.write("\n")
PY
	# no auto-gc: a detached gc would still be writing when the clone is removed
	git -C "$w" add -A && git -C "$w" -c gc.auto=0 commit -qm "$n tasks" && git -C "$w" push -q origin main
	rm -rf "$w"
	q=$("$WRITER" "git://127.0.0.1:$PORT/$name.git" q "$BYTES_TXNS" "$T/cache-$name-q" tasks/queue |
		sed -n 's/.*bytes=\([0-9]*\).*/\1/p')
	d=$("$WRITER" "git://127.0.0.1:$PORT/$name.git" d "$BYTES_TXNS" "$T/cache-$name-d" data |
		sed -n 's/.*bytes=\([0-9]*\).*/\1/p')
	printf '%-14s %22s %22s\n' "$n" "$((q / BYTES_TXNS))" "$((d / BYTES_TXNS))"
}

echo
echo "bytes pushed per transaction (mean of $BYTES_TXNS), by tasks already queued"
printf '%-14s %22s %22s\n' "queued tasks" "add to tasks/queue" "add to data/"
bytes_run 100
bytes_run 10000
