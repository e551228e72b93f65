#!/usr/bin/env bash
# bench-reads.sh - what reading an old grid costs (issue 10, "reads scale
# too"): `dgrid status` and `dgrid dashboard` with an empty cache, as a new
# operator or the Pages workflow runs them, on a protocol 3 grid holding
# 10,000 results on main and ARCHIVED more in refs/dgrid/archive (default
# 990,000: a million results in all), against the same grid with nothing
# archived, measured in the same run. Reports wall seconds, peak RSS and the
# cache's size; the issue's target: under 10 s and bounded memory.
#
# The grids are built with git fast-import (tests/tools/archived_grid.py;
# archived files share one blob, which readers never read) and served by one
# git daemon on 127.0.0.1; `dgrid archive` publishes the summary ref first.
# Environment: DGRID, ARCHIVED (990000), KEEP_TMP=1.
set -u
: "${DGRID:?DGRID must name the dgrid binary}"
ARCHIVED=${ARCHIVED:-990000}
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/dgrid-bench-reads.XXXXXX")
DAEMON=
cleanup() {
	[ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for n in 0 "$ARCHIVED"; do
	git init -q --bare -b main "$T/grid-$n.git"
	python3 "$SRC/tests/tools/archived_grid.py" 10000 "$n" | git -C "$T/grid-$n.git" fast-import --quiet --done
done
git daemon --reuseaddr --listen=127.0.0.1 --port="$port" --base-path="$T" --export-all \
	--enable=receive-pack "$T" >"$T/daemon.log" 2>&1 &
DAEMON=$!
sleep 1

measure() {   # measure LABEL N COMMAND...: "LABEL seconds peak_kb cache_kb"
	local label=$1 n=$2; shift 2
	rm -rf "$T/cache"
	DGRID_CACHE=$T/cache /usr/bin/time -f "%e %M" -o "$T/time" "$DGRID" "$@" \
		--repo "git://127.0.0.1:$port/grid-$n.git" >/dev/null 2>"$T/err" || { echo "FAIL: $label"; cat "$T/err"; }
	echo "$label $(cat "$T/time") $(du -sk "$T/cache" | cut -f1)"
}
for n in 0 "$ARCHIVED"; do
	DGRID_CACHE=$T/cache-a "$DGRID" archive --repo "git://127.0.0.1:$port/grid-$n.git" >/dev/null 2>&1
done
{
	for n in 0 "$ARCHIVED"; do
		measure "status-$n" "$n" status
		measure "dashboard-$n" "$n" dashboard --out "$T/site-$n"
	done
} | tee "$T/results"
python3 - "$T/results" "$ARCHIVED" <<'PY'
import sys
r = {l.split()[0]: [float(x) for x in l.split()[1:]] for l in open(sys.argv[1]) if not l.startswith("FAIL")}
a = sys.argv[2]
print("\n%-10s %28s %28s %8s" % ("", "10,000 on main, none archived", "10,000 on main + %s archived" % a, "ratio"))
for cmd in ("status", "dashboard"):
    x, y = r.get(cmd + "-0"), r.get(cmd + "-" + a)
    if not x or not y:
        print("%-10s missing" % cmd); continue
    print("%-10s %10.2f s %8.1f MB %6d KB %10.2f s %8.1f MB %6d KB %7.2fx" %
          (cmd, x[0], x[1] / 1024, x[2], y[0], y[1] / 1024, y[2], y[0] / max(x[0], 0.01)))
    print("  target: under 10 s -> %s" % ("PASS" if y[0] < 10 else "FAIL"))
PY
