/*
 * dgrid run - run one task file here, the way a worker would, and print
 * its result JSON. Nothing is read from or written to any repository.
 */
#include "../common.h"
#include "../error.h"
#include "../exec.h"
#include "../log.h"
#include "../strbuf.h"
#include "../task.h"
#include "../textsafe.h"
#include "cmd.h"

#include <getopt.h>
#include <libgen.h>

static const char usage_text[] =
	"usage: dgrid run [--executor native|docker|process] [--policy dgrid.json]\n"
	"                 [--node-id ID] FILE.json\n"
	"\n"
	"Validates the task file as a worker would (its name must match its\n"
	"task_id), runs it under the executor (default: the best sandbox\n"
	"available) with the grid's limits, and prints the result JSON that a\n"
	"worker would push. Exit 0 when the task succeeded, 1 when it failed, timed\n"
	"out or was rejected, 2 on a usage error.\n"
	"\n"
	"The task's output is shown only inside that JSON, where every control\n"
	"character is escaped (\\u001b, and also \\u007f and \\u0080-\\u009f,\n"
	"which JSON allows raw): printing it on a terminal is safe, and a JSON\n"
	"parser reads the exact text back.\n";

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "executor", required_argument, NULL, 'e' },
		{ "policy", required_argument, NULL, 'p' },
		{ "node-id", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dg_policy pol = dg_policy_default;
	struct dg_strbuf data = DG_STRBUF_INIT, out = DG_STRBUF_INIT, why = DG_STRBUF_INIT;
	struct dg_strbuf safe = DG_STRBUF_INIT;
	struct dg_task task = DG_TASK_INIT;
	struct dg_result res = DG_RESULT_INIT;
	struct dg_exec_result er = DG_EXEC_RESULT_INIT;
	struct dg_exec_limits lim = DG_EXEC_LIMITS_INIT;
	const struct dg_executor *ex = NULL;
	const char *exname = getenv("DGRID_EXECUTOR"), *policy = NULL;
	const char *node = getenv("NODE_ID");
	char *pathcopy = NULL;
	int c, ret = 2;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e': exname = optarg; break;
		case 'p': policy = optarg; break;
		case 'n': node = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (dg_exec_limits_from_env(&lim, &why) < 0) {
		fprintf(stderr, "error: %s\n", why.buf);
		goto out;
	}
	if (policy) {
		if (dg_strbuf_read_file(&data, policy, 1 << 20) < 0 ||
		    dg_policy_parse(&pol, data.buf, data.len) < 0) {
			fprintf(stderr, "error: --policy: %s\n", dg_error_last());
			goto out;
		}
		dg_strbuf_reset(&data);
	}
	if (exname) {
		ex = dg_executor_find(exname);
		if (!ex) {
			fprintf(stderr, "error: unknown executor '%s' (--executor, DGRID_EXECUTOR)\n", exname);
			goto out;
		}
	} else if (!(ex = dg_executor_choose(&why))) {
		fprintf(stderr, "error: no sandbox works here (%s); use --executor process\n", why.buf);
		ret = 1;
		goto out;
	}
	ret = 1;
	res.node_id = dg_xstrdup(node && *node ? node : "local");
	dg_utc_now(res.timestamp);
	pathcopy = dg_xstrdup(argv[optind]);
	if (dg_strbuf_read_file(&data, argv[optind], pol.file_max) < 0 ||
	    dg_task_parse(&task, data.buf, data.len, basename(pathcopy), &pol) < 0) {
		char *stem = basename(pathcopy);
		size_t n = strlen(stem);
		res.task_id = n > 5 && !strcmp(stem + n - 5, ".json") ? dg_xstrndup(stem, n - 5)
								     : dg_xstrdup(stem);
		res.status = DG_RESULT_REJECTED;
		res.exit_code = -1;
		res.reason = dg_xstrdup(dg_error_last());
		dg_result_set_output(&res, "", 0, res.reason, strlen(res.reason));
	} else {
		char started[32];

		res.task_id = dg_xstrdup(task.task_id);
		res.attempt = 1;
		dg_utc_now(started);
		res.started_at = dg_xstrdup(started);
		lim.timeout_ms = task.timeout_seconds * 1000u;
		lim.output_cap = pol.output_cap;
		if (!lim.memory_bytes || pol.memory_bytes < lim.memory_bytes)
			lim.memory_bytes = pol.memory_bytes;
		if (!lim.pids || pol.pids < lim.pids)
			lim.pids = pol.pids;
		if (!lim.tmp_bytes || pol.tmp_bytes < lim.tmp_bytes)
			lim.tmp_bytes = pol.tmp_bytes;
		if (dg_exec_run(ex, task.script, &lim, &er) < 0) {
			fprintf(stderr, "error: %s\n", dg_error_last());
			goto out;
		}
		dg_utc_now(res.timestamp);
		res.executor = dg_xstrdup(ex->name);
		dg_result_from_exec(&res, &er, task.timeout_seconds);
	}
	dg_result_to_json(&out, &res);
	/* the task's output is a stranger's bytes; jansson leaves DEL and C1 raw */
	dg_textsafe_json(&safe, out.buf, out.len);
	fwrite(safe.buf, 1, safe.len, stdout);
	ret = res.status == DG_RESULT_SUCCESS ? 0 : 1;
out:
	free(pathcopy);
	dg_task_release(&task);
	dg_result_release(&res);
	dg_exec_result_release(&er);
	dg_strbuf_release(&data);
	dg_strbuf_release(&out);
	dg_strbuf_release(&safe);
	dg_strbuf_release(&why);
	return ret;
}
