/*
 * test_stopsignal.c - stop signals are stamped when they arrive, not when
 * the worker gets to read them (stopsignal.h). The worker tells one stop
 * request delivered twice from two requests by the time between its
 * signals, and its thread may be busy for seconds in between: a signal
 * stamped at the read would make one request two. Real signals to this
 * process, and a reader that is busy on purpose.
 */
#include "common.h"
#include "clock.h"
#include "stopsignal.h"

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

static int fd = -1;

static int open_once(void **state)
{
	(void)state;
	fd = dg_stopsignal_open();
	return fd < 0 ? -1 : 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0)
		;
}

/* the next record, waiting up to two seconds for it */
static void next(struct dg_stopsignal *s)
{
	struct pollfd p = { fd, POLLIN, 0 };

	assert_int_equal(poll(&p, 1, 2000), 1);
	assert_int_equal(dg_stopsignal_next(fd, s), 1);
}

static void test_nothing_waits(void **state)
{
	struct dg_stopsignal s;

	(void)state;
	assert_int_equal(dg_stopsignal_next(fd, &s), 0);
}

static void test_stamped_on_arrival(void **state)
{
	struct dg_stopsignal first, second;
	int64_t sent, later;

	(void)state;
	sent = dg_now_ms();
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	/* the reader is busy (a slow push) for 1.5 s; then a second request */
	sleep_ms(1500);
	later = dg_now_ms();
	assert_int_equal(kill(getpid(), SIGINT), 0);
	sleep_ms(300);
	next(&first);
	next(&second);
	assert_int_equal(first.signo, SIGTERM);
	assert_int_equal(second.signo, SIGINT);
	/* taken on arrival: long before this read, and well before the second */
	assert_true(first.at_ms >= sent);
	assert_true(first.at_ms < later - 1000);
	assert_true(second.at_ms >= later);
	test_nothing_waits(state);
}

/* a hang-up goes through too: the worker, not this module, ignores it */
static void test_hangup(void **state)
{
	struct dg_stopsignal s;

	(void)state;
	assert_int_equal(kill(getpid(), SIGHUP), 0);
	next(&s);
	assert_int_equal(s.signo, SIGHUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_waits),
		cmocka_unit_test(test_stamped_on_arrival),
		cmocka_unit_test(test_hangup),
	};

	return cmocka_run_group_tests(tests, open_once, NULL);
}
