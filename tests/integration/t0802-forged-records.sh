#!/usr/bin/env bash
# Node keys and signed records (doc/trust.md): a volunteer with push access
# forges, with plain git, a "stopped" heartbeat, a claim and a result under
# another node's id. None of them changes scheduling: the running task is
# not reaped, the forged claim is released and its task runs once, the
# forged result does not let a dependent task start early. dgrid verify,
# dgrid status and the dashboard flag each one. Also: the node key file,
# and a worker refusing an id registered with another key until
# `dgrid node revoke`.
. "$(dirname "$0")/lib.sh"

command -v ssh-keygen >/dev/null || { skip "ssh-keygen is not installed (openssh-client)"; finish; }

daemon_grid '{"protocol": 3, "heartbeat_interval": 30, "node_timeout": 90}'
W=$T/work
printf '{"task_id": "long1", "script": "echo run >> %s/long1.runs; sleep 15", "timeout_seconds": 60}\n' "$T" \
	>"$W/tasks/queue/long1.json"
commit_push "$W" "a long task"
BARE=$T/srv/grid.git

# ---- the victim w1 runs long1
DGRID_CACHE=$T/cache-w1 PULL_INTERVAL=1 timeout 120 "$DGRID" worker --repo "$URL" --node-id w1 --slots 1 \
	--executor process --exit-when-idle --http off >"$T/w1.log" 2>&1 &
W1=$!
wait_for 30 test -s "$T/long1.runs"
check "the victim runs the long task" test -s "$T/long1.runs"
check "its node key was created beside its spool, mode 0600" \
	bash -c "[ \"\$(stat -c %a '$T/cache-w1/spool-w1.key')\" = 600 ]"
check_eq "ssh-keygen reads it, and its public key is the registered one" \
	"$(ssh-keygen -y -f "$T/cache-w1/spool-w1.key" | cut -d' ' -f1,2)" \
	"$(git -C "$BARE" show main:nodes/w1.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')"
check "the key never enters the repository" \
	bash -c "! git -C '$BARE' grep -q 'OPENSSH PRIVATE' \$(git -C '$BARE' rev-list --all)"
check "the claim is signed by w1" \
	bash -c "git -C '$BARE' show main:tasks/in_progress/$(shard long1 2)/long1.json | grep -q '\"node_sig\"'"

# ---- the forger: plain git, push access, w1's name
git -C "$W" pull -q --rebase origin main
mkdir -p "$W/tasks/queue"
# a "stopped" heartbeat for w1: on its own, the reaper would take long1 back at once
hb=$(printf '{"node_id": "w1", "time": "%s", "state": "stopped", "running": [], "held": []}' \
	"$(date -u +%Y-%m-%dT%H:%M:%SZ)" | git -C "$W" hash-object -w --stdin)
tree=$(printf '100644 blob %s\theartbeat.json\n' "$hb" | git -C "$W" mktree)
fake=$(git -C "$W" commit-tree "$tree" -m "w1: stopped")
git -C "$W" push -q -f origin "$fake:refs/dgrid/nodes/w1"
# a claim in w1's name for c1, leased for an hour
mkdir -p "$W/tasks/in_progress/$(shard c1 2)"
printf '{"task_id": "c1", "script": "echo run >> %s/c1.runs", "timeout_seconds": 30, "node_id": "w1", "claimed_at": "%s", "attempt": 1, "lease_seconds": 3600}\n' \
	"$T" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$W/tasks/in_progress/$(shard c1 2)/c1.json"
# a success of y1 in w1's name, while y1 waits for its time, and z1 depends on y1
later=$(date -u -d '+20 seconds' +%Y-%m-%dT%H:%M:%SZ)
printf '{"task_id": "y1", "script": "date -u +%%s > %s/y1.done", "timeout_seconds": 30, "not_before": "%s"}\n' \
	"$T" "$later" >"$W/tasks/queue/y1.json"
printf '{"task_id": "z1", "script": "date -u +%%s > %s/z1.started", "timeout_seconds": 30, "depends_on": ["y1"]}\n' \
	"$T" >"$W/tasks/queue/z1.json"
mkdir -p "$W/tasks/completed/$(shard y1 3)"
printf '{"task_id": "y1", "node_id": "w1", "exit_code": 0, "stdout": "", "stderr": "", "timestamp": "%s", "status": "success", "attempt": 1}\n' \
	"$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$W/tasks/completed/$(shard y1 3)/y1.w1.1.json"
commit_push "$W" "forgeries in w1's name"

