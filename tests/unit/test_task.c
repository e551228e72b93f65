#include "common.h"
#include "error.h"
#include "strbuf.h"
#include "task.h"

#include <setjmp.h>
#include <cmocka.h>

struct bad_case {
	const char *name;
	const char *json;
	const char *file_name;
	const char *reason;
};

#define SEED_TAIL "\"script\": \"echo hi\", \"timeout_seconds\": 30}"

static const struct bad_case bad_cases[] = {
	{ "malformed: missing comma", "{\"task_id\": \"a\" \"script\": \"x\"}", NULL,
	  "line 1 column" },
	{ "malformed: bare word on line 3", "{\n\"task_id\": \"a\",\n\"script\": echo}", NULL,
	  "line 3 column" },
	{ "truncated inside a string", "{\"task_id\": \"a\", \"script\": \"echo", NULL,
	  "premature end of input" },
	{ "truncated after a value", "{\"task_id\": \"a\",\n \"script\": \"echo\",\n \"timeout_seconds\": 3",
	  NULL, "line 3 column" },
	{ "empty input", "", NULL, "line 1 column" },
	{ "top level array", "[{\"task_id\": \"a\"}]", NULL, "expected a JSON object, got array" },
	{ "top level string", "\"task\"", NULL, "expected a JSON object, got string" },
	{ "top level null", "null", NULL, "expected a JSON object, got null" },
	{ "top level number", "42", NULL, "expected a JSON object, got integer" },
	{ "missing task_id", "{" SEED_TAIL, NULL, "missing task_id" },
	{ "missing script", "{\"task_id\": \"a\", \"timeout_seconds\": 30}", NULL, "missing script" },
	{ "task_id integer", "{\"task_id\": 7, " SEED_TAIL, NULL,
	  "line 1 column 13: expected string for task_id, got integer" },
	{ "task_id null", "{\"task_id\": null, " SEED_TAIL, NULL, "expected string for task_id, got null" },
	{ "task_id array", "{\"task_id\": [\"a\"], " SEED_TAIL, NULL, "expected string for task_id, got array" },
	{ "script integer", "{\"task_id\": \"a\", \"script\": 5, \"timeout_seconds\": 30}", NULL,
	  "expected string for script, got integer" },
	{ "script nested object", "{\"task_id\": \"a\", \"script\": {\"run\": \"ls\"}, \"timeout_seconds\": 30}",
	  NULL, "expected string for script, got object" },
	{ "script array", "{\"task_id\": \"a\", \"script\": [\"ls\"], \"timeout_seconds\": 30}", NULL,
	  "expected string for script, got array" },
	{ "script empty", "{\"task_id\": \"a\", \"script\": \"\", \"timeout_seconds\": 30}", NULL,
	  "script is empty" },
	{ "script with NUL", "{\"task_id\": \"a\", \"script\": \"ab\\u0000cd\", \"timeout_seconds\": 30}",
	  NULL, "script contains a NUL byte at offset 2" },
	{ "task_id with slash", "{\"task_id\": \"a/b\", " SEED_TAIL, NULL,
	  "task_id 'a/b' has characters outside [A-Za-z0-9_-]" },
	{ "task_id ..", "{\"task_id\": \"..\", " SEED_TAIL, NULL,
	  "task_id '..' has characters outside [A-Za-z0-9_-]" },
	{ "task_id ../x", "{\"task_id\": \"../x\", " SEED_TAIL, NULL,
	  "task_id '../x' has characters outside [A-Za-z0-9_-]" },
	{ "task_id e-acute", "{\"task_id\": \"caf\xc3\xa9\", " SEED_TAIL, NULL,
	  "task_id 'caf\xc3\xa9' has characters outside" },
	{ "task_id emoji", "{\"task_id\": \"\\ud83d\\ude80\", " SEED_TAIL, NULL,
	  "task_id '\xf0\x9f\x9a\x80' has characters outside" },
	{ "task_id empty", "{\"task_id\": \"\", " SEED_TAIL, NULL, "task_id is empty" },
	{ "task_id 65 characters",
	  "{\"task_id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", " SEED_TAIL,
	  NULL, "task_id is 65 characters, limit 64" },
	{ "task_id with space", "{\"task_id\": \"a b\", " SEED_TAIL, NULL,
	  "task_id 'a b' has characters outside" },
	{ "task_id with NUL", "{\"task_id\": \"a\\u0000b\", " SEED_TAIL, NULL,
	  "task_id 'a\\x00b' has characters outside" },
	{ "task_id with newline", "{\"task_id\": \"a\\nb\", " SEED_TAIL, NULL,
	  "task_id 'a\\x0ab' has characters outside" },
	{ "file name mismatch", "{\"task_id\": \"b\", " SEED_TAIL, "a.json",
	  "file name 'a.json' does not match task_id 'b'" },
	{ "file name without .json", "{\"task_id\": \"b\", " SEED_TAIL, "b",
	  "file name 'b' does not match task_id 'b'" },
	{ "file name b.json.json", "{\"task_id\": \"b\", " SEED_TAIL, "b.json.json",
	  "does not match task_id 'b'" },
	{ "timeout 9", "{\"task_id\": \"a\", \"script\": \"x\", \"timeout_seconds\": 9}", NULL,
	  "timeout_seconds 9 is below the minimum 10" },
	{ "timeout 301", "{\"task_id\": \"a\", \"script\": \"x\", \"timeout_seconds\": 301}", NULL,
	  "timeout_seconds 301 is above the maximum 300" },
	{ "timeout string", "{\"task_id\": \"a\", \"script\": \"x\", \"timeout_seconds\": \"30\"}", NULL,
	  "line 1 column 52: expected integer for timeout_seconds, got string" },
	{ "timeout 30.5", "{\"task_id\": \"a\", \"script\": \"x\", \"timeout_seconds\": 30.5}", NULL,
	  "expected integer for timeout_seconds, got real" },
	{ "timeout -1", "{\"task_id\": \"a\", \"script\": \"x\", \"timeout_seconds\": -1}", NULL,
	  "timeout_seconds -1 is below the minimum 10" },
	{ "timeout null", "{\"task_id\": \"a\", \"script\": \"x\", \"timeout_seconds\": null}", NULL,
	  "expected integer for timeout_seconds, got null" },
	{ "timeout 1e30", "{\"task_id\": \"a\", \"script\": \"x\", \"timeout_seconds\": 1e30}", NULL,
	  "expected integer for timeout_seconds, got real" },
	{ "timeout true", "{\"task_id\": \"a\", \"script\": \"x\", \"timeout_seconds\": true}", NULL,
	  "expected integer for timeout_seconds, got true" },
	{ "timeout beyond int64", "{\"task_id\": \"a\", \"script\": \"x\", \"timeout_seconds\": 99999999999999999999}",
	  NULL, "too big integer" },
	{ "timeout on line 3", "{\n  \"task_id\": \"a\", \"script\": \"x\",\n  \"timeout_seconds\": \"30\"\n}",
	  NULL, "line 3 column 22: expected integer for timeout_seconds" },
	{ "duplicate keys", "{\"task_id\": \"a\", \"task_id\": \"b\", " SEED_TAIL, NULL,
	  "duplicate object key" },
	{ "trailing garbage", "{\"task_id\": \"a\", " SEED_TAIL " x", NULL, "end of file expected" },
	{ "two objects", "{\"task_id\": \"a\", " SEED_TAIL "{}", NULL, "end of file expected" },
	{ "invalid UTF-8 in input", "{\"task_id\": \"a\", \"script\": \"\xff\", \"timeout_seconds\": 30}",
	  NULL, "unable to decode byte" },
	{ "node_id integer", "{\"task_id\": \"a\", \"script\": \"x\", \"node_id\": 3}", NULL,
	  "expected string for node_id, got integer" },
	{ "node_id traversal", "{\"task_id\": \"a\", \"script\": \"x\", \"node_id\": \"../w\"}", NULL,
	  "node_id '../w' has characters outside" },
	{ "attempt string", "{\"task_id\": \"a\", \"script\": \"x\", \"attempt\": \"1\"}", NULL,
	  "expected integer for attempt, got string" },
	{ "handed back more than claimed", "{\"task_id\": \"a\", \"script\": \"x\", \"attempt\": 2, \"handed_back\": 3}",
	  NULL, "handed_back 3 is more than the claims made (attempt 2)" },
	{ "handed back, never claimed", "{\"task_id\": \"a\", \"script\": \"x\", \"handed_back\": 1000000}",
	  NULL, "handed_back 1000000 is more than the claims made (attempt 0)" },
	{ "claimed_at integer", "{\"task_id\": \"a\", \"script\": \"x\", \"claimed_at\": 1}", NULL,
	  "expected string for claimed_at, got integer" },
};

