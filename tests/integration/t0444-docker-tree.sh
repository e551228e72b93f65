#!/usr/bin/env bash
# t0405 through the docker executor: the whole process tree dies with the
# task (daemons, signal-ignoring processes, kill -9 -1), a timeout kills the
# container, and no container is left. Container processes are visible on
# the host, so pgrep for a marker finds any survivor.
. "$(dirname "$0")/lib.sh"
EXECUTOR=docker
. "$(dirname "$0")/sandbox.sh"
. "$(dirname "$0")/docker.sh"
docker_need task

mark() { echo "1000.$$$RANDOM"; }
left() { pgrep -f "sleep $1" >/dev/null && echo running || echo gone; }

m=$(mark)
dx daemon "(setsid sleep $m &) ; (nohup sleep $m >/dev/null 2>&1 &); echo started"
check_eq "a setsid daemon task ends" "started" "$(out daemon | tr -d '\n')"
check "the setsid/nohup sleepers died with the task" wait_for 10 test "$(left "$m")" = gone

m=$(mark)
dx trap --timeout 2 "trap '' TERM HUP INT; sleep $m & sleep $m; wait"
check_eq "a task ignoring TERM times out" "true" "$(jf trap timed_out)"
check_eq "... and is killed" "true 9" "$(jf trap killed) $(jf trap term_signal)"
check_eq "nothing of it is left on the host" "gone" "$(left "$m")"
check_eq "... and its container is gone" "" "$(docker_left dgrid-)"

m=$(mark)
dx killall "sleep $m & kill -9 -1; echo after; sleep 0.2"
check_eq "kill -9 -1 inside kills only the task's own processes" "gone" "$(left "$m")"
host_still_works "kill -9 -1"

dx timeout --timeout 2 'sleep 60'
check_eq "sleep 60 with a 2 s timeout is timed out, exit code 137" "true 137" \
	"$(jf timeout timed_out) $(jf timeout exit_code)"

# a signal the task sends itself: docker reports it as 128+N (the client
# exits with the container's status; it was not itself signalled)
dx sig 'kill -TERM $$'
check_eq "a task killed by a signal reports exit code 143" "143" "$(jf sig exit_code)"

dx code 'exit 42'
check_eq "the exit status passes through" "42 0 false" \
	"$(jf code exit_code) $(jf code term_signal) $(jf code killed)"
check_eq "no container is left" "" "$(docker_left dgrid-)"
finish
