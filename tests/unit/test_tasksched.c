/* The scheduling fields of a task (tasksched.h): parsing, refusals, matching. */
#include "common.h"
#include "error.h"
#include "jsonio.h"
#include "tasksched.h"

#include <setjmp.h>
#include <cmocka.h>

static int parse(struct dg_sched *s, const char *json)
{
	json_t *doc = dg_json_load_object(json, strlen(json));
	int ret;

	assert_non_null(doc);
	ret = dg_sched_parse(s, doc, json, strlen(json));
	json_decref(doc);
	return ret;
}

static void test_defaults(void **state)
{
	struct dg_sched s;

	(void)state;
	assert_int_equal(parse(&s, "{\"task_id\": \"a\", \"script\": \"true\"}"), 0);
	assert_int_equal(s.priority, DG_PRIORITY_DEFAULT);
	assert_int_equal(s.not_before, 0);
	assert_int_equal(s.req.labels_nr, 0);
	assert_null(s.req.arch);
	assert_null(s.req.unknown);
	dg_sched_release(&s);
}

static void test_fields(void **state)
{
	struct dg_sched s;

	(void)state;
	assert_int_equal(parse(&s, "{\"priority\": 9, \"not_before\": \"2026-12-01T00:00:00Z\", "
				   "\"requires\": {\"labels\": [\"gpu\", \"cuda12\"], \"arch\": \"amd64\", "
				   "\"min_cpus\": 2, \"min_memory_mb\": 1024}}"), 0);
	assert_int_equal(s.priority, 9);
	assert_int_equal(s.not_before, 1796083200);
	assert_int_equal(s.req.labels_nr, 2);
	assert_string_equal(s.req.labels[1], "cuda12");
	assert_string_equal(s.req.arch, "amd64");
	assert_int_equal(s.req.min_cpus, 2);
	assert_int_equal(s.req.min_memory_mb, 1024);
	dg_sched_release(&s);
	assert_int_equal(parse(&s, "{\"priority\": 0, \"not_before\": \"2026-12-01T00:00:00.250Z\"}"), 0);
	assert_int_equal(s.priority, 0);
	assert_int_equal(s.not_before, 1796083200);
	dg_sched_release(&s);
}

struct bad_case {
	const char *json;
	const char *reason;
};

static const struct bad_case bad_cases[] = {
	{ "{\"priority\": 10}", "priority 10 is out of range 0..9" },
	{ "{\"handed_back\": -1}", "handed_back -1 is out of range 0..1000000" },
	{ "{\"handed_back\": \"2\"}", "expected integer for handed_back, got string" },
	{ "{\"priority\": -1}", "priority -1 is out of range 0..9" },
	{ "{\"priority\": 5.0}", "line 1 column 14: expected integer for priority, got real" },
	{ "{\"priority\": \"9\"}", "expected integer for priority, got string" },
	{ "{\"priority\": true}", "expected integer for priority, got true" },
	{ "{\"not_before\": 1796083200}", "expected string for not_before, got integer" },
	{ "{\"not_before\": \"2026-12-01\"}", "not_before '2026-12-01' is not a UTC time" },
	{ "{\"not_before\": \"2026-12-01T00:00:00+00:00\"}", "is not a UTC time" },
	{ "{\"not_before\": \"2026-13-01T00:00:00Z\"}", "is not a UTC time" },
	{ "{\"not_before\": \"2026-12-01T00:00:00Z\\u0000x\"}", "is not a UTC time" },
	{ "{\"requires\": \"gpu\"}", "expected object for requires, got string" },
	{ "{\"requires\": {\"labels\": \"gpu\"}}", "requires.labels" },
	{ "{\"requires\": {\"labels\": [7]}}", "requires.labels[0]: expected string, got integer" },
	{ "{\"requires\": {\"labels\": [\"\"]}}", "a label has 1 to 64 bytes" },
	{ "{\"requires\": {\"labels\": [\"a b\"]}}", "label 'a b' has a character" },
	{ "{\"requires\": {\"labels\": [\"\\u00e9\"]}}", "has a character" },
	{ "{\"requires\": {\"arch\": 64}}", "requires.arch" },
	{ "{\"requires\": {\"arch\": \"\"}}", "requires.arch has 1 to 32 bytes" },
	{ "{\"requires\": {\"min_cpus\": 0}}", "requires.min_cpus 0 is out of range" },
	{ "{\"requires\": {\"min_cpus\": \"2\"}}", "expected integer for requires.min_cpus" },
	{ "{\"requires\": {\"min_memory_mb\": -5}}", "requires.min_memory_mb -5 is out of range" },
};

