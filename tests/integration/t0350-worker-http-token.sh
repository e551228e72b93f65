#!/usr/bin/env bash
# t0350: exactly-once over smart HTTP with a token (lighttpd + git
# http-backend, basic auth, user x-access-token), and the token never leaks
# (DESIGN §2.4: the Git token never reaches a task, a log line or a web page).
#   w1: token in GIT_TOKEN, status page on --http 127.0.0.1:0
#   w2: token in GIT_TOKEN, --exit-when-idle
# 30 tasks (native sandbox) run exactly once; one more task prints `env`.
# Each sleeps 1 s (0.3 s until 0.15.1): under make -j2 test's load w1 once
# ran all 31 before w2 had cloned, and "both did some" failed.
# The token must be absent from: worker logs, results and the whole history,
# the cache and spool directories, w1's /, /api/status and /metrics, and the
# env task's stdout. The repo URL on the status page carries no credentials.
# Finally w3 is given the token inside the URL (https://user:token@host form)
# and must redact it in its log and on its status page.
. "$(dirname "$0")/lib.sh"

N=30
TOKEN=tok$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
mkdir -p "$T/srv"
make_bare "$T/srv/grid.git"
start_http_git "$T/srv" x-access-token "$TOKEN"
URL="http://127.0.0.1:$HTTP_GIT_PORT/git/grid.git"
check_eq "anonymous access is refused (401)" 401 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$URL/info/refs?service=git-upload-pack")"
check_eq "the token is accepted" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' -u "x-access-token:$TOKEN" "$URL/info/refs?service=git-upload-pack")"

clone_work "$T/srv/grid.git" "$T/work"
mkdir -p "$T/work/tasks/queue"
touch "$T/work/tasks/queue/.gitkeep"
for i in $(seq $N); do
	id=$(printf 'task-%03d' "$i")
	printf '{"task_id": "%s", "script": "sleep 1; echo %s", "timeout_seconds": 30}\n' "$id" "$id" >"$T/work/tasks/queue/$id.json"
done
printf '{"task_id": "envtask", "script": "env; echo env-done", "timeout_seconds": 30}\n' >"$T/work/tasks/queue/envtask.json"
commit_push "$T/work" "$N tasks and an env task"

GIT_TOKEN=$TOKEN DGRID_CACHE=$T/cache-1 DGRID_SPOOL=$T/spool-1 PULL_INTERVAL=1 HEARTBEAT_INTERVAL=1 \
	timeout 180 "$DGRID" worker --repo "$URL" --node-id w1 --http 127.0.0.1:0 >"$T/w1.log" 2>&1 &
W1=$!
track "$W1"
GIT_TOKEN=$TOKEN DGRID_CACHE=$T/cache-2 DGRID_SPOOL=$T/spool-2 PULL_INTERVAL=1 HEARTBEAT_INTERVAL=1 \
	timeout 180 "$DGRID" worker --repo "$URL" --node-id w2 --exit-when-idle --http off >"$T/w2.log" 2>&1 &
W2=$!
track "$W2"
wait "$W2"
check_eq "w2 exits 0 when the grid is drained" 0 $?
all() { [ "$(count_files "$T/srv/grid.git" tasks/completed)" -eq $((N + 1)) ]; }
check "all $((N + 1)) results in tasks/completed" wait_for 60 all
check_eq "queue empty" 0 "$(count_files "$T/srv/grid.git" tasks/queue)"
check_eq "in_progress empty" 0 "$(count_files "$T/srv/grid.git" tasks/in_progress)"
check_eq "nothing failed" 0 "$(count_files "$T/srv/grid.git" tasks/failed)"
git -C "$T/srv/grid.git" archive main tasks/completed | tar -x -C "$T"
python3 - "$T/tasks/completed" "$N" >"$T/results.out" 2>&1 <<'PY'
import json, os, sys, collections
d, n = sys.argv[1], int(sys.argv[2])
seen = collections.Counter()
bad = 0
for name in os.listdir(d):
    r = json.load(open(os.path.join(d, name)))
    seen[r["task_id"]] += 1
    if r["task_id"].startswith("task-"):
        if r["stdout"] != r["task_id"] + "\n" or r["status"] != "success" or r["attempt"] != 1:
            bad += 1; print("bad", name, r)
want = {"task-%03d" % i for i in range(1, n + 1)} | {"envtask"}
if set(seen) != want or any(c != 1 for c in seen.values()):
    bad += 1; print("ids", sorted(seen.items()))
