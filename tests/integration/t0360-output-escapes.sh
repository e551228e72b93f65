#!/usr/bin/env bash
# t0360: terminal escape injection (issue 9, defect 8). A hostile pusher
# writes, with plain git, queue FILE names, a node file and a heartbeat side
# ref whose names carry: OSC 52 (ESC ]52;c;... BEL, a clipboard write),
# ESC [2J (clear screen), CSI as the C1 control U+009B, a bare CR, DEL. A
# task prints such bytes too. Then a worker runs the queue, and
#   dgrid status, dgrid status --json, the worker's log, dgrid validate,
#   dgrid run and a command's error message
# must contain no raw ESC, BEL, CR, DEL or C1 byte, and what was escaped
# must still be readable (\x1b]52;c;..., \u009b). --json must stay valid
# JSON with the original text as its value.
. "$(dirname "$0")/lib.sh"

ESC=$(printf '\033') BEL=$(printf '\007') CR=$(printf '\r') DEL=$(printf '\177')
CSI=$(printf '\302\233')              # U+009B in UTF-8
OSC="${ESC}]52;c;cHduZWQ=${BEL}"       # clipboard := "pwned"

# no_raw FILE: none of the bytes a terminal acts on (C0 but tab and newline, DEL, C1)
no_raw() {
	! LC_ALL=C grep -qaP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$1"
}

mkdir -p "$T/srv"
make_bare "$T/srv/grid.git"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
clone_work "$T/srv/grid.git" "$T/work"
Q=$T/work/tasks/queue
mkdir -p "$Q" "$T/work/nodes"
printf '{"task_id": "x", "script": "echo hi", "timeout_seconds": 30}\n' >"$Q/osc${OSC}.json"
printf 'not JSON: status shows the file name\n' >"$Q/clear${ESC}[2J.json"
printf 'not JSON either\n' >"$Q/csi${CSI}31m.json"
printf '{"task_id": "x", "script": "echo hi", "timeout_seconds": 30}\n' >"$Q/cr${CR}fake.json"
printf '{"task_id": "loud", "script": "printf %s", "timeout_seconds": 30}\n' \
	"'osc \\\\033]52;c;cHduZWQ=\\\\007 clear \\\\033[2J csi \\\\302\\\\233 cr \\\\r del \\\\177 end\\\\n'" >"$Q/loud.json"
printf '{"node_id": "evil%s", "name": "evil"}\n' '\u001b[2J\u009b' >"$T/work/nodes/evil${ESC}[2J${CSI}${DEL}.json"
# a claim whose owner has a hostile name: the reaper ends it as rejected
# (after node_timeout, short here) and quotes the name in its log
printf '{"heartbeat_interval": 1, "node_timeout": 4}\n' >"$T/work/dgrid.json"
mkdir -p "$T/work/tasks/in_progress"
printf '{"task_id": "orphan", "script": "echo orphan", "timeout_seconds": 10, "node_id": "%s", "claimed_at": "2020-01-01T00:00:00Z", "attempt": 1}\n' \
	'dead\u001b]52;c;cHduZWQ=\u0007\u009b\r' >"$T/work/tasks/in_progress/orphan.json"
commit_push "$T/work" "hostile names"
check "the hostile names are in the repository" \
	bash -c "git -C '$T/srv/grid.git' ls-tree -r --name-only -z main | LC_ALL=C grep -qaP '\x1b\]52'"

# A heartbeat side ref whose name holds C1 and DEL-free bytes git allows,
# with a state full of escapes and a page address.
HB=$T/hb
mkdir -p "$HB"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
printf '{"node_id": "ghost%s", "time": "%s", "state": "idle%s", "http": "127.0.0.1:8123"}\n' \
	"$CSI" "$now" '\u001b]52;c;cHduZWQ=\u0007\u009b' >"$HB/heartbeat.json"
blob=$(git -C "$T/srv/grid.git" hash-object -w "$HB/heartbeat.json")
tree=$(printf '100644 blob %s\theartbeat.json\n' "$blob" | git -C "$T/srv/grid.git" mktree)
commit=$(GIT_AUTHOR_NAME=x GIT_AUTHOR_EMAIL=x@x GIT_COMMITTER_NAME=x GIT_COMMITTER_EMAIL=x@x \
	git -C "$T/srv/grid.git" commit-tree "$tree" -m hb)
check "a side ref named with a C1 control" git -C "$T/srv/grid.git" update-ref "refs/dgrid/nodes/ghost${CSI}" "$commit"

"$DGRID" status --repo "$URL" >"$T/queued.txt" 2>&1
check "status of the queue: no raw control bytes" no_raw "$T/queued.txt"
check "status of the queue: file names shown escaped" \
	grep -qF 'clear\x1b[2J' "$T/queued.txt"
check "status of the queue: a C1 in a file name shown escaped" \
	grep -qF 'csi\u009b31m' "$T/queued.txt"

# The worker rejects the hostile files (their names end up in its log) and runs loud.
DGRID_CACHE=$T/cache PULL_INTERVAL=1 HEARTBEAT_INTERVAL=1 timeout 120 "$DGRID" worker --repo "$URL" \
	--node-id w --http off --executor process >"$T/w.log" 2>&1 &