/*
 * max_attempts counts the claims that ended without a result: not the
 * retries, and not the claims given back unstarted (a batch's surplus, or
 * at shutdown), which never ran the task.
 */
static void test_crash_claims(void **state)
{
	struct dg_sched s = DG_SCHED_INIT;

	(void)state;
	assert_int_equal(dg_sched_crash_claims(&s, 0), 0);
	assert_int_equal(dg_sched_crash_claims(&s, 3), 3);
	assert_int_equal(parse(&s, "{\"retries\": 2, \"retried\": 1}"), 0);
	assert_int_equal(dg_sched_crash_claims(&s, 3), 2);
	dg_sched_release(&s);
	assert_int_equal(parse(&s, "{\"retries\": 2, \"retried\": 1, \"handed_back\": 4}"), 0);
	assert_int_equal(s.handed_back, 4);
	assert_int_equal(dg_sched_crash_claims(&s, 6), 1);
	assert_int_equal(dg_sched_crash_claims(&s, 5), 0);
	/* more given back than claimed (a hand-edited file): none crashed */
	assert_int_equal(dg_sched_crash_claims(&s, 2), 0);
	dg_sched_release(&s);
}

static void test_refusals(void **state)
{
	(void)state;
	for (size_t i = 0; i < DG_ARRAY_SIZE(bad_cases); i++) {
		struct dg_sched s = DG_SCHED_INIT;

		assert_int_equal(parse(&s, bad_cases[i].json), DG_EINVALID);
		if (!strstr(dg_error_last(), bad_cases[i].reason))
			fail_msg("%s: got \"%s\", want \"%s\"", bad_cases[i].json, dg_error_last(),
				 bad_cases[i].reason);
		/* untouched on error: still the defaults */
		assert_int_equal(s.priority, DG_PRIORITY_DEFAULT);
		assert_null(s.req.labels);
	}
}

static void test_too_many_labels(void **state)
{
	char json[4096];
	size_t n = 0;
	struct dg_sched s;

	(void)state;
	n += (size_t)snprintf(json + n, sizeof(json) - n, "{\"requires\": {\"labels\": [");
	for (int i = 0; i <= DG_LABELS_MAX; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "%s\"l%d\"", i ? ", " : "", i);
	snprintf(json + n, sizeof(json) - n, "]}}");
	assert_int_equal(parse(&s, json), DG_EINVALID);
	assert_non_null(strstr(dg_error_last(), "lists 33 labels, limit 32"));
}

static struct dg_node_facts facts(const char *labels, const char *arch, unsigned cpus, uint64_t mb)
{
	struct dg_node_facts f;

	dg_node_facts_local(&f, labels);
	free(f.arch);
	f.arch = dg_xstrdup(arch);
	f.cpus = cpus;
	f.memory_mb = mb;
	return f;
}