static void test_bad(void **state)
{
	const struct bad_case *c = *state;
	struct dg_task task = DG_TASK_INIT;
	int ret;

	dg_error_clear();
	ret = dg_task_parse(&task, c->json, strlen(c->json), c->file_name, NULL);
	if (ret != DG_EINVALID || !strstr(dg_error_last(), c->reason))
		fail_msg("%s: ret %d, error '%s', wanted '%s'", c->name, ret,
			 dg_error_last(), c->reason);
	assert_null(task.doc);
	assert_null(task.task_id);
}

static void test_bad_script_too_long(void **state DG_UNUSED)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;
	struct dg_task task = DG_TASK_INIT;

	dg_strbuf_addstr(&sb, "{\"task_id\": \"a\", \"script\": \"");
	for (int i = 0; i < 5001; i++)
		dg_strbuf_addch(&sb, 'x');
	dg_strbuf_addstr(&sb, "\", \"timeout_seconds\": 30}");
	assert_int_equal(dg_task_parse(&task, sb.buf, sb.len, NULL, NULL), DG_EINVALID);
	assert_non_null(strstr(dg_error_last(), "script is 5,001 bytes, limit 5,000"));
	dg_strbuf_release(&sb);
}

static void test_bad_script_7312(void **state DG_UNUSED)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;
	struct dg_task task = DG_TASK_INIT;

	dg_strbuf_addstr(&sb, "{\"task_id\": \"a\", \"script\": \"");
	for (int i = 0; i < 7312; i++)
		dg_strbuf_addch(&sb, 'x');
	dg_strbuf_addstr(&sb, "\"}");
	assert_int_equal(dg_task_parse(&task, sb.buf, sb.len, NULL, NULL), DG_EINVALID);
	assert_string_equal(dg_error_last(), "script is 7,312 bytes, limit 5,000");
	dg_strbuf_release(&sb);
}

