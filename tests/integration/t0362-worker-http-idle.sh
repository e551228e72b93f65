#!/usr/bin/env bash
# t0362: the status page's idle connections are bounded. 300 TCP
# connections that send nothing are opened to a worker's page and held:
# the worker's open descriptors must not grow by more than the page's
# connection limit (64, src/http.h) plus a little slack for its own Git
# work, the worker keeps running, and once the connections are closed
# /health answers again.
. "$(dirname "$0")/lib.sh"
unset DGRID_HTTP

LIMIT=64
SLACK=16
mkdir -p "$T/srv"
make_bare "$T/srv/grid.git"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
# no timeout(1) wrapper: its pid must be the worker's own, to count its descriptors
DGRID_CACHE=$T/cache PULL_INTERVAL=1 HEARTBEAT_INTERVAL=1 "$DGRID" worker --repo "$URL" \
	--node-id w --executor process --http 127.0.0.1:0 >"$T/w.log" 2>&1 &
W=$!
track "$W"
listening() { grep -q 'event=http-listening' "$T/w.log"; }
check "the worker serves its page" wait_for 30 listening
PORT=$(sed -n 's/.*event=http-listening port=\([0-9]*\).*/\1/p' "$T/w.log" | head -1)
health() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/health")" = 200 ]; }
check "/health answers 200 before" wait_for 30 health

before=$(ls "/proc/$W/fd" | wc -l)
python3 - "$PORT" "$W" >"$T/idle.out" 2>&1 <<'PY'
import os, socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
socks = []
for i in range(300):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
        socks.append(s)
    except OSError as e:
        print("connect %d: %s" % (i, e))
        s.close()
print("connected %d" % len(socks))
# give the server's threads time to accept all they will accept, then look
peak = 0
for _ in range(20):
    time.sleep(0.1)
    peak = max(peak, len(os.listdir("/proc/%s/fd" % pid)))
print("peak %d" % peak)
for s in socks:
    s.close()
PY
note "descriptors before: $before; $(tr '\n' ' ' <"$T/idle.out")"
peak=$(sed -n 's/^peak \([0-9]*\)$/\1/p' "$T/idle.out")
check "300 idle connections were made" grep -q '^connected 300$' "$T/idle.out"
check "descriptors grew by at most the limit ($LIMIT) + $SLACK" \
	test "${peak:-99999}" -le $((before + LIMIT + SLACK))
check "the worker is still running" kill -0 "$W"
check "/health answers 200 once they are closed" wait_for 60 health
check "no descriptor error in the worker's log" bash -c "! grep -qi 'too many open files' '$T/w.log'"
kill -TERM "$W"
wait "$W"
check_eq "the worker stops cleanly" 0 $?
finish
