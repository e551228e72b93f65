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
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, rep[2] = { -1, -1 };
	int devnull = -1, ret = DG_ERROR;
	char *argv[] = { (char *)"sh", (char *)"-c", (char *)script, NULL };
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
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    pipe2(rep, O_CLOEXEC) < 0) {
		dg_error_set("cannot create the task's pipes: %s", strerror(errno));
		goto out;
	}
	dg_block_signals(&saved);
	pid = fork();
	if (pid == 0) {
		int fds[4] = { devnull, out[1], err[1], rep[1] };
		const char *step;

		dg_child_reset_signals();
		if (dg_child_arrange_fds(fds, 4) < 0)
			dg_child_fail(rep[1], "arrange fds", errno);
		/* dup2 cleared close-on-exec; exec must close the report pipe */
		if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
			dg_child_fail(3, "set close-on-exec", errno);
		if (setsid() < 0)
			dg_child_fail(3, "setsid", errno);
		if (chdir(pj->dir) < 0)
			dg_child_fail(3, "chdir", errno);
		if ((step = dg_child_rlimits(&job->limits)))
			dg_child_fail(3, step, errno);
		execve("/bin/sh", argv, envp);
		dg_child_fail(3, "execve /bin/sh", errno);
	}
	dg_restore_signals(&saved);
	if (pid < 0) {
		dg_error_set("cannot fork the task: %s", strerror(errno));
		goto out;
	}
	close(rep[1]);
	rep[1] = -1;
	job->pid = pid;
	job->impl = pj;
	if (dg_child_read_error(rep[0], "cannot start the task") < 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		job->pid = -1;
		job->impl = NULL;
		goto out;
	}
	job->out_fd = out[0];
	job->err_fd = err[0];
	out[0] = err[0] = -1;
	fcntl(job->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(job->err_fd, F_SETFL, O_NONBLOCK);
	pj = NULL;
	ret = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0) close(out[i]);
		if (err[i] >= 0) close(err[i]);
		if (rep[i] >= 0) close(rep[i]);
	}
	if (devnull >= 0)
		close(devnull);
	if (pj) {
		if (pj->dir[0])
			dg_rmtree(pj->dir);
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
	dg_rmtree(pj->dir);
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
