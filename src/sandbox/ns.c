/*
 * ns.c - the child side of the native sandbox.
 *
 * clone() with new user, PID, network, mount, IPC, UTS and cgroup
 * namespaces gives a child that is PID 1 of its own PID namespace. It waits
 * until the parent wrote its id maps and put it in the job's cgroup, builds
 * the root file system, then forks the task and stays as its reaper: when
 * the task ends it exits with the task's status, and the kernel kills
 * whatever else is left in the namespace (a PID namespace dies with its
 * init). Killing this one process is killing the whole tree.
 *
 * The task: rlimits, every capability dropped (bounding set, sets,
 * ambient), uid/gid 1000, no_new_privs, then the seccomp filter last, then
 * execve of `sh -c '. /dev/fd/3' sh` (the script's memfd, see exec.h) with
 * PATH, HOME=/tmp and LANG only.
 */
#include "../common.h"
#include "../exec_child.h"
#include "sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

const struct dg_sandbox_ns dg_sandbox_namespaces[7] = {
	{ CLONE_NEWUSER, "user" }, { CLONE_NEWPID, "pid" }, { CLONE_NEWNET, "net" },
	{ CLONE_NEWNS, "mount" }, { CLONE_NEWIPC, "ipc" }, { CLONE_NEWUTS, "uts" },
	{ CLONE_NEWCGROUP, "cgroup" },
};

#define FAIL(step) dg_child_fail(DG_SB_FD_REPORT, (step), errno)

static void loopback_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
}

static int drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -1;
	return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

static int drop_bounding_set(void)
{
	for (int cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	}
	return 0;
}

static _Noreturn void run_task(const struct dg_sandbox_plan *plan)
{
	char *argv[] = DG_TASK_SH_ARGV;
	char *envp[] = { (char *)DG_TASK_PATH, (char *)"HOME=/tmp", (char *)DG_TASK_LANG, NULL };
	const char *step;

	/* the task must not inherit the reaper's status pipe; the report pipe
	 * closes at execve, which tells the parent that exec succeeded */
	if (fcntl(DG_SB_FD_STATUS, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(DG_SB_FD_REPORT, F_SETFD, FD_CLOEXEC) < 0)
		FAIL("set close-on-exec");
	if (setsid() < 0)
		FAIL("setsid");
	if (chdir("/tmp") < 0)
		FAIL("chdir /tmp");
	if ((step = dg_child_rlimits(plan->limits)))
		FAIL(step);
	if (drop_bounding_set() < 0)
		FAIL("drop the capability bounding set");
	if (setresgid(DG_SANDBOX_GID, DG_SANDBOX_GID, DG_SANDBOX_GID) < 0)
		FAIL("setresgid");
	if (setresuid(DG_SANDBOX_UID, DG_SANDBOX_UID, DG_SANDBOX_UID) < 0)
		FAIL("setresuid");
	if (drop_capabilities() < 0)
		FAIL("drop capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		FAIL("no_new_privs");
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, plan->seccomp, 0, 0) < 0)
		FAIL("load the seccomp filter");
	execve("/bin/sh", argv, envp);
	FAIL("execve /bin/sh");
}

static _Noreturn void reaper(pid_t task)
{
	int st;

	close(DG_SB_FD_REPORT);
	close(DG_SB_FD_STDIN);
	close(DG_SB_FD_SCRIPT);
	/* a copy of the worker's memory: not for the task to read */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* the reaper needs no privilege from here on */
	drop_bounding_set();
	drop_capabilities();
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	for (;;) {
		pid_t p = waitpid(-1, &st, 0);

		if (p < 0) {
			if (errno == EINTR)
				continue;
			_exit(127);
		}
		if (p != task)
			continue;
		if (write(DG_SB_FD_STATUS, &st, sizeof(st)) < 0) {
			/* the parent then sees the plain exit code */
		}
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
}

static _Noreturn void child(const struct dg_sandbox_plan *plan)
{
	const char *step = NULL;
	char c;
	pid_t task;

	/* dies with the worker; the sync byte below closes the race */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	dg_child_reset_signals();
	if (dg_child_arrange_fds(plan->fds, DG_SB_NFDS) < 0)
		dg_child_fail(plan->fds[DG_SB_FD_REPORT], "arrange fds", errno);
	if (read(DG_SB_FD_SYNC, &c, 1) != 1)
		_exit(127);
	close(DG_SB_FD_SYNC);
	/* host root's supplementary groups must not follow the task inside */
	if (setgroups(0, NULL) < 0)
		FAIL("setgroups");
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		FAIL("become root of the user namespace");
	/*
	 * Changing credentials cleared the parent-death signal (prctl(2)):
	 * set it again, then make sure the worker did not die in between -
	 * its end of the status pipe would be closed (POLLERR on ours).
	 */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	{
		struct pollfd p = { .fd = DG_SB_FD_STATUS, .events = POLLOUT };
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)))
			_exit(127);
	}
	if (sethostname("dgrid", 5) < 0)
		FAIL("sethostname");
	loopback_up();
	if (dg_sandbox_mount_root(plan, &step) < 0)
		FAIL(step);
	task = fork();
	if (task < 0)
		FAIL("fork the task");
	if (task == 0)
		run_task(plan);
	reaper(task);
}

pid_t dg_sandbox_clone(const struct dg_sandbox_plan *plan)
{
	unsigned long flags = SIGCHLD;
	pid_t pid;

	for (size_t i = 0; i < DG_ARRAY_SIZE(dg_sandbox_namespaces); i++)
		flags |= (unsigned long)dg_sandbox_namespaces[i].flag;
	/* fork-like clone (no new stack): the child runs on a copy of ours */
	pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (pid == 0)
		child(plan);
	return pid;
}
