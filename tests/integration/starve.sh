# starve.sh - a grid on a git daemon whose pre-receive hook declines one
# node's pushes to main while $T/starve exists (t0704, t0705): the host
# throttles that node alone, everything else gets through. Sourced after
# lib.sh. Sets PORT and URL; the grid's policy is protocol 3 with a
# lease_margin of 5 s, and tasks append their id to $T/runs (--executor
# process).

bare() { git -C "$T/srv/grid.git" "$@"; }
# task ID SECONDS: a queued task file in the work clone (timeout 10 s: a 15 s lease)
task() { printf '{"task_id": "%s", "script": "sleep %s; echo %s >>%s/runs", "timeout_seconds": 10}\n' \
	"$1" "$2" "$1" "$T" >"$T/work/tasks/queue/$1.json"; }
# submit ID SECONDS: the task pushed to main, on whatever main holds by
# then: under make asan's load a push of the stream's landed between a
# pull and the push after it, and t3 was never submitted
submit() {
	local try
	git -C "$T/work" pull -q --rebase origin main
	mkdir -p "$T/work/tasks/queue"
	task "$1" "$2"
	git -C "$T/work" add -A
	git -C "$T/work" commit -qm "$1"
	for try in 1 2 3 4 5 6 7 8 9 10; do
		git -C "$T/work" push -q origin HEAD:main 2>/dev/null && return 0
		git -C "$T/work" pull -q --rebase origin main
	done
	echo "# could not submit $1" >&2
	return 1
}
runs_of() { grep -c "^$1\$" "$T/runs" 2>/dev/null; }
done_on_main() { bare ls-tree -r --name-only main tasks/completed | grep -q "/$1\\."; }
# stream PREFIX: small tasks while $T/stream exists, so that main moves and
# the others fetch and reap; start it with start_stream, end it with end_stream
stream() {
	local n=0
	while [ -e "$T/stream" ]; do
		n=$((n + 1))
		submit "$1$n" 0 >/dev/null 2>&1
		sleep 2
	done
}
# start_stream PREFIX / end_stream: the stream in the background, and its
# end awaited - it shares the work clone with submit
start_stream() {
	touch "$T/stream"
	stream "$1" &
	STREAM_PID=$!
	track "$STREAM_PID"
}
end_stream() {
	rm -f "$T/stream"
	wait "$STREAM_PID"
}
# start_worker NODE SLOTS [NAME]: a worker under timeout, logging to $T/NAME.log (NAME: NODE), its
# timeout's pid in $T/NAME.timeout-pid
start_worker() {
	local name=${3:-$1}
	DGRID_CACHE=$T/cache-$1 PULL_INTERVAL=1 timeout 300 "$DGRID" worker --repo "$URL" --node-id "$1" \
		--slots "$2" --executor process --http off >>"$T/$name.log" 2>&1 &
	track $!
	echo $! >"$T/$name.timeout-pid"
}
# the worker started as NAME (the timeout's child)
pid_of() { pgrep -P "$(cat "$T/$1.timeout-pid")"; }

# starve_grid NODE FIRST_TASK SECONDS: the daemon, the grid and its hook; the policy and the first task pushed
starve_grid() {
	mkdir -p "$T/srv"
	PORT=$(free_port)
	git_daemon_at "$PORT" "$T/srv"
	make_bare "$T/srv/grid.git"
	URL="git://127.0.0.1:$PORT/grid.git"
	cat >"$T/srv/grid.git/hooks/pre-receive" <<HOOK
#!/bin/sh
[ -e "$T/starve" ] || exit 0
while read -r old new ref; do
	[ "\$ref" = refs/heads/main ] || continue
	case "\$(git log -1 --format=%s "\$new" 2>/dev/null)" in
	$1:*) echo x >>"$T/declined"; echo "$1 is throttled" >&2; exit 1 ;;
	esac
done
exit 0
HOOK
	chmod +x "$T/srv/grid.git/hooks/pre-receive"
	clone_work "$T/srv/grid.git" "$T/work"
	printf '{"protocol": 3, "lease_margin": 5}\n' >"$T/work/dgrid.json"
	mkdir -p "$T/work/tasks/queue"
	task "$2" "$3"
	commit_push "$T/work" "policy and $2"
}
