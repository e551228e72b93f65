#!/usr/bin/env bash
# The whole process tree dies with the task: daemons, signal-ignoring
# processes, kill -9 -1, the timeout. Checked on the host with pgrep for a
# marker no other process has.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sandbox.sh"
need_native

mark() { echo "1000.$$$RANDOM"; }
left() { pgrep -f "sleep $1" >/dev/null && echo running || echo gone; }

m=$(mark)
dx daemon "(setsid sleep $m &) ; (nohup sleep $m >/dev/null 2>&1 &); echo started"
check_eq "a setsid daemon task ends" "started" "$(out daemon | tr -d '\n')"
sleep 0.2
check_eq "the setsid/nohup sleepers died with the task" "gone" "$(left "$m")"

m=$(mark)
start=$(date +%s%N)
dx trap --timeout 2 "trap '' TERM HUP INT; sleep $m & sleep $m; wait"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check_eq "a task ignoring TERM times out" "true" "$(jf trap timed_out)"
check_eq "... and is killed" "true 9" "$(jf trap killed) $(jf trap term_signal)"
check "... in about 2 s (${ms} ms)" test "$ms" -lt 4000
check_eq "nothing of it is left on the host" "gone" "$(left "$m")"

m=$(mark)
dx killall "sleep $m & kill -9 -1; echo after; sleep 0.2"
check_eq "kill -9 -1 inside kills only the task's own processes" "gone" "$(left "$m")"
host_still_works "kill -9 -1"

start=$(date +%s%N)
dx timeout --timeout 2 'sleep 60'
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check_eq "sleep 60 with a 2 s timeout is timed out" "true" "$(jf timeout timed_out)"
check "... after about 2 s (${ms} ms, duration_ms $(jf timeout duration_ms))" \
	test "$ms" -ge 1900 -a "$ms" -lt 3500
check_eq "... exit code 137" "137" "$(jf timeout exit_code)"

dx sig 'kill -TERM $$'
check_eq "a task killed by a signal reports it" "15 143" "$(jf sig term_signal) $(jf sig exit_code)"

dx code 'exit 42'
check_eq "the exit status passes through" "42 0 false" \
	"$(jf code exit_code) $(jf code term_signal) $(jf code killed)"

# no cgroup of ours stays behind: they are named dgrid-<pid>-<n>, and other
# dgrid processes on this machine may have theirs
"$DGRID" exec --executor native --timeout 1 'sleep 1 & sleep 5' >/dev/null 2>&1 &
pid=$!
wait $pid
check_eq "job cgroups are removed, after a timeout too" "" \
	"$(find /sys/fs/cgroup -maxdepth 5 -name "dgrid-$pid-*" -type d 2>/dev/null | head -3)"
finish