print("bad", bad)
PY
check "every task completed exactly once with its own output" grep -q '^bad 0$' "$T/results.out"
for w in 1 2; do
	note "w$w completed $(git -C "$T/srv/grid.git" ls-tree --name-only main:tasks/completed | grep -c "\.w$w\.[0-9]*\.json$")"
done
check "both workers did some of the work" test "$(git -C "$T/srv/grid.git" ls-tree --name-only main:tasks/completed | cut -d. -f2 | sort -u | wc -l)" -eq 2

envres=$(ls "$T"/tasks/completed/envtask.*.json 2>/dev/null | head -1)
check "the env task ran" grep -q 'env-done' "$envres"
check "the env task saw no GIT_TOKEN variable" bash -c "! grep -q 'GIT_TOKEN' '$envres'"
check "the env task saw no token value" bash -c "! grep -qF '$TOKEN' '$envres'"

# w1's status page
PORT=$(sed -n 's/.*event=http-listening port=\([0-9]*\).*/\1/p' "$T/w1.log" | head -1)
check "w1 logged its status page port" test -n "$PORT"
U=http://127.0.0.1:$PORT
curl -s "$U/" >"$T/page.html"
curl -s "$U/api/status" >"$T/status.json"
curl -s "$U/metrics" >"$T/metrics.txt"
check "/ answers with w1's page" grep -q 'w1' "$T/page.html"
check "/api/status answers with JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/status.json"
check "/metrics answers" test -s "$T/metrics.txt"
for f in page.html status.json metrics.txt; do
	check "token absent from $f" bash -c "! grep -qF '$TOKEN' '$T/$f'"
done
check_eq "/api/status shows the repo URL without credentials" "$URL" \
	"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo"])' "$T/status.json" 2>/dev/null)"
kill -TERM "$W1"
wait "$W1"
check_eq "w1 exits 0 on SIGTERM" 0 $?

# w3: the token inside the URL
URL3="http://x-access-token:$TOKEN@127.0.0.1:$HTTP_GIT_PORT/git/grid.git"
DGRID_CACHE=$T/cache-3 DGRID_SPOOL=$T/spool-3 PULL_INTERVAL=1 HEARTBEAT_INTERVAL=1 \
	timeout 60 "$DGRID" worker --repo "$URL3" --node-id w3 --http 127.0.0.1:0 >"$T/w3.log" 2>&1 &
W3=$!
track "$W3"
check "w3 (token in the URL) starts" wait_for 20 grep -q 'node=w3 event=started' "$T/w3.log"
PORT3=$(sed -n 's/.*event=http-listening port=\([0-9]*\).*/\1/p' "$T/w3.log" | head -1)
published() { curl -s "http://127.0.0.1:$PORT3/api/status" | grep -q '"node_id": *"w3"'; }
check "w3's status page is published" wait_for 10 published
curl -s "http://127.0.0.1:$PORT3/" >"$T/page3.html"
curl -s "http://127.0.0.1:$PORT3/api/status" >"$T/status3.json"
check "w3: token absent from its page and /api/status" bash -c "! grep -qF '$TOKEN' '$T/page3.html' '$T/status3.json'"
check "w3: /api/status repo has no credentials" bash -c \
	"python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))[\"repo\"]; print(r); assert \"$TOKEN\" not in r and r.endswith(\"@127.0.0.1:$HTTP_GIT_PORT/git/grid.git\")' '$T/status3.json'"
kill -TERM "$W3"
wait "$W3"
check_eq "w3 exits 0 on SIGTERM" 0 $?

# nowhere on disk or in history
for w in 1 2 3; do
	check "token absent from w$w's log" bash -c "! grep -qF '$TOKEN' '$T/w$w.log'"
done
check "token absent from the cache and spool directories" bash -c "! grep -rqF '$TOKEN' '$T'/cache-* '$T'/spool-* 2>/dev/null"
check "token absent from every result file" bash -c "! grep -rqF '$TOKEN' '$T/tasks'"
check "token absent from the whole repository history (all refs)" bash -c \
	"! git -C '$T/srv/grid.git' log --all -p --format='%an %s %b' | grep -qF '$TOKEN'"
check "token absent from heartbeat refs" bash -c \
	"! git -C '$T/srv/grid.git' for-each-ref --format='%(refname)' refs/dgrid | while read r; do git -C '$T/srv/grid.git' show \$r:heartbeat.json; done | grep -qF '$TOKEN'"
finish
