/*
 * demo_workers.c - the processes of `dgrid demo` (demo.h). Every step is
 * this same binary started with an argv array (posix_spawn, no shell), so
 * the demo runs exactly the commands a user would type. A step is waited
 * for; the workers run side by side and are reaped as they exit, or
 * stopped when the demo gives up.
 */
#include "../common.h"
#include "../clock.h"
#include "../exec.h"
#include "../strbuf.h"
#include "demo.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/*
 * Starts the dgrid binary with argv (argv[0] is replaced by its path);
 * stdout and stderr go to log when it is not NULL. Returns the pid, or -1
 * after printing why.
 */
static pid_t spawn_dgrid(const struct demo *d, const char **argv, const char *log)
{
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;
	int err;

	argv[0] = d->exe;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (log) {
		posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
	}
	err = posix_spawn(&pid, d->exe, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err) {
		fprintf(stderr, "error: cannot start '%s %s': %s\n", d->exe, argv[1], strerror(err));
		return -1;
	}
	return pid;
}

/*
 * Exit status of pid (128+signal when killed), -2 while it runs (flags
 * WNOHANG), -1 when waitpid failed.
 */
static int wait_exit(pid_t pid, int flags)
{
	int st;
	pid_t r;

	do
		r = waitpid(pid, &st, flags);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -2;
	if (r < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int demo_run(const struct demo *d, const char **argv)
{
	pid_t pid = spawn_dgrid(d, argv, NULL);
	int st;

	if (pid < 0)
		return 1;
	st = wait_exit(pid, 0);
	if (st) {
		fprintf(stderr, "error: 'dgrid %s' failed (exit %d)\n", argv[1], st);
		return 1;
	}
	return 0;
}

const char *demo_pick_executor(void)
{
	struct dg_strbuf why = DG_STRBUF_INIT;
	const struct dg_executor *ex;
	const char *env = getenv("DGRID_EXECUTOR");
	const char *ret = NULL;

	if (env && *env) {
		printf("executor: %s (from DGRID_EXECUTOR)\n", env);
		return NULL;
	}
	ex = dg_executor_choose(&why);
	if (ex) {
		printf("executor: %s (the workers' own choice%s%s)\n", ex->name,
		       why.len ? ": " : "", why.buf);
	} else {
		fprintf(stderr,
			"\n"
			"*** WARNING: no sandbox works on this host (%s).\n"
			"*** The demo falls back to --executor process: its example tasks run\n"
			"*** UNSANDBOXED as ordinary processes of this user. They are harmless,\n"
			"*** but never point such a worker at a grid whose tasks you do not trust.\n"
			"*** 'dgrid doctor' shows what is missing.\n\n", why.buf);
		ret = "process";
	}
	dg_strbuf_release(&why);
	return ret;
}

/* A TCP socket and the address 127.0.0.1:port; -1 when none. */
static int loopback_socket(struct sockaddr_in *sa, unsigned port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa->sin_port = htons((uint16_t)port);
	return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

/* A TCP port on 127.0.0.1 that was free a moment ago, or 0. */
static unsigned free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	unsigned port = 0;
	int fd = loopback_socket(&sa, 0);

	if (fd < 0)
		return 0;
	if (!bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &len))
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

bool demo_port_answers(unsigned port)
{
	struct sockaddr_in sa;
	int fd = loopback_socket(&sa, port);
	bool ok;

	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

int demo_start_workers(struct demo *d, unsigned n, const char *executor)
{
	unsigned port = free_port();

	for (unsigned i = 0; i < n; i++) {
		char node[32], http[64];
		char *log = dg_xasprintf("%s/logs/demo-worker-%u.log", d->abs_dir, i + 1);
		const char *argv[] = { NULL, "worker", "--repo", d->repo, "--node-id", node,
				       "--http", http, "--exit-when-idle", "--batch-ms", "100",
				       executor ? "--executor" : NULL, executor, NULL };

		snprintf(node, sizeof(node), "demo-worker-%u", i + 1);
		if (i == 0 && port)
			snprintf(http, sizeof(http), "127.0.0.1:%u", port);
		else
			snprintf(http, sizeof(http), "off");
		d->workers[i] = spawn_dgrid(d, argv, log);
		free(log);
		if (d->workers[i] < 0) {
			d->workers[i] = 0;
			return 1;
		}
		d->workers_nr = i + 1;
		printf("started %s (pid %d)\n", node, (int)d->workers[i]);
	}
	d->http_port = port;
	printf("worker logs: %s/logs/\n", d->abs_dir);
	return 0;
}

unsigned demo_reap_workers(struct demo *d, bool *failed)
{
	unsigned alive = 0;

	for (unsigned i = 0; i < d->workers_nr; i++) {
		int st;

		if (d->workers[i] <= 0)
			continue;
		st = wait_exit(d->workers[i], WNOHANG);
		if (st == -2) {
			alive++;
			continue;
		}
		d->workers[i] = 0;
		if (st && failed) {
			fprintf(stderr, "error: demo-worker-%u exited with status %d (see its log)\n", i + 1, st);
			*failed = true;
		}
	}
	return alive;
}

void demo_stop_workers(struct demo *d)
{
	int64_t deadline = dg_now_ms() + 5000;

	for (unsigned i = 0; i < d->workers_nr; i++)
		if (d->workers[i] > 0)
			kill(d->workers[i], SIGTERM);
	while (demo_reap_workers(d, NULL) && dg_now_ms() < deadline)
		poll(NULL, 0, 100);
	for (unsigned i = 0; i < d->workers_nr; i++) {
		if (d->workers[i] <= 0)
			continue;
		kill(d->workers[i], SIGKILL);
		wait_exit(d->workers[i], 0);
		d->workers[i] = 0;
	}
}
