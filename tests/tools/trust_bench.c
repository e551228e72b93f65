/*
 * trust_bench - what signatures cost per record, inside one process:
 * the serialisation every result already pays (dg_result_to_json), and
 * next to it in the same run sealing it with the node key (record.h),
 * judging a sealed record (nodekeys.h), and verifying a signed task
 * before it starts (tasksign.h). Medians of ROUNDS rounds of N calls.
 *
 * usage: trust_bench [N [ROUNDS]]   prints one "name median_us ratio" line each
 */
#include "common.h"
#include "clock.h"
#include "jsonio.h"
#include "nodekeys.h"
#include "record.h"
#include "signers.h"
#include "sshsig.h"
#include "tasksign.h"
#include "task.h"

#include <sodium.h>
#include <time.h>

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct ctx {
	struct dg_result res;
	struct dg_strbuf sealed;
	json_t *sealed_doc;
	struct dg_nodekeys *keys;
	struct dg_task task;
	struct dg_signers signers;
};

static void op_serialise(struct ctx *c)
{
	struct dg_strbuf out = DG_STRBUF_INIT;

	dg_result_to_json(&out, &c->res);
	dg_strbuf_release(&out);
}

static void op_seal(struct ctx *c)
{
	struct dg_strbuf out = DG_STRBUF_INIT;

	dg_result_to_json(&out, &c->res);
	dg_record_seal(&out);
	dg_strbuf_release(&out);
}

static void op_judge(struct ctx *c)
{
	struct dg_strbuf why = DG_STRBUF_INIT;

	if (dg_nodekeys_judge_result(c->keys, c->sealed_doc, &why) != DG_VERDICT_VALID)
		abort();
	dg_strbuf_release(&why);
}

static void op_task(struct ctx *c)
{
	struct dg_tasksign_verdict v = DG_TASKSIGN_VERDICT_INIT;

	if (dg_tasksign_verify(&v, &c->task, &c->signers, dg_wall_ms() / 1000) < 0)
		abort();
	dg_tasksign_verdict_release(&v);
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double median_us(struct ctx *c, void (*op)(struct ctx *), unsigned long n, unsigned rounds)
{
	double us[64];

	for (unsigned r = 0; r < rounds; r++) {
		int64_t t0 = now_us();

		for (unsigned long i = 0; i < n; i++)
			op(c);
		us[r] = (double)(now_us() - t0) / (double)n;
	}
	qsort(us, rounds, sizeof(us[0]), cmp);
	return us[rounds / 2];
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
	unsigned rounds = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 7;
	struct ctx c;
	struct dg_sshkey node = DG_SSHKEY_INIT, submitter = DG_SSHKEY_INIT;
	struct dg_strbuf pub = DG_STRBUF_INIT, line = DG_STRBUF_INIT, task = DG_STRBUF_INIT, sig = DG_STRBUF_INIT;
	struct dg_strbuf why = DG_STRBUF_INIT;
	json_t *reg;
	char out[1024];
	double base, x;

	if (sodium_init() < 0 || !n || !rounds || rounds > 64)
		return 2;
	memset(&c, 0, sizeof(c));
	dg_sshkey_generate(&node, "node");
	dg_sshkey_generate(&submitter, "submitter");
	dg_record_signer_set("w1", &node);

	/* a typical result: a line of output, the extra fields a worker writes */
	c.res.task_id = (char *)"task-000123";
	c.res.node_id = (char *)"w1";
	c.res.status = DG_RESULT_SUCCESS;
	c.res.attempt = 1;
	c.res.duration_ms = 1234;
	c.res.executor = (char *)"native";
	c.res.started_at = (char *)"2026-12-01T20:00:00Z";
	dg_utc_now(c.res.timestamp);
	dg_result_set_output(&c.res, "hello from the grid\n", 20, "", 0);

	/* the observer's view: w1's registration, signed, pinned */
	dg_sshkey_format_public(&pub, node.pk);
	reg = json_pack("{s:s, s:s}", "node_id", "w1", "public_key", pub.buf);
	dg_record_sign(reg);
	dg_nodekeys_open(&c.keys, NULL);
	if (dg_nodekeys_learn(c.keys, "w1", reg, NULL, &why) != DG_VERDICT_VALID)
		return 1;
	dg_result_to_json(&c.sealed, &c.res);
	dg_record_seal(&c.sealed);
	c.sealed_doc = dg_json_load_object(c.sealed.buf, c.sealed.len);

	/* a signed task as a claim carries it, and the worker's list */
	dg_strbuf_addstr(&task, "{\"task_id\": \"task-000123\", \"script\": \"echo hello from the grid\", \"timeout_seconds\": 30}\n");
	dg_sshsig_sign(&sig, &submitter, DG_SSHSIG_TASK_NAMESPACE, task.buf, task.len);
	if (dg_task_parse(&c.task, task.buf, task.len, NULL, NULL) < 0)
		return 1;
	dg_tasksign_embed(&c.task, task.buf, task.len, sig.buf, sig.len);
	dg_strbuf_addstr(&line, "alice@example.com ");
	dg_sshkey_format_public(&line, submitter.pk);
	dg_strbuf_addch(&line, '\n');
	if (dg_signers_parse(&c.signers, "bench", line.buf, line.len) < 0)
		return 1;

	base = median_us(&c, op_serialise, n, rounds);
	printf("serialise_result %.1f 1.00\n", base);
	x = median_us(&c, op_seal, n, rounds);
	printf("serialise_and_seal_result %.1f %.2f\n", x, x / base);
	x = median_us(&c, op_judge, n, rounds);
	printf("judge_sealed_result %.1f %.2f\n", x, x / base);
	x = median_us(&c, op_task, n, rounds);
	snprintf(out, sizeof(out), "verify_signed_task %.1f %.2f", x, x / base);
	puts(out);

	dg_record_signer_set(NULL, NULL);
	json_decref(reg);
	json_decref(c.sealed_doc);
	dg_nodekeys_free(c.keys);
	dg_task_release(&c.task);
	dg_signers_release(&c.signers);
	free(c.res.stdout_text);
	free(c.res.stderr_text);
	dg_sshkey_release(&node);
	dg_sshkey_release(&submitter);
	dg_strbuf_release(&pub);
	dg_strbuf_release(&line);
	dg_strbuf_release(&task);
	dg_strbuf_release(&sig);
	dg_strbuf_release(&why);
	dg_strbuf_release(&c.sealed);
	return 0;
}
