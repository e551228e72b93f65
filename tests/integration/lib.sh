# lib.sh - sourced by every integration test (tNNNN-topic.sh).
#
# Gives each test a fresh temporary directory ($T) removed at exit, TAP
# output through ok/fail/check/skip, and helpers that start real servers on
# 127.0.0.1 with a free port: a git daemon and lighttpd + git http-backend.
# Every server started here is stopped by the exit trap.

set -u
: "${DGRID:?DGRID must name the dgrid binary}"
: "${DGRID_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

T=$(mktemp -d "${TMPDIR:-/tmp}/dgrid-test.XXXXXX")
_tap_n=0
_tap_failed=0
_pids=()

_cleanup() {
	local p
	for p in "${_pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${_pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ -z "${KEEP_TMP:-}" ]; then
		rm -rf "$T"
	else
		echo "# kept $T"
	fi
}
trap _cleanup EXIT

ok()   { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
fail() { _tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1)); echo "not ok $_tap_n - $*"; }
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $* # SKIP"; }
note() { echo "# $*"; }

# check DESCRIPTION COMMAND...: passes when the command exits 0.
check() {
	local desc=$1; shift
	if "$@"; then ok "$desc"; else fail "$desc"; fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (expected '$2', got '$3')"; fi
}

# Remember a background process so the exit trap stops it.
track() { _pids+=("$1"); }

. "$(dirname "${BASH_SOURCE[0]}")/net.sh"

# make_bare DIR: an empty bare repository whose HEAD is main.
make_bare() {
	git init -q --bare -b main "$1"
	git -C "$1" config receive.denyNonFastForwards true
	git -C "$1" config receive.advertisePushOptions false
}

# server_started PID PORT: the server we started listens on PORT (and not
# somebody else: a server that could not bind exits)
server_started() { wait_port "$2" && kill -0 "$1" 2>/dev/null; }

# start_git_daemon BASEDIR: serves BASEDIR's repositories read/write on a
# fresh port; sets GIT_DAEMON_PORT.
# free_port's port is free when it answers, not when the daemon binds it:
# another process (an outgoing connection of a test running beside this one
# takes its local port from the same range) may take it in between. Then
# the daemon exits, and the port would answer for someone else or not at
# all, so a daemon that died at start is started again on a fresh port.
start_git_daemon() {
	local try pid
	for try in 1 2 3 4 5; do
		GIT_DAEMON_PORT=$(free_port)
		git daemon --reuseaddr --listen=127.0.0.1 --port="$GIT_DAEMON_PORT" \
			--base-path="$1" --export-all --enable=receive-pack \
			--informative-errors "$1" >>"$T/git-daemon.log" 2>&1 &
		pid=$!
		track $pid
		server_started $pid "$GIT_DAEMON_PORT" && return 0
		echo "# git daemon did not start on port $GIT_DAEMON_PORT (try $try):" \
			"$(tail -1 "$T/git-daemon.log")"
	done
	return 1
}

# start_git_daemon_logged BASEDIR: a git daemon that writes every request
# it serves to $T/daemon.log with the second it came in, to count the
# fetches a grid makes (busiest_fetches); sets PORT. The daemon itself is
# tracked, not a pipe's reader: killed alone, the reader left a daemon that
# died only when it next logged, and the exit trap waited for it (t0376,
# whose workers look twice a minute).
start_git_daemon_logged() {
	PORT=$(free_port)
	git daemon --verbose --reuseaddr --listen=127.0.0.1 --port="$PORT" --base-path="$1" \
		--export-all --enable=receive-pack "$1" \
		> >(while IFS= read -r line; do printf '%(%s)T %s\n' -1 "$line"; done >"$T/daemon.log") 2>&1 &
	track $!
	wait_port "$PORT"
}

# fetches_in FROM TO: upload-pack requests in $T/daemon.log in [FROM, TO) (Unix seconds).
fetches_in() {
	awk -v a="$1" -v b="$2" '/Request upload-pack/ && $1 >= a && $1 < b' "$T/daemon.log" | wc -l
}

# busiest_fetches FROM TO: the most upload-pack requests in any 60 s window within [FROM, TO).
busiest_fetches() {
	awk -v a="$1" -v b="$2" '/Request upload-pack/ && $1 >= a && $1 < b { n[$1]++ }
		END { best = 0
		      for (s = a; s + 60 <= b; s++) { c = 0; for (k = s; k < s + 60; k++) c += n[k]; if (c > best) best = c }
		      print best }' "$T/daemon.log"
}

