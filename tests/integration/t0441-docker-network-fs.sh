#!/usr/bin/env bash
# t0400 and t0401's attacks through the docker executor: no route out, no
# host loopback or abstract unix socket, no DNS; a read-only root, a private
# /tmp, masked /proc files, no device nodes.
. "$(dirname "$0")/lib.sh"
EXECUTOR=docker
. "$(dirname "$0")/sandbox.sh"
. "$(dirname "$0")/docker.sh"
docker_need task

dx public 'python3 -c "
import socket
for a in ((\"1.1.1.1\", 53), (\"8.8.8.8\", 443)):
    try:
        socket.create_connection(a, timeout=3); print(\"CONNECTED\")
    except OSError as e: print(\"failed\", e.errno)
"'
check_eq "connecting to public addresses fails" "failed 101
failed 101" "$(out public)"

port=$(free_port)
name="dgrid-test-$$-$RANDOM"
check "a host 127.0.0.1 listener is listening" host_listener tcp "$port" "$T/accepted"
check "a host abstract unix listener is listening" host_listener unix "$name" "$T/unix-accepted"
dx loop "python3 -c '
import socket
try:
    socket.create_connection((\"127.0.0.1\", $port), timeout=3); print(\"CONNECTED\")
except OSError as e: print(\"failed\", e.errno)
s=socket.socket(socket.AF_UNIX)
try:
    s.connect(\"\\0$name\"); print(\"CONNECTED\")
except OSError as e: print(\"failed\", e.errno)
'"
check_eq "the host's 127.0.0.1 and abstract unix listeners are unreachable" "failed 111
failed 111" "$(out loop)"
check "... and saw no connection" test ! -e "$T/accepted" -a ! -e "$T/unix-accepted"
check "the tcp listener records a connection from the host" host_connects tcp "$port" "$T/accepted"
check "the unix listener records a connection from the host" host_connects unix "$name" "$T/unix-accepted"

dx dns 'getent hosts example.com; echo "getent=$?"; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "'
check_eq "no name resolves; only a loopback interface exists" "getent=2
lo" "$(out dns)"

i=0
for d in / /usr /etc /home /bin /lib /dev /proc/sys; do
	i=$((i + 1))
	dx "w$i" "echo x > $d/dgrid-probe && echo WROTE; mkdir $d/dgrid-dir && echo MKDIR; true"
	check_eq "writing into $d fails" "" "$(out "w$i")"
done

dx tmp 'echo hello > /tmp/f && cat /tmp/f && pwd'
check_eq "/tmp is writable and the working directory" "hello
/tmp" "$(out tmp)"

dx mknod 'mknod /tmp/mem c 1 1; echo "rc=$?"; mknod /tmp/sda b 8 0; echo "rc=$?"'
check_eq "mknod of devices is denied" "rc=1
rc=1" "$(out mknod)"

dx devnull 'echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c; ls /dev | grep -E "^(sd|vd|nvme|mem|kmem|port|kmsg)" | wc -l'
check_eq "/dev has the usual nodes and no disk or memory device" "4
4
0" "$(out devnull)"

dx kcore 'head -c 16 /proc/kcore | wc -c; echo b > /proc/sysrq-trigger && echo SYSRQ; cat /proc/keys /proc/timer_list 2>/dev/null | wc -c; echo 1 > /proc/sys/kernel/sysrq && echo SYSCTL; true'
check_eq "/proc/kcore, keys, timer_list read nothing; sysrq-trigger and /proc/sys are not writable" "0
0" "$(out kcore)"

dx tmpA 'echo "private-A-$$" > /tmp/a; sleep 3; ls /tmp' & pa=$!
sleep 1.5
dx tmpB 'ls -a /tmp; cat /tmp/a 2>&1; echo done'
wait $pa
check_eq "a concurrent task sees an empty /tmp" ".
..
cat: /tmp/a: No such file or directory
done" "$(out tmpB)"
check_eq "the first task still had its file" "a" "$(out tmpA | tr -d '\n')"
check_eq "no container is left" "" "$(docker_left dgrid-)"
finish
