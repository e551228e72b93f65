/*
 * exec_docker.c - executor "docker". The container gets no network, a
 * read-only root, a small /tmp, uid 1000, no capabilities, no_new_privs,
 * and the same memory, pids, CPU and rlimit limits as the native sandbox.
 * The job's pid is the docker client's; killing the job is `docker kill`
 * of the named container plus killing the client.
 *
 * How the script gets in: never in argv. One argument is limited to 128 KiB
 * (MAX_ARG_STRLEN, in the worker and again inside the container), and a
 * script on a command line is visible to every user of the host in ps. The
 * script is written to an unlinked temporary file that becomes the docker
 * client's stdin (`docker run -i`); a fixed wrapper inside the container
 * reads it all, points stdin at /dev/null, and evaluates it, so the task's
 * stdin is empty as with the other executors, its /tmp holds no file of
 * ours, and it works with a remote engine (DOCKER_HOST) where a bind mount
 * of a host file would not. The image needs only `sh` and `cat`.
 *
 * Why a guardian: the container belongs to the engine, not to the worker;
 * a worker killed with SIGKILL would leave it running, with no deadline.
 * Each job starts a small shell in its own session that blocks reading a
 * pipe whose write end only the worker holds; when the worker dies the pipe
 * reads EOF and the guardian runs `docker rm -f` on the container. On a
 * normal end the worker kills the guardian first.
 */
#include "common.h"
#include "error.h"
#include "exec_docker.h"
#include "exec_child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#define DOCKER_CMD_MS 5000

extern char **environ;

struct docker_job {
	char name[48];
	pid_t guardian;
	int guard_fd;   /* write end of the guardian's pipe */
};

/* The fixed wrapper: the script arrives on stdin (see the top of this file). */
#define DOCKER_WRAPPER \
	"dgrid_script=$(cat) || exit 126; exec </dev/null; eval \"$dgrid_script\""

/* What the docker client needs of the worker's environment; no tokens. */
static const char *const client_env[] = {
	"PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT",
	"DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "XDG_RUNTIME_DIR",
};

/* Pointers into environ (borrowed), NULL-terminated. */
static void client_envp(char **envp, size_t max)
{
	size_t n = 0;

	for (char **e = environ; *e && n + 1 < max; e++) {
		for (size_t i = 0; i < DG_ARRAY_SIZE(client_env); i++) {
			size_t len = strlen(client_env[i]);

			if (!strncmp(*e, client_env[i], len) && (*e)[len] == '=') {
				envp[n++] = *e;
				break;
			}
		}
	}
	envp[n] = NULL;
}

static void add(struct dg_docker_cmd *cmd, const char *s)
{
	DG_ALLOC_GROW(cmd->argv, cmd->argc + 2, cmd->alloc);
	cmd->argv[cmd->argc++] = dg_xstrdup(s);
	cmd->argv[cmd->argc] = NULL;
}

DG_PRINTF(2, 3) static void addf(struct dg_docker_cmd *cmd, const char *fmt, ...)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	dg_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	add(cmd, sb.buf);
	dg_strbuf_release(&sb);
}

void dg_docker_cmd_release(struct dg_docker_cmd *cmd)
{
	for (size_t i = 0; i < cmd->argc; i++)
		free(cmd->argv[i]);
	free(cmd->argv);
	cmd->argv = NULL;
	cmd->argc = cmd->alloc = 0;
}

const char *dg_docker_image(void)
{
	const char *img = getenv("DGRID_DOCKER_IMAGE");

	return img && *img ? img : DG_DOCKER_DEFAULT_IMAGE;
}

