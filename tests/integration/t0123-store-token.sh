#!/usr/bin/env bash
# t0123: GIT_TOKEN goes only where the repository is, and only encrypted.
#  - with a token, a plain http:// URL to a host that is not loopback is
#    refused when the store opens, before any connection, naming the host;
#  - a server that redirects to another origin (another port) never gets the
#    token there: a listener that asks for Basic auth records no
#    Authorization header;
#  - a running worker's /proc/PID/environ holds no GIT_TOKEN.
. "$(dirname "$0")/lib.sh"

TOKEN=tok$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

for url in http://localhost.example:1/grid.git http://example.com/grid.git http://10.1.2.3:8080/g.git; do
	GIT_TOKEN=$TOKEN DGRID_CACHE=$T/cache "$DGRID" status --repo "$url" >"$T/plain.out" 2>&1
	rc=$?
	host=${url#http://}; host=${host%%/*}; host=${host%%:*}
	check "token over http to '$host': refused (exit $rc)" test "$rc" -ne 0
	check "token over http to '$host': the message names the host" \
		grep -q "refusing to send GIT_TOKEN over plain http to '$host'" "$T/plain.out"
	check "token over http to '$host': the token is not printed" bash -c "! grep -qF '$TOKEN' '$T/plain.out'"
done
note "$(cat "$T/plain.out")"

# A redirects every request to B (another port: another origin); B asks for
# Basic credentials and writes down every Authorization header it is sent.
PA=$(free_port)
PB=$(free_port)
cat >"$T/redirect.py" <<'PY'
import http.server, sys, threading
pa, pb, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
class A(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", "http://127.0.0.1:%d%s" % (pb, self.path))
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_POST = do_GET
    def log_message(self, *a): pass
class B(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write("request %s auth=%s\n" % (self.path, self.headers.get("Authorization")))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="evil"')
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_POST = do_GET
    def log_message(self, *a): pass
a = http.server.ThreadingHTTPServer(("127.0.0.1", pa), A)
b = http.server.ThreadingHTTPServer(("127.0.0.1", pb), B)
threading.Thread(target=b.serve_forever, daemon=True).start()
a.serve_forever()
PY
: >"$T/b.log"
python3 "$T/redirect.py" "$PA" "$PB" "$T/b.log" &
track $!
wait_port "$PA"
wait_port "$PB"
GIT_TOKEN=$TOKEN DGRID_CACHE=$T/cache-r DGRID_NET_TIMEOUT=20 "$DGRID" status --repo "http://127.0.0.1:$PA/grid.git" >"$T/redir.out" 2>&1
rc=$?
note "redirect: exit $rc: $(cat "$T/redir.out")"
note "B saw: $(cat "$T/b.log")"
check "redirect to another origin: the command fails" test "$rc" -ne 0
check "redirect to another origin: no Authorization header reached it" bash -c "! grep -q 'auth=Basic' '$T/b.log'"
check "redirect to another origin: the token is not printed" bash -c "! grep -qF '$TOKEN' '$T/redir.out'"

# a running worker's environment
mkdir -p "$T/srv"
make_bare "$T/srv/grid.git"
"$DGRID" init "$T/srv/grid.git" >/dev/null 2>&1
GIT_TOKEN=$TOKEN DGRID_CACHE=$T/cache-w DGRID_SPOOL=$T/spool-w PULL_INTERVAL=1 \
	"$DGRID" worker --repo "$T/srv/grid.git" --node-id tw --http off >"$T/w.log" 2>&1 &
W=$!
track "$W"
check "the worker starts" wait_for 30 grep -q 'event=started' "$T/w.log"
tr '\0' '\n' <"/proc/$W/environ" >"$T/environ" 2>/dev/null
check "the worker's environment was readable" test -s "$T/environ"
check "no GIT_TOKEN variable in /proc/<worker>/environ" bash -c "! grep -q '^GIT_TOKEN=' '$T/environ'"
check "no token value in /proc/<worker>/environ" bash -c "! grep -aqF '$TOKEN' '/proc/$W/environ'"
kill -TERM "$W"
wait "$W"
check_eq "the worker stops cleanly" 0 $?
finish
