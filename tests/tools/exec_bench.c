/*
 * exec_bench - median start-to-exit time of a script through an executor,
 * measured inside one process as the worker pays it (dg_job_start to the
 * job's end), without the cost of starting a dgrid command.
 *
 * usage: exec_bench EXECUTOR RUNS [SCRIPT]   prints "EXECUTOR median_ms p90_ms"
 */
#include "common.h"
#include "error.h"
#include "exec.h"

#include <time.h>

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const struct dg_executor *ex;
	struct dg_exec_limits lim = DG_EXEC_LIMITS_INIT;
	struct dg_strbuf why = DG_STRBUF_INIT;
	unsigned long runs;
	double *ms;

	if (argc < 3) {
		fprintf(stderr, "usage: exec_bench EXECUTOR RUNS [SCRIPT]\n");
		return 2;
	}
	ex = dg_executor_find(argv[1]);
	runs = strtoul(argv[2], NULL, 10);
	if (!ex || !runs || ex->probe(&why) < 0) {
		fprintf(stderr, "exec_bench: executor '%s' unusable: %s\n", argv[1], why.buf);
		return 1;
	}
	ms = dg_xcalloc(runs, sizeof(*ms));
	for (unsigned long i = 0; i < runs; i++) {
		struct dg_exec_result res = DG_EXEC_RESULT_INIT;
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (dg_exec_run(ex, argc > 3 ? argv[3] : "true", &lim, &res) < 0 || res.exit_code) {
			fprintf(stderr, "exec_bench: run failed: %s\n", dg_error_last());
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		dg_exec_result_release(&res);
	}
	qsort(ms, runs, sizeof(*ms), cmp);
	printf("%s %.2f %.2f\n", argv[1], ms[runs / 2], ms[runs * 9 / 10]);
	free(ms);
	dg_strbuf_release(&why);
	return 0;
}
