#!/usr/bin/env bash
# The task has no network: no route out, no host loopback, no host abstract
# unix sockets, no DNS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sandbox.sh"
need_native

dx public 'python3 -c "
import socket
try:
    socket.create_connection((\"1.1.1.1\", 53), timeout=3); print(\"CONNECTED\")
except OSError as e: print(\"failed\", e.errno)
try:
    socket.create_connection((\"8.8.8.8\", 443), timeout=3); print(\"CONNECTED\")
except OSError as e: print(\"failed\", e.errno)
"'
check "connect to a public address fails" grep -q '^failed' <(out public)
check "no public connection succeeded" bash -c "! grep -q CONNECTED <<<'$(out public)'"

# a listener on the host's 127.0.0.1 that records any connection
port=$(free_port)
"$PY" -c '
import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5)
while True:
    c,_=s.accept(); open(sys.argv[2],"a").write("accepted\n"); c.close()
' "$port" "$T/accepted" &
track $!
wait_port "$port"
rm -f "$T/accepted"   # wait_port itself connected once
dx loop "python3 -c '
import socket
try:
    socket.create_connection((\"127.0.0.1\", $port), timeout=3); print(\"CONNECTED\")
except OSError as e: print(\"failed\", e.errno)
'"
check "the host's 127.0.0.1 listener is unreachable" grep -q '^failed' <(out loop)
check "the host listener saw no connection" test ! -e "$T/accepted"

# an abstract unix socket bound on the host
name="dgrid-test-$$-$RANDOM"
"$PY" -c '
import socket,sys
s=socket.socket(socket.AF_UNIX); s.bind("\0"+sys.argv[1]); s.listen(5)
while True:
    c,_=s.accept(); open(sys.argv[2],"a").write("accepted\n"); c.close()
' "$name" "$T/unix-accepted" &
track $!
sleep 0.3
dx unix "python3 -c '
import socket
s=socket.socket(socket.AF_UNIX)
try:
    s.connect(\"\\0$name\"); print(\"CONNECTED\")
except OSError as e: print(\"failed\", e.errno)
'"
check "a host abstract unix socket is unreachable" grep -q '^failed' <(out unix)
check "the host unix listener saw no connection" test ! -e "$T/unix-accepted"

dx dns 'getent hosts example.com; echo "getent=$?"; python3 -c "
import socket
try: print(socket.gethostbyname(\"example.com\"))
except OSError as e: print(\"resolve failed\")
"'
check "getent cannot resolve a public name" grep -q '^getent=2' <(out dns)
check "python cannot resolve a public name" grep -q '^resolve failed' <(out dns)

dx ifaces 'cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "'
check_eq "only a loopback interface exists" "lo" "$(out ifaces | tr -d '\n')"
finish