void dg_docker_run_argv(struct dg_docker_cmd *cmd, const char *image,
			const char *name, const struct dg_exec_limits *lim)
{
	uint64_t tmp = lim->tmp_bytes ? lim->tmp_bytes : (uint64_t)64 << 20;
	/* as the native sandbox: one inode per 4 KiB, so tiny files fill it too */
	uint64_t inodes = tmp / 4096 < 64 ? 64 : tmp / 4096;
	unsigned cpu = lim->cpu_seconds;

	if (!cpu && lim->timeout_ms)
		cpu = lim->timeout_ms / 1000 + 1;
	add(cmd, "docker");
	add(cmd, "run");
	add(cmd, "--rm");
	/*
	 * docker-init as PID 1: the task's shell is not PID 1, so a signal it
	 * sends itself works as under the other executors, and orphans are reaped
	 */
	add(cmd, "--init");
	add(cmd, "--name");
	add(cmd, name);
	add(cmd, "--hostname");
	add(cmd, "dgrid");
	add(cmd, "--network");
	add(cmd, "none");
	add(cmd, "--read-only");
	add(cmd, "--tmpfs");
	addf(cmd, "/tmp:rw,nosuid,nodev,size=%" PRIu64 ",nr_inodes=%" PRIu64 ",mode=1777", tmp, inodes);
	add(cmd, "--user");
	add(cmd, "1000:1000");
	add(cmd, "--cap-drop");
	add(cmd, "ALL");
	add(cmd, "--security-opt");
	add(cmd, "no-new-privileges");
	if (lim->pids) {
		add(cmd, "--pids-limit");
		addf(cmd, "%u", lim->pids);
	}
	if (lim->memory_bytes) {
		add(cmd, "--memory");
		addf(cmd, "%" PRIu64, lim->memory_bytes);
		add(cmd, "--memory-swap");
		addf(cmd, "%" PRIu64, lim->memory_bytes);
	}
	if (lim->cpus > 0) {
		add(cmd, "--cpus");
		addf(cmd, "%g", lim->cpus);
	}
	add(cmd, "--ulimit");
	add(cmd, "core=0");
	add(cmd, "--ulimit");
	add(cmd, "nofile=256:256");
	if (lim->file_bytes) {
		add(cmd, "--ulimit");
		addf(cmd, "fsize=%" PRIu64, lim->file_bytes);
	}
	if (cpu) {
		add(cmd, "--ulimit");
		addf(cmd, "cpu=%u:%u", cpu, cpu + 1);
	}
	add(cmd, "--env");
	add(cmd, "HOME=/tmp");
	add(cmd, "--env");
	add(cmd, "LANG=C.UTF-8");
	add(cmd, "--workdir");
	add(cmd, "/tmp");
	add(cmd, "--log-driver");
	add(cmd, "none");
	add(cmd, "--pull");
	add(cmd, "never");
	add(cmd, "-i");
	add(cmd, image);
	add(cmd, "/bin/sh");
	add(cmd, "-c");
	add(cmd, DOCKER_WRAPPER);
}

/*
 * Runs a docker command with stdin /dev/null and output to *out (or
 * /dev/null), killed after ms. Returns the exit status or a negative code.
 */
static int run_bounded(char *const argv[], struct dg_strbuf *out, int ms)
{
	int pfd[2] = { -1, -1 }, devnull, st = 0, ret = DG_ERROR;
	int64_t end = dg_now_ms() + ms;
	char *envp[DG_ARRAY_SIZE(client_env) + 1];
	sigset_t saved;
	pid_t pid;

	client_envp(envp, DG_ARRAY_SIZE(envp));
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || pipe2(pfd, O_CLOEXEC) < 0)
		goto out;
	dg_block_signals(&saved);
	pid = fork();
	if (pid == 0) {
		int fds[3] = { devnull, out ? pfd[1] : devnull, devnull };

		dg_child_reset_signals();
		if (dg_child_arrange_fds(fds, 3) < 0)
			_exit(127);
		setpgid(0, 0);
		execvpe(argv[0], argv, envp);
		_exit(127);
	}
	dg_restore_signals(&saved);
	if (pid < 0)
		goto out;
	close(pfd[1]);
	pfd[1] = -1;
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		char buf[4096];
		int64_t left = end - dg_now_ms();
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			break;
		if (left <= 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			ret = DG_ETIMEOUT;
			goto out;
		}
		if (pfd[0] >= 0) {
			ssize_t n;

			poll(&p, 1, left > 50 ? 50 : (int)left);
			n = read(pfd[0], buf, sizeof(buf));
			if (n > 0 && out && out->len < (1 << 20))
				dg_strbuf_add(out, buf, (size_t)n);
			else if (n == 0) {
				close(pfd[0]);
				pfd[0] = -1;
			}
		} else {
			usleep(10000);
		}
	}
	if (pfd[0] >= 0 && out)
		while (dg_strbuf_read_fd(out, pfd[0], 1 << 20) > 0)
			;
	ret = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
out:
	if (pfd[0] >= 0) close(pfd[0]);
	if (pfd[1] >= 0) close(pfd[1]);
	if (devnull >= 0) close(devnull);
	return ret;
}

/*
 * The engine answers and the image is there. Tasks run with --pull never (a
 * worker must not fetch whatever a tag points to today), so a missing image
 * is said once, here, at start-up, with the command that fixes it, rather
 * than as a failed result for every task claimed.
 */
