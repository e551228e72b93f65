#!/usr/bin/env bash
# libgit2 1.5 has no network timeouts. A remote that accepts connections and
# then never answers must not hang dgrid: the store's inactivity timer
# (DGRID_NET_TIMEOUT) interrupts the call and the command fails with a clear
# message; a worker keeps running and keeps retrying.
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
python3 - "$PORT" >"$T/hole.log" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
held = []
end = time.time() + 120
s.settimeout(1)
while time.time() < end:
    try:
        c, _ = s.accept()
        held.append(c)          # accept, then say nothing, ever
    except socket.timeout:
        pass
PY
track $!
wait_port "$PORT"

start=$(date +%s)
DGRID_CACHE=$T/cache DGRID_NET_TIMEOUT=2 timeout 60 "$DGRID" status --repo "git://127.0.0.1:$PORT/grid.git" >"$T/status.out" 2>&1
rc=$?
elapsed=$(( $(date +%s) - start ))
check "status against a silent remote fails (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "and does not hang (${elapsed}s, timeout 2 s)" test "$elapsed" -lt 20
check "the message says the remote did not answer" grep -q 'no answer for 2 s' "$T/status.out"
note "$(cat "$T/status.out")"

# A worker against the silent remote stays up, logs the failures, and stops
# cleanly on SIGTERM.
DGRID_CACHE=$T/wcache DGRID_NET_TIMEOUT=1 "$DGRID" worker --repo "git://127.0.0.1:$PORT/grid.git" \
	--node-id hole --executor process --http off >"$T/worker.log" 2>&1 &
wpid=$!
track $wpid
check "the worker logs the unanswered remote and retries" wait_for 30 grep -q 'event=remote-error.*no answer' "$T/worker.log"
check "the worker is still running" kill -0 $wpid
kill -TERM $wpid
for i in $(seq 50); do kill -0 $wpid 2>/dev/null || break; sleep 0.2; done
check "the worker stops on SIGTERM while the remote is silent" bash -c "! kill -0 $wpid 2>/dev/null"
finish
