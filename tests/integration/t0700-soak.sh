#!/usr/bin/env bash
# t0700: the soak run of issue 9. A measured worker, a busy peer (a second
# worker and a submitter adding a task every SOAK_TASK_EVERY seconds) and a
# status reader run against a git daemon for SOAK_SECONDS. Every
# SOAK_SAMPLE seconds tests/soak/soak.py records, for both workers, open
# descriptors, VmRSS, pack files in the worker's cache and the time of every
# step that pushed (LOG_LEVEL=debug "event=pushed ... ms=N"); the status
# reader records its time and peak memory. The first minute is compared with
# the last (thirds, for runs shorter than three minutes); the thresholds and
# why they are noise are in soak.py (RULES). Figures are printed as
# "# soak: ..." lines.
#
# Sizes: SOAK_SECONDS (75 here; `make soak` runs 600), SOAK_SAMPLE (3 s, or
# 10 s from 300 s on), SOAK_TASK_EVERY (2 s). The short run compares its
# first and last 25 s: 3 s samples give each window about 8 samples of
# descriptors and memory (5 s samples gave 30 s windows 6), each window
# holds about 12 tasks and 10 status runs, and the window centres are 50 s
# apart - enough for a descriptor leaked per push (a worker pushes about
# one commit every 2 s) to exceed the 21 descriptors of slack. At 60 s
# (centres 40 s apart) it would not.
#
# tests/run: alone (it measures memory and step times; other tests beside it
# would be what it measures)
. "$(dirname "$0")/lib.sh"
. "$DGRID_SRC/tests/chaos/lib.sh"
trap 'kill_leftover_tasks; _cleanup' EXIT

DURATION=${SOAK_SECONDS:-75}
if [ "$DURATION" -ge 300 ]; then SAMPLE=${SOAK_SAMPLE:-10}; else SAMPLE=${SOAK_SAMPLE:-3}; fi
EVERY=${SOAK_TASK_EVERY:-2}
note "soak: ${DURATION}s, a sample every ${SAMPLE}s, a task every ${EVERY}s"

mkdir -p "$SRV"
: >"$T/exec.log"
: >"$T/submitted"
chaos_daemon_start
chaos_repo grid '{"heartbeat_interval": 5, "node_timeout": 30}'

run_worker() { # NAME
	DGRID_CACHE=$T/cache-$1 DGRID_SPOOL=$T/spool-$1 PULL_INTERVAL=1 LOG_LEVEL=debug \
		"$DGRID" worker --repo "$URL" --node-id "$1" --slots 2 --executor process \
		--http off --grace 2 >"$T/$1.log" 2>&1 &
}
run_worker measured
WM=$!
track "$WM"
run_worker peer
WP=$!
track "$WP"

start=$(date +%s)
until=$((start + DURATION))
# the trickle of tasks (bounded: it stops at the deadline)
(
	n=0
	while [ "$(date +%s)" -lt "$until" ]; do
		n=$((n + 1))
		chaos_submit grid "s$n" 0.3 "soak-$n" >/dev/null 2>&1
		sleep "$EVERY"
	done
) &
track $!
SUBMITTER=$!
python3 "$DGRID_SRC/tests/soak/soak.py" status --out "$T/samples" --until "$until" --interval 2 \
	-- env DGRID_CACHE="$T/cache-status" "$DGRID" status --repo "$URL" &
track $!
STATUS=$!
python3 "$DGRID_SRC/tests/soak/soak.py" sample --out "$T/samples" --until "$until" --interval "$SAMPLE" \
	"measured=$WM,$T/cache-measured,$T/measured.log" "peer=$WP,$T/cache-peer,$T/peer.log" &
track $!
SAMPLER=$!
wait "$SUBMITTER" "$STATUS" "$SAMPLER"
end=$(date +%s)

# under AddressSanitizer (make asan) private memory grows by design: soak.py skips those rules
SOAK_SANITIZED=0
ldd "$DGRID" 2>/dev/null | grep -q 'libasan' && SOAK_SANITIZED=1
SOAK_SANITIZED=$SOAK_SANITIZED tap_from_checker python3 "$DGRID_SRC/tests/soak/soak.py" analyze "$T/samples" "$start" "$end"

# the grid still works at the end: the trickle is drained, every task ran once
drained() { [ "$(queue_and_running grid)" -eq 0 ]; }
check "the grid drains within 60s after the trickle stops" wait_until 60 drained
for p in "$WM" "$WP"; do
	kill -TERM "$p" 2>/dev/null
	wait "$p"
	check_eq "worker $p exits 0 on SIGTERM after the soak" 0 $?
done
tap_from_checker python3 "$CHAOS_DIR/check_repo.py" --repo "$SRV/grid.git" \
	--submitted "$T/submitted" --exec-log "$T/exec.log" --nodes measured,peer \
	--expect-status success --exact-once
note "soak: $(wc -l <"$T/submitted") tasks, $(git -C "$SRV/grid.git" rev-list --count main) commits on main"
finish
