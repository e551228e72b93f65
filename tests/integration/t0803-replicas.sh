#!/usr/bin/env bash
# Redundant execution and quorum (doc/trust.md, "Replicas and quorum"):
# a task with 3 replicas and quorum 2 on 3 workers of which one returns
# wrong output: the canonical result is the majority's and names the
# agreeing and disagreeing nodes, every replica's result is kept, each
# replica ran on a different node, and a task that depends on it runs
# after it. With 2 liars (who disagree with each other too) the task ends
# no_quorum. The liar is an ordinary worker: the task's output depends on
# the node that runs it (it reads its worker's command line), like a node
# with a broken machine.
. "$(dirname "$0")/lib.sh"

daemon_grid '{"protocol": 3}'
W=$T/work
BARE=$T/srv/grid.git
# prints 42, except on nodes whose id starts with "liar", which print their id;
# once N replicas of the task have started (or after 20 s), so that each
# worker has claimed its replica when the first ends (a replica still
# queued when a quorum agrees is cancelled, not run) however long the
# claims take
cat >"$T/script.sh" <<'EOF'
n=$(tr '\0' '\n' </proc/$PPID/cmdline | grep -A1 -x -- --node-id | tail -1); d=@DIR@; mkdir -p "$d"; : >"$d/$n"; i=0; while [ "$(ls "$d" | wc -l)" -lt @N@ ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done; case $n in liar*) echo "$n";; *) echo 42;; esac
EOF
task() {   # task ID EXTRA_JSON [REPLICAS_TO_WAIT_FOR, 3]
	python3 - "$W/tasks/queue/$1.json" "$1" "$(sed -e "s|@DIR@|$T/started/$1|" -e "s|@N@|${3:-3}|" "$T/script.sh")" "$2" <<'PY'
import json, sys
doc = {"task_id": sys.argv[2], "script": sys.argv[3], "timeout_seconds": 30}
doc.update(json.loads(sys.argv[4]))
open(sys.argv[1], "w").write(json.dumps(doc) + "\n")
PY
}
workers() {   # workers ID...: one worker each, until the grid is idle
	local pids=() p bad=0 id
	for id in "$@"; do
		DGRID_CACHE=$T/cache-$id PULL_INTERVAL=1 timeout 120 "$DGRID" worker --repo "$URL" --node-id "$id" \
			--executor process --exit-when-idle --http off >>"$T/$id.log" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
	echo "$bad"
}
results_of() {   # results_of ID: its result files on main
	git -C "$BARE" ls-tree -r --name-only main -- tasks/completed tasks/failed | grep "/$1\."
}
show() { git -C "$BARE" show "main:$1"; }
field() {   # field FILE PYTHON_EXPR(r)
	show "$1" | python3 -c "import json,sys; r=json.load(sys.stdin); print($2)"
}

task q1 '{"replicas": 3, "quorum": 2}'
task d1 '{"depends_on": ["q1"]}' 1
commit_push "$W" "a task for three nodes, and one that depends on it"
check_eq "three workers, one a liar, exit cleanly" 0 "$(workers w1 w2 liar1)"

canon=$(results_of q1)
check_eq "q1 has one canonical result, by the quorum" 1 "$(grep -c . <<<"$canon")"
check "... named q1.quorum.1.json" grep -q "/q1\.quorum\.1\.json$" <<<"$canon"
check_eq "... it succeeded with the majority's output" "success 42" "$(field "$canon" 'r["status"], r["stdout"].strip()')"
check_eq "... agreeing nodes: the two honest ones" "w1 w2" "$(field "$canon" '" ".join(sorted(r["quorum"]["agreeing_nodes"]))')"
check_eq "... disagreeing: the liar" "liar1" "$(field "$canon" '" ".join(r["quorum"]["disagreeing_nodes"])')"
check "... the reason says so" bash -c "git -C '$BARE' show 'main:$canon' | grep -q '2 of 3 replicas agree (quorum 2)'"
nodes=$(for k in 1 2 3; do results_of "q1--r$k" | sed 's/.*q1--r[0-9]\.\(.*\)\.[0-9]*\.json/\1/'; done | sort)
check_eq "every replica's own result is kept, each by a different node" "liar1 w1 w2" "$(echo $nodes)"
check "the liar's replica result says what it said" bash -c "for f in \$(git -C '$BARE' ls-tree -r --name-only main -- tasks | grep '/q1--r[0-9]\.liar1\.'); do git -C '$BARE' show \"main:\$f\" | grep -q '\"stdout\": \"liar1'; done"
check_eq "the task that depends on q1 ran after it" success \
	"$(field "$(results_of d1)" 'r["status"]')"
