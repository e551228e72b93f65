#!/usr/bin/env bash
# A worker's whole loop with the docker executor against a real git daemon:
# --slots 4 runs tasks in concurrent containers, every result lands in
# tasks/completed with executor "docker"; a worker killed with SIGKILL
# while a task runs leaves no container behind (its guardian removes it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/docker.sh"
docker_need task

PY=/usr/bin/python3
N=8
# at least / at most N containers of ours exist (evaluated at each poll)
conts_ge() { [ "$(docker_left dgrid- | wc -l)" -ge "$1" ]; }
conts_none() { [ -z "$(docker_left dgrid-)" ]; }
mkdir -p "$T/srv"
make_bare "$T/srv/grid.git"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
"$DGRID" init "$URL" >"$T/submit.log" 2>&1
for i in $(seq $N); do
	"$DGRID" submit --repo "$URL" --id "t$i" --timeout 60 \
		--script "sleep 2; python3 -c 'print(6 * $i)'; ls /proc | grep -c '^[0-9]'" >>"$T/submit.log" 2>&1
done
queued=$(count_files "$T/srv/grid.git" tasks/queue)
check_eq "$N tasks queued" $N "$queued"
# a failure here once went unexplained: keep what init and submit said
[ "$queued" = $N ] || { tail -20 "$T/submit.log"; tail -5 "$T/git-daemon.log"; } | sed 's/^/# /'

DGRID_CACHE=$T/cache PULL_INTERVAL=1 timeout 300 "$DGRID" worker --repo "$URL" --node-id w1 \
	--executor docker --slots 4 --exit-when-idle --http off >"$T/w1.log" 2>&1 &
wpid=$!
# four containers at once at some point (each task sleeps 2 s)
check "four tasks run in four containers at once" \
	wait_for 60 conts_ge 4
wait $wpid
rc=$?
check_eq "the worker drained the queue and exited 0" 0 $rc
[ $rc = 0 ] || tail -30 "$T/w1.log" | sed 's/^/# /'
check_eq "$N results in tasks/completed" $N "$(count_files "$T/srv/grid.git" tasks/completed)"
check_eq "nothing failed" 0 "$(count_files "$T/srv/grid.git" tasks/failed)"
bad=""
for i in $(seq $N); do
	r=$(git -C "$T/srv/grid.git" show "main:tasks/completed/t$i.w1.1.json" 2>/dev/null |
		"$PY" -c 'import json,sys; d=json.load(sys.stdin); o=d["stdout"].split(); print(d["executor"], d["status"], o[0], 3 <= int(o[1]) <= 4)')
	# the container's init, sh, ls and grep: 3 when ls reads /proc before sh has forked grep
	[ "$r" = "docker success $((6 * i)) True" ] || bad="$bad t$i:$r"
done
check_eq "each ran its own python3 in its own container (3-4 pids visible, its own)" "" "$bad"
check_eq "no container is left" "" "$(docker_left dgrid-)"

# SIGKILL: nothing of the worker survives to stop the container but its guardian
"$DGRID" submit --repo "$URL" --id long --timeout 300 --script 'sleep 290' >/dev/null 2>&1
DGRID_CACHE=$T/cache2 PULL_INTERVAL=1 "$DGRID" worker --repo "$URL" --node-id w2 \
	--executor docker --http off >"$T/w2.log" 2>&1 &
wpid=$!
track $wpid
check "the long task's container runs" wait_for 60 conts_ge 1
kill -9 $wpid
wait $wpid 2>/dev/null
check "after SIGKILL of the worker its container is removed" \
	wait_for 30 conts_none
check "... and the task's sleep is gone from the host" \
	wait_for 10 bash -c '! pgrep -x -f "sleep 290" >/dev/null'
finish
