#!/usr/bin/env bash
# t0361: several workers on one host (issue 9, defect 13). Four workers are
# started at once without --http or DGRID_HTTP, as a shell loop,
# docker-compose --scale or a systemd template would. All four must keep
# working, each on its own status page port named in its log
# ("event=http-listening port=N"), the page on that port must be that
# worker's, and `dgrid status` names each node's page once the heartbeat
# carries it. An explicit --http address that is busy is a start-up error
# (exit 2, with the address in the message); when every port of the
# automatic range is busy, the worker logs a warning and works without a
# page.
. "$(dirname "$0")/lib.sh"
unset DGRID_HTTP

N=8
mkdir -p "$T/srv"
make_bare "$T/srv/grid.git"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
clone_work "$T/srv/grid.git" "$T/work"
mkdir -p "$T/work/tasks/queue"
for i in $(seq $N); do
	printf '{"task_id": "t%d", "script": "sleep 0.5; echo t%d", "timeout_seconds": 30}\n' "$i" "$i" \
		>"$T/work/tasks/queue/t$i.json"
done
commit_push "$T/work" "$N tasks"

start_worker() { # NAME [ARGS...]
	local name=$1; shift
	DGRID_CACHE=$T/cache-$name PULL_INTERVAL=1 HEARTBEAT_INTERVAL=1 timeout 150 "$DGRID" worker \
		--repo "$URL" --node-id "$name" --executor process "$@" >"$T/$name.log" 2>&1 &
	track $!
	eval "PID_$name=$!"
}
for w in w1 w2 w3 w4; do
	start_worker "$w"
done
port_of() { sed -n 's/.*event=http-listening port=\([0-9]*\).*/\1/p' "$T/$1.log" | head -1; }
all_listening() {
	local w
	for w in w1 w2 w3 w4; do [ -n "$(port_of "$w")" ] || return 1; done
}
check "all four workers log the port of their page" wait_for 30 all_listening
ports=""
for w in w1 w2 w3 w4; do ports="$ports $(port_of "$w")"; done
note "ports:$ports"
check_eq "four distinct ports" 4 "$(echo "$ports" | tr ' ' '\n' | grep -c .  | tr -d ' ')"
check_eq "no port is shared" 4 "$(echo "$ports" | tr ' ' '\n' | grep . | sort -u | wc -l | tr -d ' ')"

done_all() { [ "$(count_files "$T/srv/grid.git" tasks/completed)" -eq $N ]; }
check "the grid completes all $N tasks" wait_for 90 done_all
for w in w1 w2 w3 w4; do
	pid_var=PID_$w
	check "$w is still running" kill -0 "${!pid_var}"
	p=$(port_of "$w")
	health() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1/health")" = 200 ]; }
	check "$w answers /health on its port $p" wait_for 20 health "$p"
	check_eq "the page on port $p is $w's" "$w" \
		"$(curl -s --max-time 5 "http://127.0.0.1:$p/api/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["node_id"])')"
done
check "no worker logged a listen error" bash -c "! grep -l 'cannot listen\\|Address already in use' '$T'/w?.log"

# dgrid status names each page, once the heartbeat carries "http"
hb_has_http() {
	git -C "$T/srv/grid.git" show refs/dgrid/nodes/w1:heartbeat.json 2>/dev/null | grep -q '"http"'
}
if wait_for 10 hb_has_http; then
	"$DGRID" status --repo "$URL" >"$T/status.txt" 2>&1
	for w in w1 w2 w3 w4; do
		check "status shows $w's page" grep -qE "^  $w .* page http://127\\.0\\.0\\.1:$(port_of "$w")/" "$T/status.txt"
	done
else
	skip "status shows the pages: the heartbeat has no \"http\" field yet (worker_node.c)"
fi

# an explicit address that is busy: exit 2, saying which
busy=$(port_of w1)
DGRID_CACHE=$T/cache-x timeout 30 "$DGRID" worker --repo "$URL" --node-id x --executor process \
	--http "127.0.0.1:$busy" --exit-when-idle >"$T/x.log" 2>&1
check_eq "busy explicit --http: exit 2" 2 $?
check "busy explicit --http: the message names the address" \
	grep -q "cannot listen on '127.0.0.1:$busy': Address already in use" "$T/x.log"
DGRID_HTTP=127.0.0.1:$busy DGRID_CACHE=$T/cache-x timeout 30 "$DGRID" worker --repo "$URL" --node-id x \
	--executor process --exit-when-idle >"$T/x2.log" 2>&1
check_eq "busy DGRID_HTTP: exit 2" 2 $?

for w in w1 w2 w3 w4; do
	pid_var=PID_$w
	kill -TERM "${!pid_var}"
	wait "${!pid_var}"
	check_eq "$w stops cleanly" 0 $?
done

# every port of the automatic range busy: a warning, and the worker works
python3 - "$T/hold.ready" >"$T/hold.log" 2>&1 <<'PY' &
import socket, sys, time
held = []
for p in range(8000, 8100):
    s = socket.socket()
    # like libmicrohttpd: else a closed page's TIME_WAIT connections would stop us
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p)); s.listen(1); held.append(s)
    except OSError:
        s.close()                  # busy already: just as good
open(sys.argv[1], "w").close()
time.sleep(60)
PY
HOLD=$!
track "$HOLD"
wait_for 10 test -e "$T/hold.ready"
git -C "$T/work" pull -q --rebase origin main
mkdir -p "$T/work/tasks/queue"
printf '{"task_id": "late", "script": "echo late", "timeout_seconds": 30}\n' >"$T/work/tasks/queue/late.json"
commit_push "$T/work" "one more task"
DGRID_CACHE=$T/cache-y PULL_INTERVAL=1 timeout 60 "$DGRID" worker --repo "$URL" --node-id y \
	--executor process --exit-when-idle >"$T/y.log" 2>&1
check_eq "no free port: the worker still works and exits 0" 0 $?
kill "$HOLD" 2>/dev/null
check "no free port: a warning says so" grep -q 'warning node=y event=http-unavailable .*no free port' "$T/y.log"
check "no free port: the task ran" git -C "$T/srv/grid.git" cat-file -e main:tasks/completed/late.y.1.json
finish
