#!/usr/bin/env bash
# dgrid init, submit and status against a git daemon, a local path and
# git http-backend with a token: layout in one commit (and none the second
# time), many tasks in one commit, nothing pushed for an invalid or
# duplicate task, status in text and JSON, usage and configuration errors.
. "$(dirname "$0")/lib.sh"

export DGRID_CACHE=$T/cache
unset DGRID_REPO_URL DGRID_REPO_PATH GIT_TOKEN MAX_PARALLEL_TASKS PULL_INTERVAL

commits() { git -C "$1" rev-list --count main 2>/dev/null || echo 0; }

# json_get FILE EXPR: evaluates a Python expression over the document j
json_get() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# commit_files BARE MSG PATH=CONTENT...: a plain git commit, as a user would make
commit_files() {
	local bare=$1 msg=$2 w=$T/work-$RANDOM kv; shift 2
	git clone -q "$bare" "$w" 2>/dev/null
	for kv in "$@"; do
		mkdir -p "$w/$(dirname "${kv%%=*}")"
		printf '%s\n' "${kv#*=}" >"$w/${kv%%=*}"
	done
	git -C "$w" add -A && git -C "$w" -c user.name=t -c user.email=t@t commit -qm "$msg" &&
		git -C "$w" push -q origin HEAD:main 2>/dev/null
	rm -rf "$w"
}

mkdir -p "$T/tasks" "$T/bad"
for i in 1 2 3 4 5; do
	printf '{"task_id": "job-%s", "script": "echo %s", "timeout_seconds": 30, "owner": "me"}\n' "$i" "$i" >"$T/tasks/job-$i.json"
done
printf '{"task_id": "other", "script": "echo x"}\n' >"$T/bad/wrong-name.json"
printf '{"task_id": "ok-1", "script": "echo x"}\n' >"$T/bad/ok-1.json"
printf '{"task_id": "long", "script": "echo", "timeout_seconds": 9999}\n' >"$T/bad/long.json"
printf 'echo from a file\n' >"$T/script.sh"