static void test_bad_huge_input(void **state DG_UNUSED)
{
	size_t len = 10 * 1024 * 1024;
	char *buf = dg_xmalloc(len);
	struct dg_task task = DG_TASK_INIT;

	memset(buf, ' ', len);
	buf[0] = '{';
	buf[len - 1] = '}';
	assert_int_equal(dg_task_parse(&task, buf, len, NULL, NULL), DG_EINVALID);
	assert_string_equal(dg_error_last(), "task file is 10,485,760 bytes, limit 65,536");
	assert_int_equal(dg_task_check_size(65536, NULL), 0);
	assert_int_equal(dg_task_check_size(65537, NULL), DG_EINVALID);
	free(buf);
}

static void test_seed_example(void **state DG_UNUSED)
{
	const char *seed = "{\"task_id\": \"task-001\", \"script\": \"echo 'Hello, D-GRID!' && python3 --version\", \"timeout_seconds\": 30}";
	struct dg_task task = DG_TASK_INIT;

	assert_int_equal(dg_task_parse(&task, seed, strlen(seed), "task-001.json", NULL), 0);
	assert_string_equal(task.task_id, "task-001");
	assert_string_equal(task.script, "echo 'Hello, D-GRID!' && python3 --version");
	assert_int_equal(task.timeout_seconds, 30);
	assert_null(task.node_id);
	assert_null(task.claimed_at);
	assert_int_equal(task.attempt, 0);
	assert_non_null(task.doc);
	dg_task_release(&task);
	assert_null(task.doc);
}

static void test_timeout_default(void **state DG_UNUSED)
{
	const char *js = "{\"task_id\": \"t\", \"script\": \"true\"}";
	struct dg_task task = DG_TASK_INIT;
	struct dg_policy pol = dg_policy_default;

	assert_int_equal(dg_task_parse(&task, js, strlen(js), "t.json", NULL), 0);
	assert_int_equal(task.timeout_seconds, 30);
	dg_task_release(&task);
	pol.timeout_min = 60;
	pol.timeout_max = 120;
	assert_int_equal(dg_task_parse(&task, js, strlen(js), "t.json", &pol), 0);
	assert_int_equal(task.timeout_seconds, 60);
	dg_task_release(&task);
}

