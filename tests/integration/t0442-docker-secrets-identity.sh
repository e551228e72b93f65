#!/usr/bin/env bash
# t0402 and t0403's attacks through the docker executor: the worker's
# environment, files and descriptors do not reach the task; it runs as uid
# 1000 with no capabilities under Docker's seccomp profile.
. "$(dirname "$0")/lib.sh"
EXECUTOR=docker
. "$(dirname "$0")/sandbox.sh"
. "$(dirname "$0")/docker.sh"
docker_need task

canary="dgridcanary$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
home_file="$HOME/.dgrid-canary-$$"
echo "$canary" >"$home_file"
echo "$canary" >"$T/canary-fd"
trap 'rm -f "$home_file"; _docker_down; _cleanup' EXIT

export CANARY="$canary" GITHUB_TOKEN="$canary" GIT_TOKEN="$canary"
dx leak --output-cap 4m 'env; cat /root/.dgrid-canary* 2>&1; ls -la /root /home 2>&1
cat <&3 2>&1; ls -l /proc/self/fd
for p in /proc/[0-9]*; do cat $p/environ $p/cmdline 2>&1 | tr "\0" " "; echo; done
grep -rs dgridcanary /tmp /etc /root /home 2>/dev/null' 3<"$T/canary-fd"
unset CANARY GITHUB_TOKEN GIT_TOKEN
check "the leak task ran" grep -q PATH= <(out leak)
check "the canary appears in no task output" bash -c "! grep -q '$canary' '$T/leak.json'"

dx env 'env | sort'
check_eq "the environment is HOME, HOSTNAME, LANG, the image's PATH (+ PWD)" \
"HOME=/tmp
HOSTNAME=dgrid
LANG=C.UTF-8
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PWD=/tmp" "$(out env)"

dx ps 'cat /proc/1/comm; for p in /proc/[0-9]*; do cat $p/comm; done'
check_eq "PID 1 is docker-init" "docker-init" "$(out ps | head -1)"
check_eq "only the task's own processes are visible" "" \
	"$(out ps | tail -n +2 | grep -vxE 'docker-init|sh|cat')"

dx who 'id; hostname 2>/dev/null || cat /proc/sys/kernel/hostname'
check_eq "identity is uid 1000 in its own UTS namespace" \
"uid=1000 gid=1000 groups=1000
dgrid" "$(out who)"

dx status 'grep -E "^(Uid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t" " "'
check_eq "uid 1000, no capabilities, no_new_privs, seccomp filter" \
"Uid: 1000 1000 1000 1000
CapInh: 0000000000000000
CapPrm: 0000000000000000
CapEff: 0000000000000000
CapBnd: 0000000000000000
CapAmb: 0000000000000000
NoNewPrivs: 1
Seccomp: 2" "$(out status)"

dx sys 'python3 - <<PYEOF
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def call(name, nr, *args):
    r = libc.syscall(nr, *args)
    print(name, "ok" if r >= 0 else os.strerror(ctypes.get_errno()))
call("mount", 165, b"none", b"/tmp", b"tmpfs", 0, None)
call("umount2", 166, b"/proc", 2)
call("chroot", 161, b"/tmp")
call("pivot_root", 155, b"/tmp", b"/tmp")
call("unshare-user", 272, 0x10000000)
call("unshare-net", 272, 0x40000000)
call("setns", 308, 0, 0)
call("clone-newuser", 56, 0x10000000 | 17, 0, 0, 0, 0)
call("clone-newpid", 56, 0x20000000 | 17, 0, 0, 0, 0)
call("bpf", 321, 0, 0, 0)
call("keyctl", 250, 0, 0)
call("add_key", 248, b"user", b"k", b"v", 1, -2)
call("perf_event_open", 298, 0, 0, -1, -1, 0)
call("userfaultfd", 323, 0)
call("init_module", 175, 0, 0, b"")
call("kexec_load", 246, 0, 0, 0, 0)
call("reboot", 169, 0xfee1dead, 672274793, 0x1234567, 0)
call("settimeofday", 164, 0, 0)
call("open_by_handle_at", 304, 3, 0, 0)
call("fsopen", 430, b"tmpfs", 0)
call("open_tree", 428, -100, b"/", 1)
call("syslog", 103, 3, 0, 0)
call("swapon", 167, b"/tmp/x", 0)
for fam, name in ((40, "vsock"), (38, "alg"), (17, "packet")):
    try: socket.socket(fam, socket.SOCK_DGRAM if fam != 38 else socket.SOCK_SEQPACKET); print("socket-" + name, "ok")
    except OSError as e: print("socket-" + name, "denied")
PYEOF'
got=$(out sys)
note "$(tr '\n' ';' <<<"$got")"
for n in mount umount2 chroot pivot_root unshare-user unshare-net setns clone-newuser \
	clone-newpid bpf keyctl add_key perf_event_open userfaultfd init_module kexec_load \
	reboot settimeofday open_by_handle_at fsopen open_tree syslog swapon; do
	check "$n is denied" grep -qE "^$n (Operation not permitted|Function not implemented)$" <<<"$got"
done
for n in vsock alg packet; do
	check_eq "socket AF_${n^^} is denied" "socket-$n denied" "$(grep "^socket-$n " <<<"$got")"
done

dx setuid 'python3 -c "import os; os.setuid(0)" 2>&1 | tail -1; su -c id root </dev/null 2>&1 | tail -1'
check "setuid(0) fails" grep -q 'Operation not permitted' <(out setuid)
check "su (setuid root) grants nothing" bash -c "! grep -q 'uid=0' <<<'$(out setuid)'"
check_eq "no container is left" "" "$(docker_left dgrid-)"
finish