static int docker_probe(struct dg_strbuf *why)
{
	char *info[] = { (char *)"docker", (char *)"info", (char *)"--format",
			 (char *)"{{.ServerVersion}}", NULL };
	const char *image = dg_docker_image();
	char *inspect[] = { (char *)"docker", (char *)"image", (char *)"inspect",
			    (char *)"--format", (char *)"{{.Id}}", (char *)image, NULL };
	int ret = DG_ENOTFOUND, rc = run_bounded(info, NULL, DOCKER_CMD_MS);

	if (rc == DG_ETIMEOUT) {
		dg_strbuf_addstr(why, "'docker info' did not answer within 5 s");
		goto out;
	}
	if (rc == 127) {
		dg_strbuf_addstr(why, "no docker client");
		goto out;
	}
	if (rc != 0) {
		dg_strbuf_addstr(why, "'docker info' failed: no Docker engine answers");
		goto out;
	}
	if (run_bounded(inspect, NULL, DOCKER_CMD_MS) != 0) {
		dg_strbuf_addf(why, "image '%s' is not present in the Docker engine "
			       "(tasks run with --pull never): fetch it with 'docker pull %s', "
			       "or build one and name it in DGRID_DOCKER_IMAGE", image, image);
		goto out;
	}
	ret = 0;
out:
	return ret;
}

int dg_docker_remove_leftovers(void)
{
	char *ps[] = { (char *)"docker", (char *)"ps", (char *)"-aq", (char *)"--filter",
		       (char *)"name=^" DG_DOCKER_NAME_PREFIX, NULL };
	struct dg_docker_cmd rm = DG_DOCKER_CMD_INIT;
	struct dg_strbuf ids = DG_STRBUF_INIT;
	int n = 0, rc = run_bounded(ps, &ids, DOCKER_CMD_MS);
	char *p = ids.buf;

	if (rc != 0) {
		dg_error_set("cannot list leftover containers: docker ps failed");
		n = DG_ERROR;
		goto out;
	}
	add(&rm, "docker");
	add(&rm, "rm");
	add(&rm, "-f");
	while (*p) {
		size_t len = strcspn(p, " \n");

		if (len) {
			char *id = dg_xstrndup(p, len);

			add(&rm, id);
			free(id);
			n++;
		}
		p += len;
		p += strspn(p, " \n");
	}
	if (n && run_bounded(rm.argv, NULL, DOCKER_CMD_MS * 2) != 0) {
		dg_error_set("cannot remove leftover containers");
		n = DG_ERROR;
	}
out:
	dg_docker_cmd_release(&rm);
	dg_strbuf_release(&ids);
	return n;
}