# ---- observers flag each one
"$DGRID" verify --repo "$URL" >"$T/verify1.out" 2>&1
check_eq "dgrid verify exits 1 on forged records" 1 $?
check "... flags the forged heartbeat" grep -q "^forged: refs/dgrid/nodes/w1 (heartbeat): unsigned, but w1 signs its records" "$T/verify1.out"
check "... flags the forged claim" grep -q "^forged: tasks/in_progress/.*/c1.json: unsigned, but w1 signs its records" "$T/verify1.out"
check "... flags the forged result" grep -q "^forged: tasks/completed/.*/y1.w1.1.json: unsigned" "$T/verify1.out"
check "... and counts the valid ones (w1's registration, claim)" grep -qE "^records: [1-9][0-9]* valid" "$T/verify1.out"
"$DGRID" status --repo "$URL" >"$T/status.out" 2>&1
check "dgrid status flags the forged claim" grep -q "c1 .*FORGED: unsigned, but w1 signs its records" "$T/status.out"
check "... and the forged heartbeat on w1's line" grep -q "^  w1 .*FORGED: unsigned, but w1 signs its records (heartbeat)" "$T/status.out"
"$DGRID" dashboard --repo "$URL" --out "$T/site" >/dev/null 2>&1
check "the dashboard has a forged records section" grep -q '<section id="forged">' "$T/site/index.html"
check "... naming the claim and the result" \
	bash -c "grep -q 'c1.json</code>' '$T/site/index.html' && grep -q 'y1.w1.1.json</code>' '$T/site/index.html'"
check_eq "status.json lists the three forged records" 3 \
	"$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["forged"]))' "$T/site/status.json")"
check "the forged success is not counted as completed" \
	bash -c "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if all(r[\"task_id\"] != \"y1\" for r in d[\"recent_results\"]) else 1)' '$T/site/status.json'"

# ---- none changes scheduling
"$DGRID" reap --repo "$URL" --watch 0 >"$T/reap.out" 2>"$T/reap.err"
check "dgrid reap sees the forged heartbeat and ignores it" grep -q 'event=forged record="nodes/w1"' "$T/reap.err"
check "... returns the forged claim's task to the queue at once" grep -q "returned to the queue 1," "$T/reap.out"
check "... and only that one (long1 stays w1's)" \
	bash -c "git -C '$BARE' ls-tree -r --name-only main -- tasks/in_progress | grep -q '/long1.json$'"
DGRID_CACHE=$T/cache-w2 PULL_INTERVAL=1 timeout 120 "$DGRID" worker --repo "$URL" --node-id w2 \
	--executor process --exit-when-idle --http off >"$T/w2.log" 2>&1
check_eq "a second worker drains the grid" 0 $?
wait "$W1"
check_eq "the victim exits cleanly" 0 $?
check_eq "long1 ran exactly once" 1 "$(wc -l <"$T/long1.runs")"
check_eq "c1 (its forged claim released) ran exactly once" 1 "$(wc -l <"$T/c1.runs" 2>/dev/null || echo 0)"
check "z1 ran" test -s "$T/z1.started"
check "y1 ran" test -s "$T/y1.done"
check "z1 started only after y1 really finished, not on the forged result" \
	test "$(cat "$T/z1.started" 2>/dev/null || echo 0)" -ge "$(cat "$T/y1.done" 2>/dev/null || echo 99999999999)"
"$DGRID" verify --repo "$URL" >"$T/verify2.out" 2>&1
check "the forged result is still flagged at the end" grep -q "y1.w1.1.json: unsigned" "$T/verify2.out"

# ---- pins: the id w1 is registered with w1's key; a new machine under the same id is refused
DGRID_CACHE=$T/cache-other PULL_INTERVAL=1 timeout 60 "$DGRID" worker --repo "$URL" --node-id w1 \
	--executor process --exit-when-idle --http off >"$T/imposter.log" 2>&1
check_eq "a worker with another key under id w1 refuses to start" 1 $?
check "... saying the id belongs to another key and how to release it" \
	grep -q "node id 'w1' belongs to another key.*dgrid node revoke w1" "$T/imposter.log"
ssh-keygen -q -t ed25519 -N '' -C admin -f "$T/admin"
echo "admin@grid namespaces=\"dgrid-revoke\" $(cut -d' ' -f1,2 "$T/admin.pub")" >"$T/allowed"
"$DGRID" node revoke --repo "$URL" --key "$T/admin" w1 >"$T/revoke.out" 2>&1
check_eq "dgrid node revoke exits 0" 0 $?
check "... committing the revocation and its signature" \
	bash -c "git -C '$BARE' cat-file -e main:trust/revoked/w1.json && git -C '$BARE' cat-file -e main:trust/revoked/w1.json.sig"
DGRID_CACHE=$T/cache-other PULL_INTERVAL=1 timeout 60 "$DGRID" worker --repo "$URL" --node-id w1 \
	--executor process --exit-when-idle --http off --allowed-signers "$T/allowed" >"$T/newmachine.log" 2>&1
check_eq "with the revocation signed by a key it trusts, the new machine starts under w1" 0 $?
check_eq "... and w1's registration now names the new key" \
	"$(ssh-keygen -y -f "$T/cache-other/spool-w1.key" | cut -d' ' -f1,2)" \
	"$(git -C "$BARE" show main:nodes/w1.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')"

finish
