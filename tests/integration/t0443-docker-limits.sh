#!/usr/bin/env bash
# t0404's bombs through the docker executor: processes, threads, memory,
# /tmp, file size, output, CPU time. After each the host keeps working.
. "$(dirname "$0")/lib.sh"
EXECUTOR=docker
. "$(dirname "$0")/sandbox.sh"
. "$(dirname "$0")/docker.sh"
docker_need task

dx fork --timeout 20 --pids 64 'bomb() { bomb | bomb & }; bomb; sleep 2; echo survived'
check "a fork bomb hits the process limit" grep -q 'Cannot fork\|fork' <(errout fork)
check_eq "the fork bomb did not outlive its task (no timeout)" "false" "$(jf fork timed_out)"
host_still_works "fork bomb"

dx threads --timeout 20 --pids 64 'python3 -c "
import threading, time
n = 0
try:
    while True:
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start(); n += 1
except RuntimeError as e:
    print(\"stopped at\", n)
"'
check "a thread bomb is stopped by the pids limit" grep -qE '^stopped at [0-9]{1,2}$' <(out threads)

dx mem --timeout 30 --memory 256m 'python3 -c "
x = bytearray(2 << 30)
for i in range(0, len(x), 4096): x[i] = 1
print(\"ALLOCATED\")
"'
check_eq "a 2 GB allocation under a 256 MB limit is not completed" "" "$(out mem)"
check "the memory bomb ends with an error status" test "$(jf mem exit_code)" -ne 0
host_still_works "memory bomb"

dx fill --tmp 16m 'cat /dev/zero > /tmp/fill; echo "rc=$?"; du -m /tmp/fill | cut -f1'
check "filling /tmp stops at its size" grep -q '^rc=1' <(out fill)
check "/tmp holds at most 16 MB" test "$(out fill | tail -1)" -le 16
check "the error is 'no space left'" grep -q 'No space left' <(errout fill)

dx inodes --tmp 1m 'i=0; while [ $i -lt 100000 ] && touch /tmp/f$i 2>/dev/null; do i=$((i+1)); done; echo $i'
check "creating files in /tmp stops at the inode limit" test "$(out inodes)" -lt 100000

dx big 'head -c 100000000 /dev/zero > /tmp/big; echo "rc=$?"; ls -l /tmp/big | cut -d" " -f5'
check "writing a 100 MB file fails" grep -qv '^rc=0' <(out big | head -1)
check "the file stays under 100 MB" test "$(out big | tail -1)" -lt 100000000

dx yes --timeout 30 'yes dgrid-yes-output'
check_eq "'yes' is killed for its output" "true" "$(jf yes output_limit)"
check_eq "stdout is marked truncated" "true" "$(jf yes stdout_truncated)"
check_eq "stdout is cut at the cap (10240 bytes)" "10240" "$(out yes | wc -c)"

dx cap --output-cap 100 --output-kill 1g 'head -c 5000000 /dev/zero | tr "\0" x; echo done >&2'
check_eq "output above the cap but below the kill limit is counted, not kept" \
	"100 false true" "$(out cap | wc -c) $(jf cap killed) $(jf cap stdout_truncated)"
check_eq "stderr is kept separately" "done" "$(errout cap | tr -d '\n')"

dx cpu --timeout 3 'ulimit -t; python3 -c "
while True: pass"'
check "CPU time is bounded by RLIMIT_CPU (from the timeout)" grep -q "^4$" <(out cpu)
check_eq "no container is left" "" "$(docker_left dgrid-)"
finish