/* An unlinked file holding the script, at offset 0: the client's stdin. */
static int script_file(const char *script)
{
	const char *dir = getenv("TMPDIR");
	struct dg_strbuf path = DG_STRBUF_INIT;
	size_t len = strlen(script), off = 0;
	int fd, ret = DG_ERROR;

	dg_strbuf_addf(&path, "%s/dgrid-script.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkostemp(path.buf, O_CLOEXEC);
	if (fd < 0) {
		dg_error_set("cannot create the script file '%s': %s", path.buf, strerror(errno));
		goto out;
	}
	unlink(path.buf);
	while (off < len) {
		ssize_t n = write(fd, script + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			dg_error_set("cannot write the script file: %s", strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		dg_error_set("cannot rewind the script file: %s", strerror(errno));
		goto out;
	}
	ret = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	dg_strbuf_release(&path);
	return ret;
}

/*
 * The guardian (see the top of this file): a shell that waits for EOF on
 * its stdin, the pipe, then removes the container. An exec'd program rather
 * than a forked copy of the worker, so that it holds none of the worker's
 * memory (the token) and reads plainly in ps.
 */
static int start_guardian(struct docker_job *dj, char **envp)
{
	char *argv[] = { (char *)"sh", (char *)"-c",
			 (char *)"read -r _; exec docker rm -f \"$0\" >/dev/null 2>&1",
			 dj->name, NULL };
	int pfd[2] = { -1, -1 }, devnull = -1, ret = DG_ERROR;
	sigset_t saved;
	pid_t pid;

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || pipe2(pfd, O_CLOEXEC) < 0) {
		dg_error_set("cannot create the container guardian's pipe: %s", strerror(errno));
		goto out;
	}
	dg_block_signals(&saved);
	pid = fork();
	if (pid == 0) {
		int fds[3] = { pfd[0], devnull, devnull };

		dg_child_reset_signals();
		/* out of the worker's process group: a signal to it is no end */
		setsid();
		if (dg_child_arrange_fds(fds, 3) < 0)
			_exit(127);
		execve("/bin/sh", argv, envp);
		_exit(127);
	}
	dg_restore_signals(&saved);
	if (pid < 0) {
		dg_error_set("cannot fork the container guardian: %s", strerror(errno));
		goto out;
	}
	dj->guardian = pid;
	dj->guard_fd = pfd[1];
	pfd[1] = -1;
	ret = 0;
out:
	if (pfd[0] >= 0) close(pfd[0]);
	if (pfd[1] >= 0) close(pfd[1]);
	if (devnull >= 0) close(devnull);
	return ret;
}

static void stop_guardian(struct docker_job *dj)
{
	if (dj->guardian > 0) {
		kill(dj->guardian, SIGKILL);
		while (waitpid(dj->guardian, NULL, 0) < 0 && errno == EINTR)
			;
		dj->guardian = -1;
	}
	if (dj->guard_fd >= 0)
		close(dj->guard_fd);
	dj->guard_fd = -1;
}

static int docker_spawn(struct dg_job *job, const char *script)
{
	struct docker_job *dj = dg_xcalloc(1, sizeof(*dj));
	struct dg_docker_cmd cmd = DG_DOCKER_CMD_INIT;
	struct dg_child_io io = DG_CHILD_IO_INIT;
	int ret = DG_ERROR, sfd = -1;
	unsigned char rnd[8];
	char *envp[DG_ARRAY_SIZE(client_env) + 1];
	sigset_t saved;
	pid_t pid;

	dj->guardian = -1;
	dj->guard_fd = -1;
	client_envp(envp, DG_ARRAY_SIZE(envp));

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		dg_error_set("cannot name the container: %s", strerror(errno));
		goto out;
	}
	snprintf(dj->name, sizeof(dj->name), DG_DOCKER_NAME_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x",
		 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	dg_docker_run_argv(&cmd, dg_docker_image(), dj->name, &job->limits);
	sfd = script_file(script);
	if (sfd < 0)
		goto out;
	if (start_guardian(dj, envp) < 0)
		goto out;
	if (dg_child_io_open(&io) < 0)
		goto out;
	/* the client's stdin is the script file, not /dev/null */
	close(io.devnull);
	io.devnull = sfd;
	sfd = -1;
	dg_block_signals(&saved);
	pid = fork();
	if (pid == 0) {
		dg_child_reset_signals();
		dg_child_io_enter(&io);
		setsid();
		execvpe("docker", cmd.argv, envp);
		dg_child_fail(3, "execvpe docker", errno);
	}
	dg_restore_signals(&saved);
	if (pid < 0) {
		dg_error_set("cannot fork the docker client: %s", strerror(errno));
		goto out;
	}
	if (dg_child_io_start(&io, job, pid, "cannot start the docker client") < 0)
		goto out;
	job->impl = dj;
	dj = NULL;
	ret = 0;
out:
	if (sfd >= 0)
		close(sfd);
	dg_child_io_close(&io);
	dg_docker_cmd_release(&cmd);
	if (dj) {
		/* the guardian removes a container that may have been created */
		if (dj->guard_fd >= 0)
			close(dj->guard_fd);
		if (dj->guardian > 0)
			while (waitpid(dj->guardian, NULL, 0) < 0 && errno == EINTR)
				;
	}
	free(dj);
	return ret;
}

static void docker_kill(struct dg_job *job)
{
	struct docker_job *dj = job->impl;
	char *argv[] = { (char *)"docker", (char *)"kill", dj ? dj->name : NULL, NULL };

	/* the container first: killing only the client leaves it running */
	if (dj && !job->exited)
		run_bounded(argv, NULL, DOCKER_CMD_MS);
	if (job->pid > 0) {
		killpg(job->pid, SIGKILL);
		kill(job->pid, SIGKILL);
	}
}

static void docker_cleanup(struct dg_job *job)
{
	struct docker_job *dj = job->impl;
	char *argv[] = { (char *)"docker", (char *)"rm", (char *)"-f", dj ? dj->name : NULL, NULL };

	if (!dj)
		return;
	/* --rm removes it when the client saw the end; not when we killed it */
	if (job->res.killed)
		run_bounded(argv, NULL, DOCKER_CMD_MS);
	/*
	 * When we killed it, `docker kill` ends the container first and the
	 * client, if it outlives that by a moment, exits with 137 instead of
	 * dying of our SIGKILL: the same end either way, reported the same way.
	 */
	if (job->res.killed && WIFEXITED(job->wait_status) && WEXITSTATUS(job->wait_status) == 128 + SIGKILL)
		job->wait_status = SIGKILL;   /* the wait status of "killed by SIGKILL" */
	stop_guardian(dj);
	free(dj);
	job->impl = NULL;
}

const struct dg_executor dg_executor_docker = {
	.name = "docker",
	.probe = docker_probe,
	.spawn = docker_spawn,
	.kill = docker_kill,
	.cleanup = docker_cleanup,
};