# start_git_daemon_pack_hook BASEDIR HOOK: start_git_daemon, with every
# pack-objects its upload-pack runs started through the script HOOK (which
# gets the command as its arguments). uploadpack.packObjectsHook is read
# only from the global or system config, so the daemon gets a global one.
start_git_daemon_pack_hook() {
	printf '[uploadpack]\n\tpackObjectsHook = %s\n' "$2" >"$T/daemon-gitconfig"
	export GIT_CONFIG_GLOBAL=$T/daemon-gitconfig
	start_git_daemon "$1"
	unset GIT_CONFIG_GLOBAL
}

# slow_fetch_grid SECONDS: a bare $T/srv/grid.git ($BARE) behind a git daemon
# whose pack-objects sleeps SECONDS first (so every fetch that brings
# something takes that long), its $URL, and a clone of it in $T/work.
slow_fetch_grid() {
	mkdir -p "$T/srv"
	BARE=$T/srv/grid.git
	make_bare "$BARE"
	printf '#!/bin/sh\nsleep %s\nexec "$@"\n' "$1" >"$T/slow-pack"
	chmod +x "$T/slow-pack"
	start_git_daemon_pack_hook "$T/srv" "$T/slow-pack"
	URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
	clone_work "$BARE" "$T/work"
}

# git_daemon_at PORT BASEDIR: a git daemon on a fixed port, so that a test can
# stop it (git_daemon_stop) and restart it where its workers expect it; sets
# DAEMON_PID.
git_daemon_at() {
	git daemon --reuseaddr --listen=127.0.0.1 --port="$1" \
		--base-path="$2" --export-all --enable=receive-pack \
		--informative-errors "$2" >>"$T/git-daemon.log" 2>&1 &
	DAEMON_PID=$!
	track "$DAEMON_PID"
	wait_port "$1"
}

