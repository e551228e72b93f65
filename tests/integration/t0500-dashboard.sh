#!/usr/bin/env bash
# t0500-dashboard: `dgrid dashboard` on a repository with every state, made
# with plain git: counts, liveness words, escaping of hostile strings,
# status.json, result copies, the git:// transport, and an empty grid.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dashlib.sh"
export DGRID_CACHE=$T/cache

make_dash_repo "$T/grid.git"
out=$T/site
check "dashboard exits 0" "$DGRID" dashboard --repo "$T/grid.git" --out "$out" --title 'My <grid>'
idx=$out/index.html
check "index.html written" test -s "$idx"
check "status.json written" test -s "$out/status.json"

for h in '<h2>Summary</h2>' '<h2>Charts</h2>' '<h2>Nodes</h2>' '<h2>Queue (3)</h2>' \
	 '<h2>Running (1)</h2>' '<h2>Recent results (7 of 7)</h2>' '<h2>Recent failures</h2>'; do
	check "heading $h" grep -qF "$h" "$idx"
done
check "count queued 3" grep -qF 'id="n-queue">3<' "$idx"
check "count running 1" grep -qF 'id="n-running">1<' "$idx"
check "count completed 3" grep -qF 'id="n-completed">3<' "$idx"
check "count failed 4" grep -qF 'id="n-failed">4<' "$idx"
check "count alive 1" grep -qF 'id="n-alive">1<' "$idx"
check "alive node is alive" grep -qE '<code>w-alive</code>.*class="alive">alive<' "$idx"
check "dead node is stale" grep -qE '<code>w-dead</code>.*class="stale">stale<' "$idx"
check "silent node is unknown" grep -qE '<code>w-never</code>.*class="unknown">unknown<' "$idx"
check "per-node counts (w-alive: 2 ok, 2 not)" \
	grep -qE '<code>w-alive</code>.*<td class="num">2</td><td class="num">2</td><td class="rep">0 agreed, 0 disagreed, 0 forged</td></tr>' "$idx"
check "running owner and time" grep -qE '<code>r-1</code>.*<code>w-alive</code>.*[0-9]+ (s|min)' "$idx"
check "executor and isolation" grep -qF 'namespaces+seccomp+cgroup' "$idx"
check "auto refresh" grep -qF '<meta http-equiv="refresh" content="60">' "$idx"
check "times are absolute in <time datetime>" grep -qE '<time datetime="[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"' "$idx"
check "three inline SVG charts" test "$(grep -o '<svg ' "$idx" | wc -l)" -eq 3
check "non-ASCII output kept" grep -qF 'café ☃' "$idx"

# hostile strings appear escaped only
check "stdout <script> escaped" grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' "$idx"
check "raw <script>alert( absent" bash -c "! grep -qF '<script>alert(' '$idx'"
check "raw alert(3) script absent" bash -c "! grep -qF '<script>alert(3)' '$idx'"
check "one script element only (ours)" test "$(grep -o '<script' "$idx" | wc -l)" -eq 1
check "hostile node_id escaped" grep -qF 'x&quot;&gt;&lt;img src=x onerror=alert(2)&gt;' "$idx"
check "no raw <img" bash -c "! grep -qF '<img' '$idx'"
check "node name with quotes escaped" grep -qF 'Alice&#39;s &quot;fast&quot; box' "$idx"
check "label escaped" grep -qF '&lt;b&gt;bold&lt;/b&gt;' "$idx"
check "title escaped" grep -qF '<h1>My &lt;grid&gt;</h1>' "$idx"
check "no external resources" bash -c "! grep -qiE '(src|href)=\"(https?:)?//' '$idx'"

# links and copies
check "result link" grep -qF 'href="results/completed/w-alive-c-1.json"' "$idx"
check "result copy parses" python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['task_id']=='c-1'" \
	"$out/results/completed/w-alive-c-1.json"

check "status.json counts" python3 - "$out/status.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["counts"]
assert (c["nodes"], c["queue"], c["running"], c["completed"], c["failed"]) == (3, 3, 1, 3, 4), c
b = c["by_status"]
assert (b["success"], b["failed"], b["timeout"], b["rejected"]) == (3, 2, 1, 1), b
live = {n["node_id"]: n["liveness"] for n in d["nodes"]}
assert live == {"w-alive": "alive", "w-dead": "stale", "w-never": "unknown"}, live
alive = [n for n in d["nodes"] if n["node_id"] == "w-alive"][0]
assert (alive["succeeded"], alive["not_succeeded"], alive["slots"]) == (2, 2, 2), alive
assert len(d["recent_results"]) == 7 and len(d["recent_failures"]) == 4
assert d["running"][0]["node_id"] == "w-alive" and 120 <= d["running"][0]["running_seconds"] < 600
h = d["charts"]["finished_per_hour"]
assert sum(h["succeeded"]) + sum(h["not_succeeded"]) == 7
assert d["charts"]["backlog"]["waiting"][-1] == 3 and d["charts"]["backlog"]["running"][-1] == 1
PY

# stale copies go away, caps and "+N more"
touch "$out/results/completed/old-gone.json"
check "cap: --recent 2 --queue 1" "$DGRID" dashboard --repo "$T/grid.git" --out "$out" --recent 2 --queue 1
check "+2 more line" grep -qF '+2 more' "$idx"
check "recent heading shows the cap" grep -qF 'Recent results (2 of 7)' "$idx"
check "unlinked old copy removed" test ! -e "$out/results/completed/old-gone.json"

# through git:// as a remote would be
start_git_daemon "$T"
check "dashboard over git://" "$DGRID" dashboard --repo "git://127.0.0.1:$GIT_DAEMON_PORT/grid.git" --out "$T/site2"
check "git:// liveness from side refs" grep -qE 'class="alive">alive<' "$T/site2/index.html"

# usage errors
env -u DGRID_REPO_URL -u DGRID_REPO_PATH "$DGRID" dashboard --out "$T/x" >/dev/null 2>&1; rc=$?
check_eq "no repo is a usage error" 2 "$rc"
"$DGRID" dashboard --repo "$T/grid.git" >/dev/null 2>&1; rc=$?
check_eq "no --out is a usage error" 2 "$rc"
"$DGRID" dashboard --repo "$T/nope.git" --out "$T/x" >/dev/null 2>&1; rc=$?
check_eq "missing repository fails with 1" 1 "$rc"

# a grid with nothing in it (layout only) and an empty branch
make_bare "$T/empty.git"
w=$T/emptywork
git clone -q "$T/empty.git" "$w" 2>/dev/null
mkdir -p "$w/tasks/queue" && touch "$w/tasks/queue/.gitkeep"
git -C "$w" add -A && git -C "$w" -c user.name=t -c user.email=t@x commit -qm init && git -C "$w" push -q origin HEAD:main 2>/dev/null
check "0-task grid" "$DGRID" dashboard --repo "$T/empty.git" --out "$T/empty-site"
check "0-task page says so" grep -qF 'The queue is empty.' "$T/empty-site/index.html"
check "0-task share chart" grep -qF 'no results yet' "$T/empty-site/index.html"
check "0-task status.json" python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['counts']['queue']==0 and d['nodes']==[]" "$T/empty-site/status.json"
make_bare "$T/bare-empty.git"
check "empty branch" "$DGRID" dashboard --repo "$T/bare-empty.git" --out "$T/empty2"
check "empty branch page" grep -qF '(empty branch)' "$T/empty2/index.html"
finish
