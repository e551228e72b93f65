#include "common.h"
#include "error.h"
#include "exec.h"

#include <setjmp.h>
#include <cmocka.h>
#include <poll.h>

static void test_parse_size(void **state DG_UNUSED)
{
	uint64_t v;

	assert_int_equal(dg_exec_parse_size(&v, "512m"), 0);
	assert_int_equal(v, 512ull << 20);
	assert_int_equal(dg_exec_parse_size(&v, "1g"), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(dg_exec_parse_size(&v, "64K"), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(dg_exec_parse_size(&v, "123"), 0);
	assert_int_equal(v, 123);
	assert_int_equal(dg_exec_parse_size(&v, "1mb"), 0);
	assert_int_equal(v, 1 << 20);
	assert_int_equal(dg_exec_parse_size(&v, ""), DG_EINVALID);
	assert_int_equal(dg_exec_parse_size(&v, "-1"), DG_EINVALID);
	assert_int_equal(dg_exec_parse_size(&v, "1x"), DG_EINVALID);
	assert_int_equal(dg_exec_parse_size(&v, "99999999999999999999"), DG_EINVALID);
	assert_int_equal(dg_exec_parse_size(&v, "99999999999t"), DG_EINVALID);
}

static void test_limits_from_env(void **state DG_UNUSED)
{
	struct dg_exec_limits lim = DG_EXEC_LIMITS_INIT;
	struct dg_strbuf err = DG_STRBUF_INIT;

	setenv("DOCKER_MEMORY", "1g", 1);
	setenv("DOCKER_CPUS", "1.5", 1);
	setenv("DGRID_PIDS", "32", 1);
	setenv("DGRID_TMP_SIZE", "16m", 1);
	assert_int_equal(dg_exec_limits_from_env(&lim, &err), 0);
	assert_int_equal(lim.memory_bytes, 1ull << 30);
	assert_true(lim.cpus > 1.49 && lim.cpus < 1.51);
	assert_int_equal(lim.pids, 32);
	assert_int_equal(lim.tmp_bytes, 16ull << 20);

	setenv("DOCKER_CPUS", "fast", 1);
	assert_int_equal(dg_exec_limits_from_env(&lim, &err), DG_EINVALID);
	assert_non_null(strstr(err.buf, "DOCKER_CPUS"));
	setenv("DOCKER_CPUS", "2", 1);
	dg_strbuf_reset(&err);
	setenv("DGRID_PIDS", "12k", 1);
	assert_int_equal(dg_exec_limits_from_env(&lim, &err), DG_EINVALID);
	assert_non_null(strstr(err.buf, "DGRID_PIDS"));
	unsetenv("DOCKER_MEMORY");
	unsetenv("DOCKER_CPUS");
	unsetenv("DGRID_PIDS");
	unsetenv("DGRID_TMP_SIZE");
	dg_strbuf_release(&err);
}

static void test_registry(void **state DG_UNUSED)
{
	assert_non_null(dg_executor_find("native"));
	assert_non_null(dg_executor_find("process"));
	assert_non_null(dg_executor_find("docker"));
	assert_null(dg_executor_find("chroot"));
}

/* The worker's loop, by hand, on the process executor. */
static void test_job_loop(void **state DG_UNUSED)
{
	struct dg_exec_limits lim = DG_EXEC_LIMITS_INIT;
	struct dg_exec_result res = DG_EXEC_RESULT_INIT;
	struct dg_job *job;
	struct pollfd fds[3];

	lim.output_cap = 4;
	assert_int_equal(dg_job_start(&job, dg_executor_find("process"),
				      "printf 123456; printf ab >&2; exit 4", &lim), 0);
	while (dg_job_service(job) != 1) {
		size_t n = dg_job_pollfds(job, fds, 3);

		assert_true(n <= 3);
		poll(fds, n, 100);
	}
	dg_job_finish(job, &res);
	assert_int_equal(res.exit_code, 4);
	assert_int_equal(res.out.len, 4);
	assert_memory_equal(res.out.buf, "1234", 4);
	assert_true(res.stdout_truncated);
	assert_string_equal(res.err.buf, "ab");
	assert_false(res.stderr_truncated);
	assert_false(res.killed);
	dg_exec_result_release(&res);
}

static void test_job_kill(void **state DG_UNUSED)
{
	struct dg_exec_limits lim = DG_EXEC_LIMITS_INIT;
	struct dg_exec_result res = DG_EXEC_RESULT_INIT;
	struct dg_job *job;
	struct pollfd fds[3];
	int64_t t0 = dg_now_ms();

	assert_int_equal(dg_job_start(&job, dg_executor_find("process"), "sleep 30", &lim), 0);
	dg_job_kill(job);
	while (dg_job_service(job) != 1)
		poll(fds, dg_job_pollfds(job, fds, 3), 100);
	dg_job_finish(job, &res);
	assert_true(res.killed);
	assert_false(res.timed_out);
	assert_int_equal(res.term_signal, 9);
	assert_int_equal(res.exit_code, 137);
	assert_true(dg_now_ms() - t0 < 5000);
	dg_exec_result_release(&res);
}

static void test_timeout(void **state DG_UNUSED)
{
	struct dg_exec_limits lim = DG_EXEC_LIMITS_INIT;
	struct dg_exec_result res = DG_EXEC_RESULT_INIT;

	lim.timeout_ms = 300;
	assert_int_equal(dg_exec_run(dg_executor_find("process"), "sleep 30", &lim, &res), 0);
	assert_true(res.timed_out);
	assert_true(res.killed);
	assert_true(res.duration_ms >= 300 && res.duration_ms < 3000);
	dg_exec_result_release(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_limits_from_env),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_job_loop),
		cmocka_unit_test(test_job_kill),
		cmocka_unit_test(test_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