# suite NAME URL BARE: the whole scenario on one repository
suite() {
	local n=$1 url=$2 bare=$3 out=$T/$1 rc c0 c1
	mkdir -p "$out"

	"$DGRID" init "$url" >"$out/init1" 2>&1
	check_eq "$n: init exits 0" 0 $?
	check_eq "$n: init makes one commit" 1 "$(commits "$bare")"
	for f in nodes/.gitkeep tasks/queue/.gitkeep tasks/in_progress/.gitkeep \
		tasks/completed/.gitkeep tasks/failed/.gitkeep README.md; do
		git -C "$bare" cat-file -e "main:$f" 2>/dev/null || { fail "$n: init created $f"; continue; }
	done
	ok "$n: init created the layout and README.md"
	check "$n: init writes no dgrid.json by default" \
		test -z "$(git -C "$bare" ls-tree --name-only main dgrid.json)"
	"$DGRID" init "$url" >"$out/init2" 2>&1
	check_eq "$n: init again exits 0" 0 $?
	check "$n: init again says already initialised" grep -q 'already initialised' "$out/init2"
	check_eq "$n: init again makes no commit" 1 "$(commits "$bare")"

	"$DGRID" status --repo "$url" --json >"$out/st0.json" 2>"$out/st0.err"
	check_eq "$n: status on a fresh grid exits 0" 0 $?
	check_eq "$n: fresh grid has an empty queue" "0 0 0 0" \
		"$(json_get "$out/st0.json" '"%d %d %d %d" % (len(j["queue"]), len(j["running"]), j["completed"], j["failed"])')"

	"$DGRID" submit --repo "$url" "$T"/tasks/*.json >"$out/sub" 2>&1
	check_eq "$n: submit of 5 files exits 0" 0 $?
	check_eq "$n: 5 tasks in one commit" 2 "$(commits "$bare")"
	check_eq "$n: submit prints one line per task" 5 "$(grep -c '^submitted job-' "$out/sub")"
	check_eq "$n: submitted file is the task as given" "me" \
		"$(git -C "$bare" show main:tasks/queue/job-3.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["owner"])')"

	c0=$(commits "$bare")
	"$DGRID" submit --repo "$url" "$T/bad/ok-1.json" "$T/bad/wrong-name.json" "$T/bad/long.json" >"$out/bad" 2>&1
	check_eq "$n: submit with invalid files exits 1" 1 $?
	check "$n: the bad id is reported with its path" grep -q "wrong-name.json: .*does not match task_id 'other'" "$out/bad"
	check "$n: the bad timeout is reported with its path" grep -q 'long.json: .*timeout' "$out/bad"
	check_eq "$n: nothing pushed for invalid files" "$c0" "$(commits "$bare")"
	check "$n: the valid file of that batch was not queued either" \
		test -z "$(git -C "$bare" ls-tree --name-only main tasks/queue/ok-1.json)"

	"$DGRID" submit --repo "$url" "$T/bad/ok-1.json" "$T/tasks/job-2.json" >"$out/dup" 2>&1
	check_eq "$n: duplicate id is refused (exit 1)" 1 $?
	check "$n: the refusal names the duplicate id" grep -q "job-2" "$out/dup"
	check_eq "$n: nothing pushed for a duplicate" "$c0" "$(commits "$bare")"

	"$DGRID" submit --repo "$url" --id cli-1 --script 'echo hello' --timeout 60 >"$out/id" 2>&1
	check_eq "$n: --id/--script exits 0" 0 $?
	check_eq "$n: --id task is queued with its timeout" 60 \
		"$(git -C "$bare" show main:tasks/queue/cli-1.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["timeout_seconds"])')"
	DGRID_REPO_URL=$url "$DGRID" submit --id cli-2 --script-file "$T/script.sh" >"$out/id2" 2>&1
	check_eq "$n: --script-file with the repo from DGRID_REPO_URL exits 0" 0 $?
	check_eq "$n: --script-file content is the script" "echo from a file" \
		"$(git -C "$bare" show main:tasks/queue/cli-2.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["script"].strip())')"
	"$DGRID" submit --repo "$url" --id cli-3 --script 'echo' --timeout 5 >"$out/id3" 2>&1
	check_eq "$n: --id with a timeout out of policy exits 1" 1 $?

	# a running task, a node with a heartbeat, results (node ids with '-')
	commit_files "$bare" "state" \
		'nodes/w-1.json={"node_id": "w-1", "name": "w-1"}' \
		'tasks/in_progress/run-1.json={"task_id": "run-1", "script": "sleep 1", "node_id": "w-1", "claimed_at": "2026-01-01T00:00:00Z", "attempt": 2}' \
		'tasks/completed/w-1-done-1.json={"task_id": "done-1", "node_id": "w-1", "exit_code": 0, "stdout": "", "stderr": "", "timestamp": "2026-01-01T00:00:01Z", "status": "success"}' \
		'tasks/completed/node-x-y.json={"task_id": "x-y", "node_id": "node", "exit_code": 0, "stdout": "", "stderr": "", "timestamp": "2026-01-01T00:00:01Z", "status": "success"}' \
		'tasks/failed/w-1-oops.json={"task_id": "oops", "node_id": "w-1", "exit_code": 1, "stdout": "", "stderr": "", "timestamp": "2026-01-01T00:00:02Z", "status": "failed"}'
	c1=$(commits "$bare")
	for id in run-1 done-1 oops; do
		"$DGRID" submit --repo "$url" --id "$id" --script 'echo' >"$out/dup-$id" 2>&1
		check_eq "$n: id '$id' (running/completed/failed) is refused" 1 $?
	done
	check_eq "$n: nothing pushed for those" "$c1" "$(commits "$bare")"
	"$DGRID" submit --repo "$url" --id y --script 'echo' >"$out/y" 2>&1
	check_eq "$n: id 'y' is not taken by node-x-y.json (task x-y)" 0 $?

	"$DGRID" status --repo "$url" >"$out/st.txt" 2>&1
	check_eq "$n: status exits 0" 0 $?
	check "$n: status lists the queue" grep -q '^queue  *8$' "$out/st.txt"
	check "$n: status lists the running task with its node" grep -q 'run-1 .*w-1.*attempt 2' "$out/st.txt"
	check "$n: status shows the node's liveness" grep -q 'w-1 .*unknown' "$out/st.txt"
	"$DGRID" status --repo "$url" --json >"$out/st.json" 2>"$out/st.err"
	check_eq "$n: status --json exits 0" 0 $?
	check_eq "$n: status --json counts" "8 1 2 1" \
		"$(json_get "$out/st.json" '"%d %d %d %d" % (len(j["queue"]), len(j["running"]), j["completed"], j["failed"])')"
	check_eq "$n: status --json running entry" "run-1 w-1 2026-01-01T00:00:00Z 2" \
		"$(json_get "$out/st.json" '" ".join(str(j["running"][0][k]) for k in ("task_id","node_id","claimed_at","attempt"))')"
	check_eq "$n: status --json result ids come from the files" "done-1,x-y oops" \
		"$(json_get "$out/st.json" '",".join(sorted(j["completed_ids"])) + " " + ",".join(j["failed_ids"])')"
	check_eq "$n: status --json node" "w-1 unknown ['run-1']" \
		"$(json_get "$out/st.json" '"%s %s %s" % (j["nodes"][0]["node_id"], j["nodes"][0]["liveness"], j["nodes"][0]["running"])')"
	check_eq "$n: status --json tip is the branch" "$(git -C "$bare" rev-parse main)" \
		"$(json_get "$out/st.json" 'j["tip"]')"
}

mkdir -p "$T/srv"
make_bare "$T/srv/daemon.git"
start_git_daemon "$T/srv"
suite daemon "git://127.0.0.1:$GIT_DAEMON_PORT/daemon.git" "$T/srv/daemon.git"

# local: init creates the bare repository itself
suite local "$T/local.git" "$T/local.git"
check_eq "local: init made HEAD point at main" "refs/heads/main" "$(git -C "$T/local.git" symbolic-ref HEAD)"
mkdir "$T/emptydir"
"$DGRID" init "$T/emptydir" >/dev/null 2>&1
check_eq "local: init turns an empty directory into a repository" 1 "$(commits "$T/emptydir")"

# status on an empty repository and on one without the layout
make_bare "$T/empty.git"
"$DGRID" status --repo "$T/empty.git" --json >"$T/empty.json" 2>&1
check_eq "status on an empty repository exits 0" 0 $?
check_eq "status on an empty repository: all zero" "0 0 0 0 0 None" \
	"$(json_get "$T/empty.json" '"%d %d %d %d %d %s" % (len(j["nodes"]), len(j["queue"]), len(j["running"]), j["completed"], j["failed"], j["tip"])')"
make_bare "$T/plain.git"
commit_files "$T/plain.git" "readme" "README.md=hello"
"$DGRID" status --repo "$T/plain.git" >"$T/plain.txt" 2>&1
check_eq "status on a repository without the layout exits 0" 0 $?
check "status without the layout shows an empty queue" grep -q '^queue  *0$' "$T/plain.txt"
"$DGRID" init "$T/plain.git" >/dev/null 2>&1
check_eq "init keeps an existing README.md" "hello" "$(git -C "$T/plain.git" show main:README.md)"

# --policy: validated, then stored; its limits apply to submit
printf '{"timeout_max": 3600}\n' >"$T/policy.json"
printf '{"timeout_max": "x"}\n' >"$T/badpolicy.json"
"$DGRID" init --policy "$T/badpolicy.json" "$T/local.git" >"$T/bp.out" 2>&1
check_eq "init --policy with a bad file exits 2" 2 $?
check "init --policy error names the flag" grep -q -- '--policy' "$T/bp.out"
"$DGRID" init --policy "$T/policy.json" "$T/local.git" >/dev/null 2>&1
check_eq "init --policy stores dgrid.json" '{"timeout_max": 3600}' "$(git -C "$T/local.git" show main:dgrid.json)"
"$DGRID" submit --repo "$T/local.git" --id long-1 --script 'sleep 1' --timeout 3000 >/dev/null 2>&1
check_eq "submit applies the repository's policy" 0 $?

# usage and configuration errors
"$DGRID" submit "$T/tasks/job-1.json" >"$T/norepo" 2>&1
check_eq "submit without a repository exits 2" 2 $?
check "the error names DGRID_REPO_URL" grep -q DGRID_REPO_URL "$T/norepo"
check_eq "the error is one line" 1 "$(wc -l <"$T/norepo")"
"$DGRID" status >"$T/norepo2" 2>&1
check_eq "status without a repository exits 2" 2 $?
check "status error names DGRID_REPO_URL" grep -q DGRID_REPO_URL "$T/norepo2"
for cmd in init submit status; do
	"$DGRID" $cmd --frobnicate x >"$T/unk-$cmd" 2>&1
	check_eq "$cmd: unknown flag exits 2" 2 $?
	check "$cmd: the error names the flag" grep -q -- '--frobnicate' "$T/unk-$cmd"
	"$DGRID" $cmd --help >"$T/help-$cmd" 2>&1
	check_eq "$cmd --help exits 0" 0 $?
	check "$cmd --help prints usage" grep -q "usage: dgrid $cmd" "$T/help-$cmd"
	case $cmd in
	init) args=("$T/local.git") ;;
	submit) args=(--repo "$T/local.git" "$T/tasks/job-1.json") ;;
	status) args=(--repo "$T/local.git") ;;
	esac
	MAX_PARALLEL_TASKS=lots "$DGRID" $cmd "${args[@]}" >"$T/env-$cmd" 2>&1
	check_eq "$cmd: bad MAX_PARALLEL_TASKS exits 2" 2 $?
	check "$cmd: the error names MAX_PARALLEL_TASKS" grep -q MAX_PARALLEL_TASKS "$T/env-$cmd"
done
"$DGRID" submit --repo "$T/local.git" --id z --script x --timeout abc >"$T/badto" 2>&1
check_eq "submit --timeout abc exits 2" 2 $?
check "the error names --timeout" grep -q -- '--timeout' "$T/badto"
"$DGRID" submit --repo "$T/local.git" --id z >"$T/noscript" 2>&1
check_eq "submit --id without a script exits 2" 2 $?
"$DGRID" status --repo "$T/does-not-exist" >"$T/nx" 2>&1
check_eq "status on a missing repository exits 1" 1 $?
check "and says error:" grep -q '^error: ' "$T/nx"

# over HTTP with a token: submit and status, and the token never shows
TOKEN=tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
make_bare "$T/srv/http.git"
git -C "$T/srv/http.git" config http.receivepack true
start_http_git "$T/srv" x-access-token "$TOKEN"
HURL="http://127.0.0.1:$HTTP_GIT_PORT/git/http.git"
GIT_TOKEN=$TOKEN "$DGRID" init "$HURL" >"$T/h-init" 2>&1
check_eq "http: init with the token exits 0" 0 $?
GIT_TOKEN=$TOKEN "$DGRID" submit --repo "$HURL" "$T"/tasks/*.json >"$T/h-sub" 2>&1
check_eq "http: submit exits 0" 0 $?
check_eq "http: 5 tasks in one commit" 2 "$(commits "$T/srv/http.git")"
GIT_TOKEN=$TOKEN "$DGRID" status --repo "$HURL" --json >"$T/h-st" 2>"$T/h-st.err"
check_eq "http: status exits 0" 0 $?
check_eq "http: status sees the queue" 5 "$(json_get "$T/h-st" 'len(j["queue"])')"
GIT_TOKEN=wrong-$TOKEN "$DGRID" status --repo "$HURL" >"$T/h-bad" 2>&1
check_eq "http: a wrong token fails with exit 1" 1 $?
"$DGRID" submit --repo "$HURL" --id nt --script x >"$T/h-none" 2>&1
check_eq "http: no token fails with exit 1" 1 $?
if grep -q "$TOKEN" "$T"/h-* "$T/lighttpd-error.log" 2>/dev/null; then
	fail "http: the token appears in output"
else
	ok "http: the token appears in no output"
fi

finish
