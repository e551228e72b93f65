/*
 * exec_native.c - executor "native": Linux namespaces, a fresh read-only
 * root, cgroups, rlimits, no capabilities and a seccomp filter (see
 * src/sandbox/sandbox.h for the pieces and doc/sandbox.md for what it does
 * and does not protect against). This file is the parent's side.
 */
#include "common.h"
#include "error.h"
#include "exec.h"
#include "exec_child.h"
#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern const struct dg_executor dg_executor_native;

struct native_job {
	struct dg_cgroup cg;
	int status_fd;
};

static int write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];
	int fd, ret = 0;
	size_t len = strlen(text);

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, text, len) != (ssize_t)len)
		ret = -1;
	close(fd);
	return ret;
}

static int make_plan(struct dg_sandbox_plan *plan, const struct dg_job *job)
{
	const char *rootfs = getenv("DGRID_ROOTFS");
	uint64_t inodes;

	memset(plan, 0, sizeof(*plan));
	plan->limits = &job->limits;
	if (rootfs && *rootfs) {
		struct stat st;

		if (rootfs[0] != '/' || stat(rootfs, &st) < 0 || !S_ISDIR(st.st_mode)) {
			dg_error_set("DGRID_ROOTFS '%s' is not an absolute path to a directory",
				     rootfs);
			return DG_EINVALID;
		}
		snprintf(plan->rootfs, sizeof(plan->rootfs), "/oldroot%s", rootfs);
	} else {
		snprintf(plan->rootfs, sizeof(plan->rootfs), "/oldroot");
	}
	/* one inode per 4 KiB of /tmp, within sane bounds */
	inodes = job->limits.tmp_bytes ? job->limits.tmp_bytes / 4096 : 16384;
	if (inodes < 64)
		inodes = 64;
	if (inodes > 1u << 20)
		inodes = 1u << 20;
	snprintf(plan->tmp_opts, sizeof(plan->tmp_opts), "size=%" PRIu64 ",nr_inodes=%" PRIu64 ",mode=1777",
		 job->limits.tmp_bytes ? job->limits.tmp_bytes : (uint64_t)64 << 20, inodes);
	return dg_sandbox_seccomp(&plan->seccomp);
}

