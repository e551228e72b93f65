#!/usr/bin/env bash
# t0387-members-status: `dgrid status` and the dashboard count every
# repository of a grid of several (dgrid.json "repositories").
# Two bare repositories behind a real git daemon: the home A (tasks,
# a claim and results made with plain git) lists B (510 results, 500 of
# them archived by `dgrid archive`, 10 registered nodes, tasks queued with
# plain git), B again with a trailing '/', itself, one repository the
# daemon does not have and one whose URL holds hostile characters. Asserts
# the exact per-member figures and totals in text, in --json and on the
# dashboard (page and status.json), that the missing members show an error
# without stopping the command, that hostile text is escaped, and that a
# grid of one repository shows no such section.
. "$(dirname "$0")/lib.sh"
export DGRID_CACHE=$T/cache

mkdir -p "$T/srv"
make_bare "$T/srv/a.git"
make_bare "$T/srv/b.git"
start_git_daemon "$T/srv"
BASE="git://127.0.0.1:$GIT_DAEMON_PORT"
A=$BASE/a.git B=$BASE/b.git C=$BASE/missing.git
# control characters are refused in a URL, C1 controls are not (\u009b is a
# terminal's CSI), nor HTML's special characters: a JSON string for dgrid.json
D_JSON="$BASE/evil\\u009b2J<b>\\\"q.git"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# B: 510 flat results (26 failed: every 20th) and nodes node0..node9, at protocol 3
python3 "$DGRID_SRC/tests/tools/flat_grid.py" 510 | git -C "$T/srv/b.git" fast-import --quiet --done
clone_work "$T/srv/b.git" "$T/b"
printf '{"protocol": 3}\n' >"$T/b/dgrid.json"
commit_push "$T/b" "policy: protocol 3"
"$DGRID" archive --repo "$B" --keep 5 >"$T/archive.out" 2>&1
check "dgrid archive moves 500 of B's results to the archive" grep -q '^archived 500 results' "$T/archive.out"
git -C "$T/b" fetch -q origin && git -C "$T/b" reset -q --hard origin/main
mkdir -p "$T/b/tasks/queue"
for id in b-1 b-2; do
	printf '{"task_id": "%s", "script": "echo %s", "timeout_seconds": 30}\n' "$id" "$id" >"$T/b/tasks/queue/$id.json"
done
commit_push "$T/b" "submit b-1 b-2"

# A, the home: 3 queued, 1 running, 1 completed, 1 failed, 1 node
clone_work "$T/srv/a.git" "$T/a"
mkdir -p "$T/a/tasks/queue" "$T/a/tasks/in_progress" "$T/a/tasks/completed" "$T/a/tasks/failed" "$T/a/nodes"
printf '{"node_id": "w1", "version": "0.6.0", "registered_at": "%s"}\n' "$now" >"$T/a/nodes/w1.json"
for id in a-1 a-2 a-3; do
	printf '{"task_id": "%s", "script": "echo %s", "timeout_seconds": 30}\n' "$id" "$id" >"$T/a/tasks/queue/$id.json"
done
printf '{"task_id": "a-r", "script": "sleep 60", "timeout_seconds": 300, "node_id": "w1", "claimed_at": "%s", "attempt": 1}\n' \
	"$now" >"$T/a/tasks/in_progress/a-r.json"
printf '{"task_id": "a-c", "node_id": "w1", "status": "success", "exit_code": 0, "stdout": "", "stderr": "", "timestamp": "%s"}\n' \
	"$now" >"$T/a/tasks/completed/a-c.w1.1.json"
printf '{"task_id": "a-f", "node_id": "w1", "status": "failed", "exit_code": 1, "stdout": "", "stderr": "", "timestamp": "%s"}\n' \
	"$now" >"$T/a/tasks/failed/a-f.w1.1.json"
commit_push "$T/a" "tasks and results"

# status of A before it lists anything: a grid of one repository
"$DGRID" status --repo "$A" >"$T/single.txt" 2>"$T/single.err"
check_eq "single repository: status exits 0" 0 $?
check "single repository: no repositories section" bash -c "! grep -qE '^repositories|^  total ' '$T/single.txt'"
"$DGRID" status --repo "$A" --json >"$T/single.json"
check_eq "single repository: status --json exits 0" 0 $?
check "single repository: --json has no repositories or totals" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert "repositories" not in d and "totals" not in d, sorted(d)' "$T/single.json"

printf '{"repositories": ["%s", "%s/", "%s", "%s", "%s"]}\n' "$B" "$B" "$A" "$C" "$D_JSON" >"$T/a/dgrid.json"
commit_push "$T/a" "the grid spans B too"

# ---- text ----
"$DGRID" status --repo "$A" >"$T/status.txt" 2>"$T/status.err"
check_eq "status exits 0 with members missing" 0 $?
line() {   # line FIRST: what follows FIRST on the section's line that starts with it, spaces squeezed
	awk -v p="$1" 'index($0, "  " p " ") == 1 { sub(/^ +[^ ]+ +/, ""); print; exit }' "$T/status.txt" | tr -s ' '
}
check "the home's own section is still printed" grep -q '^queue      3$' "$T/status.txt"
check "heading: 4 repositories" grep -q '^repositories 4 (this one first' "$T/status.txt"
check_eq "A's line" "queued 3 running 1 completed 1 failed 1 nodes 1" "$(line "$A")"
check_eq "B's line (archived results counted)" "queued 2 running 0 completed 484 failed 26 nodes 10" "$(line "$B")"
check "B listed once (trailing '/' and repeats ignored)" test "$(grep -cF "$BASE/b.git" "$T/status.txt")" -eq 1
check "A listed once (the home named again)" test "$(grep -cF "  $A " "$T/status.txt")" -eq 1
check "the missing member shows an error" grep -qE "^  $C +error: cannot fetch: " "$T/status.txt"
check_eq "total, saying what is missing" \
	"queued 5 running 1 completed 485 failed 27 nodes 11 (2 of 4 repositories missing: not counted)" "$(line total)"
