# sandbox.sh - helpers for the t04xx sandbox tests (sourced after lib.sh).
#
#   dx NAME [dgrid exec options...] SCRIPT   runs through $EXECUTOR (native
#                                            unless set), JSON in $T/NAME.json
#   jf NAME FIELD                            prints one field (true/false for bools)
#   out NAME / errout NAME                   the task's stdout / stderr
#   need_native                              skips the whole file without a sandbox
#   host_listener tcp PORT|unix NAME FILE    a host listener that appends a line
#                                            to FILE for each connection

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
EXECUTOR=${EXECUTOR:-native}

dx() {
	local name=$1; shift
	"$DGRID" exec --executor "$EXECUTOR" "$@" >"$T/$name.json" 2>"$T/$name.stderr"
}

jf() {
	"$PY" -c 'import json,sys
d=json.load(open(sys.argv[1])); v=d[sys.argv[2]]
print(("true" if v else "false") if isinstance(v,bool) else v, end="")' "$T/$1.json" "$2" 2>/dev/null
}

out() { jf "$1" stdout; }
errout() { jf "$1" stderr; }

need_native() {
	if ! "$DGRID" exec --executor native 'exit 0' >/dev/null 2>"$T/probe.err"; then
		skip "native sandbox suite: $(head -c 200 "$T/probe.err")"
		finish
		exit 0
	fi
}

# A follow-up task still runs: the host survived whatever came before.
host_still_works() {
	dx follow 'echo alive'
	check_eq "$1: a follow-up task runs" "alive" "$(out follow | tr -d '\n')"
}

# Starts a listener on the host (127.0.0.1:PORT, or the abstract unix socket
# NAME) that appends "accepted" to FILE for every connection, and returns
# once it listens. Readiness comes from the listener itself, not from our
# connecting to it: a probe's connection would be recorded whenever the
# listener got round to accepting it, maybe after the test had cleared FILE.
host_listener() {
	local kind=$1 addr=$2 file=$3 i
	"$PY" -c '
import socket,sys
kind, addr, record, ready = sys.argv[1:5]
if kind == "tcp":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(addr)))
else:
    s = socket.socket(socket.AF_UNIX); s.bind("\0" + addr)
s.listen(5)
open(ready, "w").close()
while True:
    c, _ = s.accept(); open(record, "a").write("accepted\n"); c.close()
' "$kind" "$addr" "$file" "$file.ready" &
	track $!
	for i in $(seq 100); do [ -e "$file.ready" ] && return 0; sleep 0.1; done
	return 1
}

# Connects to a host_listener from the host and waits until FILE records it:
# the control that shows a test's "saw no connection" could have failed.
host_connects() {
	local kind=$1 addr=$2 file=$3 i
	"$PY" -c '
import socket,sys
if sys.argv[1] == "tcp": socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=3)
else: socket.socket(socket.AF_UNIX).connect("\0" + sys.argv[2])
' "$kind" "$addr" 2>/dev/null || return 1
	for i in $(seq 50); do [ -e "$file" ] && return 0; sleep 0.1; done
	return 1
}
