#!/usr/bin/env bash
# t0390: a grid in the flat layout of protocols 1-2 - 10,000 results, half
# with the original {node}-{task}.json names, and a queue - moves to protocol
# 3 (shards) by `dgrid upgrade` while four workers run and a submitter keeps
# adding flat tasks/queue/ID.json files with plain git. Nothing is lost and
# nothing runs twice: every old result is still there, byte for byte, in
# its shard; every task ran once and has one result; no flat file is left.
. "$(dirname "$0")/lib.sh"

OLD=10000
mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
: >"$T/runs"
python3 "$DGRID_SRC/tests/tools/flat_grid.py" $OLD --queue 8 --runs "$T/runs" |
	git -C "$BARE" fast-import --quiet --done
check_eq "the flat grid holds $OLD results" $OLD \
	"$(git -C "$BARE" ls-tree -r --name-only main tasks/completed tasks/failed | wc -l)"
# name -> blob of every old result, to compare after the move
git -C "$BARE" ls-tree -r main tasks/completed tasks/failed |
	awk '{ n = $4; sub(".*/", "", n); print n, $3 }' | sort >"$T/old-blobs"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
clone_work "$BARE" "$T/work"
printf '{"lease_margin": 30, "protocol": 2}\n' >"$T/work/dgrid.json"
commit_push "$T/work" "policy: protocol 2"

for n in 1 2 3 4; do
	DGRID_CACHE=$T/cache-$n PULL_INTERVAL=1 "$DGRID" worker --repo "$URL" --node-id "w$n" \
		--executor process --http off --slots 2 >"$T/w$n.log" 2>&1 &
	track $!
done

# a submitter: 40 more tasks, four per plain-git commit every 2 s, retried on a race
submitter() {
	local i
	for i in $(seq 1 40); do
		mkdir -p "$T/work/tasks/queue"
		printf '{"task_id": "s%d", "script": "echo s%d >>%s", "timeout_seconds": 60}\n' \
			"$i" "$i" "$T/runs" >"$T/work/tasks/queue/s$i.json"
		[ $((i % 4)) -eq 0 ] || continue
		git -C "$T/work" add -A && git -C "$T/work" commit -qm "tasks up to s$i"
		until git -C "$T/work" push -q origin HEAD:main 2>/dev/null; do
			git -C "$T/work" pull -q --rebase origin main 2>/dev/null || sleep 0.2
		done
		sleep 2   # a busy submitter, not a flood: the flood is t0100's job
	done
	echo done >"$T/submitter.done"
}
git -C "$T/work" pull -q --rebase origin main
mkdir -p "$T/work/tasks/queue"
submitter >"$T/submitter.log" 2>&1 &
track $!

note "grid built after ${SECONDS}s"
check "the workers start on protocol 2" wait_for 60 grep -q "event=started" "$T/w1.log"
DGRID_CACHE=$T/cache-u "$DGRID" upgrade --repo "$URL" >"$T/upgrade.out" 2>"$T/upgrade.err"
check_eq "dgrid upgrade succeeds while they run" 0 $? || cat "$T/upgrade.err"
check "it moved to protocol 3" grep -q 'upgraded the grid from protocol 2 to 3' "$T/upgrade.out"
check "and moved the $OLD flat results (and queued tasks) into shards" python3 -c '
import re, sys
m = re.search(r"^moved (\d+) flat files into shards in (\d+) commits", open(sys.argv[1]).read(), re.M)
assert m and int(m.group(1)) >= 10000 and int(m.group(2)) >= 2, m and m.groups()
' "$T/upgrade.out"
note "upgrade done after ${SECONDS}s: $(cat "$T/upgrade.out" | tr '\n' ' ')"

