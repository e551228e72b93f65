/*
 * exec_child.c - async-signal-safe steps shared by the executors' children.
 */
#include "common.h"
#include "error.h"
#include "exec_child.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE 2
#endif

_Noreturn void dg_child_fail(int fd, const char *step, int err)
{
	struct dg_child_error e;
	size_t i;

	memset(&e, 0, sizeof(e));
	for (i = 0; step[i] && i < sizeof(e.step) - 1; i++)
		e.step[i] = step[i];
	e.err = err;
	if (write(fd, &e, sizeof(e)) < 0) {
		/* nothing more we can do */
	}
	_exit(127);
}

int dg_child_arrange_fds(const int *from, int n)
{
	int tmp[16];

	if (n > (int)DG_ARRAY_SIZE(tmp))
		return -1;
	/* first out of the way, so that dup2 below never hits a source */
	for (int i = 0; i < n; i++) {
		tmp[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 64);
		if (tmp[i] < 0)
			return -1;
	}
	for (int i = 0; i < n; i++)
		if (dup2(tmp[i], i) < 0)
			return -1;
	if (syscall(SYS_close_range, (unsigned)n, ~0u, 0) < 0) {
		for (int fd = n; fd < 65536; fd++)
			close(fd);
	}
	return 0;
}

void dg_child_reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

const char *dg_child_rlimits(const struct dg_exec_limits *lim)
{
	struct rlimit r;
	unsigned cpu = lim->cpu_seconds;

	r.rlim_cur = r.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &r) < 0)
		return "setrlimit core";
	if (lim->file_bytes) {
		r.rlim_cur = r.rlim_max = lim->file_bytes;
		if (setrlimit(RLIMIT_FSIZE, &r) < 0)
			return "setrlimit fsize";
	}
	r.rlim_cur = r.rlim_max = 256;
	if (setrlimit(RLIMIT_NOFILE, &r) < 0)
		return "setrlimit nofile";
	if (!cpu && lim->timeout_ms)
		cpu = lim->timeout_ms / 1000 + 1;
	if (cpu) {
		r.rlim_cur = cpu;
		r.rlim_max = cpu + 1;
		if (setrlimit(RLIMIT_CPU, &r) < 0)
			return "setrlimit cpu";
	}
	return NULL;
}

void dg_block_signals(sigset_t *saved)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, saved);
}

void dg_restore_signals(const sigset_t *saved)
{
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

int dg_child_read_error(int fd, const char *what)
{
	struct dg_child_error e;
	size_t got = 0;

	while (got < sizeof(e)) {
		ssize_t n = read(fd, (char *)&e + got, sizeof(e) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got == 0)
		return 0;
	if (got < sizeof(e)) {
		dg_error_set("%s: the child failed before exec", what);
		return DG_ERROR;
	}
	e.step[sizeof(e.step) - 1] = '\0';
	dg_error_set("%s: %s: %s", what, e.step, strerror(e.err));
	return DG_ERROR;
}

int dg_child_io_open(struct dg_child_io *io)
{
	io->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (io->devnull < 0 || pipe2(io->out, O_CLOEXEC) < 0 || pipe2(io->err, O_CLOEXEC) < 0 ||
	    pipe2(io->rep, O_CLOEXEC) < 0) {
		dg_error_set("cannot create the task's pipes: %s", strerror(errno));
		return DG_ERROR;
	}
	return 0;
}

int dg_child_io_enter(struct dg_child_io *io)
{
	int fds[5] = { io->devnull, io->out[1], io->err[1], io->script, io->rep[1] };
	int n = 5;

	if (io->script < 0) {
		fds[3] = io->rep[1];
		n = 4;
	}
	if (dg_child_arrange_fds(fds, n) < 0)
		dg_child_fail(io->rep[1], "arrange fds", errno);
	/*
	 * dup2 cleared close-on-exec on the report pipe: without it the
	 * parent would wait for the task to end, and the task could write
	 * into the report.
	 */
	if (fcntl(n - 1, F_SETFD, FD_CLOEXEC) < 0)
		dg_child_fail(n - 1, "set close-on-exec", errno);
	return n - 1;
}

int dg_child_io_start(struct dg_child_io *io, struct dg_job *job, pid_t pid, const char *what)
{
	close(io->rep[1]);
	io->rep[1] = -1;
	if (dg_child_read_error(io->rep[0], what) < 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return DG_ERROR;
	}
	job->pid = pid;
	job->out_fd = io->out[0];
	job->err_fd = io->err[0];
	io->out[0] = io->err[0] = -1;
	fcntl(job->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(job->err_fd, F_SETFL, O_NONBLOCK);
	return 0;
}

void dg_child_io_close(struct dg_child_io *io)
{
	for (int i = 0; i < 2; i++) {
		if (io->out[i] >= 0)
			close(io->out[i]);
		if (io->err[i] >= 0)
			close(io->err[i]);
		if (io->rep[i] >= 0)
			close(io->rep[i]);
		io->out[i] = io->err[i] = io->rep[i] = -1;
	}
	if (io->devnull >= 0)
		close(io->devnull);
	if (io->script >= 0)
		close(io->script);
	io->devnull = io->script = -1;
}

/* Before the script, on its first line, so that line numbers stay. */
#define SCRIPT_PROLOGUE "exec 3<&-; "

int dg_child_script_open(int *out, const char *script)
{
	static const char prologue[] = SCRIPT_PROLOGUE;
	const char *parts[2] = { prologue, script };
	int fd, ret = DG_ERROR;

	*out = -1;
	fd = memfd_create("dgrid-script", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		dg_error_set("cannot create the script's memfd: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		const char *p = parts[i];
		size_t left = strlen(p);

		while (left) {
			ssize_t n = write(fd, p, left);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				dg_error_set("cannot write the script's memfd: %s",
					     n < 0 ? strerror(errno) : "short write");
				goto out;
			}
			p += n;
			left -= (size_t)n;
		}
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		dg_error_set("cannot seal the script's memfd: %s", strerror(errno));
		goto out;
	}
	*out = fd;
	fd = -1;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}