static void test_unknown_fields_round_trip(void **state DG_UNUSED)
{
	const char *js = "{\"task_id\": \"t1\", \"priority\": 5, \"script\": \"echo\",\n"
			 " \"timeout_seconds\": 30, \"labels\": [\"gpu\"], \"meta\": {\"a\": 1}}";
	struct dg_task task = DG_TASK_INIT, back = DG_TASK_INIT;
	struct dg_strbuf out = DG_STRBUF_INIT;
	const char *p;

	assert_int_equal(dg_task_parse(&task, js, strlen(js), "t1.json", NULL), 0);
	dg_task_set_claim(&task, "worker-1", "2026-11-27T10:01:23Z", 2);
	dg_task_to_json(&out, &task);
	assert_true(out.len > 0 && out.buf[out.len - 1] == '\n');
	assert_memory_equal(out.buf, "{\n  \"task_id\": \"t1\",\n  \"priority\": 5,", 37);
	p = strstr(out.buf, "\"labels\"");
	assert_non_null(p);
	assert_true(p < strstr(out.buf, "\"node_id\""));
	assert_int_equal(dg_task_parse(&back, out.buf, out.len, "t1.json", NULL), 0);
	assert_string_equal(back.node_id, "worker-1");
	assert_string_equal(back.claimed_at, "2026-11-27T10:01:23Z");
	assert_int_equal(back.attempt, 2);
	assert_int_equal(json_integer_value(json_object_get(back.doc, "priority")), 5);
	assert_string_equal(json_string_value(json_array_get(json_object_get(back.doc, "labels"), 0)), "gpu");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(back.doc, "meta"), "a")), 1);

	/* back to the queue: the claim disappears, the rest stays */
	dg_task_clear_claim(&back);
	assert_null(back.node_id);
	assert_int_equal(back.attempt, 0);
	dg_strbuf_reset(&out);
	dg_task_to_json(&out, &back);
	assert_null(strstr(out.buf, "node_id"));
	assert_null(strstr(out.buf, "attempt"));
	assert_non_null(strstr(out.buf, "\"priority\": 5"));
	dg_task_release(&back);

	/* re-claiming replaces the values in place */
	dg_task_set_claim(&task, "worker-2", "2026-11-27T11:00:00Z", 3);
	dg_strbuf_reset(&out);
	dg_task_to_json(&out, &task);
	assert_null(strstr(out.buf, "worker-1"));
	assert_non_null(strstr(out.buf, "\"attempt\": 3"));
	dg_task_release(&task);
	dg_strbuf_release(&out);
}

static void test_to_json_without_doc(void **state DG_UNUSED)
{
	struct dg_task task = DG_TASK_INIT, back = DG_TASK_INIT;
	struct dg_strbuf out = DG_STRBUF_INIT;

	task.task_id = dg_xstrdup("built");
	task.script = dg_xstrdup("echo built");
	task.timeout_seconds = 45;
	dg_task_to_json(&out, &task);
	assert_int_equal(dg_task_parse(&back, out.buf, out.len, "built.json", NULL), 0);
	assert_int_equal(back.timeout_seconds, 45);
	dg_task_release(&back);
	dg_task_release(&task);
	dg_strbuf_release(&out);
}

static void test_id_64_accepted(void **state DG_UNUSED)
{
	const char *js = "{\"task_id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_-\", "
			 "\"script\": \"x\", \"timeout_seconds\": 10}";
	struct dg_task task = DG_TASK_INIT;

	assert_int_equal(dg_task_parse(&task, js, strlen(js), NULL, NULL), 0);
	assert_int_equal(strlen(task.task_id), 64);
	dg_task_release(&task);
	assert_int_equal(dg_task_id_check("Task_01-x", NULL), 0);
	assert_int_equal(dg_task_id_check("a.b", NULL), DG_EINVALID);
	assert_int_equal(dg_task_id_check("", NULL), DG_EINVALID);
}

static void test_policy_overrides(void **state DG_UNUSED)
{
	const char *pj = "{\"$comment\": \"bigger scripts\", \"script_max\": 10000,\n"
			 " \"timeout_max\": 600, \"id_max\": 8}";
	struct dg_policy pol = dg_policy_default;
	struct dg_strbuf sb = DG_STRBUF_INIT;
	struct dg_task task = DG_TASK_INIT;

	assert_int_equal(dg_policy_parse(&pol, pj, strlen(pj)), 0);
	assert_int_equal(pol.script_max, 10000);
	assert_int_equal(pol.timeout_max, 600);
	assert_int_equal(pol.id_max, 8);
	assert_int_equal(pol.timeout_min, 10);
	dg_strbuf_addstr(&sb, "{\"task_id\": \"a\", \"timeout_seconds\": 600, \"script\": \"");
	for (int i = 0; i < 7312; i++)
		dg_strbuf_addch(&sb, 'x');
	dg_strbuf_addstr(&sb, "\"}");
	assert_int_equal(dg_task_parse(&task, sb.buf, sb.len, "a.json", &pol), 0);
	assert_int_equal(task.timeout_seconds, 600);
	dg_task_release(&task);
	assert_int_equal(dg_task_parse(&task, sb.buf, sb.len, "a.json", NULL), DG_EINVALID);
	assert_int_equal(dg_task_id_check("abcdefgh", &pol), 0);
	assert_int_equal(dg_task_id_check("abcdefghi", &pol), DG_EINVALID);
	assert_string_equal(dg_error_last(), "task_id is 9 characters, limit 8");
	dg_strbuf_release(&sb);
}

