/*
 * task.c - task files: parsing, validation, claims and serialisation.
 */
#include "task.h"
#include "error.h"
#include "jsonio.h"

#define DG_TASK_TIMEOUT_DEFAULT 30

static bool id_char_ok(unsigned char c, bool dot_ok)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || (dot_ok && c == '.');
}

/* what is "task_id" or "node_id"; s may hold NUL bytes (len is exact). */
static int name_check(const char *what, const char *s, size_t len, size_t max, bool dot_ok)
{
	char q[160], n[32], m[32];

	if (len == 0) {
		dg_error_set("%s is empty", what);
		return DG_EINVALID;
	}
	for (size_t i = 0; i < len; i++) {
		if (!id_char_ok((unsigned char)s[i], dot_ok)) {
			dg_error_set("%s '%s' has characters outside %s", what,
				     dg_fmt_quoted(q, sizeof(q), s, len, 80),
				     dot_ok ? "[A-Za-z0-9_.-]" : "[A-Za-z0-9_-]");
			return DG_EINVALID;
		}
	}
	if (len > max) {
		dg_error_set("%s is %s characters, limit %s", what,
			     dg_fmt_thousands(n, len), dg_fmt_thousands(m, max));
		return DG_EINVALID;
	}
	return 0;
}

/*
 * A node id names a file (nodes/ID.json), a ref (refs/dgrid/nodes/ID), a
 * spool directory and a command-line value, so besides its characters it
 * must be a valid ref component and must not look like an option.
 */
static int node_name_check(const char *s, size_t len)
{
	char q[160];
	const char *why = NULL;

	if (name_check("node_id", s, len, DG_NODE_ID_MAX, true) < 0)
		return DG_EINVALID;
	if (s[0] == '.' || s[0] == '-')
		why = "starts with '.' or '-'";
	else if (memmem(s, len, "..", 2))
		why = "contains '..'";
	else if (s[len - 1] == '.')
		why = "ends with '.'";
	else if (len >= 5 && !memcmp(s + len - 5, ".lock", 5))
		why = "ends with '.lock'";
	if (!why)
		return 0;
	dg_error_set("node_id '%s' %s (not a valid Git ref name)", dg_fmt_quoted(q, sizeof(q), s, len, 80), why);
	return DG_EINVALID;
}

int dg_node_id_check(const char *id)
{
	return node_name_check(id, strlen(id));
}

int dg_task_id_check(const char *id, const struct dg_policy *pol)
{
	if (!pol)
		pol = &dg_policy_default;
	return name_check("task_id", id, strlen(id), pol->id_max, false);
}

static int check_size(size_t size, size_t max, const struct dg_policy *pol)
{
	char n[32], m[32];

	if (size <= max)
		return 0;
	dg_error_set("task file is %s bytes, limit %s", dg_fmt_thousands(n, size),
		     dg_fmt_thousands(m, pol->file_max));
	return DG_EINVALID;
}

int dg_task_check_size(size_t size, const struct dg_policy *pol)
{
	if (!pol)
		pol = &dg_policy_default;
	return check_size(size, pol->file_max, pol);
}

int dg_task_check_stored_size(size_t size, const struct dg_policy *pol)
{
	if (!pol)
		pol = &dg_policy_default;
	/* room for a signed task's envelope: its signed bytes, escaped, and the signature */
	return check_size(size, 3 * pol->file_max + 8192, pol);
}

/*
 * The limit holds for the task as submitted. A claim or a task handed back
 * also carries its signed bytes and signature (tasksign.h, "signed"): the
 * envelope's signed bytes are held to the limit, the rest of the file too.
 */
static int check_unsigned_size(json_t *doc, size_t len, const struct dg_policy *pol)
{
	json_t *env = json_object_get(doc, "signed");
	size_t rest = len;
	char n[32], m[32];
	int ret = 0;

	if (json_is_object(env)) {
		size_t inner = json_string_length(json_object_get(env, "task"));
		json_t *copy = json_copy(doc);   /* shallow */
		char *without;

		json_object_del(copy, "signed");
		without = json_dumps(copy, JSON_COMPACT);
		rest = without ? strlen(without) : len;
		free(without);
		json_decref(copy);
		if (inner > rest)
			rest = inner;
	}
	if (rest > pol->file_max) {
		dg_error_set("task file is %s bytes, limit %s", dg_fmt_thousands(n, rest),
			     dg_fmt_thousands(m, pol->file_max));
		ret = DG_EINVALID;
	}
	return ret;
}

