#!/usr/bin/env bash
# bench-node-refs.sh - what the refs of nodes long gone cost an idle worker
# on a heartbeat grid, and what pruning them gives back (doc/protocol.md,
# "Node refs"). A heartbeat grid keeps refs/dgrid/nodes/NODE of every node
# that ever ran, and every fetch lists and reads them all.
#
# Against a git daemon on 127.0.0.1: a heartbeat grid ({"heartbeat_interval":
# 3, "node_timeout": 10, "node_ref_keep_seconds": 20, "timeout_max": 10,
# "lease_margin": 5}) with REFS (default 5000) refs of nodes gone a day
# (written with git fast-import), and one without (the baseline, in the same
# run). One idle worker each (PULL_INTERVAL=1, --http off): its CPU time
# (user + system, from /proc) over WINDOW seconds (default 15) from its
# fifth second - before it may prune, since it has not watched the refs for
# 20 s yet - and, on the grid with refs, over WINDOW seconds once it logged
# the prune. REPS (default 3) runs; medians and ratios against the baseline
# (target after pruning: about 1).
set -u
DGRID=${DGRID:?DGRID: the dgrid binary}
REFS=${REFS:-5000}
WINDOW=${WINDOW:-15}
REPS=${REPS:-3}
BENCH=bench-node-refs
. "$(dirname "$0")/lib-daemon.sh"
POLICY='{"heartbeat_interval": 3, "node_timeout": 10, "node_ref_keep_seconds": 20, "timeout_max": 10, "lease_margin": 5}'
TICK=$(getconf CLK_TCK)

# grid NAME REFS
grid() {
	dead_grid "$1" "$POLICY" 0 "" 0
	python3 "$(dirname "$0")/../tests/integration/gone_refs.py" "$2" | git -C "$T/srv/$1.git" fast-import --quiet
}

cpu_ms() { awk -v t="$TICK" '{print int(($14 + $15) * 1000 / t)}' "/proc/$1/stat"; }
window_ms() {   # PID: CPU ms over WINDOW s
	local a b
	a=$(cpu_ms "$1")
	sleep "$WINDOW"
	b=$(cpu_ms "$1")
	echo $((b - a))
}

# run NAME: prints "before after" (after: - without refs)
run() {
	local name=$1 log=$T/$1.log pid before after=- i
	DGRID_CACHE=$T/cache-$name PULL_INTERVAL=1 HEARTBEAT_INTERVAL=3 setsid "$DGRID" worker \
		--repo "git://127.0.0.1:$port/$name.git" --node-id "w-$name" --executor process --http off >"$log" 2>&1 &
	pid=$!
	pids+=($pid)
	sleep 5
	before=$(window_ms "$pid")
	if grep -q 'gone' <(git -C "$T/srv/$name.git" for-each-ref refs/dgrid/nodes/ | head -n 1); then
		for i in $(seq 120); do grep -q 'event=node-refs-pruned' "$log" && break; sleep 1; done
		# up to 500 a push: until none is left
		for i in $(seq 120); do
			git -C "$T/srv/$name.git" for-each-ref refs/dgrid/nodes/ | grep -q gone || break
			sleep 1
		done
		sleep 5
		after=$(window_ms "$pid")
	fi
	kill -- -"$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$before $after"
}

echo "bench-node-refs: a heartbeat grid, one idle worker, $REFS refs of nodes gone a day vs none; CPU ms per ${WINDOW} s, $REPS runs"
echo "# $("$DGRID" --version | head -n 1)"
none="" with="" pruned=""
for r in $(seq 1 "$REPS"); do
	grid "none-$r" 0
	set -- $(run "none-$r")
	none="$none $1"
	grid "refs-$r" "$REFS"
	set -- $(run "refs-$r")
	with="$with $1"
	pruned="$pruned $2"
	echo "# run $r: none $(echo "$none" | awk '{print $NF}') ms, $REFS refs $(echo "$with" | awk '{print $NF}') ms, pruned $(echo "$pruned" | awk '{print $NF}') ms, refs left: $(git -C "$T/srv/refs-$r.git" for-each-ref refs/dgrid/nodes/ | grep -c gone)"
done
m0=$(echo "$none" | median)
m1=$(echo "$with" | median)
m2=$(echo "$pruned" | median)
ratio() { python3 -c "print(f'{$1 / max($2, 1):.1f}')"; }
echo "no refs:$none ms (median $m0); $REFS refs:$with ms (median $m1, $(ratio "$m1" "$m0")x); after pruning:$pruned ms (median $m2, $(ratio "$m2" "$m0")x)"