static void check_policy_error(const char *json, const char *reason)
{
	struct dg_policy pol = dg_policy_default;

	if (dg_policy_parse(&pol, json, strlen(json)) != DG_EINVALID ||
	    !strstr(dg_error_last(), reason))
		fail_msg("policy %s: error '%s', wanted '%s'", json, dg_error_last(), reason);
	assert_memory_equal(&pol, &dg_policy_default, sizeof(pol));
}

static void test_policy_errors(void **state DG_UNUSED)
{
	check_policy_error("{\"script_max\": 9000, \"colour\": 3, \"pids\": 0}",
			   "policy pids 0 is outside");
	check_policy_error("{\"protocol\": 0}", "policy protocol 0 is outside");
	check_policy_error("{\"timeout_max\": 0}", "policy timeout_max 0 is outside 1..86,400");
	check_policy_error("{\"pids\": -5}", "policy pids -5 is outside 1..65,536");
	check_policy_error("{\"memory_bytes\": 1024}", "policy memory_bytes 1024 is outside");
	check_policy_error("{\"timeout_min\": 100, \"timeout_max\": 50}",
			   "policy timeout_min 100 is above timeout_max 50");
	check_policy_error("{\"node_timeout\": 20}", "node_timeout 20 must be at least twice heartbeat_interval 30");
	check_policy_error("{\"pids\": \"64\"}", "line 1 column 10: expected integer for pids, got string");
	check_policy_error("{\"pids\": 6.4}", "expected integer for pids, got real");
	check_policy_error("{\"pids\": 6, \"pids\": 7}", "duplicate object key");
	check_policy_error("[]", "expected a JSON object, got array");
	check_policy_error("{", "line 1 column");
}

/* The push budget: the policy's, else GitHub's guidance on github.com, else none. */
static void test_policy_push_budget(void **state DG_UNUSED)
{
	struct dg_policy pol = dg_policy_default;
	const char *json = "{\"push_budget\": 60, \"claim_batch_max\": 4}";

	assert_int_equal(dg_policy_push_budget(&pol, "https://github.com/o/r.git"), 6);
	assert_int_equal(dg_policy_push_budget(&pol, "git@github.com:o/r.git"), 6);
	assert_int_equal(dg_policy_push_budget(&pol, "git://127.0.0.1:9418/g.git"), 0);
	assert_int_equal(pol.claim_batch_max, 64);
	assert_int_equal(dg_policy_parse(&pol, json, strlen(json)), 0);
	assert_int_equal(dg_policy_push_budget(&pol, "https://github.com/o/r.git"), 60);
	assert_int_equal(pol.claim_batch_max, 4);
	json = "{\"push_budget\": 0}";
	assert_int_equal(dg_policy_parse(&pol, json, strlen(json)), 0);
	assert_int_equal(dg_policy_push_budget(&pol, "https://github.com/o/r.git"), 0);
	check_policy_error("{\"claim_batch_max\": 0}", "policy claim_batch_max 0 is outside 1..1,000");
}

/* Keys of newer versions are skipped, counted and named; the rest applies. */
static void test_policy_unknown_keys(void **state DG_UNUSED)
{
	struct dg_policy pol = dg_policy_default;
	const char *json = "{\"fan_out\": 6, \"script_max\": 9000, \"colour\": {\"x\": 1}}";

	assert_int_equal(dg_policy_parse(&pol, json, strlen(json)), 0);
	assert_int_equal(pol.script_max, 9000);
	assert_int_equal(pol.ignored_nr, 2);
	assert_string_equal(pol.ignored, "fan_out");
	assert_int_equal(dg_policy_check_protocol(&pol), 0);
	json = "{\"protocol\": 4}";
	assert_int_equal(dg_policy_parse(&pol, json, strlen(json)), 0);
	assert_int_equal(pol.ignored_nr, 0);
	assert_int_equal(pol.protocol, 4);
	assert_int_equal(dg_policy_check_protocol(&pol), DG_EPROTOCOL);
	assert_non_null(strstr(dg_error_last(), "the grid requires protocol 4"));
	json = "{\"protocol\": 3}";
	assert_int_equal(dg_policy_parse(&pol, json, strlen(json)), 0);
	assert_int_equal(dg_policy_check_protocol(&pol), 0);
	json = "{\"protocol\": 1}";
	assert_int_equal(dg_policy_parse(&pol, json, strlen(json)), 0);
	assert_int_equal(dg_policy_check_protocol(&pol), 0);
}