/* Type errors carry the position of the offending value. */
static int type_error(const char *buf, size_t len, const char *key,
		      const char *want, const json_t *got)
{
	char pos[64];

	dg_json_key_pos(pos, sizeof(pos), buf, len, key);
	dg_error_set("%sexpected %s for %s, got %s", pos, want, key, dg_json_type_name(got));
	return DG_EINVALID;
}

static int check_file_name(const char *file_name, const char *id)
{
	size_t flen = strlen(file_name), ilen = strlen(id);
	char q1[160], q2[160];

	if (flen == ilen + 5 && !memcmp(file_name, id, ilen) &&
	    !strcmp(file_name + ilen, ".json"))
		return 0;
	dg_error_set("file name '%s' does not match task_id '%s'",
		     dg_fmt_quoted(q1, sizeof(q1), file_name, flen, 80),
		     dg_fmt_quoted(q2, sizeof(q2), id, ilen, 80));
	return DG_EINVALID;
}

static int parse_claim(struct dg_task *task, json_t *root, const char *buf, size_t len)
{
	json_t *v;

	v = json_object_get(root, "node_id");
	if (v) {
		if (!json_is_string(v))
			return type_error(buf, len, "node_id", "string", v);
		if (node_name_check(json_string_value(v), json_string_length(v)) < 0)
			return DG_EINVALID;
		task->node_id = dg_xstrdup(json_string_value(v));
	}
	v = json_object_get(root, "claimed_at");
	if (v) {
		if (!json_is_string(v))
			return type_error(buf, len, "claimed_at", "string", v);
		if (strlen(json_string_value(v)) != json_string_length(v) ||
		    json_string_length(v) >= 32) {
			dg_error_set("claimed_at is not an RFC 3339 time");
			return DG_EINVALID;
		}
		task->claimed_at = dg_xstrdup(json_string_value(v));
	}
	v = json_object_get(root, "attempt");
	if (v) {
		if (!json_is_integer(v))
			return type_error(buf, len, "attempt", "integer", v);
		if (json_integer_value(v) < 0 || json_integer_value(v) > 1000000) {
			dg_error_set("attempt %" JSON_INTEGER_FORMAT " is out of range",
				     json_integer_value(v));
			return DG_EINVALID;
		}
		task->attempt = (unsigned)json_integer_value(v);
	}
	return 0;
}

int dg_task_parse(struct dg_task *task, const char *buf, size_t len,
		  const char *file_name, const struct dg_policy *pol)
{
	struct dg_task t = DG_TASK_INIT;
	char n[32], m[32];
	json_t *v;
	const char *s, *nul;
	size_t slen;
	int ret = DG_EINVALID;

	if (!pol)
		pol = &dg_policy_default;
	if (dg_task_check_stored_size(len, pol) < 0)
		goto out;
	t.doc = dg_json_load_object(buf, len);
	if (!t.doc || check_unsigned_size(t.doc, len, pol) < 0)
		goto out;

	v = json_object_get(t.doc, "task_id");
	if (!v) {
		dg_error_set("missing task_id");
		goto out;
	}
	if (!json_is_string(v)) {
		ret = type_error(buf, len, "task_id", "string", v);
		goto out;
	}
	if (name_check("task_id", json_string_value(v), json_string_length(v), pol->id_max, false) < 0)
		goto out;
	t.task_id = dg_xstrdup(json_string_value(v));
	if (file_name && check_file_name(file_name, t.task_id) < 0)
		goto out;

	v = json_object_get(t.doc, "script");
	if (!v) {
		dg_error_set("missing script");
		goto out;
	}
	if (!json_is_string(v)) {
		ret = type_error(buf, len, "script", "string", v);
		goto out;
	}
	s = json_string_value(v);
	slen = json_string_length(v);
	if (slen == 0) {
		dg_error_set("script is empty");
		goto out;
	}
	if (slen > pol->script_max) {
		dg_error_set("script is %s bytes, limit %s", dg_fmt_thousands(n, slen),
			     dg_fmt_thousands(m, pol->script_max));
		goto out;
	}
	nul = memchr(s, '\0', slen);
	if (nul) {
		dg_error_set("script contains a NUL byte at offset %td", nul - s);
		goto out;
	}
	t.script = dg_xstrdup(s);

	v = json_object_get(t.doc, "timeout_seconds");
	if (!v) {
		t.timeout_seconds = DG_TASK_TIMEOUT_DEFAULT;
		if (t.timeout_seconds < pol->timeout_min)
			t.timeout_seconds = pol->timeout_min;
		if (t.timeout_seconds > pol->timeout_max)
			t.timeout_seconds = pol->timeout_max;
	} else if (!json_is_integer(v)) {
		ret = type_error(buf, len, "timeout_seconds", "integer", v);
		goto out;
	} else {
		json_int_t to = json_integer_value(v);

		if (to < (json_int_t)pol->timeout_min) {
			dg_error_set("timeout_seconds %" JSON_INTEGER_FORMAT
				     " is below the minimum %u", to, pol->timeout_min);
			goto out;
		}
		if (to > (json_int_t)pol->timeout_max) {
			dg_error_set("timeout_seconds %" JSON_INTEGER_FORMAT
				     " is above the maximum %u", to, pol->timeout_max);
			goto out;
		}
		t.timeout_seconds = (unsigned)to;
	}

	if (parse_claim(&t, t.doc, buf, len) < 0 || dg_sched_parse_for(&t.sched, t.doc, buf, len, t.task_id) < 0)
		goto out;
	/*
	 * Every hand-back ended a claim, so workers never write more of them
	 * than claims: a file that says so would lift max_attempts off a task
	 * that crashes its workers (attempt - retried - handed_back).
	 */
	if (t.sched.handed_back > t.attempt) {
		dg_error_set("handed_back %u is more than the claims made (attempt %u)", t.sched.handed_back,
			     t.attempt);
		goto out;
	}

	*task = t;
	return 0;
out:
	dg_task_release(&t);
	return ret;
}

