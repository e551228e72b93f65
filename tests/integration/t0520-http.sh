#!/usr/bin/env bash
# t0520-http: the worker's web server (src/http.c) through tests/tools/http_demo,
# which serves a synthetic, hostile snapshot and advances it every 100 ms.
. "$(dirname "$0")/lib.sh"
DEMO=$(dirname "$DGRID")/tests/tools/http_demo
if [ ! -x "$DEMO" ]; then
	fail "http_demo not built ($DEMO)"
	finish
	exit 1
fi

# start_demo NAME ARGS...: runs http_demo, waits for its port; sets PORT and DEMO_PID
start_demo() {
	local name=$1 i; shift
	"$DEMO" "$@" >"$T/$name.out" 2>"$T/$name.err" &
	DEMO_PID=$!
	track "$DEMO_PID"
	PORT=
	for i in $(seq 100); do
		PORT=$(sed -n 's/^port=//p' "$T/$name.out")
		[ -n "$PORT" ] && break
		sleep 0.05
	done
}

start_demo main --seconds 120 --loop-interval-ms 300
main_pid=$DEMO_PID
P=$PORT
check "demo listening on a chosen port" test -n "$P"
U=http://127.0.0.1:$P
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

check_eq "/ is 200" 200 "$(code "$U/")"
check_eq "/health is 200 while ticking" 200 "$(code "$U/health")"
check_eq "/health says ok" ok "$(curl -s "$U/health")"
check_eq "unknown path is 404" 404 "$(code "$U/nope")"
check_eq "/api/status/x is 404" 404 "$(code "$U/api/status/x")"
for m in POST PUT DELETE PATCH; do
	check_eq "$m is 405" 405 "$(code -X "$m" "$U/")"
done
check "405 names the allowed methods" bash -c "curl -s -i -X POST '$U/metrics' | grep -qi '^Allow: GET, HEAD'"
check_eq "HEAD / is 200" 200 "$(code -I "$U/")"
check_eq "HEAD sends no body" 0 "$(curl -s -I "$U/" -o /dev/null -w '%{size_download}')"

curl -s "$U/" >"$T/page.html"
check "page escapes the hostile task id" grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' "$T/page.html"
check "page has no raw <script>alert" bash -c "! grep -qF '<script>alert' '$T/page.html'"
check "page escapes the node id with quotes" grep -qF 'demo-&quot;node&quot;&lt;b&gt;' "$T/page.html"
check "page has running tasks and results" grep -qF 'Running tasks (3)' "$T/page.html"
check "page shows the spool backlog" grep -qF '<span id="spool">2</span>' "$T/page.html"
check "page hides the token" bash -c "! grep -q 'demo-not-a-real-token' '$T/page.html'"
check "page auto-refreshes" grep -qF 'http-equiv="refresh"' "$T/page.html"
check "page sends a CSP" bash -c "curl -s -i '$U/' | grep -qi \"^Content-Security-Policy: default-src 'none'\""

curl -s "$U/api/status" >"$T/status.json"
check "/api/status is JSON with the snapshot" python3 - "$T/status.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["node_id"] == 'demo-"node"<b>', d["node_id"]
assert d["slots"] == 4 and len(d["running"]) == 3 and len(d["results"]) == 3
assert d["running"][1]["task_id"] == "<script>alert(1)</script>"
assert d["results"][2]["first_line"] == "bad \ufffd byte", d["results"][2]["first_line"]
assert "demo-not-a-real-token" not in json.dumps(d) and "***" in d["repo"], d["repo"]
assert d["counters"]["tasks_claimed"] > 0 and d["loop_tick"] > 0
assert len(d["push_latency"]["buckets"]) == 10
PY

curl -s "$U/metrics" >"$T/metrics.txt"
check "/metrics content type 0.0.4" bash -c "curl -s -i '$U/metrics' | grep -qi '^Content-Type: text/plain; version=0.0.4'"
check "/metrics parses as Prometheus text" python3 - "$T/metrics.txt" <<'PY'
import re, sys, math
text = open(sys.argv[1]).read()
assert text.endswith("\n")
name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label_re = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r"^(%s)(\{(%s(,%s)*)?\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$" % (name_re, label_re, label_re))
helps, types, samples = {}, {}, []
for line in text.splitlines():
    if line.startswith("# HELP "):
        n = line.split(" ", 3)[2]; helps[n] = True
    elif line.startswith("# TYPE "):
        _, _, n, t = line.split(" ")
        assert t in ("counter", "gauge", "histogram", "summary", "untyped"), line
        assert n not in types, "duplicate TYPE " + n
        assert n not in [s[0] for s in samples], "TYPE after samples " + n
        types[n] = t
    elif line.startswith("#") or not line:
        continue
    else:
        m = sample.match(line)
        assert m, "bad sample line: %r" % line
        samples.append((m.group(1), m.group(2) or "", float(m.group(5))))
def family(n):
    for suf in ("_bucket", "_sum", "_count"):
        if n.endswith(suf) and types.get(n[: -len(suf)]) == "histogram":
            return n[: -len(suf)]
    return n
