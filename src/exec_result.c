/*
 * exec_result.c - what an executor's outcome means as a task result: the
 * one place that maps timeouts, output floods and exit codes to statuses,
 * shared by the worker and `dgrid run`.
 */
#include "exec.h"
#include "task.h"

void dg_result_from_exec(struct dg_result *res, const struct dg_exec_result *er,
			 unsigned timeout_seconds)
{
	char reason[128] = "";

	res->exit_code = er->exit_code;
	res->duration_ms = er->duration_ms;
	res->stdout_truncated = er->stdout_truncated;
	res->stderr_truncated = er->stderr_truncated;
	if (er->timed_out) {
		res->status = DG_RESULT_TIMEOUT;
		snprintf(reason, sizeof(reason), "timed out after %u s", timeout_seconds);
	} else if (er->output_limit) {
		res->status = DG_RESULT_FAILED;
		snprintf(reason, sizeof(reason), "killed: printed more than the output limit");
	} else {
		res->status = er->exit_code == 0 && !er->killed ? DG_RESULT_SUCCESS : DG_RESULT_FAILED;
	}
	free(res->reason);
	res->reason = reason[0] ? dg_xstrdup(reason) : NULL;
	dg_result_set_output(res, er->out.buf, er->out.len, er->err.buf, er->err.len);
}
