/*
 * result.c - result files: output text, serialisation in the seed's field
 * order, and reading them back.
 */
#include "task.h"
#include "clock.h"
#include "error.h"
#include "jsonio.h"

#include <time.h>

static const char *const status_names[] = {
	[DG_RESULT_SUCCESS] = "success",
	[DG_RESULT_FAILED] = "failed",
	[DG_RESULT_TIMEOUT] = "timeout",
	[DG_RESULT_REJECTED] = "rejected",
	[DG_RESULT_ABANDONED] = "abandoned",
	[DG_RESULT_CANCELLED] = "cancelled",
	[DG_RESULT_DEPENDENCY_FAILED] = "dependency_failed",
	[DG_RESULT_NO_QUORUM] = "no_quorum",
};

const char *dg_result_status_name(enum dg_result_status status)
{
	if ((size_t)status >= DG_ARRAY_SIZE(status_names))
		return "unknown";
	return status_names[status];
}

int dg_result_status_parse(enum dg_result_status *out, const char *name)
{
	for (size_t i = 0; i < DG_ARRAY_SIZE(status_names); i++) {
		if (!strcmp(name, status_names[i])) {
			*out = (enum dg_result_status)i;
			return 0;
		}
	}
	dg_error_set("status '%s' is not one of success, failed, timeout, rejected, abandoned, "
		     "cancelled, dependency_failed, no_quorum", name);
	return DG_EINVALID;
}

/* Length of the valid UTF-8 sequence at b (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *b, size_t n)
{
	size_t need;
	uint32_t cp, min;

	if (b[0] < 0x80)
		return 1;
	if (b[0] >= 0xC2 && b[0] <= 0xDF) {
		need = 1; cp = b[0] & 0x1F; min = 0x80;
	} else if (b[0] >= 0xE0 && b[0] <= 0xEF) {
		need = 2; cp = b[0] & 0x0F; min = 0x800;
	} else if (b[0] >= 0xF0 && b[0] <= 0xF4) {
		need = 3; cp = b[0] & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (need >= n)
		return 0;
	for (size_t i = 1; i <= need; i++) {
		if ((b[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (b[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return need + 1;
}

char *dg_text_from_bytes_n(const char *bytes, size_t len, size_t *out_len)
{
	const unsigned char *b = (const unsigned char *)bytes;
	char *out = dg_xmalloc(len * 3 + 1);
	size_t o = 0, i = 0, n;

	while (i < len) {
		n = utf8_seq(b + i, len - i);
		if (n) {
			memcpy(out + o, b + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return out;
}

char *dg_text_from_bytes(const char *bytes, size_t len)
{
	return dg_text_from_bytes_n(bytes, len, NULL);
}

void dg_result_set_output(struct dg_result *res, const char *out, size_t out_len,
			  const char *err, size_t err_len)
{
	free(res->stdout_text);
	free(res->stderr_text);
	res->stdout_text = dg_text_from_bytes_n(out ? out : "", out ? out_len : 0, &res->stdout_len);
	res->stderr_text = dg_text_from_bytes_n(err ? err : "", err ? err_len : 0, &res->stderr_len);
}

/* A JSON string for text that should be UTF-8 but may not be. */
static json_t *text_value(const char *s, size_t len)
{
	json_t *v;
	char *fixed;

	if (!s)
		return json_string("");
	v = json_stringn(s, len);
	if (v)
		return v;
	fixed = dg_text_from_bytes_n(s, len, &len);
	v = json_stringn(fixed, len);
	free(fixed);
	return v;
}

static json_t *str_value(const char *s)
{
	return text_value(s, s ? strlen(s) : 0);
}

static const char *const known_keys[] = {
	"task_id", "node_id", "exit_code", "stdout", "stderr", "timestamp", "status",
	"stdout_truncated", "stderr_truncated", "reason", "attempt", "started_at",
	"duration_ms", "executor",
};

static bool is_known(const char *key)
{
	for (size_t i = 0; i < DG_ARRAY_SIZE(known_keys); i++)
		if (!strcmp(key, known_keys[i]))
			return true;
	return false;
}

void dg_result_to_json(struct dg_strbuf *out, const struct dg_result *res)
{
	json_t *doc = json_object(), *v;
	const char *key;
	size_t olen = res->stdout_len, elen = res->stderr_len;

	if (res->stdout_text && !olen)
		olen = strlen(res->stdout_text);
	if (res->stderr_text && !elen)
		elen = strlen(res->stderr_text);
	json_object_set_new(doc, "task_id", str_value(res->task_id));
	json_object_set_new(doc, "node_id", str_value(res->node_id));
	json_object_set_new(doc, "exit_code", json_integer(res->exit_code));
	json_object_set_new(doc, "stdout", text_value(res->stdout_text, olen));
	json_object_set_new(doc, "stderr", text_value(res->stderr_text, elen));
	json_object_set_new(doc, "timestamp", str_value(res->timestamp));
	json_object_set_new(doc, "status", json_string(dg_result_status_name(res->status)));
	json_object_set_new(doc, "stdout_truncated", json_boolean(res->stdout_truncated));
	json_object_set_new(doc, "stderr_truncated", json_boolean(res->stderr_truncated));
	if (res->reason)
		json_object_set_new(doc, "reason", str_value(res->reason));
	json_object_set_new(doc, "attempt", json_integer(res->attempt));
	if (res->started_at)
		json_object_set_new(doc, "started_at", str_value(res->started_at));
	json_object_set_new(doc, "duration_ms", json_integer((json_int_t)res->duration_ms));
	if (res->executor)
		json_object_set_new(doc, "executor", str_value(res->executor));
	if (res->doc) {
		json_object_foreach(res->doc, key, v) {
			if (!is_known(key))
				json_object_set(doc, key, v);
		}
	}
	dg_json_dump(out, doc);
	json_decref(doc);
}

