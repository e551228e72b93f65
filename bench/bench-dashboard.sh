#!/usr/bin/env bash
# bench-dashboard.sh - time `dgrid dashboard` on a grid with many results.
#
# Builds a bare repository with git fast-import (one commit): N results
# (default 100,000; 90% completed, 10% failed) from 20 nodes spread over
# the last 48 hours, 5,000 queued and 50 running tasks; then runs the
# dashboard 3 times and reports the median wall time and the page sizes.
#
# usage: bench/bench-dashboard.sh [N]     (DGRID: the binary, default ./build/dgrid)
set -eu
N=${1:-100000}
SRC=$(cd "$(dirname "$0")/.." && pwd)
DGRID=${DGRID:-$SRC/build/dgrid}
if [ -n "${BENCH_DIR:-}" ]; then
	# keep the generated repository between runs (generation is the slow part)
	W=$BENCH_DIR
	mkdir -p "$W"
	rm -rf "$W/site" "$W/cache"
else
	W=$(mktemp -d "${TMPDIR:-/tmp}/dgrid-bench.XXXXXX")
	trap 'rm -rf "$W"' EXIT
fi

if [ -d "$W/grid.git" ] && [ "$(cat "$W/n" 2>/dev/null)" = "$N" ]; then
	echo "# reusing $W/grid.git"
else
rm -rf "$W/grid.git"
git init -q --bare -b main "$W/grid.git"
start=$(date +%s.%N)
python3 - "$N" <<'PY' | git -C "$W/grid.git" fast-import --quiet
import sys, time, json
n = int(sys.argv[1])
now = int(time.time())
out = sys.stdout.buffer
def utc(t): return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
def put(path, obj):
    data = (json.dumps(obj) + "\n").encode()
    out.write(b"M 100644 inline %s\ndata %d\n" % (path.encode(), len(data)))
    out.write(data)
msg = b"bench grid"
out.write(b"commit refs/heads/main\ncommitter bench <b@x> %d +0000\ndata %d\n%s\n" % (now, len(msg), msg))
for k in range(20):
    put("nodes/node-%02d.json" % k, {"node_id": "node-%02d" % k, "name": "bench node %d" % k,
        "cpus": 4, "slots": 2, "executor": "process", "registered_at": utc(now - 86400 * 3)})
for i in range(n):
    node = "node-%02d" % (i % 20)
    tid = "t%07d" % i
    ts = now - (i * 172800) // n
    ok = i % 10 != 0
    res = {"task_id": tid, "node_id": node, "exit_code": 0 if ok else 1,
           "stdout": "result %d\nsecond line\n" % i, "stderr": "" if ok else "error: failed %d\n" % i,
           "timestamp": utc(ts), "status": "success" if ok else ("failed" if i % 30 else "timeout"),
           "attempt": 1, "started_at": utc(ts - 3), "duration_ms": 3000}
    put("tasks/%s/%s-%s.json" % ("completed" if ok else "failed", node, tid), res)
for i in range(5000):
    put("tasks/queue/q%06d.json" % i, {"task_id": "q%06d" % i, "script": "echo %d" % i, "timeout_seconds": 30})
for i in range(50):
    put("tasks/in_progress/r%04d.json" % i, {"task_id": "r%04d" % i, "script": "sleep 60",
        "timeout_seconds": 120, "node_id": "node-%02d" % (i % 20), "claimed_at": utc(now - 30), "attempt": 1})
PY
gen=$(echo "$(date +%s.%N) - $start" | bc)
echo "# generated $N results in ${gen} s ($(du -sh "$W/grid.git" | cut -f1) repository)"
echo "$N" >"$W/n"
fi

times=()
for run in 1 2 3; do
	t0=$(date +%s.%N)
	DGRID_CACHE=$W/cache "$DGRID" dashboard --repo "$W/grid.git" --out "$W/site" 2>/dev/null
	t1=$(date +%s.%N)
	times+=("$(echo "$t1 - $t0" | bc)")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
size=$(stat -c %s "$W/site/index.html")
jsize=$(stat -c %s "$W/site/status.json")
copies=$(find "$W/site/results" -type f | wc -l)
echo "dashboard results=$N runs=${times[*]} median_s=$median index_html_bytes=$size status_json_bytes=$jsize result_copies=$copies"
