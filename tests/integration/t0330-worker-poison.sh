#!/usr/bin/env bash
# t0330: poison in tasks/queue (DESIGN §2.3: bad input never stops a worker).
# One commit puts 8 poison files, 3 entries that are not tasks, and 3 good
# tasks in the queue. One worker with --exit-when-idle must:
#   - run the 3 good tasks (tasks/completed),
#   - turn each poison file into a `rejected` result in tasks/failed/ whose
#     reason names the problem, removing it from the queue:
#       bad.json        malformed JSON
#       wrong.json      task_id "other" does not match the file name
#       x.json          task_id "../x" (path traversal)
#       tâche.json      task_id with unicode (result stem made safe: t__che)
#       big.json        10 MB file (over file_max)
#       empty.json      empty script
#       strtime.json    timeout_seconds "30" (a string)
#       evil.json       symlink to /etc/passwd (git mode 120000)
#   - IGNORE what is not a task file and leave it in the queue:
#       README.md, .gitkeep (not *.json / dot file) and the directory d.json/
#       (with d.json/inner.json inside: the queue is flat, subdirectories
#       are never looked into)
#   - exit 0 with no crash in its log.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/srv"
make_bare "$T/srv/grid.git"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
clone_work "$T/srv/grid.git" "$T/work"
Q=$T/work/tasks/queue
mkdir -p "$Q/d.json"
printf '{"task_id": "bad", "script": "echo hi", ' >"$Q/bad.json"
printf '{"task_id": "other", "script": "echo hi", "timeout_seconds": 30}\n' >"$Q/wrong.json"
printf '{"task_id": "../x", "script": "echo hi", "timeout_seconds": 30}\n' >"$Q/x.json"
printf '{"task_id": "t\xc3\xa2che", "script": "echo hi", "timeout_seconds": 30}\n' >"$Q/t$(printf '\xc3\xa2')che.json"
python3 -c 'import sys; sys.stdout.write("{\"task_id\": \"big\", \"script\": \"echo hi\", \"timeout_seconds\": 30, \"pad\": \"" + "a" * (10 * 1024 * 1024) + "\"}\n")' >"$Q/big.json"
printf '{"task_id": "empty", "script": "", "timeout_seconds": 30}\n' >"$Q/empty.json"
printf '{"task_id": "strtime", "script": "echo hi", "timeout_seconds": "30"}\n' >"$Q/strtime.json"
ln -s /etc/passwd "$Q/evil.json"
printf '{"task_id": "inner", "script": "echo inner", "timeout_seconds": 30}\n' >"$Q/d.json/inner.json"
echo "drop task files here" >"$Q/README.md"
: >"$Q/.gitkeep"
for i in 1 2 3; do
	printf '{"task_id": "good-%d", "script": "echo good-%d", "timeout_seconds": 30}\n' "$i" "$i" >"$Q/good-$i.json"
done
commit_push "$T/work" "poison and good tasks"
check_eq "the symlink is stored as a symlink (mode 120000)" 120000 \
	"$(git -C "$T/srv/grid.git" ls-tree main tasks/queue/evil.json | cut -d' ' -f1)"
check_eq "big.json is 10 MB in the repository" 1 \
	"$(git -C "$T/srv/grid.git" cat-file -s main:tasks/queue/big.json | awk '{print ($1 > 10000000)}')"

DGRID_CACHE=$T/cache PULL_INTERVAL=1 HEARTBEAT_INTERVAL=1 timeout 120 "$DGRID" worker --repo "$URL" \
	--node-id w --exit-when-idle --http off >"$T/w.log" 2>&1 &
W=$!
track "$W"
wait "$W"
check_eq "worker exits 0 (--exit-when-idle)" 0 $?

bare() { git -C "$T/srv/grid.git" "$@"; }
check_eq "3 good tasks completed" "good-1.w.1.json good-2.w.1.json good-3.w.1.json" \
	"$(bare ls-tree --name-only main:tasks/completed | sort | tr '\n' ' ' | sed 's/ $//')"
good=0
for i in 1 2 3; do
	bare show "main:tasks/completed/good-$i.w.1.json" | grep -q "\"stdout\": *\"good-$i\\\\n\"" && good=$((good + 1))
done
check_eq "good results carry their output" 3 "$good"

git -C "$T/srv/grid.git" archive main tasks/failed | tar -x -C "$T"
# stem of each poison file -> a word its reason must contain (case-insensitive)
python3 - "$T/tasks/failed" >"$T/reasons.out" 2>&1 <<'PY'
import json, os, sys, re
d = sys.argv[1]
want = {
    "bad": r"line 1 column \d+",
    "wrong": r"does not match task_id 'other'",
    "x": r"task_id '\.\./x' has characters outside",
    "t__che": r"task_id 't\u00e2che' has characters outside",
    "big": r"task file is 10,4\d\d,\d\d\d bytes, limit 65,536",
    "empty": r"script is empty",
    "strtime": r"expected integer for timeout_seconds, got string",
    "evil": r"not a regular file",
}
files = sorted(os.listdir(d))
print("files", files)
bad = 0
for stem, pat in want.items():
    name = "%s.w.0.json" % stem
    if name not in files:
        print("MISSING", name); bad += 1; continue
    r = json.load(open(os.path.join(d, name)))
    reason = r.get("reason", "")
    print("%-10s status=%s reason=%s" % (stem, r.get("status"), reason))
    if r.get("status") != "rejected" or not re.search(pat, reason, re.I):
        print("BAD", stem, r); bad += 1
if len(files) != len(want):
    print("EXTRA", sorted(set(files) - {"%s.w.0.json" % s for s in want})); bad += 1
print("bad", bad)
PY
sed 's/^/# /' "$T/reasons.out"
check "every poison file is a rejected result whose reason names the problem" grep -q '^bad 0$' "$T/reasons.out"
check_eq "8 rejected results, nothing else failed" 8 "$(count_files "$T/srv/grid.git" tasks/failed)"
check_eq "the queue holds only the ignored entries" ".gitkeep README.md d.json/inner.json" \
	"$(bare ls-tree -r --name-only main tasks/queue | sed 's|^tasks/queue/||' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "in_progress is empty" 0 "$(count_files "$T/srv/grid.git" tasks/in_progress)"
check "the worker logged a rejection per poison file" test "$(grep -c 'event=rejected' "$T/w.log")" -eq 8
check "no crash or error in the worker log" bash -c "! grep -Eiq ' (error|crit|fatal) |segv|abort|assert' '$T/w.log'"
check "the worker exited through its idle path" grep -q 'event=idle-exit' "$T/w.log"
check "the ignored entries were never claimed" bash -c "! grep -Eq 'task=(inner|README|_gitkeep).*event=claimed' '$T/w.log'"
finish
