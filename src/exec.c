/*
 * exec.c - the generic half of running a task: output caps, deadline,
 * reaping and the result. Executors only spawn, kill and clean up.
 */
#include "common.h"
#include "error.h"
#include "exec.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long the pipes may stay open after the task's main process ended. */
#define DRAIN_MS 500
/* Reads per stream and call, so one chatty task cannot starve a loop. */
#define READS_PER_SERVICE 16

extern const struct dg_executor dg_executor_process;
extern const struct dg_executor dg_executor_native;
extern const struct dg_executor dg_executor_docker;

static const struct dg_executor *const executors[] = {
	&dg_executor_native,
	&dg_executor_docker,
	&dg_executor_process,
};

void dg_exec_result_release(struct dg_exec_result *res)
{
	dg_strbuf_release(&res->out);
	dg_strbuf_release(&res->err);
}

const struct dg_executor *dg_executor_find(const char *name)
{
	for (size_t i = 0; i < DG_ARRAY_SIZE(executors); i++)
		if (!strcmp(executors[i]->name, name))
			return executors[i];
	return NULL;
}

const struct dg_executor *dg_executor_choose(struct dg_strbuf *why)
{
	for (size_t i = 0; i < DG_ARRAY_SIZE(executors); i++) {
		struct dg_strbuf reason = DG_STRBUF_INIT;
		const struct dg_executor *ex = executors[i];

		if (!strcmp(ex->name, "process"))
			continue;
		if (ex->probe(&reason) == 0) {
			dg_strbuf_release(&reason);
			return ex;
		}
		if (why)
			dg_strbuf_addf(why, "%s%s: %s", why->len ? "; " : "",
				       ex->name, reason.buf);
		dg_strbuf_release(&reason);
	}
	return NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int dg_job_start(struct dg_job **out, const struct dg_executor *ex,
		 const char *script, const struct dg_exec_limits *limits)
{
	struct dg_job *job = dg_xcalloc(1, sizeof(*job));
	struct dg_exec_result init = DG_EXEC_RESULT_INIT;
	int ret;

	*out = NULL;
	job->ex = ex;
	job->limits = *limits;
	job->pid = -1;
	job->pidfd = job->out_fd = job->err_fd = -1;
	job->res = init;
	job->started_ms = dg_now_ms();
	job->deadline_ms = limits->timeout_ms ? job->started_ms + limits->timeout_ms
					      : INT64_MAX;
	ret = ex->spawn(job, script);
	if (ret < 0) {
		close_fd(&job->out_fd);
		close_fd(&job->err_fd);
		free(job);
		return ret;
	}
	job->pidfd = (int)syscall(SYS_pidfd_open, job->pid, 0);
	if (job->pidfd < 0) {
		int e = errno;

		ex->kill(job);
		while (waitpid(job->pid, NULL, 0) < 0 && errno == EINTR)
			;
		ex->cleanup(job);
		close_fd(&job->out_fd);
		close_fd(&job->err_fd);
		free(job);
		dg_error_set("cannot open a pidfd for the task: %s", strerror(e));
		return DG_ERROR;
	}
	*out = job;
	return 0;
}

size_t dg_job_pollfds(struct dg_job *job, struct pollfd *fds, size_t max)
{
	size_t n = 0;
	int cand[3] = { job->out_fd, job->err_fd, job->exited ? -1 : job->pidfd };

	for (size_t i = 0; i < 3 && n < max; i++) {
		if (cand[i] < 0)
			continue;
		fds[n].fd = cand[i];
		fds[n].events = POLLIN;
		fds[n].revents = 0;
		n++;
	}
	return n;
}

/*
 * While draining after the exit the deadline is the end of the drain, so a
 * caller that polls until dg_job_deadline() comes back in time.
 */
int64_t dg_job_deadline(const struct dg_job *job)
{
	return job->deadline_ms;
}

static void kill_job(struct dg_job *job)
{
	job->res.killed = true;
	job->ex->kill(job);
}

/* Reads what is there; keeps up to the cap, counts the rest. */
static void read_stream(struct dg_job *job, int *fd, struct dg_strbuf *sb,
			size_t *seen, bool *truncated)
{
	char buf[65536];

	for (int i = 0; *fd >= 0 && i < READS_PER_SERVICE; i++) {
		ssize_t n = read(*fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				close_fd(fd);
			return;
		}
		if (n == 0) {
			close_fd(fd);
			return;
		}
		*seen += (size_t)n;
		if (sb->len < job->limits.output_cap) {
			size_t room = job->limits.output_cap - sb->len;

			dg_strbuf_add(sb, buf, (size_t)n < room ? (size_t)n : room);
		}
		if (*seen > job->limits.output_cap)
			*truncated = true;
		if (job->limits.output_kill && *seen > job->limits.output_kill &&
		    !job->res.output_limit && !job->exited) {
			job->res.output_limit = true;
			kill_job(job);
		}
	}
}

static void finalize(struct dg_job *job)
{
	int st;

	close_fd(&job->out_fd);
	close_fd(&job->err_fd);
	while (waitpid(job->pid, &st, 0) < 0) {
		if (errno != EINTR) {
			st = 0;
			break;
		}
	}
	job->wait_status = st;
	/* cleanup may replace wait_status with the status the task really had */
	job->ex->cleanup(job);
	st = job->wait_status;
	if (WIFSIGNALED(st)) {
		job->res.term_signal = WTERMSIG(st);
		job->res.exit_code = 128 + WTERMSIG(st);
	} else {
		job->res.exit_code = WEXITSTATUS(st);
	}
	job->res.duration_ms = (uint64_t)(dg_now_ms() - job->started_ms);
	close_fd(&job->pidfd);
}

static bool pid_exited(struct dg_job *job)
{
	struct pollfd p = { .fd = job->pidfd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

int dg_job_service(struct dg_job *job)
{
	int64_t now;

	if (job->pid < 0)
		return 1;
	read_stream(job, &job->out_fd, &job->res.out, &job->out_seen,
		    &job->res.stdout_truncated);
	read_stream(job, &job->err_fd, &job->res.err, &job->err_seen,
		    &job->res.stderr_truncated);
	now = dg_now_ms();
	if (!job->exited) {
		/*
		 * Exit first: a caller that was away past the deadline (a slow
		 * push) must not turn a task that finished in time into a timeout.
		 */
		if (!pid_exited(job)) {
			if (now < job->deadline_ms || job->res.timed_out)
				return 0;
			job->res.timed_out = true;
			kill_job(job);
			if (!pid_exited(job))
				return 0;
		}
		/*
		 * The main process is a zombie until we reap it, so its pid
		 * (and process group) cannot be reused while we kill the rest.
		 */
		job->exited = true;
		job->ex->kill(job);
		job->deadline_ms = now + DRAIN_MS;
	}
	if ((job->out_fd >= 0 || job->err_fd >= 0) && now < job->deadline_ms)
		return 0;
	finalize(job);
	job->pid = -1;
	return 1;
}

void dg_job_kill(struct dg_job *job)
{
	if (job->pid >= 0 && !job->exited)
		kill_job(job);
}

void dg_job_finish(struct dg_job *job, struct dg_exec_result *res)
{
	if (job->pid >= 0) {
		/* not finished: the caller gave up; do not leave anything behind */
		job->res.killed = true;
		job->ex->kill(job);
		job->exited = true;
		finalize(job);
	}
	*res = job->res;
	free(job);
}

int dg_exec_run(const struct dg_executor *ex, const char *script,
		const struct dg_exec_limits *limits, struct dg_exec_result *res)
{
	struct dg_job *job;
	struct pollfd fds[3];
	int ret = dg_job_start(&job, ex, script, limits);

	if (ret < 0)
		return ret;
	while (dg_job_service(job) != 1) {
		size_t n = dg_job_pollfds(job, fds, DG_ARRAY_SIZE(fds));
		int64_t wait = dg_job_deadline(job) - dg_now_ms();

		if (wait < 0)
			wait = 0;
		if (wait > 1000)
			wait = 1000;
		if (poll(fds, n, (int)wait) < 0 && errno != EINTR) {
			dg_job_kill(job);
			usleep(1000);
		}
	}
	dg_job_finish(job, res);
	return 0;
}

/* "512m", "1g", "64k", "1048576": bytes (binary multiples). */
int dg_exec_parse_size(uint64_t *out, const char *s)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	if (!s || !*s || *s == '-')
		return DG_EINVALID;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return DG_EINVALID;
	switch (*end) {
	case 'k': case 'K': mult = 1ull << 10; end++; break;
	case 'm': case 'M': mult = 1ull << 20; end++; break;
	case 'g': case 'G': mult = 1ull << 30; end++; break;
	case 't': case 'T': mult = 1ull << 40; end++; break;
	default: break;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || (v && mult > UINT64_MAX / v))
		return DG_EINVALID;
	*out = v * mult;
	return 0;
}

int dg_exec_limits_from_env(struct dg_exec_limits *lim, struct dg_strbuf *err)
{
	const char *v;
	uint64_t n;

	if ((v = getenv("DOCKER_MEMORY")) && *v) {
		if (dg_exec_parse_size(&n, v) < 0 || n < (4u << 20)) {
			dg_strbuf_addf(err, "invalid DOCKER_MEMORY '%s': expected bytes like 512m or 1g (at least 4m)", v);
			return DG_EINVALID;
		}
		lim->memory_bytes = n;
	}
	if ((v = getenv("DOCKER_CPUS")) && *v) {
		char *end;
		double d;

		errno = 0;
		d = strtod(v, &end);
		if (errno || end == v || *end || !(d > 0.0) || d > 1024.0) {
			dg_strbuf_addf(err, "invalid DOCKER_CPUS '%s': expected a positive number like 1.5", v);
			return DG_EINVALID;
		}
		lim->cpus = d;
	}
	if ((v = getenv("DGRID_PIDS")) && *v) {
		if (dg_exec_parse_size(&n, v) < 0 || n < 1 || n > 1000000 ||
		    strspn(v, "0123456789") != strlen(v)) {
			dg_strbuf_addf(err, "invalid DGRID_PIDS '%s': expected a number of processes", v);
			return DG_EINVALID;
		}
		lim->pids = (unsigned)n;
	}
	if ((v = getenv("DGRID_TMP_SIZE")) && *v) {
		if (dg_exec_parse_size(&n, v) < 0 || n < 4096) {
			dg_strbuf_addf(err, "invalid DGRID_TMP_SIZE '%s': expected bytes like 64m", v);
			return DG_EINVALID;
		}
		lim->tmp_bytes = n;
	}
	return 0;
}
