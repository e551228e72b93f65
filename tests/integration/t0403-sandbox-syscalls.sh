#!/usr/bin/env bash
# No privilege inside: uid 1000, no capabilities, no_new_privs, seccomp; the
# system calls that reach for the kernel's big surfaces are denied.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sandbox.sh"
need_native

dx status 'grep -E "^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t" " "; id -u'
check_eq "uid 1000, no capabilities, no_new_privs, seccomp filter" \
"Uid: 1000 1000 1000 1000
Gid: 1000 1000 1000 1000
CapInh: 0000000000000000
CapPrm: 0000000000000000
CapEff: 0000000000000000
CapBnd: 0000000000000000
CapAmb: 0000000000000000
NoNewPrivs: 1
Seccomp: 2
1000" "$(out status)"

# raw system calls (x86-64 numbers) through ctypes; prints "name errno"
dx sys 'python3 - <<PYEOF
import ctypes, os
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
call("ptrace-attach", 101, 16, 1, 0, 0)
call("ptrace-traceme", 101, 0, 0, 0, 0)
call("bpf", 321, 0, 0, 0)
call("io_uring_setup", 425, 1, 0)
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
call("process_vm_readv", 310, 1, 0, 0, 0, 0, 0)
call("syslog", 103, 3, 0, 0)
call("swapon", 167, b"/tmp/x", 0)
call("ioctl-TIOCSTI", 16, 0, 0x5412, b"x")
import socket
for fam, name in ((40, "vsock"), (38, "alg"), (17, "packet")):
    try: socket.socket(fam, socket.SOCK_DGRAM if fam != 38 else socket.SOCK_SEQPACKET); print("socket-" + name, "ok")
    except OSError as e: print("socket-" + name, "denied")
import sys
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print("fork ok")
PYEOF'
got=$(out sys)
for n in mount umount2 chroot pivot_root unshare-user unshare-net setns clone-newuser \
	clone-newpid ptrace-attach ptrace-traceme bpf io_uring_setup keyctl add_key \
	perf_event_open userfaultfd init_module kexec_load reboot settimeofday \
	open_by_handle_at fsopen open_tree process_vm_readv syslog swapon ioctl-TIOCSTI; do
	check_eq "$n is denied" "$n Operation not permitted" "$(grep "^$n " <<<"$got")"
done
for n in vsock alg packet; do
	check_eq "socket AF_${n^^} is denied" "socket-$n denied" "$(grep "^socket-$n " <<<"$got")"
done
check "plain fork (clone without namespace flags) still works" grep -q '^fork ok' <<<"$got"

dx tools 'unshare -U true 2>&1; echo "unshare=$?"; chroot / true 2>&1; echo "chroot=$?"'
check "the unshare tool fails" grep -q '^unshare=1' <(out tools)
check "the chroot tool fails" grep -qE '^chroot=(1|125)' <(out tools)

dx setuid 'python3 -c "import os; os.setuid(0)" 2>&1 | tail -1; su -c id root </dev/null 2>&1 | tail -1'
check "setuid(0) fails" grep -q 'Operation not permitted' <(out setuid)
finish