/* Heartbeats: always on protocol 1; on 2 only when the policy asks. */
static void test_policy_leases(void **state DG_UNUSED)
{
	struct dg_policy pol = dg_policy_default;
	struct dg_task t = DG_TASK_INIT;
	const char *json;

	assert_true(dg_policy_heartbeats(&pol));
	json = "{\"protocol\": 2}";
	assert_int_equal(dg_policy_parse(&pol, json, strlen(json)), 0);
	assert_false(dg_policy_heartbeats(&pol));
	assert_int_equal(dg_policy_lease_seconds(&pol, 30), 90);
	json = "{\"protocol\": 2, \"node_timeout\": 120, \"lease_margin\": 5}";
	assert_int_equal(dg_policy_parse(&pol, json, strlen(json)), 0);
	assert_true(dg_policy_heartbeats(&pol));
	assert_int_equal(dg_policy_lease_seconds(&pol, 30), 35);

	/* a claim's own lease counts only when the task could end within it */
	json = "{\"task_id\": \"t\", \"script\": \"true\", \"timeout_seconds\": 30, \"lease_seconds\": 3}";
	assert_int_equal(dg_task_parse(&t, json, strlen(json), "t.json", &dg_policy_default), 0);
	assert_int_equal(dg_task_lease(&t, &pol), 35);
	dg_task_set_lease(&t, 100);
	assert_int_equal(dg_task_lease(&t, &pol), 100);
	dg_task_clear_claim(&t);
	assert_null(json_object_get(t.doc, "lease_seconds"));
	dg_task_release(&t);
}

/* The fetch budget: the policy's, else GitHub's guidance on github.com only. */
static void test_policy_fetch_budget(void **state DG_UNUSED)
{
	struct dg_policy pol = dg_policy_default;
	const char *json = "{\"fetch_budget\": 0}";

	assert_int_equal(dg_policy_fetch_budget(&pol, "https://github.com/o/r.git"), 900);
	assert_int_equal(dg_policy_fetch_budget(&pol, "https://x-access-token:t@GitHub.com/o/r"), 900);
	assert_int_equal(dg_policy_fetch_budget(&pol, "git@github.com:o/r.git"), 900);
	assert_int_equal(dg_policy_fetch_budget(&pol, "ssh://git@github.com:22/o/r"), 900);
	assert_int_equal(dg_policy_fetch_budget(&pol, "https://github.company.com/o/r"), 0);
	assert_int_equal(dg_policy_fetch_budget(&pol, "https://evil.example/github.com/r"), 0);
	assert_int_equal(dg_policy_fetch_budget(&pol, "git://127.0.0.1:9418/grid.git"), 0);
	assert_int_equal(dg_policy_fetch_budget(&pol, "/srv/github.com/grid.git"), 0);
	assert_int_equal(dg_policy_parse(&pol, json, strlen(json)), 0);
	assert_int_equal(dg_policy_fetch_budget(&pol, "https://github.com/o/r.git"), 0);
	json = "{\"fetch_budget\": 60}";
	assert_int_equal(dg_policy_parse(&pol, json, strlen(json)), 0);
	assert_int_equal(dg_policy_fetch_budget(&pol, "git://127.0.0.1/g.git"), 60);
}

static void test_result_round_trip(void **state DG_UNUSED)
{
	static const char raw[] = "ok\0bin\xff\xc0\x80 \xed\xa0\x80 \xe2\x82 caf\xc3\xa9 \xf0\x9f\x9a\x80\n";
	static const char want[] = "ok\0bin\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
				   "\xef\xbf\xbd\xef\xbf\xbd caf\xc3\xa9 \xf0\x9f\x9a\x80\n";
	struct dg_result res = DG_RESULT_INIT, back = DG_RESULT_INIT;
	struct dg_strbuf out = DG_STRBUF_INIT;
	json_t *check;

	res.task_id = dg_xstrdup("task-001");
	res.node_id = dg_xstrdup("worker-001");
	res.exit_code = 3;
	dg_result_set_output(&res, raw, sizeof(raw) - 1, "", 0);
	memcpy(res.timestamp, "2026-11-27T10:01:23Z", 21);
	res.status = DG_RESULT_FAILED;
	res.stdout_truncated = true;
	res.attempt = 2;
	res.duration_ms = 1234;
	res.executor = dg_xstrdup("process");
	dg_result_to_json(&out, &res);
	assert_int_equal(memchr(out.buf, '\0', out.len), NULL);
	assert_non_null(strstr(out.buf, "ok\\u0000bin"));
	check = json_loadb(out.buf, out.len, JSON_ALLOW_NUL, NULL);
	assert_non_null(check);
	json_decref(check);

	assert_int_equal(dg_result_parse(&back, out.buf, out.len), 0);
	assert_string_equal(back.task_id, "task-001");
	assert_string_equal(back.node_id, "worker-001");
	assert_int_equal(back.exit_code, 3);
	assert_int_equal(back.stdout_len, sizeof(want) - 1);
	assert_memory_equal(back.stdout_text, want, sizeof(want) - 1);
	assert_string_equal(back.stderr_text, "");
	assert_string_equal(back.timestamp, "2026-11-27T10:01:23Z");
	assert_int_equal(back.status, DG_RESULT_FAILED);
	assert_true(back.stdout_truncated);
	assert_false(back.stderr_truncated);
	assert_null(back.reason);
	assert_null(back.started_at);
	assert_int_equal(back.attempt, 2);
	assert_int_equal(back.duration_ms, 1234);
	assert_string_equal(back.executor, "process");
	dg_result_release(&back);
	dg_result_release(&res);
	dg_strbuf_release(&out);
}

