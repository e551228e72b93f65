/*
 * stopsignal.c - a thread that takes the stop signals and stamps them
 * (stopsignal.h says why).
 */
#include "clock.h"
#include "stopsignal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

static sigset_t stop_set;

static void *take_signals(void *arg)
{
	int out = *(int *)arg;

	for (;;) {
		struct dg_stopsignal s;

		s.signo = sigwaitinfo(&stop_set, NULL);
		if (s.signo < 0)
			continue;   /* EINTR: a signal outside the set */
		s.at_ms = dg_now_ms();
		/* one record is less than PIPE_BUF: written whole or not at all */
		while (write(out, &s, sizeof(s)) < 0 && errno == EINTR)
			;
	}
	return NULL;
}

int dg_stopsignal_open(void)
{
	static int write_end;
	pthread_attr_t attr;
	pthread_t thread;
	int fds[2], err;

	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGHUP);
	if ((err = pthread_sigmask(SIG_BLOCK, &stop_set, NULL)) != 0) {
		errno = err;
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0)
		goto fail;
	write_end = fds[1];
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&thread, &attr, take_signals, &write_end);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		errno = err;
		goto fail;
	}
	return fds[0];
fail:
	err = errno;
	close(fds[0]);
	close(fds[1]);
	errno = err;
	return -1;
}

int dg_stopsignal_next(int fd, struct dg_stopsignal *s)
{
	ssize_t n;

	while ((n = read(fd, s, sizeof(*s))) < 0 && errno == EINTR)
		;
	return n == (ssize_t)sizeof(*s);
}
