# lib-daemon.sh - sourced by the benchmarks that run a few workers against
# one plain git daemon (bench-dormant.sh, bench-dead-polls.sh,
# bench-idle-fleet.sh): makes the temporary directory $T (named after
# $BENCH), starts the daemon on a free port of 127.0.0.1 serving $T/srv
# (sets $port; DAEMON_VERBOSE=1 logs every request to $T/daemon.log),
# the exit trap that stops it and every process group in pids (KEEP_TMP
# keeps $T), median
# (of numbers on stdin, one per word; a ">N" cut run counts as N) and
# dead_grid (below).
T=$(mktemp -d "/tmp/dgrid-$BENCH.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null || kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/net.sh"
port=$(free_port)
mkdir -p "$T/srv"
git daemon ${DAEMON_VERBOSE:+--verbose} --reuseaddr --listen=127.0.0.1 --port="$port" --base-path="$T/srv" \
	--export-all --enable=receive-pack --max-connections=0 "$T/srv" 2>"$T/daemon.log" &
pids+=($!)
wait_port "$port" || { echo "$BENCH: the git daemon did not start"; exit 1; }

median() { tr ' ' '\n' | grep -v '^$' | sed 's/^>//' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# dead_grid NAME POLICY DEAD AGO TASKS: a fresh bare repository $T/srv/NAME.git
# (and its work clone $T/work-NAME) whose main holds dgrid.json POLICY, DEAD
# registrations of nodes last active at AGO (UTC) and TASKS tasks of `true`
dead_grid() {
	local bare=$T/srv/$1.git work=$T/work-$1 i
	rm -rf "$bare" "$work"
	git init -q --bare -b main "$bare"
	git -C "$bare" config receive.denyNonFastForwards true
	git init -q -b main "$work"
	printf '%s\n' "$2" >"$work/dgrid.json"
	mkdir -p "$work/nodes" "$work/tasks/queue"
	for i in $(seq 1 "$3"); do
		printf '{"node_id": "dead%s", "protocol": 3, "slots": 1, "registered_at": "%s", "active_at": "%s"}\n' \
			"$i" "$4" "$4" >"$work/nodes/dead$i.json"
	done
	for i in $(seq 1 "$5"); do
		printf '{"task_id": "t%s", "script": "true", "timeout_seconds": 60}\n' "$i" >"$work/tasks/queue/t$i.json"
	done
	git -C "$work" add -A
	git -C "$work" -c user.name=bench -c user.email=bench@localhost commit -q -m "grid, $3 dead, $5 tasks"
	git -C "$work" push -q "$bare" main
}
