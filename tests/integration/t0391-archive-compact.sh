#!/usr/bin/env bash
# t0391: archiving and history compaction race with claims and reports.
# Three workers (each also archiving every 3 s), `dgrid archive` and
# `dgrid compact` in loops, and plain-git submissions, all at once, on a
# protocol 3 grid that starts with 3,000 flat results and keeps 100 on main.
# Afterwards a walk of every commit of main, of the old epochs and of the
# archive proves that no result vanished or was rewritten, and that none is
# in two places; every task ran once; `dgrid result`, `dgrid status` and the
# dashboard find archived results; a worker whose cache predates the
# compactions keeps working; a host that forbids forced updates refuses the
# compaction and nothing changes.
. "$(dirname "$0")/lib.sh"

OLD=3000
TASKS=100
mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
git -C "$BARE" config receive.denyNonFastForwards false
python3 "$DGRID_SRC/tests/tools/flat_grid.py" $OLD | git -C "$BARE" fast-import --quiet --done
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
clone_work "$BARE" "$T/work"
printf '{"protocol": 3, "keep_results": 100, "lease_margin": 20}\n' >"$T/work/dgrid.json"
commit_push "$T/work" "policy: protocol 3, keep 100 results on main"
: >"$T/runs"

dg() { DGRID_CACHE=$T/cache-cli "$DGRID" "$@"; }
submit() {   # submit FIRST LAST: one plain-git commit of flat tasks tFIRST..tLAST
	# after a compaction main has new roots: a plain-git submitter starts from
	# origin/main rather than rebasing its old history (README, "Compaction")
	local i
	until {
		git -C "$T/work" fetch -q origin && git -C "$T/work" reset -q --hard origin/main &&
		mkdir -p "$T/work/tasks/queue" &&
		for i in $(seq "$1" "$2"); do
			printf '{"task_id": "t%d", "script": "echo t%d >>%s", "timeout_seconds": 60}\n' \
				"$i" "$i" "$T/runs" >"$T/work/tasks/queue/t$i.json"
		done &&
		git -C "$T/work" add -A && git -C "$T/work" commit -qm "tasks t$1-t$2" &&
		git -C "$T/work" push -q origin HEAD:main 2>/dev/null
	}; do sleep 0.2; done
}
worker() {   # ( worker NAME [ARGS...] ): execs, so that $! of "( worker ... ) &" is the worker
	local name=$1; shift
	DGRID_CACHE=$T/cache-$name PULL_INTERVAL=1 DGRID_UPKEEP_INTERVAL=${DGRID_UPKEEP_INTERVAL:-3} exec "$DGRID" worker --repo "$URL" \
		--node-id "$name" --executor process --http off "$@" >>"$T/$name.log" 2>&1
}

dg upgrade --repo "$URL" >"$T/upgrade.out" 2>&1
check "dgrid upgrade on a grid at protocol 3 finishes the migration" \
	grep -q "moved $OLD flat files into shards" "$T/upgrade.out"

# w0 works before any compaction, then rests with its cache
submit 1 5
( DGRID_UPKEEP_INTERVAL=600 worker w0 --exit-when-idle )
check_eq "w0 ran its tasks before the compactions" 5 "$(grep -c 'event=finished' "$T/w0.log")"

WPIDS=()
for n in 1 2 3; do ( worker "w$n" ) & track $!; WPIDS+=($!); done
check "the workers archive the old results (a check every 3 s)" \
	wait_for 60 grep -q 'event=archive batches=[1-9]' "$T/w1.log" "$T/w2.log" "$T/w3.log"
( for i in $(seq 1 8); do dg compact --repo "$URL" >>"$T/compact.out" 2>&1; sleep 2; done ) &
COMPACTOR=$!; track $COMPACTOR
( for i in $(seq 1 8); do dg archive --repo "$URL" --keep 50 >>"$T/archive.out" 2>&1; sleep 2; done ) &
ARCHIVER=$!; track $ARCHIVER
for k in $(seq 6 20 85); do submit "$k" $((k + 19)); sleep 1; done
wait $COMPACTOR $ARCHIVER

# w0 again, with the cache it had before the compactions, alone: the
# others stop first (SIGTERM: they report and return what they hold), so
# that the tasks left are w0's to run
kill -TERM "${WPIDS[@]}"
wait "${WPIDS[@]}"
check "w1-w3 stopped on SIGTERM" bash -c "grep -c 'event=stopped' '$T/w1.log' '$T/w2.log' '$T/w3.log' | grep -vc ':0$' | grep -qx 3"
submit 86 $TASKS
( worker w0 --exit-when-idle )
check "w0, whose cache predates the compactions, keeps working" \
	bash -c "[ \$(grep -c 'event=finished' '$T/w0.log') -ge $((5 + TASKS - 85)) ]"
