#!/usr/bin/env bash
# t0710: the chaos run of issue 9. Several workers drain a stream of tasks
# while machines die, the Git host goes away and refuses pushes, clocks are
# skewed and ids are full of dots and dashes; at the end the repository alone
# must show that every task ended exactly once and nothing was lost.
#
# Faults, drawn at random every 3-6 s during CHAOS_SECONDS:
#   - machine death: SIGKILL of a worker and of the tasks it started; the
#     worker comes back with the same node id, cache and spool after 1-2 s
#     (before node_timeout: it finds its own claims) or 11-13 s (after: the
#     others have reaped them);
#   - the git daemon is stopped for 3 s and restarted on the same port;
#   - throughout, a pre-receive hook refuses CHAOS_REFUSE_PCT % of all pushes
#     (claims, results, heartbeats, submissions) with a host-style message;
#   - every node's clock is skewed by a fixed random amount in [-600, 600] s
#     (DGRID_TEST_CLOCK_SKEW);
#   - node ids w, w-1, w1.example.com, w-2, w.x-3, w_5 and task ids such as
#     t, 1-t, x, 2-x (pairs whose old result names {node}-{task} collide).
# Tasks are submitted with plain git in batches while the faults run. The
# policy (heartbeat_interval 2, node_timeout 8) makes dead workers' tasks
# come back quickly. After the faults, the workers drain the grid and are
# stopped with SIGTERM; tests/chaos/check_repo.py then checks the invariants
# (one terminal result per task, queue and in_progress empty, executions <=
# attempt, no result file ever modified or deleted, nothing lost).
#
# Sizes (the short version runs in `make test`; `make chaos` runs the big one):
#   CHAOS_TASKS (40) CHAOS_WORKERS (4, at most 6) CHAOS_SECONDS (50)
#   CHAOS_DRAIN (90: bound on the drain) CHAOS_REFUSE_PCT (10) CHAOS_SEED
#   CHAOS_NODES (node ids, space-separated, instead of the list above)
#   CHAOS_PROTOCOL (1: heartbeats, node_timeout 8; 2: leases of the tasks'
#   timeout + 8 s and no heartbeats at all)
. "$(dirname "$0")/lib.sh"
. "$DGRID_SRC/tests/chaos/lib.sh"

# make test's run (as t0711's): 40 tasks and 50 s of faults, two thirds of
# the former 60 and 75 s - the same density of tasks and faults, so about
# as many faults strike each task, and the drain stays short; about 10
# faults in all, most of them machine deaths.
TASKS=${CHAOS_TASKS:-40}
WORKERS=${CHAOS_WORKERS:-4}
SECONDS_FAULTS=${CHAOS_SECONDS:-50}
DRAIN=${CHAOS_DRAIN:-90}
REFUSE=${CHAOS_REFUSE_PCT:-10}
SEED=${CHAOS_SEED:-$$}
RANDOM=$SEED
NODE_TIMEOUT=8
ALL_NODES=(w w-1 w1.example.com w-2 w.x-3 w_5)
[ "$WORKERS" -gt 6 ] && WORKERS=6
NODES=("${ALL_NODES[@]:0:$WORKERS}")
# CHAOS_NODES="a b c" replaces the node ids (to tell one defect from another)
[ -n "${CHAOS_NODES:-}" ] && read -ra NODES <<<"$CHAOS_NODES"
note "chaos: seed $SEED, $TASKS tasks, $WORKERS workers (${NODES[*]}), ${SECONDS_FAULTS}s of faults, ${REFUSE}% pushes refused"

declare -a WPID RESTART_AT LIFE SKEW
stop_all() {
	local i
	for i in "${!WPID[@]}"; do
		[ -n "${WPID[$i]}" ] && kill -9 "${WPID[$i]}" 2>/dev/null
	done
	kill_leftover_tasks
}
trap 'stop_all; _cleanup' EXIT

mkdir -p "$SRV" "$T/logs"
: >"$T/exec.log"
: >"$T/submitted"
: >"$T/pushes.log"
chaos_daemon_start
PROTOCOL=${CHAOS_PROTOCOL:-1}
if [ "$PROTOCOL" -ge 2 ]; then
	chaos_repo grid "{\"protocol\": $PROTOCOL, \"lease_margin\": $NODE_TIMEOUT}"
else
	chaos_repo grid "{\"heartbeat_interval\": 2, \"node_timeout\": $NODE_TIMEOUT}"
fi
note "chaos: protocol $PROTOCOL"
chaos_hook grid "$REFUSE"