static int native_spawn(struct dg_job *job, const char *script)
{
	struct native_job *nj = dg_xcalloc(1, sizeof(*nj));
	struct dg_sandbox_plan plan;
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, rep[2] = { -1, -1 };
	int status[2] = { -1, -1 }, sync[2] = { -1, -1 }, devnull = -1, script_fd = -1;
	int ret = DG_ERROR;
	char map[64];
	sigset_t saved;
	pid_t pid = -1;

	nj->status_fd = -1;
	if ((ret = make_plan(&plan, job)) < 0)
		goto out;
	ret = DG_ERROR;
	if (dg_child_script_open(&script_fd, script) < 0)
		goto out;
	if (dg_cgroup_create(&nj->cg, &job->limits) < 0)
		goto out;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    pipe2(rep, O_CLOEXEC) < 0 || pipe2(status, O_CLOEXEC) < 0 ||
	    pipe2(sync, O_CLOEXEC) < 0) {
		dg_error_set("cannot create the sandbox's pipes: %s", strerror(errno));
		goto out;
	}
	plan.fds[DG_SB_FD_STDIN] = devnull;
	plan.fds[DG_SB_FD_STDOUT] = out[1];
	plan.fds[DG_SB_FD_STDERR] = err[1];
	plan.fds[DG_SB_FD_SCRIPT] = script_fd;
	plan.fds[DG_SB_FD_REPORT] = rep[1];
	plan.fds[DG_SB_FD_STATUS] = status[1];
	plan.fds[DG_SB_FD_SYNC] = sync[0];

	dg_block_signals(&saved);
	pid = dg_sandbox_clone(&plan);
	dg_restore_signals(&saved);
	if (pid < 0) {
		dg_error_set("cannot clone into new namespaces: %s", strerror(errno));
		goto out;
	}
	close(rep[1]);
	rep[1] = -1;
	close(sync[0]);
	sync[0] = -1;
	/*
	 * Sandbox ids 0-65535 are host ids 100000-165535: never host root, never
	 * the worker. setgroups stays allowed so that the child can drop the
	 * supplementary groups it inherited from us (host gid 0) first thing.
	 */
	snprintf(map, sizeof(map), "0 %u %u\n", DG_SANDBOX_HOST_ID, DG_SANDBOX_ID_COUNT);
	if (write_proc(pid, "uid_map", map) < 0 || write_proc(pid, "gid_map", map) < 0) {
		dg_error_set("cannot write the sandbox's id maps: %s", strerror(errno));
		goto fail_child;
	}
	if (dg_cgroup_add(&nj->cg, pid) < 0)
		goto fail_child;
	if (write(sync[1], "g", 1) != 1) {
		dg_error_set("cannot release the sandbox: %s", strerror(errno));
		goto fail_child;
	}
	close(sync[1]);
	sync[1] = -1;
	if (dg_child_read_error(rep[0], "cannot set up the sandbox") < 0)
		goto fail_child;
	job->pid = pid;
	job->out_fd = out[0];
	job->err_fd = err[0];
	nj->status_fd = status[0];
	out[0] = err[0] = status[0] = -1;
	fcntl(job->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(job->err_fd, F_SETFL, O_NONBLOCK);
	fcntl(nj->status_fd, F_SETFL, O_NONBLOCK);
	job->impl = nj;
	nj = NULL;
	ret = 0;
	goto out;
fail_child:
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0) close(out[i]);
		if (err[i] >= 0) close(err[i]);
		if (rep[i] >= 0) close(rep[i]);
		if (status[i] >= 0) close(status[i]);
		if (sync[i] >= 0) close(sync[i]);
	}
	if (devnull >= 0)
		close(devnull);
	if (script_fd >= 0)
		close(script_fd);
	if (nj) {
		dg_cgroup_kill(&nj->cg);
		dg_cgroup_remove(&nj->cg);
		free(nj);
	}
	return ret;
}

static void native_kill(struct dg_job *job)
{
	struct native_job *nj = job->impl;

	/* PID 1 of the namespace: the kernel kills the rest with it */
	if (job->pid > 0)
		kill(job->pid, SIGKILL);
	if (nj)
		dg_cgroup_kill(&nj->cg);
}

static void native_cleanup(struct dg_job *job)
{
	struct native_job *nj = job->impl;
	int st;

	if (!nj)
		return;
	/* the reaper passes on how the task ended (a signal, not 128+N) */
	if (WIFEXITED(job->wait_status) &&
	    read(nj->status_fd, &st, sizeof(st)) == (ssize_t)sizeof(st))
		job->wait_status = st;
	close(nj->status_fd);
	dg_cgroup_kill(&nj->cg);
	dg_cgroup_remove(&nj->cg);
	free(nj);
	job->impl = NULL;
}

static int native_probe(struct dg_strbuf *why)
{
	struct dg_exec_limits lim = DG_EXEC_LIMITS_INIT;
	struct dg_exec_result res = DG_EXEC_RESULT_INIT;
	int ret;

	if (dg_cgroup_detect(why) < 0)
		return DG_ENOTFOUND;
	lim.timeout_ms = 10000;
	ret = dg_exec_run(&dg_executor_native, "exit 7", &lim, &res);
	if (ret < 0) {
		dg_strbuf_addstr(why, dg_error_last());
	} else if (res.exit_code != 7) {
		dg_strbuf_addf(why, "a test sandbox ended with status %d: %.200s",
			       res.exit_code, res.err.buf);
		ret = DG_ERROR;
	}
	dg_exec_result_release(&res);
	return ret;
}

const struct dg_executor dg_executor_native = {
	.name = "native",
	.probe = native_probe,
	.spawn = native_spawn,
	.kill = native_kill,
	.cleanup = native_cleanup,
};
