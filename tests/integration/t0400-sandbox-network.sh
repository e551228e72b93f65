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
check "the host listener is listening" host_listener tcp "$port" "$T/accepted"
dx loop "python3 -c '
import socket
try:
    socket.create_connection((\"127.0.0.1\", $port), timeout=3); print(\"CONNECTED\")
except OSError as e: print(\"failed\", e.errno)
'"
check "the host's 127.0.0.1 listener is unreachable" grep -q '^failed' <(out loop)
check "the host listener saw no connection" test ! -e "$T/accepted"
check "the host listener records a connection from the host" host_connects tcp "$port" "$T/accepted"

# an abstract unix socket bound on the host
name="dgrid-test-$$-$RANDOM"
check "the host unix listener is listening" host_listener unix "$name" "$T/unix-accepted"
dx unix "python3 -c '
import socket
s=socket.socket(socket.AF_UNIX)
try:
    s.connect(\"\\0$name\"); print(\"CONNECTED\")
except OSError as e: print(\"failed\", e.errno)
'"
check "a host abstract unix socket is unreachable" grep -q '^failed' <(out unix)
check "the host unix listener saw no connection" test ! -e "$T/unix-accepted"
check "the host unix listener records a connection from the host" host_connects unix "$name" "$T/unix-accepted"

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