check_eq "the order: home first, then as listed, then the total" "$A $B $C total" \
	"$(sed -n '/^repositories /,$p' "$T/status.txt" | awk 'NR > 1 && $1 !~ /evil/ { print $1 }' | tr '\n' ' ' | sed 's/ $//')"
check "the C1 control of a URL is printed as an escape" grep -qF 'evil\u009b2J<b>"q.git' "$T/status.txt"
check "no raw C1 control on the terminal" bash -c "! LC_ALL=C grep -q $'\xc2\x9b' '$T/status.txt' '$T/status.err'"

# ---- --json ----
"$DGRID" status --repo "$A" --json >"$T/status.json" 2>"$T/status-json.err"
check_eq "status --json exits 0" 0 $?
check "status --json: repositories and totals" python3 - "$T/status.json" "$A" "$B" "$C" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
a, b, c = sys.argv[2:5]
r = d["repositories"]
assert [m["url"] for m in r[:3]] == [a, b, c], r
assert r[3]["url"].startswith(a.rsplit("/", 1)[0] + "/evil\u009b2J<b>"), r[3]
keys = ("queued", "running", "completed", "failed", "nodes")
assert [r[0][k] for k in keys] == [3, 1, 1, 1, 1], r[0]
assert [r[1][k] for k in keys] == [2, 0, 484, 26, 10], r[1]
for m in r[2:]:
    assert set(m) == {"url", "error"}, m
    assert m["error"].startswith("cannot fetch: "), m
t = d["totals"]
assert [t[k] for k in keys] == [5, 1, 485, 27, 11], t
assert (t["repositories"], t["missing"]) == (4, 2), t
assert d["completed"] == 1 and len(d["queue"]) == 3, d   # the home's own keys unchanged
PY
check "status --json escapes the C1 control" bash -c "grep -qF 'evil\\u009b2J' '$T/status.json' && ! LC_ALL=C grep -q $'\xc2\x9b' '$T/status.json'"

# ---- the dashboard ----
"$DGRID" dashboard --repo "$A" --out "$T/site" 2>"$T/dash.err"
check_eq "dashboard exits 0 with members missing" 0 $?
check "the dashboard logs the unread members" bash -c "test \$(grep -c 'event=member_unread' '$T/dash.err') -eq 2"
idx=$T/site/index.html
check "page: Repositories section" grep -qF '<h2>Repositories (4)</h2>' "$idx"
check "page and status.json figures" python3 - "$idx" "$T/site/status.json" "$A" "$B" "$C" <<'PY'
import json, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
a, b, c = sys.argv[3:6]
def row(rid):
    m = re.search(r'<tr id="%s">(.*?)</tr>' % rid, page)
    assert m, rid
    return m.group(1)
def nums(rid):
    return [int(x) for x in re.findall(r'<td class="num">(\d+)</td>', row(rid))]
assert "<code>%s</code> (this one)" % a in row("repo-0"), row("repo-0")
assert nums("repo-0") == [3, 1, 1, 1, 1], nums("repo-0")
assert "<code>%s</code>" % b in row("repo-1") and nums("repo-1") == [2, 0, 484, 26, 10], row("repo-1")
assert "<code>%s</code>" % c in row("repo-2") and "cannot fetch: " in row("repo-2"), row("repo-2")
assert not nums("repo-2")
assert "evil\u009b2J&lt;b&gt;&quot;q.git" in row("repo-3"), row("repo-3")
assert nums("repo-total") == [5, 1, 485, 27, 11], nums("repo-total")
assert 'id="repo-missing">2 of 4 repositories' in page
assert "<b>" not in page
d = json.load(open(sys.argv[2]))
keys = ("queued", "running", "completed", "failed", "nodes")
r = d["repositories"]
assert [m["url"] for m in r[:3]] == [a, b, c], r
assert [r[1][k] for k in keys] == [2, 0, 484, 26, 10], r[1]
assert set(r[2]) == {"url", "error"} and set(r[3]) == {"url", "error"}, r
t = d["totals"]
assert [t[k] for k in keys] + [t["repositories"], t["missing"]] == [5, 1, 485, 27, 11, 4, 2], t
PY

# ---- a grid of one repository: no section anywhere ----
"$DGRID" status --repo "$B" >"$T/b-status.txt"
check_eq "B alone: status exits 0" 0 $?
check "B alone: no repositories section" bash -c "! grep -qE '^repositories|^  total ' '$T/b-status.txt'"
"$DGRID" dashboard --repo "$B" --out "$T/site-b" 2>"$T/dash-b.err"
check_eq "B alone: dashboard exits 0" 0 $?
check "B alone: no Repositories section on the page" bash -c "! grep -qF 'id=\"repositories\"' '$T/site-b/index.html'"
check "B alone: status.json has no repositories or totals" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert "repositories" not in d and "totals" not in d, sorted(d)' "$T/site-b/status.json"
check "A and B each have a cache of their own" test "$(ls "$T/cache" | grep -c -- '-cli$')" -ge 2

finish
