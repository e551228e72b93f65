/*
 * dgrid exec - runs one script under an executor and prints the result as
 * one JSON object on stdout. The low-level tool behind the sandbox tests and
 * the benchmarks.
 */
#include "../common.h"
#include "../error.h"
#include "../exec.h"
#include "../task.h"
#include "cmd.h"

#include <jansson.h>

static const char usage_text[] =
	"usage: dgrid exec [--executor native|process|docker] [--timeout SECONDS]\n"
	"                  [--memory BYTES] [--pids N] [--tmp BYTES] [--cpus N]\n"
	"                  [--output-cap BYTES] [--output-kill BYTES] SCRIPT\n"
	"\n"
	"Runs SCRIPT with /bin/sh -c under the executor (default: the one the\n"
	"worker would choose) and prints a JSON object: exit_code, term_signal,\n"
	"timed_out, killed, output_limit, stdout, stderr, stdout_truncated,\n"
	"stderr_truncated, duration_ms, executor. Sizes take k, m, g suffixes.\n"
	"Limits default to the worker's (DOCKER_MEMORY, DOCKER_CPUS, DGRID_PIDS,\n"
	"DGRID_TMP_SIZE from the environment).\n";

/* Task output may hold any bytes; JSON strings must be UTF-8. */
static json_t *utf8_string(const struct dg_strbuf *sb)
{
	size_t len;
	char *text = dg_text_from_bytes_n(sb->buf, sb->len, &len);
	json_t *j = json_stringn(text, len);

	free(text);
	return j;
}

static int parse_u64(uint64_t *out, const char *opt, const char *v)
{
	if (!v || dg_exec_parse_size(out, v) < 0) {
		fprintf(stderr, "error: invalid value for %s: '%s'\n", opt, v ? v : "");
		return -1;
	}
	return 0;
}

int cmd_exec(int argc, char **argv)
{
	struct dg_exec_limits lim = DG_EXEC_LIMITS_INIT;
	struct dg_exec_result res = DG_EXEC_RESULT_INIT;
	struct dg_strbuf why = DG_STRBUF_INIT;
	const struct dg_executor *ex = NULL;
	const char *exname = NULL, *script = NULL;
	json_t *o;
	char *text;
	uint64_t v;
	int i, ret = 2;

	if (dg_exec_limits_from_env(&lim, &why) < 0) {
		fprintf(stderr, "error: %s\n", why.buf);
		goto out;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_text, stdout);
			ret = 0;
			goto out;
		} else if (!strcmp(a, "--executor") && val) {
			exname = val;
		} else if (!strcmp(a, "--timeout")) {
			if (parse_u64(&v, a, val) < 0 || v == 0 || v > 86400) goto bad;
			lim.timeout_ms = (unsigned)v * 1000;
		} else if (!strcmp(a, "--memory")) {
			if (parse_u64(&v, a, val) < 0) goto bad;
			lim.memory_bytes = v;
		} else if (!strcmp(a, "--pids")) {
			if (parse_u64(&v, a, val) < 0 || v > 1000000) goto bad;
			lim.pids = (unsigned)v;
		} else if (!strcmp(a, "--tmp")) {
			if (parse_u64(&v, a, val) < 0) goto bad;
			lim.tmp_bytes = v;
		} else if (!strcmp(a, "--output-cap")) {
			if (parse_u64(&v, a, val) < 0) goto bad;
			lim.output_cap = v;
			if (lim.output_kill < v)
				lim.output_kill = v;
		} else if (!strcmp(a, "--output-kill")) {
			if (parse_u64(&v, a, val) < 0) goto bad;
			lim.output_kill = v;
		} else if (!strcmp(a, "--cpus") && val) {
			lim.cpus = strtod(val, NULL);
			if (!(lim.cpus >= 0.0)) goto bad;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "error: unknown option or missing value '%s'\n", a);
			goto bad;
		} else if (!script) {
			script = a;
			continue;
		} else {
			fprintf(stderr, "error: more than one script given\n");
			goto bad;
		}
		i++;
	}
	if (!script)
		goto bad;
	if (exname) {
		ex = dg_executor_find(exname);
		if (!ex) {
			fprintf(stderr, "error: unknown executor '%s'\n", exname);
			goto bad;
		}
	} else {
		ex = dg_executor_choose(&why);
		if (!ex) {
			fprintf(stderr, "error: no sandbox works on this host (%s); "
				"'--executor process' runs without one\n", why.buf);
			ret = 1;
			goto out;
		}
	}
	if (dg_exec_run(ex, script, &lim, &res) < 0) {
		fprintf(stderr, "error: %s\n", dg_error_last());
		ret = 1;
		goto out;
	}
	o = json_object();
	json_object_set_new(o, "exit_code", json_integer(res.exit_code));
	json_object_set_new(o, "term_signal", json_integer(res.term_signal));
	json_object_set_new(o, "timed_out", json_boolean(res.timed_out));
	json_object_set_new(o, "killed", json_boolean(res.killed));
	json_object_set_new(o, "output_limit", json_boolean(res.output_limit));
	json_object_set_new(o, "stdout", utf8_string(&res.out));
	json_object_set_new(o, "stderr", utf8_string(&res.err));
	json_object_set_new(o, "stdout_truncated", json_boolean(res.stdout_truncated));
	json_object_set_new(o, "stderr_truncated", json_boolean(res.stderr_truncated));
	json_object_set_new(o, "duration_ms", json_integer((json_int_t)res.duration_ms));
	json_object_set_new(o, "executor", json_string(ex->name));
	text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	printf("%s\n", text);
	free(text);
	json_decref(o);
	ret = 0;
	goto out;
bad:
	fputs(usage_text, stderr);
	ret = 2;
out:
	dg_exec_result_release(&res);
	dg_strbuf_release(&why);
	return ret;
}
