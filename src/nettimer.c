#include "nettimer.h"
#include "error.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Thread_local volatile sig_atomic_t fired;

static void on_alarm(int sig DG_UNUSED)
{
	fired = 1;
}

int dg_nettimer_init(struct dg_nettimer *t, unsigned ms)
{
	struct sigaction sa;
	struct sigevent sev;
	sigset_t set;

	memset(t, 0, sizeof(*t));
	t->ms = ms;
	if (!ms)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;                 /* no SA_RESTART: the blocked call must fail */
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		goto fail;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGALRM;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, &t->id) < 0)
		goto fail;
	t->ok = true;
	return 0;
fail:
	dg_error_set("cannot set up the network timeout: %s", strerror(errno));
	return DG_ERROR;
}

static void set(struct dg_nettimer *t, unsigned ms)
{
	struct itimerspec its;

	if (!t->ok)
		return;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	/* repeat, in case the first signal lands between two blocking calls */
	its.it_interval.tv_sec = 1;
	if (!ms)
		its.it_interval.tv_sec = 0;
	timer_settime(t->id, 0, &its, NULL);
}

void dg_nettimer_arm(struct dg_nettimer *t)
{
	fired = 0;
	set(t, t->ms);
}

void dg_nettimer_disarm(struct dg_nettimer *t)
{
	set(t, 0);
}

bool dg_nettimer_fired(void)
{
	return fired;
}

void dg_nettimer_release(struct dg_nettimer *t)
{
	if (t->ok)
		timer_delete(t->id);
	t->ok = false;
}