for n, _, v in samples:
    f = family(n)
    assert f in types and f in helps, "no HELP/TYPE for " + n
    if types[f] == "counter":
        assert n.endswith("_total") and v >= 0, n
want = ["dgrid_tasks_claimed_total", "dgrid_tasks_completed_total", "dgrid_tasks_failed_total",
        "dgrid_tasks_rejected_total", "dgrid_tasks_timed_out_total", "dgrid_pushes_total",
        "dgrid_pushes_rejected_total", "dgrid_txn_retries_total"]
for w in want:
    assert types.get(w) == "counter", w
for g in ("dgrid_spool_backlog", "dgrid_running_tasks", "dgrid_slots"):
    assert types.get(g) == "gauge", g
assert types.get("dgrid_push_latency_seconds") == "histogram"
buckets = [(l, v) for n, l, v in samples if n == "dgrid_push_latency_seconds_bucket"]
les = [re.search(r'le="([^"]+)"', l).group(1) for l, _ in buckets]
assert les[-1] == "+Inf", les
bounds = [float(x) for x in les[:-1]]
assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds), les
counts = [v for _, v in buckets]
assert all(a <= b for a, b in zip(counts, counts[1:])), counts
count = [v for n, _, v in samples if n == "dgrid_push_latency_seconds_count"][0]
total = [v for n, _, v in samples if n == "dgrid_push_latency_seconds_sum"][0]
assert counts[-1] == count, (counts, count)
assert total >= 0 and count > 0
vals = {n: v for n, _, v in samples}
assert vals["dgrid_slots"] == 4 and vals["dgrid_running_tasks"] == 3 and vals["dgrid_spool_backlog"] == 2
PY

# 200 concurrent requests while the loop keeps ticking
check "200 concurrent requests all answered, loop keeps ticking" python3 - "$U" <<'PY'
import json, sys, threading, urllib.request, time
base = sys.argv[1]
def tick():
    return json.load(urllib.request.urlopen(base + "/api/status", timeout=10))["loop_tick"]
t0 = tick()
paths = ["/", "/api/status", "/metrics", "/health"]
codes, errors = [], []
lock = threading.Lock()
start = threading.Barrier(200)
def worker(i):
    start.wait()
    try:
        r = urllib.request.urlopen(base + paths[i % 4], timeout=20)
        body = r.read()
        with lock:
            codes.append(r.status if body else -1)
    except Exception as e:
        with lock:
            errors.append(repr(e))
ts = [threading.Thread(target=worker, args=(i,)) for i in range(200)]
[t.start() for t in ts]
[t.join() for t in ts]
time.sleep(0.3)
t1 = tick()
assert not errors, errors[:3]
assert codes.count(200) == 200, codes
assert t1 > t0, (t0, t1)
print("# ticks advanced by %d ms during the load" % (t1 - t0))
PY
check "demo still alive after the load" kill -0 "$main_pid"

# another server on the same port must fail cleanly
"$DEMO" --listen "127.0.0.1:$P" --seconds 1 >/dev/null 2>"$T/busy.err"; rc=$?
check_eq "busy port: exit 1" 1 "$rc"
check "busy port: message" grep -q 'cannot listen on' "$T/busy.err"
"$DEMO" --listen "nonsense" --seconds 1 >/dev/null 2>"$T/bad.err"; rc=$?
check_eq "bad address: exit 1" 1 "$rc"
check "bad address: message" grep -q 'expected ADDR:PORT' "$T/bad.err"
start_demo v6 --listen '[::1]:0' --seconds 5
if [ -n "$PORT" ]; then
	check_eq "IPv6 [::1]:0 serves" 200 "$(code -g "http://[::1]:$PORT/health")"
	kill "$DEMO_PID"
else
	skip "IPv6 loopback not available"
fi

# /health turns 503 once the loop stops turning
start_demo frozen --seconds 60 --freeze-after 1500 --loop-interval-ms 100
F=http://127.0.0.1:$PORT
check_eq "frozen demo: 200 before the freeze" 200 "$(code "$F/health")"
sleep 2.2
check_eq "frozen demo: 503 after the freeze" 503 "$(code "$F/health")"
check "503 says why" bash -c "curl -s '$F/health' | grep -q 'loop stalled'"
check_eq "other endpoints still answer" 200 "$(code "$F/api/status")"

# /health turns 503 when fetches keep failing although the loop turns
start_demo stale --seconds 30 --fetch-age-ms 5000 --fetch-max-age-ms 2000
S=http://127.0.0.1:$PORT
check_eq "stale fetch: 503" 503 "$(code "$S/health")"
check "stale fetch: says why" bash -c "curl -s '$S/health' | grep -q 'last successful fetch'"
start_demo fresh --seconds 30 --fetch-age-ms 1000 --fetch-max-age-ms 2000
check_eq "fetch within the limit: 200" 200 "$(code "http://127.0.0.1:$PORT/health")"

# SIGTERM ends it cleanly
kill -TERM "$main_pid"
wait "$main_pid"; rc=$?
check_eq "SIGTERM: exit 0" 0 "$rc"
finish