static void test_result_seed_order(void **state DG_UNUSED)
{
	static const char *const order[] = {
		"\"task_id\"", "\"node_id\"", "\"exit_code\"", "\"stdout\"", "\"stderr\"",
		"\"timestamp\"", "\"status\"", "\"stdout_truncated\"", "\"stderr_truncated\"",
		"\"reason\"", "\"attempt\"", "\"started_at\"", "\"duration_ms\"",
	};
	struct dg_result res = DG_RESULT_INIT;
	struct dg_strbuf out = DG_STRBUF_INIT;
	const char *prev = NULL, *p;

	res.task_id = dg_xstrdup("t");
	res.node_id = dg_xstrdup("w");
	res.stdout_text = dg_xstrdup("Hello, D-GRID!\n");
	res.status = DG_RESULT_REJECTED;
	res.reason = dg_xstrdup("task_id '../x' has characters outside [A-Za-z0-9_-]");
	res.started_at = dg_xstrdup("2026-11-27T10:01:20Z");
	dg_utc_now(res.timestamp);
	dg_result_to_json(&out, &res);
	for (size_t i = 0; i < DG_ARRAY_SIZE(order); i++) {
		p = strstr(out.buf, order[i]);
		if (!p || (prev && p <= prev))
			fail_msg("%s out of order in %s", order[i], out.buf);
		prev = p;
	}
	assert_null(strstr(out.buf, "executor"));
	assert_non_null(strstr(out.buf, "\"status\": \"rejected\""));
	assert_non_null(strstr(out.buf, "\"stdout\": \"Hello, D-GRID!\\n\""));
	assert_int_equal(out.buf[out.len - 1], '\n');
	dg_result_release(&res);
	dg_strbuf_release(&out);
}

static void test_result_seed_file(void **state DG_UNUSED)
{
	const char *js = "{\"task_id\": \"task-001\", \"node_id\": \"worker-001\", \"exit_code\": 0,\n"
			 " \"stdout\": \"Hello, D-GRID!\\n\", \"stderr\": \"\", \"timestamp\": \"2026-11-27T10:01:23Z\",\n"
			 " \"status\": \"success\", \"python_version\": \"3.11\"}";
	struct dg_result res = DG_RESULT_INIT;
	struct dg_strbuf out = DG_STRBUF_INIT;

	assert_int_equal(dg_result_parse(&res, js, strlen(js)), 0);
	assert_int_equal(res.status, DG_RESULT_SUCCESS);
	assert_int_equal(res.attempt, 0);
	assert_false(res.stdout_truncated);
	assert_null(res.executor);
	dg_result_to_json(&out, &res);
	assert_non_null(strstr(out.buf, "\"python_version\": \"3.11\""));
	dg_result_release(&res);
	dg_strbuf_release(&out);
}

static void check_result_error(const char *json, const char *reason)
{
	struct dg_result res = DG_RESULT_INIT;

	if (dg_result_parse(&res, json, strlen(json)) != DG_EINVALID ||
	    !strstr(dg_error_last(), reason))
		fail_msg("result %s: error '%s', wanted '%s'", json, dg_error_last(), reason);
	assert_null(res.task_id);
}

#define R_HEAD "{\"task_id\": \"t\", \"node_id\": \"w\", "