"$DGRID" status --repo "$URL" --json >"$T/status1.json"
rep() {   # rep FILE NODE: "agreed disagreed forged" of a node in status --json or status.json
	python3 -c 'import json,sys; n=[n for n in json.load(open(sys.argv[1]))["nodes"] if n["node_id"]==sys.argv[2]][0]["reputation"]; print(n["agreed"], n["disagreed"], n["forged_records"])' "$1" "$2"
}
check_eq "dgrid status: the liar's reputation dropped" "0 1 0" "$(rep "$T/status1.json" liar1)"
check_eq "... the honest nodes' rose" "1 0 0" "$(rep "$T/status1.json" w2)"
"$DGRID" status --repo "$URL" >"$T/status1.txt"
check "... and it says so in text" grep -q "^  liar1 .*reputation: 0 agreed, 1 disagreed, 0 forged" "$T/status1.txt"
"$DGRID" dashboard --repo "$URL" --out "$T/site" >/dev/null 2>&1
check_eq "the dashboard's status.json agrees" "0 1 0" "$(rep "$T/site/status.json" liar1)"
check "the dashboard's nodes table shows it" grep -q '<td class="rep">0 agreed, 1 disagreed, 0 forged</td>' "$T/site/index.html"
check_eq "nothing is left queued or running" 0 \
	"$(git -C "$BARE" ls-tree -r --name-only main -- tasks/queue tasks/in_progress | grep -c '\.json$' || true)"

# ---- two liars who disagree with everybody: no quorum
git -C "$W" pull -q --rebase origin main
mkdir -p "$W/tasks/queue"
task q2 '{"replicas": 3, "quorum": 2}'
commit_push "$W" "a task for three nodes, two of them liars"
check_eq "one honest worker and two liars exit cleanly" 0 "$(workers w1 liar1 liar2)"
canon=$(results_of q2 | grep '\.quorum\.')
check_eq "q2 ended no_quorum" no_quorum "$(field "$canon" 'r["status"]')"
check "... in tasks/failed" grep -q "^tasks/failed/" <<<"$canon"
check_eq "... with every replica's outcome" 3 "$(field "$canon" 'len(r["quorum"]["replica_results"])')"
check "... saying why" bash -c "git -C '$BARE' show 'main:$canon' | grep -q 'no 2 of the 3 replicas can agree'"
"$DGRID" status --repo "$URL" --json >"$T/status2.json"
check_eq "without a quorum no reputation changes" "0 1 0" "$(rep "$T/status2.json" liar1)"

# ---- adaptive replication: nodes with a record of agreeing replicas run a task alone
# (one task a round, so that each fresh node runs a replica of each; the
# record builds up whatever the policy, which switches adaptive replication on for b1)
for a in a1 a2; do
	git -C "$W" pull -q --rebase origin main
	mkdir -p "$W/tasks/queue"
	task "$a" '{"replicas": 3, "quorum": 2}'
	commit_push "$W" "$a for three fresh nodes"
	check_eq "$a: three fresh honest nodes run it" 0 "$(workers h1 h2 h3)"
	check_eq "... on three replicas, agreed by all" "3 False 3" \
		"$(field "$(results_of "$a" | grep '\.quorum\.')" 'r["quorum"]["replicas"], r["quorum"]["adaptive"], len(r["quorum"]["agreeing_nodes"])')"
done
git -C "$W" pull -q --rebase origin main
mkdir -p "$W/tasks/queue"
printf '{"protocol": 3, "adaptive_replication": 1}\n' >"$W/dgrid.json"
task b1 '{"replicas": 3, "quorum": 2}' 1
commit_push "$W" "adaptive replication, K 1, and a task for nodes with a record of 2 agreements (2K: always alone)"
check_eq "the same nodes, their records kept beside their spools, run it" 0 "$(workers h1 h2 h3)"
canon=$(results_of b1 | grep '\.quorum\.')
check_eq "b1 ran alone: one replica result" 1 "$(results_of 'b1--r[0-9]' | grep -c .)"
check_eq "... its canonical result says so, and succeeded" "True 1 success" \
	"$(field "$canon" 'r["quorum"]["adaptive"], r["quorum"]["replicas"], r["status"]')"
"$DGRID" status --repo "$URL" --json >"$T/status3.json"
check_eq "... and a lone run changes no reputation (two agreements each)" "2 0 0" "$(rep "$T/status3.json" h1)"
check "the worker logged its streak" grep -q "event=adaptive-replication streak=2 k=1 alone=1" "$T/h1.log" "$T/h2.log" "$T/h3.log"

# ---- bad input
git -C "$W" pull -q --rebase origin main
mkdir -p "$W/tasks/queue"
printf '{"task_id": "bad1", "script": "true", "replicas": 2, "quorum": 3}\n' >"$W/tasks/queue/bad1.json"
printf '{"task_id": "x--r1", "script": "true"}\n' >"$W/tasks/queue/x--r1.json"
"$DGRID" validate "$W/tasks/queue/bad1.json" >"$T/v1.out" 2>&1
check_eq "validate refuses quorum above replicas" 1 $?
check "... saying so" grep -q "quorum 3 is more than replicas 2" "$T/v1.out"
"$DGRID" validate "$W/tasks/queue/x--r1.json" >"$T/v2.out" 2>&1
check "validate refuses ids kept for replicas" grep -q "task ids ending in --rN are kept for replicas" "$T/v2.out"

finish