struct reader {
	json_t *root;
	const char *buf;
	size_t len;
};

static int type_error(const struct reader *r, const char *key, const char *want,
		      const json_t *got)
{
	char pos[64];

	dg_json_key_pos(pos, sizeof(pos), r->buf, r->len, key);
	dg_error_set("%sexpected %s for %s, got %s", pos, want, key, dg_json_type_name(got));
	return DG_EINVALID;
}

/*
 * A string field. *out is left alone when the field is absent (or null
 * and nullable); with len NULL, embedded NULs are refused.
 */
static int get_string(const struct reader *r, const char *key, bool required,
		      bool nullable, char **out, size_t *len)
{
	json_t *v = json_object_get(r->root, key);

	if (!v || (nullable && json_is_null(v))) {
		if (required) {
			dg_error_set("missing %s", key);
			return DG_EINVALID;
		}
		return 0;
	}
	if (!json_is_string(v))
		return type_error(r, key, "string", v);
	if (!len && strlen(json_string_value(v)) != json_string_length(v)) {
		dg_error_set("%s contains a NUL byte", key);
		return DG_EINVALID;
	}
	*out = dg_xmalloc(json_string_length(v) + 1);
	memcpy(*out, json_string_value(v), json_string_length(v) + 1);
	if (len)
		*len = json_string_length(v);
	return 0;
}

static int get_integer(const struct reader *r, const char *key, bool required,
		       json_int_t min, json_int_t max, json_int_t *out)
{
	json_t *v = json_object_get(r->root, key);

	if (!v) {
		if (required) {
			dg_error_set("missing %s", key);
			return DG_EINVALID;
		}
		return 0;
	}
	if (!json_is_integer(v))
		return type_error(r, key, "integer", v);
	if (json_integer_value(v) < min || json_integer_value(v) > max) {
		dg_error_set("%s %" JSON_INTEGER_FORMAT " is out of range", key,
			     json_integer_value(v));
		return DG_EINVALID;
	}
	*out = json_integer_value(v);
	return 0;
}

static int get_bool(const struct reader *r, const char *key, bool *out)
{
	json_t *v = json_object_get(r->root, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return type_error(r, key, "boolean", v);
	*out = json_is_true(v);
	return 0;
}

int dg_result_parse(struct dg_result *res, const char *buf, size_t len)
{
	struct dg_result t = DG_RESULT_INIT;
	struct reader r = { NULL, buf, len };
	char *ts = NULL, *status = NULL;
	json_int_t n = 0;
	int ret = DG_EINVALID;

	r.root = dg_json_load_object(buf, len);
	if (!r.root)
		goto out;
	if (get_string(&r, "task_id", true, false, &t.task_id, NULL) < 0 ||
	    get_string(&r, "node_id", true, false, &t.node_id, NULL) < 0 ||
	    get_integer(&r, "exit_code", true, INT_MIN, INT_MAX, &n) < 0)
		goto out;
	t.exit_code = (int)n;
	if (get_string(&r, "stdout", true, false, &t.stdout_text, &t.stdout_len) < 0 ||
	    get_string(&r, "stderr", true, false, &t.stderr_text, &t.stderr_len) < 0 ||
	    get_string(&r, "timestamp", true, false, &ts, NULL) < 0)
		goto out;
	if (strlen(ts) >= sizeof(t.timestamp)) {
		dg_error_set("timestamp is %zu bytes, limit %zu", strlen(ts),
			     sizeof(t.timestamp) - 1);
		goto out;
	}
	memcpy(t.timestamp, ts, strlen(ts) + 1);
	if (get_string(&r, "status", true, false, &status, NULL) < 0 ||
	    dg_result_status_parse(&t.status, status) < 0)
		goto out;
	n = 0;
	if (get_bool(&r, "stdout_truncated", &t.stdout_truncated) < 0 ||
	    get_bool(&r, "stderr_truncated", &t.stderr_truncated) < 0 ||
	    get_string(&r, "reason", false, true, &t.reason, NULL) < 0 ||
	    get_integer(&r, "attempt", false, 0, UINT_MAX, &n) < 0)
		goto out;
	t.attempt = (unsigned)n;
	n = 0;
	if (get_string(&r, "started_at", false, true, &t.started_at, NULL) < 0 ||
	    get_integer(&r, "duration_ms", false, 0, LLONG_MAX, &n) < 0 ||
	    get_string(&r, "executor", false, true, &t.executor, NULL) < 0)
		goto out;
	t.duration_ms = (uint64_t)n;
	t.doc = json_incref(r.root);
	*res = t;
	ret = 0;
out:
	if (ret < 0)
		dg_result_release(&t);
	free(ts);
	free(status);
	json_decref(r.root);
	return ret;
}

void dg_result_release(struct dg_result *res)
{
	free(res->task_id);
	free(res->node_id);
	free(res->stdout_text);
	free(res->stderr_text);
	free(res->reason);
	free(res->started_at);
	free(res->executor);
	json_decref(res->doc);
	*res = (struct dg_result)DG_RESULT_INIT;
}

void dg_utc_at(char out[32], int64_t unix_seconds)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void dg_utc_now(char out[32])
{
	dg_utc_at(out, (int64_t)dg_wall_seconds());
}