void dg_task_release(struct dg_task *task)
{
	free(task->task_id);
	free(task->script);
	free(task->node_id);
	free(task->claimed_at);
	json_decref(task->doc);
	dg_sched_release(&task->sched);
	*task = (struct dg_task)DG_TASK_INIT;
}

static void ensure_doc(struct dg_task *task)
{
	if (task->doc)
		return;
	task->doc = json_object();
	json_object_set_new(task->doc, "task_id", json_string(task->task_id ? task->task_id : ""));
	json_object_set_new(task->doc, "script", json_string(task->script ? task->script : ""));
	json_object_set_new(task->doc, "timeout_seconds", json_integer(task->timeout_seconds));
}

void dg_task_set_claim(struct dg_task *task, const char *node_id,
		       const char *claimed_at, unsigned attempt)
{
	char *nid = dg_xstrdup(node_id), *at = dg_xstrdup(claimed_at);

	free(task->node_id);
	free(task->claimed_at);
	task->node_id = nid;
	task->claimed_at = at;
	task->attempt = attempt;
	ensure_doc(task);
	json_object_set_new(task->doc, "node_id", json_string(node_id));
	json_object_set_new(task->doc, "claimed_at", json_string(claimed_at));
	json_object_set_new(task->doc, "attempt", json_integer(attempt));
}

void dg_task_set_lease(struct dg_task *task, unsigned seconds)
{
	ensure_doc(task);
	json_object_set_new(task->doc, "lease_seconds", json_integer(seconds));
}

unsigned dg_task_lease(const struct dg_task *task, const struct dg_policy *pol)
{
	json_int_t v = json_integer_value(json_object_get(task->doc, "lease_seconds"));

	/* a claim never lapses before its task could end (a submitter may have
	 * put any number in the queued file, and older claimers kept it) */
	if (v > (json_int_t)task->timeout_seconds && v <= (json_int_t)task->timeout_seconds + 86400)
		return (unsigned)v;
	return dg_policy_lease_seconds(pol, task->timeout_seconds);
}

void dg_task_clear_claim(struct dg_task *task)
{
	free(task->node_id);
	free(task->claimed_at);
	task->node_id = NULL;
	task->claimed_at = NULL;
	task->attempt = 0;
	if (task->doc) {
		json_object_del(task->doc, "node_id");
		json_object_del(task->doc, "claimed_at");
		json_object_del(task->doc, "attempt");
		json_object_del(task->doc, "lease_seconds");
		json_object_del(task->doc, "lease_renewed_at");
		json_object_del(task->doc, "node_sig");   /* the claimer's signature (record.h) */
	}
}

void dg_task_to_json(struct dg_strbuf *out, const struct dg_task *task)
{
	json_t *doc = task->doc ? json_incref(task->doc) : json_object();

	if (!task->doc) {
		json_object_set_new(doc, "task_id", json_string(task->task_id ? task->task_id : ""));
		json_object_set_new(doc, "script", json_string(task->script ? task->script : ""));
		json_object_set_new(doc, "timeout_seconds", json_integer(task->timeout_seconds));
		if (task->node_id) {
			json_object_set_new(doc, "node_id", json_string(task->node_id));
			json_object_set_new(doc, "claimed_at",
					    json_string(task->claimed_at ? task->claimed_at : ""));
			json_object_set_new(doc, "attempt", json_integer(task->attempt));
		}
	}
	dg_json_dump(out, doc);
	json_decref(doc);
}
