/*
 * seccomp.c - the syscall filter loaded last before the task's execve.
 *
 * Default allow, with EPERM for what a task never needs and what widens
 * the kernel's attack surface or undoes the other layers (mounts, new
 * namespaces, module loading, tracing, keyrings, bpf, io_uring, clock
 * changes...). Other architectures (32-bit syscalls on x86-64) are killed,
 * so the filter cannot be bypassed through a second syscall table.
 *
 * The filter is compiled once with libseccomp and exported as raw BPF, so
 * the child only needs prctl(): no allocation after clone.
 */
#include "../common.h"
#include "../error.h"
#include "sandbox.h"

#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const denied[] = {
	"mount", "umount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick",
	"move_mount", "open_tree", "mount_setattr", "unshare", "setns",
	"pivot_root", "chroot", "init_module", "finit_module", "delete_module",
	"kexec_load", "kexec_file_load", "reboot", "keyctl", "add_key",
	"request_key", "ptrace", "process_vm_readv", "process_vm_writev", "bpf",
	"perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
	"io_uring_register", "open_by_handle_at", "name_to_handle_at",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "swapon",
	"swapoff", "acct", "quotactl", "quotactl_fd", "lookup_dcookie", "syslog",
	"iopl", "ioperm", "vhangup", "uselib", "nfsservctl", "kcmp",
	"fanotify_init", "pidfd_getfd",
};

static const unsigned long ns_flags[] = {
	CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
	CLONE_NEWNET, CLONE_NEWCGROUP,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct sock_fprog prog;
static char build_error[256];

static int add_rules(scmp_filter_ctx ctx)
{
	int rc;

	for (size_t i = 0; i < DG_ARRAY_SIZE(denied); i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);

		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue; /* not on this architecture */
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0)) < 0)
			return rc;
	}
	/* libc falls back to clone, whose flags the filter can see */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
		return rc;
	for (size_t i = 0; i < DG_ARRAY_SIZE(ns_flags); i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
		if (rc < 0)
			return rc;
	}
	/* pushing input into another terminal, and the Linux console ioctls */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			      SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
	if (rc < 0)
		return rc;
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			      SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX));
	if (rc < 0)
		return rc;
	{
		static const int families[] = { AF_VSOCK, AF_ALG, AF_PACKET };

		for (size_t i = 0; i < DG_ARRAY_SIZE(families); i++) {
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT),
					      SCMP_SYS(socket), 1,
					      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]));
			if (rc < 0)
				return rc;
		}
	}
	/*
	 * personality() is left alone: libseccomp cannot express "neither 0 nor
	 * 0xffffffff" in one rule, and its flags grant no privilege (page zero
	 * stays protected by mmap_min_addr for a task without capabilities).
	 */
	return rc;
}

static void build(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int fd = -1, rc;
	off_t size;

	if (!ctx) {
		snprintf(build_error, sizeof(build_error), "seccomp_init failed");
		return;
	}
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (rc = add_rules(ctx)) < 0) {
		snprintf(build_error, sizeof(build_error), "cannot build the seccomp filter: %s",
			 strerror(-rc));
		goto out;
	}
	fd = memfd_create("dgrid-seccomp", MFD_CLOEXEC);
	if (fd < 0 || (rc = seccomp_export_bpf(ctx, fd)) < 0) {
		snprintf(build_error, sizeof(build_error), "cannot export the seccomp filter");
		goto out;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter)) {
		snprintf(build_error, sizeof(build_error), "bad seccomp filter size");
		goto out;
	}
	prog.filter = dg_xmalloc((size_t)size);
	if (pread(fd, prog.filter, (size_t)size, 0) != size) {
		snprintf(build_error, sizeof(build_error), "cannot read the seccomp filter");
		free(prog.filter);
		prog.filter = NULL;
		goto out;
	}
	prog.len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
}

int dg_sandbox_seccomp(const struct sock_fprog **out)
{
	pthread_once(&once, build);
	if (!prog.filter) {
		dg_error_set("%s", build_error);
		return DG_ERROR;
	}
	*out = &prog;
	return 0;
}