results() {   # every result name on main and in the archive, one per line
	{ git -C "$BARE" ls-tree -r --name-only main tasks/completed tasks/failed
	  git -C "$BARE" ls-tree -r --name-only refs/dgrid/archive batches 2>/dev/null; } | sed 's|.*/||'
}
all_done() { [ "$(results | grep -Ec '^t[0-9]+\.w[0-3]\.')" -ge $TASKS ]; }
check "all $TASKS tasks end" wait_for 180 all_done
dg archive --repo "$URL" >>"$T/archive.out" 2>&1
rc=$?
[ $rc -eq 0 ] || sed 's/^/# /' "$T/archive.out" | grep -v '^# 20.* info ' | tail -15
check_eq "a last dgrid archive succeeds" 0 $rc

check "dgrid compact ran while the workers worked" grep -q '^compacted: main now starts at' "$T/compact.out"
epochs=$(git -C "$BARE" for-each-ref refs/dgrid/epochs | wc -l)
check "the old histories are kept as refs/dgrid/epochs/N ($epochs)" test "$epochs" -ge 2
check_eq "main has one root commit" 1 "$(git -C "$BARE" rev-list --max-parents=0 main | wc -l)"
check "archive batches were added" bash -c "git -C '$BARE' ls-tree --name-only refs/dgrid/archive batches/000 | grep -q ."
note "dgrid archive, racing with them: $(grep -c '^archived [1-9]' "$T/archive.out") runs archived something"
note "archive batches by workers: $(grep -ho 'event=archive batches=[0-9]*' "$T"/w[123].log | awk -F= '{ s += $3 } END { print s + 0 }')"

check "every result ever committed is on main or in the archive, never rewritten, never in two places" \
	python3 - "$BARE" <<'PY'
import collections, subprocess, sys
git = lambda *a: subprocess.run(["git", "-C", sys.argv[1], *a], check=True, capture_output=True, text=True).stdout
refs = ["main", "refs/dgrid/archive"] + git("for-each-ref", "--format=%(refname)", "refs/dgrid/epochs").split()
seen = collections.defaultdict(set)          # name -> blobs, over every commit of every history
for commit in git("rev-list", *refs).split():
    for line in git("ls-tree", "-r", commit).splitlines():
        meta, path = line.split("\t")
        parts = path.split("/")
        if (parts[0] == "tasks" and parts[1] in ("completed", "failed")) or parts[0] == "batches":
            if not parts[-1].startswith("."):
                seen[parts[-1]].add(meta.split()[2])
rewritten = [n for n, b in seen.items() if len(b) > 1]
assert not rewritten, ("rewritten", rewritten[:5])
final = collections.Counter()
for line in git("ls-tree", "-r", "main", "tasks/completed", "tasks/failed").splitlines():
    final[line.split("\t")[1].split("/")[-1]] += 1
for line in git("ls-tree", "-r", "refs/dgrid/archive", "batches").splitlines():
    final[line.split("\t")[1].split("/")[-1]] += 1
vanished = [n for n in seen if n not in final]
twice = [n for n, c in final.items() if c > 1]
assert not vanished, ("vanished", vanished[:5])
assert not twice, ("in two places", twice[:5])
assert len(final) >= 3000 + 100, len(final)
PY
twice=""
for i in $(seq 1 $TASKS); do
	r=$(grep -cx "t$i" "$T/runs"); n=$(results | grep -Ec "^t$i\.w[0-3]\.")
	[ "$r $n" = "1 1" ] || twice="$twice t$i:$r/$n"
done
check_eq "every task ran once and has one result" "" "$twice"

first=$(git -C "$BARE" ls-tree -r --name-only refs/dgrid/archive batches/000/001/completed | head -1)
id=$(basename "$first" | sed 's/\..*//; s/^node[0-9]*-//')
dg result --repo "$URL" "$id" >"$T/result.out" 2>&1
check "dgrid result finds an archived result ($id)" grep -q "^== batches/000/001/completed/.* (archive)" "$T/result.out"
check "and prints its content" grep -q "\"task_id\": \"$id\"" "$T/result.out"
total=$((OLD + TASKS))
dg status --repo "$URL" --json >"$T/status.json"
check "dgrid status counts archived results once" python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
n = s["completed"] + s["failed"] + s["archived"]["results"]
assert n == int(sys.argv[2]) and s["completed"] + s["failed"] <= 600, (s["completed"], s["failed"], s["archived"])
' "$T/status.json" $total
dg dashboard --repo "$URL" --out "$T/site" >/dev/null 2>&1
check "the dashboard's totals include the archive" python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["counts"]
assert c["archived"] > 0 and sum(c["by_status"].values()) == int(sys.argv[2]), c
' "$T/site/status.json" $total
check "and its page says where the older results are" grep -q 'older results are archived in <code>refs/dgrid/archive' "$T/site/index.html"

# a host that forbids forced updates: compaction is refused, nothing changes
git -C "$BARE" config receive.denyNonFastForwards true
before=$(git -C "$BARE" rev-parse main)
dg compact --repo "$URL" >"$T/refused.out" 2>&1
check_eq "dgrid compact fails on a protected branch" 1 $?
check "and says why" grep -q 'refused to compact (is the branch protected?)' "$T/refused.out"
check_eq "main did not move" "$before" "$(git -C "$BARE" rev-parse main)"
check_eq "no worker logged an error" "" "$(grep -h ' error ' "$T"/w*.log | head -3)"
finish