W=$!
track "$W"
done_all() {
	[ "$(count_files "$T/srv/grid.git" tasks/completed)" -eq 1 ] &&
		[ "$(count_files "$T/srv/grid.git" tasks/failed)" -eq 5 ] && grep -q 'file=orphan.json event=rejected' "$T/w.log"
}
check "worker ran loud, rejected 4 files and the bad claim" wait_for 60 done_all
kill -TERM "$W"
wait "$W"
check_eq "worker exits 0 on SIGTERM" 0 $?
check "worker log: no raw control bytes" no_raw "$T/w.log"
check "worker log: the OSC 52 file name is readable, escaped" grep -qF 'osc\x1b]52;c;cHduZWQ=\x07' "$T/w.log"
check "worker log: the claim's hostile owner is readable, escaped" \
	grep -qE "node_id 'dead.x1b]52;c;cHduZWQ=.x07.u009b.(r|x0d)'" "$T/w.log"
check "worker log: the bare CR is readable, escaped" grep -qE 'cr\\(r|x0d)fake' "$T/w.log"
check "loud ran and its raw output is stored as it was" \
	bash -c "git -C '$T/srv/grid.git' show main:tasks/completed/loud.w.1.json | grep -qiF '\\u001b]52;c;cHduZWQ='"

"$DGRID" status --repo "$URL" >"$T/status.txt" 2>"$T/status.err"
check_eq "status exits 0" 0 $?
check "status: no raw control bytes" no_raw "$T/status.txt"
check "status: the node file's name is shown escaped" grep -qF 'evil\x1b[2J\u009b\x7f' "$T/status.txt"
check "status: the side ref's node is shown escaped" grep -qF 'ghost\u009b' "$T/status.txt"
check "status: the heartbeat's state is shown escaped" grep -qF 'idle\x1b]52;c;cHduZWQ=\x07\u009b' "$T/status.txt"
check "status: the node's page address is shown" grep -qF 'page http://127.0.0.1:8123/' "$T/status.txt"

"$DGRID" status --repo "$URL" --json >"$T/status.json" 2>"$T/status-json.err"
check_eq "status --json exits 0" 0 $?
check "status --json: no raw control bytes" no_raw "$T/status.json"
python3 - "$T/status.json" >"$T/json.out" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ids = [n["node_id"] for n in d["nodes"]]
assert "ghost\u009b" in ids, ids
ghost = [n for n in d["nodes"] if n["node_id"] == "ghost\u009b"][0]
assert ghost["state"] == "idle\x1b]52;c;cHduZWQ=\x07\u009b", ghost
assert ghost["http"] == "127.0.0.1:8123", ghost
assert any(i.startswith("evil\x1b[2J") for i in ids), ids
print("json ok")
PY
check "status --json: valid JSON with the original text as values" grep -q '^json ok$' "$T/json.out"

# a command's error message quotes what it was given
"$DGRID" status --repo "$T/none${ESC}[2J${CSI}.git" >"$T/fail.out" 2>&1
check_eq "status of a missing repository: exit 1" 1 $?
check "its error message: no raw control bytes" no_raw "$T/fail.out"
check "its error message: the path is readable, escaped" grep -qF 'none\x1b[2J\u009b.git' "$T/fail.out"

# validate: the reasons name the files
mkdir -p "$T/v"
printf '{"task_id": "x", "script": "echo", "timeout_seconds": 30}\n' >"$T/v/osc${OSC}.json"
printf '{"task_id": "cr\\r\\u001b[2J", "script": "echo", "timeout_seconds": 30}\n' >"$T/v/cr${CR}x.json"
printf 'not json \033[2J\302\233\n' >"$T/v/bad.json"
"$DGRID" validate -v "$T/v" "$T/v/none${ESC}[2J.json" >"$T/validate.out" 2>&1
check_eq "validate: exit 1 for invalid files" 1 $?
check "validate: no raw control bytes" no_raw "$T/validate.out"
check "validate: the OSC file is named, escaped" grep -qF 'osc\x1b]52;c;cHduZWQ=\x07.json:' "$T/validate.out"
check "validate: the CR file is named, escaped" grep -qF 'cr\rx.json:' "$T/validate.out"
check "validate: a missing file is named, escaped" grep -qF 'none\x1b[2J.json:' "$T/validate.out"

# run: the task's output, shown in the result JSON, is escaped and exact
printf '{"task_id": "loud", "script": "printf %s", "timeout_seconds": 30}\n' \
	"'osc \\\\033]52;c;cHduZWQ=\\\\007 csi \\\\302\\\\233 del \\\\177 cr \\\\r end'" >"$T/loud.json"
"$DGRID" run --executor process "$T/loud.json" >"$T/run.out" 2>"$T/run.err"
check_eq "run: exit 0" 0 $?
check "run: no raw control bytes" no_raw "$T/run.out"
check_eq "run: the JSON holds the exact output" \
	"$(printf 'osc \033]52;c;cHduZWQ=\007 csi \302\233 del \177 cr \r end' | od -An -tx1 | tr -d ' \n')" \
	"$(python3 -c 'import json,sys; sys.stdout.buffer.write(json.load(open(sys.argv[1]))["stdout"].encode())' "$T/run.out" | od -An -tx1 | tr -d ' \n')"
finish