static void test_result_errors(void **state DG_UNUSED)
{
	check_result_error(R_HEAD "\"exit_code\": \"0\", \"stdout\": \"\", \"stderr\": \"\", "
			   "\"timestamp\": \"x\", \"status\": \"success\"}",
			   "expected integer for exit_code, got string");
	check_result_error(R_HEAD "\"exit_code\": 0, \"stderr\": \"\", "
			   "\"timestamp\": \"x\", \"status\": \"success\"}", "missing stdout");
	check_result_error(R_HEAD "\"exit_code\": 0, \"stdout\": \"\", \"stderr\": \"\", "
			   "\"timestamp\": \"x\", \"status\": \"done\"}",
			   "status 'done' is not one of success, failed, timeout, rejected, abandoned, "
			   "cancelled, dependency_failed, no_quorum");
	check_result_error(R_HEAD "\"exit_code\": 0, \"stdout\": 1, \"stderr\": \"\", "
			   "\"timestamp\": \"x\", \"status\": \"success\"}",
			   "expected string for stdout, got integer");
	check_result_error(R_HEAD "\"exit_code\": 4294967296, \"stdout\": \"\", \"stderr\": \"\", "
			   "\"timestamp\": \"x\", \"status\": \"success\"}", "exit_code 4294967296 is out of range");
	check_result_error(R_HEAD "\"exit_code\": 0, \"stdout\": \"\", \"stderr\": \"\", "
			   "\"timestamp\": \"x\", \"status\": \"success\", \"stdout_truncated\": 1}",
			   "expected boolean for stdout_truncated, got integer");
	check_result_error(R_HEAD "\"exit_code\": 0, \"stdout\": \"\", \"stderr\": \"\", "
			   "\"timestamp\": \"x\", \"status\": \"success\", \"duration_ms\": -4}",
			   "duration_ms -4 is out of range");
	check_result_error("{\"task_id\": \"t\"}", "missing node_id");
	check_result_error("[]", "expected a JSON object, got array");
}

static void test_text_from_bytes(void **state DG_UNUSED)
{
	size_t len;
	char *s;

	s = dg_text_from_bytes_n("a\0b", 3, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "a\0b", 4);
	free(s);
	s = dg_text_from_bytes("\xf5\x80", 2);
	assert_string_equal(s, "\xef\xbf\xbd\xef\xbf\xbd");
	free(s);
	s = dg_text_from_bytes("\xe2\x82\xac", 3);
	assert_string_equal(s, "\xe2\x82\xac");
	free(s);
	s = dg_text_from_bytes("\xf4\x90\x80\x80", 4); /* above U+10FFFF */
	assert_memory_equal(s, "\xef\xbf\xbd", 3);
	free(s);
	s = dg_text_from_bytes("", 0);
	assert_string_equal(s, "");
	free(s);
}

static void test_status_names(void **state DG_UNUSED)
{
	static const char *const names[] = { "success", "failed", "timeout", "rejected", "abandoned" };
	enum dg_result_status st;

	for (size_t i = 0; i < DG_ARRAY_SIZE(names); i++) {
		assert_int_equal(dg_result_status_parse(&st, names[i]), 0);
		assert_int_equal(st, i);
		assert_string_equal(dg_result_status_name(st), names[i]);
	}
	assert_int_equal(dg_result_status_parse(&st, "Success"), DG_EINVALID);
}

static void test_utc_now(void **state DG_UNUSED)
{
	char ts[32];

	dg_utc_now(ts);
	assert_int_equal(strlen(ts), 20);
	assert_int_equal(ts[10], 'T');
	assert_int_equal(ts[19], 'Z');
	assert_memory_equal(ts, "20", 2);
}

static const struct CMUnitTest good_tests[] = {
	cmocka_unit_test(test_bad_script_too_long),
	cmocka_unit_test(test_bad_script_7312),
	cmocka_unit_test(test_bad_huge_input),
	cmocka_unit_test(test_seed_example),
	cmocka_unit_test(test_timeout_default),
	cmocka_unit_test(test_unknown_fields_round_trip),
	cmocka_unit_test(test_to_json_without_doc),
	cmocka_unit_test(test_id_64_accepted),
	cmocka_unit_test(test_policy_overrides),
	cmocka_unit_test(test_policy_errors),
	cmocka_unit_test(test_policy_unknown_keys),
	cmocka_unit_test(test_policy_leases),
	cmocka_unit_test(test_policy_fetch_budget),
	cmocka_unit_test(test_policy_push_budget),
	cmocka_unit_test(test_result_round_trip),
	cmocka_unit_test(test_result_seed_order),
	cmocka_unit_test(test_result_seed_file),
	cmocka_unit_test(test_result_errors),
	cmocka_unit_test(test_text_from_bytes),
	cmocka_unit_test(test_status_names),
	cmocka_unit_test(test_utc_now),
};

int main(void)
{
	size_t nbad = DG_ARRAY_SIZE(bad_cases), n = nbad + DG_ARRAY_SIZE(good_tests);
	struct CMUnitTest *tests = dg_xcalloc(n, sizeof(*tests));
	int ret;

	for (size_t i = 0; i < nbad; i++) {
		tests[i].name = bad_cases[i].name;
		tests[i].test_func = test_bad;
		tests[i].initial_state = (void *)&bad_cases[i];
	}
	memcpy(tests + nbad, good_tests, sizeof(good_tests));
	ret = _cmocka_run_group_tests("task", tests, n, NULL, NULL);
	free(tests);
	return ret;
}
