#!/usr/bin/env bash
# The dashboard and the worker's own page for a grid that real workers
# produced: completed, failed, timed-out and rejected tasks, hostile output,
# one dead node (killed with SIGKILL) and one live worker whose web server
# is checked over HTTP and in headless Chromium.
. "$(dirname "$0")/lib.sh"

REPO=$T/grid.git
export DGRID_CACHE=$T/cache
printf '{"timeout_min": 1, "heartbeat_interval": 1, "node_timeout": 4}\n' >"$T/policy.json"
check "init with a short-timeout policy" "$DGRID" init "$REPO" --policy "$T/policy.json"

# a node that registers, heartbeats, and dies
HEARTBEAT_INTERVAL=1 "$DGRID" worker --repo "$REPO" --node-id dead-node --http off >"$T/dead.log" 2>&1 &
dead=$!
track $dead
check "the doomed node registered" wait_for 20 bash -c "git -C '$REPO' cat-file -e main:nodes/dead-node.json 2>/dev/null"
check "and sent a heartbeat" wait_for 20 git -C "$REPO" rev-parse -q --verify refs/dgrid/nodes/dead-node
kill -9 $dead

cd "$T"
printf '{"task_id": "hello", "script": "echo hello from the grid", "timeout_seconds": 10}\n' >hello.json
printf '{"task_id": "xss", "script": "echo \\"<script>alert(1)</script>\\"", "timeout_seconds": 10}\n' >xss.json
printf '{"task_id": "fails", "script": "echo broken >&2; exit 2", "timeout_seconds": 10}\n' >fails.json
printf '{"task_id": "slow", "script": "sleep 30", "timeout_seconds": 2}\n' >slow.json
check "tasks submitted" "$DGRID" submit --repo "$REPO" hello.json xss.json fails.json slow.json
clone_work "$REPO" "$T/work"
printf '{"task_id": "malformed", "script": ' >"$T/work/tasks/queue/malformed.json"
commit_push "$T/work" "a careless commit"

HEARTBEAT_INTERVAL=1 "$DGRID" worker --repo "$REPO" --node-id 'live-node' --slots 2 --http 127.0.0.1:0 \
	>"$T/live.log" 2>&1 &
live=$!
track $live
done_count() { echo $(( $(count_files "$REPO" tasks/completed) + $(count_files "$REPO" tasks/failed) )); }
check "the live worker ends all five tasks" wait_for 60 bash -c "[ \$(( \$(git -C '$REPO' ls-tree --name-only main:tasks/completed 2>/dev/null | grep -vc '^\\.') + \$(git -C '$REPO' ls-tree --name-only main:tasks/failed 2>/dev/null | grep -vc '^\\.') )) -eq 5 ]"
note "results: $(done_count)"
status_of() { git -C "$REPO" show "main:tasks/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
check_eq "hello succeeded" success "$(status_of 'completed/hello.live-node.1.json')"
check_eq "fails failed" failed "$(status_of 'failed/fails.live-node.1.json')"
check_eq "slow timed out" timeout "$(status_of 'failed/slow.live-node.1.json')"
check_eq "malformed was rejected" rejected "$(status_of 'failed/malformed.live-node.0.json')"

# the live worker's own pages
port=$(sed -n 's/.*event=http-listening port=\([0-9]*\).*/\1/p' "$T/live.log" | head -1)
check "the worker logged its web port" test -n "$port"
curl -s "http://127.0.0.1:$port/api/status" >"$T/api.json"
check "api/status names the node and its completed tasks" python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["node_id"] == "live-node", s["node_id"]
assert s["counters"]["tasks_completed"] >= 2, s
' "$T/api.json"
check_eq "/health answers 200 while the loop runs" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")"
curl -s "http://127.0.0.1:$port/metrics" >"$T/metrics.txt"
check "/metrics counts the pushes" grep -Eq '^dgrid_pushes_total [1-9]' "$T/metrics.txt"
curl -s "http://127.0.0.1:$port/" >"$T/page.html"
check "the worker page names the node" grep -q "live-node" "$T/page.html"
check "the worker page shows no raw injected script" bash -c "! grep -q '<script>alert(1)' '$T/page.html'"

# the public dashboard: one node dead, one alive (once the node timeout passed)
dead_is_stale() {
	"$DGRID" status --repo "$REPO" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if any(n["node_id"] == "dead-node" and n["liveness"] == "stale" for n in s["nodes"]) else 1)'
}
check "dgrid status sees the killed node go stale" wait_for 20 dead_is_stale
site=$T/site
check "dashboard generated" "$DGRID" dashboard --repo "$REPO" --out "$site"
python3 - "$site/status.json" >"$T/dash.out" 2>&1 <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(json.dumps(s, indent=1)[:3000])
PY
check "status.json parses" test -s "$T/dash.out"
liveness() {
	python3 - "$site/status.json" "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
nodes = s.get("nodes", [])
for n in nodes:
    if n.get("node_id") == sys.argv[2]:
        print(n.get("liveness") or n.get("state"))
PY
}
check_eq "the killed node is shown stale" stale "$(liveness dead-node)"
check_eq "the live worker is shown alive" alive "$(liveness 'live-node')"
check "the page has no raw injected script" bash -c "! grep -q '<script>alert(1)' '$site/index.html'"
check "the page shows the escaped output" grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' "$site/index.html"

CHROME=$(command -v chromium || true)
if [ -n "$CHROME" ]; then
	ART=$DGRID_SRC/${BUILD:-build}/artifacts
	mkdir -p "$ART"
	prof=$(mktemp -d "$T/prof.XXXXXX")
	timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$prof" --window-size=1280,1600 --screenshot="$ART/worker-live.png" \
		"http://127.0.0.1:$port/" 2>>"$T/chromium.log"
	check "a screenshot of the live worker's page was taken" test -s "$ART/worker-live.png"
	prof=$(mktemp -d "$T/prof.XXXXXX")
	timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$prof" --window-size=1280,2400 --screenshot="$ART/dashboard-workers.png" \
		"file://$site/index.html" 2>>"$T/chromium.log"
	check "a screenshot of the dashboard was taken" test -s "$ART/dashboard-workers.png"
else
	skip "chromium is not installed"
fi

kill -TERM $live
for i in $(seq 100); do kill -0 $live 2>/dev/null || break; sleep 0.2; done
check "the live worker stops on SIGTERM" bash -c "! kill -0 $live 2>/dev/null"
check "no error lines in the live worker's log" bash -c "! grep ' error ' '$T/live.log'"
finish
