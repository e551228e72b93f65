# dashlib.sh - sourced by the dashboard tests after lib.sh.
#
# make_dash_repo BARE: a state repository with a mix of every state, made
# with plain git (a bare repository and a work clone), as a user or an old
# Python worker would leave it:
#   nodes: w-alive (heartbeat now, a name with quotes, hostile labels),
#          w-dead (heartbeat an hour old), w-never (no heartbeat)
#   queue: 3 tasks (one script is an XSS attempt); in_progress: 1 claim
#   completed: 3 results (one stdout is <script>alert(1)</script>)
#   failed: failed, timeout, rejected, and one with a hostile node_id
# Expected counts: nodes 3 (1 alive), queue 3, running 1, completed 3, failed 4.

utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# need_chrome: sets CHROME to a headless-capable Chromium, or ends the test
# with a skip when none is installed.
need_chrome() {
	CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
	if [ -z "$CHROME" ]; then
		skip "chromium is not installed"
		finish
		exit 0
	fi
}

# heartbeat BARE NODE UNIXTIME STATE: side ref refs/dgrid/nodes/NODE
heartbeat() {
	local bare=$1 node=$2 t=$3 state=$4 blob tree commit
	blob=$(printf '{"node_id": "%s", "time": "%s", "state": "%s", "slots": 2, "running": [], "executor": "process", "completed": 0, "failed": 0, "version": "0.1.0"}\n' \
		"$node" "$(utc "$t")" "$state" | git -C "$bare" hash-object -w --stdin)
	tree=$(printf '100644 blob %s\theartbeat.json\n' "$blob" | git -C "$bare" mktree)
	commit=$(GIT_AUTHOR_DATE="@$t +0000" GIT_COMMITTER_DATE="@$t +0000" \
		git -C "$bare" -c user.name=hb -c user.email=hb@x commit-tree -m heartbeat "$tree")
	git -C "$bare" update-ref "refs/dgrid/nodes/$node" "$commit"
}

make_dash_repo() {
	local bare=$1 w now
	w=$(mktemp -d "$T/work.XXXXXX")
	now=$(date +%s)
	make_bare "$bare"
	git clone -q "$bare" "$w" 2>/dev/null
	mkdir -p "$w/nodes" "$w/tasks/queue" "$w/tasks/in_progress" "$w/tasks/completed" "$w/tasks/failed"
	cat >"$w/nodes/w-alive.json" <<JSON
{"node_id": "w-alive", "name": "Alice's \"fast\" box", "cpus": 8, "labels": ["gpu", "<b>bold</b>"], "version": "0.1.0", "executor": "native", "isolation": "namespaces+seccomp+cgroup", "slots": 2, "registered_at": "$(utc $((now - 86400)))"}
JSON
	cat >"$w/nodes/w-dead.json" <<JSON
{"node_id": "w-dead", "name": "w-dead", "cpus": 2, "labels": [], "version": "0.1.0", "executor": "docker", "isolation": "docker", "slots": 1, "registered_at": "$(utc $((now - 86400)))"}
JSON
	cat >"$w/nodes/w-never.json" <<JSON
{"node_id": "w-never", "name": "never seen", "cpus": 1, "version": "0.1.0", "registered_at": "$(utc $((now - 600)))"}
JSON
	echo '{"task_id": "q-1", "script": "echo one", "timeout_seconds": 30}' >"$w/tasks/queue/q-1.json"
	echo '{"task_id": "q-2", "script": "echo \"<script>alert(1)</script>\"", "timeout_seconds": 60}' >"$w/tasks/queue/q-2.json"
	echo '{"task_id": "q-3", "script": "sleep 1", "timeout_seconds": 10, "submitted_at": "'"$(utc $((now - 300)))"'"}' >"$w/tasks/queue/q-3.json"
	echo '{"task_id": "r-1", "script": "sleep 100", "timeout_seconds": 300, "node_id": "w-alive", "claimed_at": "'"$(utc $((now - 125)))"'", "attempt": 1}' >"$w/tasks/in_progress/r-1.json"
	cat >"$w/tasks/completed/w-alive-c-1.json" <<JSON
{"task_id": "c-1", "node_id": "w-alive", "exit_code": 0, "stdout": "<script>alert(1)</script>\n", "stderr": "", "timestamp": "$(utc $((now - 60)))", "status": "success", "duration_ms": 1500}
JSON
	cat >"$w/tasks/completed/w-alive-c-2.json" <<JSON
{"task_id": "c-2", "node_id": "w-alive", "exit_code": 0, "stdout": "Hello, D-GRID!\nline two\nline three\nline four\n", "stderr": "", "timestamp": "$(utc $((now - 7200)))", "status": "success"}
JSON
	cat >"$w/tasks/completed/w-dead-c-3.json" <<JSON
{"task_id": "c-3", "node_id": "w-dead", "exit_code": 0, "stdout": "caf\u00e9 \u2603\n", "stderr": "", "timestamp": "$(utc $((now - 4000)))", "status": "success", "started_at": "$(utc $((now - 4010)))"}
JSON
	cat >"$w/tasks/failed/w-alive-f-1.json" <<JSON
{"task_id": "f-1", "node_id": "w-alive", "exit_code": 3, "stdout": "", "stderr": "boom: it's <broken> & \"bad\"\n", "timestamp": "$(utc $((now - 30)))", "status": "failed", "duration_ms": 250}
JSON
	cat >"$w/tasks/failed/w-dead-f-2.json" <<JSON
{"task_id": "f-2", "node_id": "w-dead", "exit_code": -1, "stdout": "", "stderr": "", "timestamp": "$(utc $((now - 5000)))", "status": "timeout", "reason": "timed out after 10 s"}
JSON
	cat >"$w/tasks/failed/w-alive-f-3.json" <<JSON
{"task_id": "f-3", "node_id": "w-alive", "exit_code": -1, "stdout": "", "stderr": "", "timestamp": "$(utc $((now - 90)))", "status": "rejected", "reason": "task_id '../x' has characters outside [A-Za-z0-9_-]"}
JSON
	cat >"$w/tasks/failed/evil-f-4.json" <<JSON
{"task_id": "f-4", "node_id": "x\"><img src=x onerror=alert(2)>", "exit_code": 1, "stdout": "", "stderr": "</pre><script>alert(3)</script>", "timestamp": "$(utc $((now - 100)))", "status": "failed"}
JSON
	git -C "$w" add -A
	git -C "$w" -c user.name=t -c user.email=t@x commit -qm "grid state"
	git -C "$w" push -q origin HEAD:main 2>/dev/null
	heartbeat "$bare" w-alive "$now" busy
	heartbeat "$bare" w-dead $((now - 3600)) idle
	rm -rf "$w"
}
