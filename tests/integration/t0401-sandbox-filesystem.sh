#!/usr/bin/env bash
# The root is read-only, /tmp is the task's own, /proc is masked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sandbox.sh"
need_native

i=0
for d in / /usr /etc /home /bin /lib /dev /proc/sys; do
	i=$((i + 1))
	dx "w$i" "echo x > $d/dgrid-probe && echo WROTE; mkdir $d/dgrid-dir && echo MKDIR; true"
	check_eq "writing into $d fails" "" "$(out "w$i")"
done
check "nothing appeared in the host's /usr" test ! -e /usr/dgrid-probe

dx tmp 'echo hello > /tmp/f && cat /tmp/f && pwd'
check_eq "/tmp is writable and the working directory" "hello
/tmp" "$(out tmp)"

dx mknod 'mknod /tmp/mem c 1 1; echo "rc=$?"; mknod /tmp/sda b 8 0; echo "rc=$?"'
check_eq "mknod of devices is denied" "rc=1
rc=1" "$(out mknod)"

dx devnull 'echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c; ls /dev | tr "\n" " "'
check_eq "/dev has the usual nodes" "4
4
fd full null random stderr stdin stdout urandom zero " "$(out devnull)"

dx kcore 'head -c 16 /proc/kcore | wc -c; echo b > /proc/sysrq-trigger && echo SYSRQ; cat /proc/keys /proc/timer_list 2>/dev/null | wc -c; echo 1 > /proc/sys/kernel/sysrq && echo SYSCTL; true'
check_eq "/proc/kcore, keys, timer_list read nothing; sysrq-trigger and /proc/sys are not writable" "0
0" "$(out kcore)"

dx suid 'find / -xdev -perm -4000 -type f 2>/dev/null | head -3; grep -E " / | /usr " /proc/mounts | grep -c nosuid'
check "system mounts are nosuid" grep -q '^[1-9]' <(out suid)

# two tasks at once do not share /tmp
dx tmpA 'echo "private-A-$$" > /tmp/a; sleep 2; ls /tmp' & pa=$!
sleep 0.5
dx tmpB 'ls -a /tmp; cat /tmp/a 2>&1; echo done'
wait $pa
check_eq "a concurrent task sees an empty /tmp" ".
..
cat: /tmp/a: No such file or directory
done" "$(out tmpB)"
check_eq "the first task still had its file" "a" "$(out tmpA | tr -d '\n')"
finish