static void test_fits(void **state)
{
	struct dg_node_facts gpu = facts(" gpu, cuda12,,big ", "x86_64", 2, 2048);
	struct dg_node_facts plain = facts(NULL, "aarch64", 8, 512);
	struct dg_sched s;
	char why[160];

	(void)state;
	assert_int_equal(gpu.labels_nr, 3);
	assert_string_equal(gpu.labels[0], "gpu");
	assert_string_equal(gpu.labels[2], "big");

	assert_int_equal(parse(&s, "{}"), 0);
	assert_true(dg_sched_fits(&s.req, &plain, why, sizeof(why)));
	dg_sched_release(&s);

	assert_int_equal(parse(&s, "{\"requires\": {\"labels\": [\"gpu\", \"big\"], \"arch\": \"amd64\", "
				   "\"min_cpus\": 2, \"min_memory_mb\": 2048}}"), 0);
	assert_true(dg_sched_fits(&s.req, &gpu, why, sizeof(why)));
	assert_false(dg_sched_fits(&s.req, &plain, why, sizeof(why)));
	assert_string_equal(why, "needs label 'gpu'");
	dg_sched_release(&s);

	assert_int_equal(parse(&s, "{\"requires\": {\"arch\": \"arm64\"}}"), 0);
	assert_true(dg_sched_fits(&s.req, &plain, why, sizeof(why)));
	assert_false(dg_sched_fits(&s.req, &gpu, why, sizeof(why)));
	assert_string_equal(why, "needs arch arm64, node is x86_64");
	dg_sched_release(&s);

	assert_int_equal(parse(&s, "{\"requires\": {\"min_cpus\": 4}}"), 0);
	assert_false(dg_sched_fits(&s.req, &gpu, why, sizeof(why)));
	assert_string_equal(why, "needs 4 cpus, node has 2");
	dg_sched_release(&s);

	assert_int_equal(parse(&s, "{\"requires\": {\"min_memory_mb\": 1024}}"), 0);
	assert_false(dg_sched_fits(&s.req, &plain, why, sizeof(why)));
	assert_string_equal(why, "needs 1024 MB of memory, node has 512");
	assert_true(dg_sched_fits(&s.req, &gpu, NULL, 0));
	dg_sched_release(&s);

	/* a requirement this version cannot check fits no node */
	assert_int_equal(parse(&s, "{\"requires\": {\"labels\": [\"gpu\"], \"tpu_cores\": 8}}"), 0);
	assert_string_equal(s.req.unknown, "tpu_cores");
	assert_false(dg_sched_fits(&s.req, &gpu, why, sizeof(why)));
	assert_non_null(strstr(why, "requirement 'tpu_cores' is not known to dgrid"));
	dg_sched_release(&s);

	dg_node_facts_release(&gpu);
	dg_node_facts_release(&plain);
}

static void test_facts(void **state)
{
	const char *reg = "{\"labels\": [\"gpu\", 5, \"big\"], \"arch\": \"x86_64\", \"cpus\": 4, "
			  "\"memory_bytes\": 2147483648}";
	json_t *doc = dg_json_load_object(reg, strlen(reg));
	struct dg_node_facts f, local;

	(void)state;
	dg_node_facts_from_json(&f, doc);
	assert_int_equal(f.labels_nr, 2);
	assert_string_equal(f.labels[1], "big");
	assert_string_equal(f.arch, "x86_64");
	assert_int_equal(f.cpus, 4);
	assert_int_equal(f.memory_mb, 2048);
	dg_node_facts_release(&f);
	json_decref(doc);

	/* a registration of an older version without facts: nothing offered */
	doc = json_object();
	dg_node_facts_from_json(&f, doc);
	assert_int_equal(f.labels_nr, 0);
	assert_null(f.arch);
	assert_int_equal(f.cpus, 0);
	dg_node_facts_release(&f);
	json_decref(doc);

	dg_node_facts_local(&local, "");
	assert_int_equal(local.labels_nr, 0);
	assert_true(local.cpus >= 1);
	assert_true(local.memory_mb > 0);
	assert_non_null(local.arch);
	dg_node_facts_release(&local);

	assert_string_equal(dg_arch_canonical("amd64"), "x86_64");
	assert_string_equal(dg_arch_canonical("arm64"), "aarch64");
	assert_string_equal(dg_arch_canonical("riscv64"), "riscv64");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_crash_claims),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_too_many_labels),
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_facts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
