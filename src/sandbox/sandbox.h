/*
 * sandbox.h - the pieces of the native executor, one concern per file:
 *
 *   ns.c       clone into new namespaces, the PID-1 reaper, dropping
 *              privileges and exec of the task (child side)
 *   mounts.c   the fresh read-only root (child side)
 *   seccomp.c  the syscall filter, compiled once in the parent
 *   cgroup.c   per-job memory, pids and cpu cgroups (parent side);
 *              cgroup_v2.c the delegated v2 subtree
 *
 * Everything the child needs is prepared by the parent in a struct
 * dg_sandbox_plan before clone, so the child only makes system calls.
 */
#ifndef DG_SANDBOX_H
#define DG_SANDBOX_H

#include "../common.h"
#include "../exec.h"
#include "../strbuf.h"

#include <limits.h>
#include <linux/filter.h>

/* Sandbox ids 0..65535 map to host ids from here: never host root or the worker. */
#define DG_SANDBOX_HOST_ID 100000u
#define DG_SANDBOX_ID_COUNT 65536u
/* The identity of the task inside. */
#define DG_SANDBOX_UID 1000
#define DG_SANDBOX_GID 1000

/* Descriptors of the child after it arranged them. */
enum dg_sandbox_fd {
	DG_SB_FD_STDIN, DG_SB_FD_STDOUT, DG_SB_FD_STDERR,
	DG_SB_FD_SCRIPT,   /* the sealed script memfd, DG_TASK_SCRIPT_FD (exec.h) */
	DG_SB_FD_REPORT,   /* close-on-exec: struct dg_child_error on failure */
	DG_SB_FD_STATUS,   /* the reaper writes the task's wait status here */
	DG_SB_FD_SYNC,     /* one byte from the parent once ids and cgroups are set */
	DG_SB_NFDS
};

struct dg_sandbox_plan {
	const struct dg_exec_limits *limits;
	const struct sock_fprog *seccomp;
	char rootfs[PATH_MAX];  /* where /usr etc. come from, seen from inside ("/oldroot...") */
	char tmp_opts[128];     /* tmpfs options of the task's /tmp */
	int fds[DG_SB_NFDS];    /* parent's descriptors, in enum order */
};

/* ns.c: starts the child in new namespaces; it never returns in the child. */
pid_t dg_sandbox_clone(const struct dg_sandbox_plan *plan);
/* Namespace flags used (doctor probes each). */
extern const struct dg_sandbox_ns {
	int flag;
	const char *name;
} dg_sandbox_namespaces[7];

/* mounts.c: builds and enters the new root. -1 with *step set and errno. */
int dg_sandbox_mount_root(const struct dg_sandbox_plan *plan, const char **step);

/* seccomp.c: the compiled filter (built once, shared, never freed). */
int dg_sandbox_seccomp(const struct sock_fprog **out);

/* cgroup.c: one cgroup per job, below the worker's own. */
struct dg_cgroup {
	int version;             /* 0 none, 1 or 2 */
	char dirs[3][PATH_MAX];  /* v1: memory, pids, cpu; v2: one */
	int ndirs;
};
/* Which hierarchy is usable: 2, 1, or negative with the reason in *why. */
int dg_cgroup_detect(struct dg_strbuf *why);
/* v2: delegates the worker's subtree first, once per process (below). */
int dg_cgroup_create(struct dg_cgroup *cg, const struct dg_exec_limits *lim);
int dg_cgroup_add(struct dg_cgroup *cg, pid_t pid);
/* cgroup.kill where the kernel has it, else SIGKILL to each listed pid. */
void dg_cgroup_kill(struct dg_cgroup *cg);
/* rmdir, retried while the last processes die. */
void dg_cgroup_remove(struct dg_cgroup *cg);
/*
 * Lines for dgrid doctor: "mode: v2 ..." / "mode: v1 ..." / "mode: none:
 * why" (for v2 this runs the delegation), then what each hierarchy offers.
 */
void dg_cgroup_report(struct dg_strbuf *out);

/*
 * cgroup_v2.c: a delegated cgroup v2 subtree, the way systemd, runc and crun
 * use one. The file system root and the text of /proc/self/cgroup are
 * parameters so that tests run the whole logic on a mock tree (regular
 * files standing for the control files).
 *
 * dg_cgroup_v2_delegate(), for the process pid whose /proc/self/cgroup
 * reads self_cgroup ("0::/system.slice/dgrid.service"):
 *   1. own = mount + that path; memory and pids must be listed in its
 *      cgroup.controllers (cpu is used when listed), else DG_ENOTFOUND;
 *   2. if own/cgroup.procs lists any process, the "no internal processes"
 *      rule forbids enabling controllers there: mkdir own/worker (an
 *      existing one is reused) and write pid into own/worker/cgroup.procs;
 *   3. write "+memory +pids +cpu" (those listed in cgroup.controllers and
 *      not yet in cgroup.subtree_control; one write) into
 *      own/cgroup.subtree_control.
 * EACCES, EPERM or EROFS in 2 or 3 mean the subtree is not ours: the message
 * says "cgroup v2 subtree '/system.slice/dgrid.service' is not delegated;
 * set Delegate=yes". Nothing is undone on failure (a leaf stays; harmless).
 *
 * dg_cgroup_v2_create() makes v2->base/name (an existing, empty one is
 * reused: a crashed worker with the same pid may have left it) and writes
 * memory.max, memory.swap.max 0 (when the file exists), pids.max and
 * cpu.max (when cpu is enabled) from lim.
 *
 * dg_cgroup_create() runs the delegation on the real /sys/fs/cgroup once
 * per process (the outcome, success or error, is kept) and names task
 * cgroups "dgrid-<pid>-<n>".
 */
#define DG_CGROUP_V2_LEAF "worker"

struct dg_cgroup_v2 {
	char own[PATH_MAX];        /* the delegated cgroup, "/system.slice/dgrid.service" */
	char base[PATH_MAX];       /* mount + own: task cgroups are made here */
	char leaf[PATH_MAX];       /* where the worker moved itself; "" if it did not */
	char controllers[64];      /* enabled for the tasks: "memory pids cpu" */
};

int dg_cgroup_v2_delegate(struct dg_cgroup_v2 *out, const char *mount,
			  const char *self_cgroup, pid_t pid);
int dg_cgroup_v2_create(struct dg_cgroup *cg, const struct dg_cgroup_v2 *v2,
			const char *name, const struct dg_exec_limits *lim);

#endif
