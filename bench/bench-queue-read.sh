#!/usr/bin/env bash
# bench-queue-read.sh - what an idle worker pays for a queue it cannot run
# (doc/tasks.md, "Cost"; pick_memo.h).
#
# A grid whose queue holds UNFIT (default 10,000) tasks that need a "gpu"
# label, in their shards (built with git fast-import,
# tests/tools/unfit_queue.py), and a grid with an empty queue, served by one
# git daemon on 127.0.0.1. On each, a submitter adds one more such task with
# plain git every CHURN seconds (2), so that the queue keeps changing as on a
# live grid, and one worker without the label (--slots 1, PULL_INTERVAL=1)
# looks for work. After a warm-up of WARM seconds (45: past the cache's first
# repack, a full one) the worker's CPU time
# (utime + stime from /proc) is taken over DURATION seconds (60), and its
# debug log says how many queued files each step read. The empty grid is
# the baseline measured in the same run: the ratio says what the unrunnable
# queue costs on top of looking at all. With BASE_DGRID (an older binary) the
# full grid is measured with it too, for the "before" figure.
#
# BLOCKED=1 measures a busy grid's other unrunnable queue instead: UNFIT
# tasks any node may run once "gate" (a queued gpu task) has a result, and
# every CHURN seconds a result lands in tasks/completed (plain git, another
# task's), as when workers report - on both grids. BLOCKED=each: UNFIT / 2
# such tasks, each waiting for a gpu task of its own (the dependencies'
# results would land all over tasks/completed).
#
# Environment: DGRID, BASE_DGRID, UNFIT, BLOCKED, CHURN, WARM, DURATION,
# KEEP_TMP=1.
set -u
: "${DGRID:?DGRID must name the dgrid binary}"
UNFIT=${UNFIT:-10000}
CHURN=${CHURN:-2}
WARM=${WARM:-45}
DURATION=${DURATION:-60}
BASE_DGRID=${BASE_DGRID:-}
BLOCKED=${BLOCKED:-}
case $BLOCKED in ""|1|each) ;; *) echo "BLOCKED: 1 or each" >&2; exit 2 ;; esac
[ "$BLOCKED" = each ] && BLOCKED=-each
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/dgrid-bench-queue.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for n in 0 "$UNFIT"; do
	git init -q --bare -b main "$T/grid-$n.git"
	python3 "$SRC/tests/tools/unfit_queue.py" "$n" ${BLOCKED:+blocked${BLOCKED#1}} | git -C "$T/grid-$n.git" fast-import --quiet --done
done
git daemon --reuseaddr --listen=127.0.0.1 --port="$port" --base-path="$T" --export-all \
	--enable=receive-pack "$T" >"$T/daemon.log" 2>&1 &
PIDS+=($!)
sleep 1

# submit LABEL N: adds a gpu task (BLOCKED: a result) with plain git every CHURN seconds until killed
submit() {
	local dir=$T/submit-$1 k=0 id h
	git clone -q "git://127.0.0.1:$port/grid-$2.git" "$dir"
	git -C "$dir" config user.name submitter
	git -C "$dir" config user.email submitter@example.org
	mkdir -p "$dir/tasks/queue"
	while :; do
		k=$((k + 1))
		if [ -n "$BLOCKED" ]; then
			id=done$(printf %05d $k)
			h=$(printf %s "$id" | sha256sum)
			mkdir -p "$dir/tasks/completed/${h:0:1}/${h:1:1}/${h:2:1}"
			printf '{"task_id": "%s", "node_id": "other", "exit_code": 0, "status": "success"}\n' "$id" \
				>"$dir/tasks/completed/${h:0:1}/${h:1:1}/${h:2:1}/$id.other.1.json"
		else
			printf '{"task_id": "more%05d", "script": "./train.sh", "requires": {"labels": ["gpu"]}}\n' "$k" \
				>"$dir/tasks/queue/more$(printf %05d $k).json"
		fi
		git -C "$dir" add -A tasks
		git -C "$dir" commit -q -m "submit more$k"
		until git -C "$dir" push -q origin main 2>/dev/null; do
			git -C "$dir" pull -q --rebase origin main 2>/dev/null || sleep 0.2
		done
		sleep "$CHURN"
	done
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# measure LABEL BINARY N: "LABEL cpu_ms_per_minute steps median_read max_read"
measure() {
	local label=$1 bin=$2 n=$3 sub w a b from to
	submit "$label" "$n" >"$T/submit-$label.log" 2>&1 &
	sub=$!
	PIDS+=("$sub")
	DGRID_CACHE=$T/cache-$label PULL_INTERVAL=1 LOG_LEVEL=debug "$bin" worker \
		--repo "git://127.0.0.1:$port/grid-$n.git" --node-id "idle-$label" --slots 1 \
		--executor process --http off >"$T/worker-$label.log" 2>&1 &
	w=$!
	PIDS+=("$w")
	sleep "$WARM"
	a=$(cpu_ticks "$w")
	from=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
	sleep "$DURATION"
	b=$(cpu_ticks "$w")
	to=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
	kill "$w" "$sub" 2>/dev/null
	wait "$w" "$sub" 2>/dev/null
	python3 - "$label" "$a" "$b" "$DURATION" "$(getconf CLK_TCK)" "$T/worker-$label.log" "$from" "$to" <<'PY'
import re, statistics, sys
label, a, b, dur, hz, log, t0, t1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7], sys.argv[8]
# the steps (queue-read lines) inside the measured window, and the files each read
steps = [(m.group(1), int(m.group(2))) for m in re.finditer(r"^(\S+) debug \S+ event=queue-read read=(\d+)", open(log, errors="replace").read(), re.M)]
reads = [r for t, r in steps if t0 <= t <= t1]
ms = (b - a) * 1000.0 / hz * 60.0 / dur
per_step = "%.1f" % ((b - a) * 1000.0 / hz / len(reads)) if reads else "-"
print("%s %.0f %d %s %s %s" % (label, ms, len(reads), statistics.median(reads) if reads else "-", max(reads) if reads else "-", per_step))
PY
}

{
	measure empty "$DGRID" 0
	measure full "$DGRID" "$UNFIT"
	[ -n "$BASE_DGRID" ] && measure full-base "$BASE_DGRID" "$UNFIT"
} | tee "$T/results"

python3 - "$T/results" "$UNFIT" "$("$DGRID" --version)" "${BASE_DGRID:+$("$BASE_DGRID" --version)}" "$BLOCKED" <<'PY'
import sys
rows = {l.split()[0]: l.split()[1:] for l in open(sys.argv[1])}
unfit, ver, base = sys.argv[2], sys.argv[3], sys.argv[4]
kind = {"": "gpu tasks, a submission", "1": "tasks waiting for a gpu task, a result landing",
        "-each": "tasks each waiting for a gpu task of its own, a result landing"}[sys.argv[5]]
print("\nqueue read benchmark: %s; an idle worker without the label, PULL_INTERVAL=1, %s every few seconds" % (ver, kind))
print("(steps and files read: inside the measured window; a queue that stays empty logs no step)")
print("%-10s %8s %16s %7s %12s %24s" % ("grid", "queued", "cpu ms / minute", "steps", "cpu ms/step", "files read a step"))
for label, queued in (("empty", "0"), ("full", unfit), ("full-base", unfit)):
    if label not in rows:
        continue
    ms, steps, med, mx, per = rows[label]
    who = " (%s)" % base if label == "full-base" else ""
    print("%-10s %8s %16s %7s %12s %24s%s" % (label, queued, ms, steps, per, "median %s, max %s" % (med, mx) if med != "-" else "not logged", who))
e = float(rows["empty"][0]) or 1.0
print("full / empty cpu: %.2f" % (float(rows["full"][0]) / e))
if "full-base" in rows:
    print("full-base / empty cpu: %.2f" % (float(rows["full-base"][0]) / e))
PY