# -- task ids: the colliding and dashed ones first, then numbered ones
ids=(t 1-t x 2-x a_b-c t-1)
for ((i = ${#ids[@]}; i < TASKS; i++)); do
	if ((i % 2)); then ids+=("$(printf '%03d-c' "$i")"); else ids+=("$(printf 'c-%03d' "$i")"); fi
done
ids=("${ids[@]:0:$TASKS}")
# a third now, the rest in batches of 10 spread over the first 2/3 of the faults
first=$((TASKS / 3))
chaos_submit grid batch-0 1 "${ids[@]:0:$first}" || fail "could not submit the first batch"
next=$first batch=1
batches_left=$(( (TASKS - first + 9) / 10 ))
gap=$(( batches_left > 0 ? SECONDS_FAULTS * 2 / 3 / batches_left : 1 ))
[ "$gap" -lt 1 ] && gap=1

# alive PID: running, not a zombie
alive() { [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

start_worker() { # INDEX
	local i=$1 n=${NODES[$1]}
	LIFE[$i]=$(( ${LIFE[$i]:-0} + 1 ))
	DGRID_TEST_CLOCK_SKEW=${SKEW[$i]} DGRID_CACHE=$T/cache-$n DGRID_SPOOL=$T/spool-$n \
		PULL_INTERVAL=1 HEARTBEAT_INTERVAL=2 LOG_LEVEL=debug DGRID_NET_TIMEOUT=10 \
		"$DGRID" worker --repo "$URL" --node-id "$n" --slots 2 --executor process \
		--http off --grace 2 >"$T/logs/$n.${LIFE[$i]}.log" 2>&1 &
	WPID[$i]=$!
	RESTART_AT[$i]=0
}

for i in "${!NODES[@]}"; do
	SKEW[$i]=$(( RANDOM % 1201 - 600 ))
	note "node ${NODES[$i]}: clock skew ${SKEW[$i]}s"
	start_worker "$i"
done

kills=0 quick=0 late=0 outages=0 self_exits=()
t_start=$(date +%s)
t_end=$((t_start + SECONDS_FAULTS))
next_fault=$((t_start + 3 + RANDOM % 4))
next_batch=$((t_start + gap))

kill_one() { # INDEX
	local i=$1
	machine_death "${WPID[$i]}"
	WPID[$i]=
	kills=$((kills + 1))
	if ((RANDOM % 2)); then
		RESTART_AT[$i]=$(( $(date +%s) + 1 + RANDOM % 2 )); quick=$((quick + 1))
	else
		RESTART_AT[$i]=$(( $(date +%s) + NODE_TIMEOUT + 3 + RANDOM % 3 )); late=$((late + 1))
	fi
}
outage() {
	chaos_daemon_stop
	sleep 3
	chaos_daemon_start
	outages=$((outages + 1))
}
running_idx() { # prints the indexes of the running workers
	local i
	for i in "${!NODES[@]}"; do [ -n "${WPID[$i]}" ] && echo "$i"; done
}
# Workers that died by themselves are a defect; restart them and remember.
reap_self_exits() {
	local i rc
	for i in "${!NODES[@]}"; do
		if [ -n "${WPID[$i]}" ] && ! alive "${WPID[$i]}"; then
			wait "${WPID[$i]}"; rc=$?
			self_exits+=("${NODES[$i]} life ${LIFE[$i]} (status $rc: $(tail -1 "$T/logs/${NODES[$i]}.${LIFE[$i]}.log" | cut -c1-160))")
			WPID[$i]=
			RESTART_AT[$i]=$(( $(date +%s) + 1 ))
		fi
	done
}

# -- the fault phase (bounded by time; every step is bounded too)
while now=$(date +%s); [ "$now" -lt "$t_end" ]; do
	reap_self_exits
	for i in "${!NODES[@]}"; do
		if [ -z "${WPID[$i]}" ] && [ "${RESTART_AT[$i]}" -gt 0 ] && [ "$now" -ge "${RESTART_AT[$i]}" ]; then
			start_worker "$i"
		fi
	done
	if [ "$next" -lt "$TASKS" ] && [ "$now" -ge "$next_batch" ]; then
		chaos_submit grid "batch-$batch" 1 "${ids[@]:$next:10}" || fail "could not submit batch-$batch"
		next=$((next + 10)) batch=$((batch + 1)) next_batch=$((now + gap))
	fi
	if [ "$now" -ge "$next_fault" ]; then
		mapfile -t up < <(running_idx)
		r=$((RANDOM % 100))
		if [ "$r" -lt 65 ] && [ "${#up[@]}" -ge 2 ]; then
			kill_one "${up[RANDOM % ${#up[@]}]}"
		elif [ "$r" -lt 85 ]; then
			outage
		fi
		next_fault=$(( $(date +%s) + 3 + RANDOM % 4 ))
	fi
	sleep 0.5
done
# every kind of fault at least once, whatever the dice said
[ "$kills" -eq 0 ] && kill_one 0
[ "$outages" -eq 0 ] && outage
while [ "$next" -lt "$TASKS" ]; do
	chaos_submit grid "batch-$batch" 1 "${ids[@]:$next:10}" || fail "could not submit batch-$batch"
	next=$((next + 10)) batch=$((batch + 1))
done
note "faults over after $(( $(date +%s) - t_start ))s: $kills machine deaths ($quick back before node_timeout, $late after), $outages git daemon outages"

# -- drain: everybody back, no more faults (the hook still refuses)
reap_self_exits
for i in "${!NODES[@]}"; do [ -z "${WPID[$i]}" ] && start_worker "$i"; done
drained() {
	local i
	reap_self_exits
	for i in "${!NODES[@]}"; do [ -z "${WPID[$i]}" ] && start_worker "$i"; done
	[ "$(queue_and_running grid)" -eq 0 ]
}
t_drain=$(date +%s)
check "the grid drains (queue and in_progress empty) within ${DRAIN}s after the faults" wait_until "$DRAIN" drained
note "drain took $(( $(date +%s) - t_drain ))s; $(queue_and_running grid) files left in queue/in_progress"
# let spooled results of the last steps reach the remote: wait (up to 10 s,
# where a fixed 3 s used to be) until no task runs and every spool is empty
settled() { ! pgrep -f "$T/exec.log" >/dev/null && ! compgen -G "$T/spool-*/*.json" >/dev/null; }
wait_until 10 settled || note "after 10 s, tasks still run or results are still spooled"
# a node restarted for the drain may still be starting (slow under the
# sanitizers): the stop is for workers in their loop
in_loop() {
	local i
	for i in "${!NODES[@]}"; do
		[ -z "${WPID[$i]}" ] || grep -q ' event=started ' "$T/logs/${NODES[$i]}.${LIFE[$i]}.log" || return 1
	done
}
wait_until 30 in_loop || note "after 30 s, a worker is still starting"
for i in "${!NODES[@]}"; do [ -n "${WPID[$i]}" ] && kill -TERM "${WPID[$i]}"; done
bad_stop=()
for i in "${!NODES[@]}"; do
	[ -n "${WPID[$i]}" ] || continue
	STOP_PID=${WPID[$i]}
	stopped() { ! alive "$STOP_PID"; }
	wait_until 20 stopped || kill -9 "$STOP_PID" 2>/dev/null
	wait "$STOP_PID"; rc=$?
	[ "$rc" -eq 0 ] || bad_stop+=("${NODES[$i]} status $rc")
	WPID[$i]=
done
check_eq "every worker stops with status 0 on SIGTERM at the end" "" "${bad_stop[*]}"
check_eq "no worker exited by itself during the run" "" "${self_exits[*]}"
kill_leftover_tasks

# -- the faults really happened
check "machines died ($kills) and came back" test "$kills" -ge 1
check "the git daemon was stopped and restarted ($outages times)" test "$outages" -ge 1
refused=$(grep -c ' refused$' "$T/pushes.log")
accepted=$(grep -c ' accepted$' "$T/pushes.log")
check "the hook refused pushes ($refused refused, $accepted accepted)" test "$refused" -ge 1
check_eq "all $TASKS tasks were submitted" "$TASKS" "$(sort -u "$T/submitted" | wc -l)"

# -- the invariants, from the repository alone
tap_from_checker python3 "$CHAOS_DIR/check_repo.py" --repo "$SRV/grid.git" \
	--submitted "$T/submitted" --exec-log "$T/exec.log" --nodes "$(IFS=,; echo "${NODES[*]}")" \
	--expect-status success,abandoned

crash=$(grep -EIl 'crit|fatal|segv|abort|AddressSanitizer|runtime error' "$T"/logs/*.log | xargs -r -n1 basename | tr '\n' ' ')
check_eq "no crash in any worker log" "" "$crash"
ev() { cat "$T"/logs/*.log | grep -c "event=$1"; }
note "chaos: pushes accepted $accepted refused $refused; commits on main $(git -C "$SRV/grid.git" rev-list --count main)"
note "chaos: events claimed $(ev claimed) adopted $(ev adopted) reaped $(ev reaped) abandoned $(ev abandoned) superseded $(ev superseded) remote-error $(ev remote-error) contention $(ev contention) reap-skip $(ev reap-skip)"
note "chaos: worker lives $(ls "$T/logs" | wc -l), total $(( $(date +%s) - t_start ))s"
finish
