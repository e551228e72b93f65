/*
 * sandbox.h - the pieces of the native executor, one concern per file:
 *
 *   ns.c       clone into new namespaces, the PID-1 reaper, dropping
 *              privileges and exec of the task (child side)
 *   mounts.c   the fresh read-only root (child side)
 *   seccomp.c  the syscall filter, compiled once in the parent
 *   cgroup.c   per-job memory, pids and cpu cgroups (parent side)
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

/* cgroup.c */
struct dg_cgroup {
	int version;             /* 0 none, 1 or 2 */
	char dirs[3][PATH_MAX];  /* v1: memory, pids, cpu; v2: one */
	int ndirs;
};
/* Which hierarchy is usable: 2, 1, or negative with the reason in *why. */
int dg_cgroup_detect(struct dg_strbuf *why);
int dg_cgroup_create(struct dg_cgroup *cg, const struct dg_exec_limits *lim);
int dg_cgroup_add(struct dg_cgroup *cg, pid_t pid);
void dg_cgroup_kill(struct dg_cgroup *cg);
void dg_cgroup_remove(struct dg_cgroup *cg);
/* Lines "cgroup v1 memory: yes" ... for dgrid doctor. */
void dg_cgroup_report(struct dg_strbuf *out);

#endif
