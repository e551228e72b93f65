/*
 * exec_process.c - executor "process": a plain child in its own session and
 * process group. No isolation beyond a scrubbed environment, a private
 * working directory, closed descriptors and rlimits; only used when asked
 * for by name (tests, trusted grids, hosts without any sandbox).
 */
#include "common.h"
#include "error.h"
#include "exec.h"
#include "exec_child.h"
#include "fs.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

struct process_job {
	char dir[64];
	char home[96];
};

static int process_probe(struct dg_strbuf *why DG_UNUSED)
{
	return 0;
}

static int process_spawn(struct dg_job *job, const char *script)
{
	struct process_job *pj = dg_xcalloc(1, sizeof(*pj));
	struct dg_child_io io = DG_CHILD_IO_INIT;
	int ret = DG_ERROR;
	char *argv[] = DG_TASK_SH_ARGV;
	char *envp[] = { (char *)DG_TASK_PATH, pj->home, (char *)DG_TASK_LANG, NULL };
	sigset_t saved;
	pid_t pid;

	memcpy(pj->dir, "/tmp/dgrid-task.XXXXXX", sizeof("/tmp/dgrid-task.XXXXXX"));
	if (!mkdtemp(pj->dir)) {
		dg_error_set("cannot create a task directory: %s", strerror(errno));
		pj->dir[0] = '\0';
		goto out;
	}
	snprintf(pj->home, sizeof(pj->home), "HOME=%s", pj->dir);
	if (dg_child_io_open(&io) < 0 || dg_child_script_open(&io.script, script) < 0)
		goto out;
	dg_block_signals(&saved);
	pid = fork();
	if (pid == 0) {
		const char *step;
		int rep;

		dg_child_reset_signals();
		rep = dg_child_io_enter(&io);
		if (setsid() < 0)
			dg_child_fail(rep, "setsid", errno);
		if (chdir(pj->dir) < 0)
			dg_child_fail(rep, "chdir", errno);
		if ((step = dg_child_rlimits(&job->limits)))
			dg_child_fail(rep, step, errno);
		execve("/bin/sh", argv, envp);
		dg_child_fail(rep, "execve /bin/sh", errno);
	}
	dg_restore_signals(&saved);
	if (pid < 0) {
		dg_error_set("cannot fork the task: %s", strerror(errno));
		goto out;
	}
	if (dg_child_io_start(&io, job, pid, "cannot start the task") < 0)
		goto out;
	job->impl = pj;
	pj = NULL;
	ret = 0;
out:
	dg_child_io_close(&io);
	if (pj) {
		if (pj->dir[0])
			dg_fs_rmtree(pj->dir);
		free(pj);
	}
	return ret;
}

static void process_kill(struct dg_job *job)
{
	/* the child leads its group; a task that called setsid escapes it */
	if (job->pid > 0) {
		killpg(job->pid, SIGKILL);
		kill(job->pid, SIGKILL);
	}
}

static void process_cleanup(struct dg_job *job)
{
	struct process_job *pj = job->impl;

	if (!pj)
		return;
	dg_fs_rmtree(pj->dir);
	free(pj);
	job->impl = NULL;
}

const struct dg_executor dg_executor_process = {
	.name = "process",
	.probe = process_probe,
	.spawn = process_spawn,
	.kill = process_kill,
	.cleanup = process_cleanup,
};
