# tests/chaos/lib.sh - helpers shared by the soak and chaos tests
# (t0700-t0719). Source it after tests/integration/lib.sh.
#
# A git daemon that can be stopped and restarted on the same port, a
# pre-receive hook that refuses some pushes like a flaky host, a submitter
# that commits tasks with plain git and retries until they are in, a "machine
# death" that SIGKILLs a worker and the tasks it started, and the bridge that
# turns tests/chaos/check_repo.py's verdicts into TAP lines.

CHAOS_DIR=$DGRID_SRC/tests/chaos
SRV=$T/srv

# chaos_daemon_start: git daemon on 127.0.0.1:$DAEMON_PORT (chosen on the
# first call, kept afterwards) serving $SRV; sets DAEMON_PID.
chaos_daemon_start() {
	: "${DAEMON_PORT:=$(free_port)}"
	git_daemon_at "$DAEMON_PORT" "$SRV"
}

# chaos_daemon_stop: kills the daemon and its per-connection children (a
# push in flight dies with them) and waits until the port refuses.
chaos_daemon_stop() {
	git_daemon_stop "$DAEMON_PORT"
}

# chaos_repo NAME POLICY_JSON: a bare repository $SRV/NAME.git with the
# policy committed, a work clone $T/work-NAME; sets URL.
chaos_repo() {
	make_bare "$SRV/$1.git"
	clone_work "$SRV/$1.git" "$T/work-$1"
	mkdir -p "$T/work-$1/tasks/queue"
	printf '%s\n' "$2" >"$T/work-$1/dgrid.json"
	commit_push "$T/work-$1" "policy"
	URL="git://127.0.0.1:$DAEMON_PORT/$1.git"
	# submissions go through the daemon too: they meet its outages and hook
	git -C "$T/work-$1" remote set-url origin "$URL"
}

# chaos_hook NAME PERCENT: a pre-receive hook refusing PERCENT % of pushes
# with the message a struggling Git host prints, and logging every push
# attempt (one line per ref: ref old new accepted|refused) to $T/pushes.log.
chaos_hook() {
	cat >"$SRV/$1.git/hooks/pre-receive" <<HOOK
#!/bin/bash
verdict=accepted
if [ \$((RANDOM % 100)) -lt $2 ]; then verdict=refused; fi
while read -r old new ref; do
	echo "\$ref \$old \$new \$verdict" >>"$T/pushes.log"
done
if [ \$verdict = refused ]; then
	echo "error: internal server error (failed)" >&2
	exit 1
fi
exit 0
HOOK
	chmod +x "$SRV/$1.git/hooks/pre-receive"
}

# task_json ID SLEEP: a task whose script logs its start outside the
# repository ($T/exec.log: "start ID PID") and prints "out ID".
task_json() {
	printf '{"task_id": "%s", "script": "echo start %s $$ >> %s/exec.log; echo out %s; sleep %s", "timeout_seconds": 60}\n' \
		"$1" "$1" "$T" "$1" "$2"
}

# chaos_submit NAME BATCH SLEEP ID...: commits the tasks in one commit
# "submit BATCH" with plain git and pushes it, retrying through refusals and
# outages for at most 120 tries: fetch, look whether the commit landed after
# all, else commit the files again on the new tip (no rebase: git's
# directory-rename detection would move them into tasks/in_progress).
# Appends the ids to $T/submitted once they are in.
chaos_submit() {
	local name=$1 batch=$2 sleep=$3 w=$T/work-$1 id i
	shift 3
	for i in $(seq 120); do
		if [ "$i" -gt 1 ]; then
			sleep 0.5
			git -C "$w" fetch -q origin 2>>"$T/submit.log" || continue
			if git -C "$w" log --format=%s origin/main | grep -qx "submit $batch"; then
				printf '%s\n' "$@" >>"$T/submitted"
				return 0
			fi
		else
			git -C "$w" fetch -q origin 2>>"$T/submit.log"
		fi
		git -C "$w" reset -q --hard origin/main
		mkdir -p "$w/tasks/queue"
		for id in "$@"; do
			task_json "$id" "$sleep" >"$w/tasks/queue/$id.json"
		done
		git -C "$w" add -A && git -C "$w" commit -qm "submit $batch"
		if git -C "$w" push -q origin HEAD:main 2>>"$T/submit.log"; then
			printf '%s\n' "$@" >>"$T/submitted"
			return 0
		fi
	done
	return 1
}

# machine_death PID: SIGKILL of a worker and of the task process groups it
# started (the process executor puts each task in its own session, so a
# task would otherwise outlive its worker; a dead machine takes both).
machine_death() {
	local pid=$1 kid pg mine
	mine=$(ps -o pgid= -p $$ | tr -d ' ')
	kill -STOP "$pid" 2>/dev/null
	for kid in $(pgrep -P "$pid"); do
		pg=$(ps -o pgid= -p "$kid" | tr -d ' ')
		if [ -n "$pg" ] && [ "$pg" != "$mine" ]; then
			kill -9 -- "-$pg" 2>/dev/null
		else
			kill -9 "$kid" 2>/dev/null
		fi
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# kill_leftover_tasks: task processes still running (their scripts name
# $T/exec.log), by pid; called at the end and by the exit trap.
kill_leftover_tasks() {
	local p
	for p in $(pgrep -f "$T/exec.log"); do
		kill -9 "$p" 2>/dev/null
	done
}

# tap_from_checker COMMAND...: runs a checker that prints PASS/FAIL/NOTE
# lines and turns each into ok/fail/note; a checker that crashes fails.
tap_from_checker() {
	local out rc line
	out=$("$@" 2>"$T/checker.err")
	rc=$?
	while IFS= read -r line; do
		case $line in
		"PASS "*) ok "${line#PASS }" ;;
		"FAIL "*) fail "${line#FAIL }" ;;
		"SKIP "*) skip "${line#SKIP }" ;;
		"NOTE "*) note "${line#NOTE }" ;;
		esac
	done <<<"$out"
	if [ "$rc" -ne 0 ]; then
		fail "checker $(basename "$2") ran to its end (status $rc: $(tail -3 "$T/checker.err" | tr '\n' ' '))"
	fi
}

# queue_and_running NAME: files left in tasks/queue and tasks/in_progress.
queue_and_running() {
	git -C "$SRV/$1.git" ls-tree -r --name-only main -- tasks/queue/ tasks/in_progress/ 2>/dev/null |
		grep -vc '/\.' || true
}

# wait_until SECONDS COMMAND...: polls the command once a second until it
# passes or SECONDS of wall-clock time are over (wait_for counts polls, and
# a slow command would stretch its bound).
wait_until() {
	local end=$(( $(date +%s) + $1 )); shift
	while :; do
		if "$@"; then return 0; fi
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 1
	done
}
