/*
 * fuzz_task.c - libFuzzer target for the task, result and policy parsers.
 * Every parse that succeeds is serialised and parsed again.
 */
#include "common.h"
#include "strbuf.h"
#include "task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct dg_task task = DG_TASK_INIT, back = DG_TASK_INIT;
	struct dg_result res = DG_RESULT_INIT, rback = DG_RESULT_INIT;
	struct dg_policy pol = dg_policy_default;
	struct dg_strbuf out = DG_STRBUF_INIT;
	char *text;

	if (dg_task_parse(&task, buf, size, NULL, NULL) == 0) {
		dg_task_set_claim(&task, "fuzz-node", "2026-01-01T00:00:00Z", 1);
		dg_task_to_json(&out, &task);
		if (dg_task_parse(&back, out.buf, out.len, NULL, NULL) != 0)
			abort();
		dg_task_clear_claim(&back);
		dg_strbuf_reset(&out);
		dg_task_to_json(&out, &back);
		dg_task_release(&back);
	}
	dg_task_release(&task);

	if (dg_result_parse(&res, buf, size) == 0) {
		dg_strbuf_reset(&out);
		dg_result_to_json(&out, &res);
		if (dg_result_parse(&rback, out.buf, out.len) != 0)
			abort();
		dg_result_release(&rback);
	}
	dg_result_release(&res);

	/* arbitrary bytes as task output must always make a valid result */
	res.task_id = dg_xstrdup("t");
	res.node_id = dg_xstrdup("n");
	dg_result_set_output(&res, buf, size, buf, size / 2);
	dg_strbuf_reset(&out);
	dg_result_to_json(&out, &res);
	if (dg_result_parse(&rback, out.buf, out.len) != 0)
		abort();
	dg_result_release(&rback);
	dg_result_release(&res);

	text = dg_text_from_bytes(buf, size);
	free(text);

	(void)dg_policy_parse(&pol, buf, size);
	dg_strbuf_release(&out);
	return 0;
}