check "the submitter finished" wait_for 120 test -e "$T/submitter.done"
note "submitter done after ${SECONDS}s"
all_done() {
	[ "$(git -C "$BARE" ls-tree -r --name-only main tasks/completed tasks/failed |
		grep -Ec '/(q[0-9]+|s[0-9]+)\.w[1-4]\.[0-9]+\.json$')" -ge 48 ] &&
	[ "$(count_all "$BARE" tasks/queue)" -eq 0 ] && [ "$(count_all "$BARE" tasks/in_progress)" -eq 0 ]
}
check "all 48 tasks end" wait_for 240 all_done
note "all tasks done after ${SECONDS}s"
# intake is done by the next step of any worker; a final upgrade run finishes whatever is left
DGRID_CACHE=$T/cache-u "$DGRID" upgrade --repo "$URL" >"$T/upgrade2.out" 2>&1
check "a second upgrade has nothing to do" grep -q 'at protocol 3 already' "$T/upgrade2.out"

git -C "$BARE" ls-tree -r main tasks >"$T/final"
check_eq "no result is left flat" 0 "$(grep -Ec '	tasks/(completed|failed)/[^/]*\.json$' "$T/final")"
check_eq "no task is left flat in the queue" 0 "$(grep -Ec '	tasks/queue/[^/]*\.json$' "$T/final")"
check "every shard path is the documented one (SHA-256 of the task id)" python3 - "$T/final" "$BARE" <<'PY'
import hashlib, json, re, subprocess, sys
entries = []
for line in open(sys.argv[1]):
    meta, path = line.rstrip("\n").split("\t")
    parts = path.split("/")
    if parts[1] in ("completed", "failed") and not parts[-1].startswith("."):
        entries.append((path, parts, meta.split()[2]))
# original {node}-{task}.json names: the content tells the task id (one git process)
legacy = [e for e in entries if not re.match(r"^[A-Za-z0-9_-]+\.[^/]+\.[^.]+\.json$", e[1][-1])]
cat = subprocess.run(["git", "-C", sys.argv[2], "cat-file", "--batch"], check=True, capture_output=True,
                     input="".join(e[2] + "\n" for e in legacy).encode()).stdout
ids, pos = {}, 0
for e in legacy:
    header_end = cat.index(b"\n", pos)
    size = int(cat[pos:header_end].split()[2])
    ids[e[0]] = json.loads(cat[header_end + 1:header_end + 1 + size])["task_id"]
    pos = header_end + 1 + size + 1
bad = []
for path, parts, blob in entries:
    tid = ids.get(path) or parts[-1].split(".")[0]
    want = "/".join(hashlib.sha256(tid.encode()).hexdigest()[:3])
    if "/".join(parts[2:-1]) != want:
        bad.append(path)
assert entries and not bad, bad[:5]
PY
git -C "$BARE" ls-tree -r main tasks/completed tasks/failed |
	awk '{ n = $4; sub(".*/", "", n); print n, $3 }' | sort >"$T/new-blobs"
check_eq "all $OLD old results are still there, same names, same bytes" "" \
	"$(comm -23 "$T/old-blobs" "$T/new-blobs" | head -3)"
for id in $(seq -f "q%g" 0 7) $(seq -f 's%g' 1 40); do
	runs=$(grep -cx "$id" "$T/runs")
	results=$(grep -Ec "/$id\.w[1-4]\.[0-9]+(~[0-9]+)?\.json$" "$T/final")
	[ "$runs $results" = "1 1" ] || echo "$id ran $runs times, $results results" >>"$T/twice"
done
check_eq "every task ran once and has one result" "" "$(head -5 "$T/twice" 2>/dev/null)"
check_eq "no worker logged an error" "" "$(grep -h ' error ' "$T"/w*.log | head -3)"
DGRID_CACHE=$T/cache-u "$DGRID" status --repo "$URL" --json >"$T/status.json"
check "status counts every result" python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["protocol"] == 3 and s["completed"] + s["failed"] == 10048, (s["completed"], s["failed"])
' "$T/status.json"
finish