# git_daemon_stop PORT: kills $DAEMON_PID and its per-connection children (a
# push in flight dies with them) and waits until the port refuses.
git_daemon_stop() {
	local kids port=$1
	kids=$(pgrep -P "$DAEMON_PID")
	kill "$DAEMON_PID" $kids 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	_port_refuses() { ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
	wait_for 5 _port_refuses
}

# start_http_git BASEDIR USER TOKEN: lighttpd serving BASEDIR through
# git http-backend with basic authentication; sets HTTP_GIT_PORT.
start_http_git() {
	local base=$1 user=$2 token=$3 conf=$T/lighttpd.conf try pid
	htpasswd -bc "$T/htpasswd" "$user" "$token" >/dev/null 2>&1
	for try in 1 2 3 4 5; do # a lost port: as start_git_daemon says
		HTTP_GIT_PORT=$(free_port)
		cat >"$conf" <<-CONF
		server.modules = ( "mod_auth", "mod_authn_file", "mod_cgi", "mod_alias", "mod_setenv" )
		server.document-root = "$base"
		server.bind = "127.0.0.1"
		server.port = $HTTP_GIT_PORT
		server.errorlog = "$T/lighttpd-error.log"
		server.max-request-size = 0
		server.stream-request-body = 0
		alias.url = ( "/git/" => "/usr/lib/git-core/git-http-backend/" )
		cgi.assign = ( "" => "" )
		setenv.add-environment = ( "GIT_PROJECT_ROOT" => "$base", "GIT_HTTP_EXPORT_ALL" => "1" )
		auth.backend = "htpasswd"
		auth.backend.htpasswd.userfile = "$T/htpasswd"
		auth.require = ( "/git/" => ( "method" => "basic", "realm" => "dgrid", "require" => "valid-user" ) )
		CONF
		lighttpd -D -f "$conf" >>"$T/lighttpd.log" 2>&1 &
		pid=$!
		track $pid
		server_started $pid "$HTTP_GIT_PORT" && return 0
		echo "# lighttpd did not start on port $HTTP_GIT_PORT (try $try)"
	done
	return 1
}

# Ends the script: exit status 1 when any check failed.
finish() {
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}

# clone_work BARE DIR: a work clone with an identity, for committing by hand.
clone_work() {
	git clone -q "$1" "$2" 2>/dev/null
	git -C "$2" config user.name tester
	git -C "$2" config user.email tester@localhost
	git -C "$2" checkout -q -B main 2>/dev/null
}

# daemon_grid POLICY: a bare repository served by a git daemon ($URL) and
# a work clone ($T/work) with tasks/queue/ and dgrid.json holding POLICY,
# not yet committed.
daemon_grid() {
	mkdir -p "$T/srv"
	make_bare "$T/srv/grid.git"
	start_git_daemon "$T/srv"
	URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
	clone_work "$T/srv/grid.git" "$T/work"
	mkdir -p "$T/work/tasks/queue"
	printf '%s\n' "$1" >"$T/work/dgrid.json"
}

# record_pushes BARE FILE: a pre-receive hook that appends one line per
# push to FILE, "UNIX_TIME REF REF ...", whatever refs it updates (a join
# carries main and refs/dgrid/join/NODE in one push): the host counts
# pushes, and so does a push budget.
record_pushes() {
	cat >"$1/hooks/pre-receive" <<EOF
#!/bin/sh
refs=\$(while read old new ref; do printf '%s ' "\$ref"; done)
echo "\$(date +%s.%N) \$refs" >>"$2"
EOF
	chmod +x "$1/hooks/pre-receive"
}

# run_workers N [ARGS...]: N workers w1..wN on $URL (process executor,
# --exit-when-idle, PULL_INTERVAL 1, logs $T/wI.log appended); waits for
# them and prints how many failed.
run_workers() {
	local n=$1 w p pids=() bad=0
	shift
	for w in $(seq "$n"); do
		DGRID_CACHE=$T/cache-$w PULL_INTERVAL=1 timeout 300 "$DGRID" worker --repo "$URL" --node-id "w$w" \
			--executor process --exit-when-idle --http off "$@" >>"$T/w$w.log" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
	echo "$bad"
}

# commit_push DIR MESSAGE: commit everything in the work clone and push it.
commit_push() {
	git -C "$1" add -A
	git -C "$1" commit -qm "$2"
	git -C "$1" push -q origin HEAD:main
}

# count_files BARE DIR: files (not dot files) in a directory of main.
count_files() {
	git -C "$1" ls-tree --name-only "main:$2" 2>/dev/null | grep -vc '^\.' || true
}

# count_all BARE DIR: files (not dot files) in a directory of main and in
# its shards (protocol 3 puts tasks and results in DIR/a/b[/c]/).
count_all() {
	git -C "$1" ls-tree -r --name-only main -- "$2" 2>/dev/null | grep -vc '/\.[^/]*$' || true
}

# node_field BARE NODE FIELD: a field of nodes/NODE.json on main ("" if none).
node_field() {
	git -C "$1" show "main:nodes/$2.json" 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$3" 2>/dev/null
}

# poll_interval_ms LOG PATTERN: the ms of the last event=poll-interval line
# of a worker's LOG that matches PATTERN.
poll_interval_ms() {
	grep "event=poll-interval .*$2" "$1" | tail -n 1 | sed -n 's/.* ms=\([0-9]*\) .*/\1/p'
}

# shard ID DEPTH: "a/b" (DEPTH hex digits of SHA-256 of ID), as layout.h says.
shard() {
	printf %s "$1" | sha256sum | cut -c1-"$2" | sed 's/./&\//g; s/\/$//'
}

# build_release TAG: builds the dgrid of an earlier release from its Git tag
# (once per checkout, in $BUILD/prev-TAG, with its own flags, not those of a
# sanitizer run that may have started us) and prints the binary's path.
# Prints nothing when the tag is not in this clone (a shallow clone).
build_release() {
	local tag=$1 dir=$DGRID_SRC/${BUILD:-build}/prev-$1
	git -C "$DGRID_SRC" rev-parse -q --verify "$tag^{commit}" >/dev/null 2>&1 || return 0
	if [ ! -x "$dir/build/dgrid" ]; then
		rm -rf "$dir" && mkdir -p "$dir"
		git -C "$DGRID_SRC" archive "$tag" | tar -x -C "$dir"
		env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u CFLAGS -u EXTRA_CFLAGS \
			make -C "$dir" -s BUILD=build build/dgrid >"$T/build-$tag.log" 2>&1 ||
			cat "$T/build-$tag.log" >&2
	fi
	echo "$dir/build/dgrid"
}

# wait_for SECONDS COMMAND...: polls the command every 0.2 s until it passes.
wait_for() {
	local limit=$1 i; shift
	for i in $(seq $((limit * 5))); do
		if "$@"; then return 0; fi
		sleep 0.2
	done
	return 1
}
