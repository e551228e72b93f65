#include "tasksched.h"
#include "error.h"
#include "task.h"
#include "grid.h"
#include "jsonio.h"
#include "version.h"

#include <ctype.h>
#include <sys/utsname.h>
#include <unistd.h>

static int type_error(const char *buf, size_t len, const char *key, const char *want,
		      const json_t *got)
{
	char pos[64];

	dg_json_key_pos(pos, sizeof(pos), buf, len, key);
	dg_error_set("%sexpected %s for %s, got %s", pos, want, key, dg_json_type_name(got));
	return DG_EINVALID;
}

/* An integer in [min, max] at key; absent leaves *out alone. */
static int int_field(uint64_t *out, const json_t *obj, const char *key, const char *what,
		     json_int_t min, json_int_t max, const char *buf, size_t len)
{
	const json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return type_error(buf, len, what, "integer", v);
	if (json_integer_value(v) < min || json_integer_value(v) > max) {
		dg_error_set("%s %" JSON_INTEGER_FORMAT " is out of range %" JSON_INTEGER_FORMAT
			     "..%" JSON_INTEGER_FORMAT, what, json_integer_value(v), min, max);
		return DG_EINVALID;
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* A label: 1..DG_LABEL_MAX printable bytes, no comma or space (DGRID_LABELS splits on them). */
static int label_check(const char *what, const json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	char q[160];

	if (n == 0 || n > DG_LABEL_MAX || strlen(s) != n) {
		dg_error_set("%s: a label has 1 to %d bytes", what, DG_LABEL_MAX);
		return DG_EINVALID;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == ',' || c >= 0x7f) {
			dg_error_set("%s: label '%s' has a character other than printable ASCII "
				     "without space or comma", what, dg_fmt_quoted(q, sizeof(q), s, n, 64));
			return DG_EINVALID;
		}
	}
	return 0;
}

static int parse_labels(struct dg_requires *r, const json_t *v, const char *buf, size_t len)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return type_error(buf, len, "requires", "array of strings for requires.labels", v);
	if (json_array_size(v) > DG_LABELS_MAX) {
		dg_error_set("requires.labels lists %zu labels, limit %d", json_array_size(v), DG_LABELS_MAX);
		return DG_EINVALID;
	}
	r->labels = dg_xcalloc(json_array_size(v) + 1, sizeof(*r->labels));
	json_array_foreach(v, i, e) {
		if (!json_is_string(e)) {
			dg_error_set("requires.labels[%zu]: expected string, got %s", i, dg_json_type_name(e));
			return DG_EINVALID;
		}
		if (label_check("requires.labels", e) < 0)
			return DG_EINVALID;
		r->labels[r->labels_nr++] = dg_xstrdup(json_string_value(e));
	}
	return 0;
}

static void requires_release(struct dg_requires *r)
{
	for (size_t i = 0; i < r->labels_nr; i++)
		free(r->labels[i]);
	free(r->labels);
	free(r->arch);
	free(r->unknown);
	memset(r, 0, sizeof(*r));
}

static int parse_requires(struct dg_requires *r, const json_t *req, const char *buf, size_t len)
{
	static const char *const known[] = { "labels", "arch", "min_cpus", "min_memory_mb" };
	const char *key;
	json_t *v;
	uint64_t n;

	if (!json_is_object(req))
		return type_error(buf, len, "requires", "object", req);
	json_object_foreach((json_t *)req, key, v) {
		bool is_known = false;

		for (size_t i = 0; i < DG_ARRAY_SIZE(known); i++)
			is_known |= !strcmp(key, known[i]);
		if (!is_known && !r->unknown) {
			char q[96];

			r->unknown = dg_xstrdup(dg_fmt_quoted(q, sizeof(q), key, strlen(key), 64));
		}
	}
	if ((v = json_object_get(req, "labels")) && parse_labels(r, v, buf, len) < 0)
		return DG_EINVALID;
	if ((v = json_object_get(req, "arch"))) {
		if (!json_is_string(v))
			return type_error(buf, len, "requires", "string for requires.arch", v);
		if (json_string_length(v) == 0 || json_string_length(v) > 32 ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			dg_error_set("requires.arch has 1 to 32 bytes");
			return DG_EINVALID;
		}
		r->arch = dg_xstrdup(json_string_value(v));
	}
	n = 0;
	if (int_field(&n, req, "min_cpus", "requires.min_cpus", 1, 65536, buf, len) < 0)
		return DG_EINVALID;
	r->min_cpus = (unsigned)n;
	if (int_field(&r->min_memory_mb, req, "min_memory_mb", "requires.min_memory_mb", 1,
		      (json_int_t)1 << 40, buf, len) < 0)
		return DG_EINVALID;
	return 0;
}

static int parse_retries(struct dg_sched *s, const json_t *doc, const char *buf, size_t len)
{
	uint64_t retries = 0, delay = DG_RETRY_DELAY_DEFAULT, retried = 0, handed_back = 0;

	if (int_field(&retries, doc, "retries", "retries", 0, DG_RETRIES_MAX, buf, len) < 0 ||
	    int_field(&delay, doc, "retry_delay_seconds", "retry_delay_seconds", 0, 86400, buf, len) < 0 ||
	    int_field(&retried, doc, "retried", "retried", 0, DG_RETRIES_MAX, buf, len) < 0 ||
	    int_field(&handed_back, doc, "handed_back", "handed_back", 0, DG_HANDED_BACK_MAX, buf, len) < 0)
		return DG_EINVALID;
	if (retried > retries) {
		dg_error_set("retried %" PRIu64 " is more than retries %" PRIu64, retried, retries);
		return DG_EINVALID;
	}
	s->retries = (unsigned)retries;
	s->retry_delay = (unsigned)delay;
	s->retried = (unsigned)retried;
	s->handed_back = (unsigned)handed_back;
	return 0;
}

bool dg_sched_will_retry(const struct dg_sched *s, bool failed)
{
	return failed && s->retried < s->retries;
}

unsigned dg_sched_retry_delay(const struct dg_sched *s, unsigned cap)
{
	uint64_t d = (uint64_t)s->retry_delay << (s->retried < 32 ? s->retried : 32);

	return d < cap ? (unsigned)d : cap;
}

unsigned dg_sched_crash_claims(const struct dg_sched *s, unsigned attempt)
{
	uint64_t other = (uint64_t)s->retried + s->handed_back;

	return attempt > other ? attempt - (unsigned)other : 0;
}

static int parse_deps(struct dg_sched *s, const json_t *v, const char *buf, size_t len,
		      const char *self)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return type_error(buf, len, "depends_on", "array of task ids", v);
	if (json_array_size(v) > DG_DEPS_MAX) {
		dg_error_set("depends_on lists %zu tasks, limit %d", json_array_size(v), DG_DEPS_MAX);
		return DG_EINVALID;
	}
	s->deps = dg_xcalloc(json_array_size(v) + 1, sizeof(*s->deps));
	json_array_foreach(v, i, e) {
		const char *id = json_string_value(e);

		if (!json_is_string(e)) {
			dg_error_set("depends_on[%zu]: expected a task id, got %s", i, dg_json_type_name(e));
			return DG_EINVALID;
		}
		if (strlen(id) != json_string_length(e) || dg_task_id_check(id, &dg_policy_loosest) < 0) {
			dg_error_prefix("depends_on[%zu]", i);
			return DG_EINVALID;
		}
		if (self && !strcmp(id, self)) {
			dg_error_set("depends_on names the task itself ('%s'): it could never run", id);
			return DG_EINVALID;
		}
		for (size_t k = 0; k < s->deps_nr; k++) {
			if (!strcmp(s->deps[k], id)) {
				dg_error_set("depends_on names '%s' twice", id);
				return DG_EINVALID;
			}
		}
		s->deps[s->deps_nr++] = dg_xstrdup(id);
	}
	return 0;
}

int dg_sched_parse(struct dg_sched *out, const json_t *doc, const char *buf, size_t len)
{
	return dg_sched_parse_for(out, doc, buf, len, NULL);
}

/* Does id end in "--r" and digits, the form of a replica's id (replica.h)? */
static bool replica_shaped(const char *id)
{
	const char *p = id ? strstr(id, "--r") : NULL, *last = NULL;

	for (; p; p = strstr(p + 1, "--r"))
		last = p;
	if (!last || !last[3])
		return false;
	for (const char *d = last + 3; *d; d++) {
		if (!isdigit((unsigned char)*d))
			return false;
	}
	return true;
}

static int parse_replication(struct dg_sched *s, const json_t *doc, const char *buf, size_t len,
			     const char *task_id)
{
	uint64_t replicas = 0, quorum = 0, replica = 0;
	const json_t *of = json_object_get(doc, "replica_of");
	char want[256];

	if (int_field(&replicas, doc, "replicas", "replicas", 1, DG_REPLICAS_MAX, buf, len) < 0 ||
	    int_field(&quorum, doc, "quorum", "quorum", 1, DG_REPLICAS_MAX, buf, len) < 0 ||
	    int_field(&replica, doc, "replica", "replica", 1, DG_REPLICAS_MAX, buf, len) < 0)
		return DG_EINVALID;
	if (quorum && !replicas) {
		dg_error_set("quorum %u needs replicas (how many nodes run the task)", (unsigned)quorum);
		return DG_EINVALID;
	}
	if (quorum > replicas) {
		dg_error_set("quorum %u is more than replicas %u: no result could ever count",
			     (unsigned)quorum, (unsigned)replicas);
		return DG_EINVALID;
	}
	if (of) {
		if (!json_is_string(of) || !json_string_length(of) || json_string_length(of) > 200)
			return type_error(buf, len, "replica_of", "task id", of);
		if (!json_object_get(doc, "replica") || replica > replicas) {
			dg_error_set("replica_of needs replica, 1..replicas");
			return DG_EINVALID;
		}
		snprintf(want, sizeof(want), "%s--r%u", json_string_value(of), (unsigned)replica);
		if (task_id && strcmp(task_id, want)) {
			dg_error_set("a replica's task_id must be '%s'", want);
			return DG_EINVALID;
		}
		s->replica_of = dg_xstrdup(json_string_value(of));
		s->replica = (unsigned)replica;
	} else if (replica_shaped(task_id)) {
		dg_error_set("task ids ending in --rN are kept for replicas ('%s'): choose another id", task_id);
		return DG_EINVALID;
	}
	s->replicas = (unsigned)replicas;
	s->quorum = (unsigned)quorum;
	return 0;
}

int dg_sched_parse_for(struct dg_sched *out, const json_t *doc, const char *buf, size_t len,
		       const char *task_id)
{
	struct dg_sched s = DG_SCHED_INIT;
	uint64_t prio = DG_PRIORITY_DEFAULT;
	const json_t *v;
	int ret = DG_EINVALID;

	if (int_field(&prio, doc, "priority", "priority", 0, DG_PRIORITY_MAX, buf, len) < 0)
		goto out;
	s.priority = (unsigned)prio;
	if ((v = json_object_get(doc, "not_before"))) {
		if (!json_is_string(v)) {
			ret = type_error(buf, len, "not_before", "string", v);
			goto out;
		}
		s.not_before = dg_parse_utc(json_string_value(v));
		if (s.not_before <= 0 || strlen(json_string_value(v)) != json_string_length(v)) {
			char q[96];

			dg_error_set("not_before '%s' is not a UTC time like 2026-12-01T00:00:00Z",
				     dg_fmt_quoted(q, sizeof(q), json_string_value(v), json_string_length(v), 40));
			goto out;
		}
	}
	if ((v = json_object_get(doc, "requires")) && parse_requires(&s.req, v, buf, len) < 0)
		goto out;
	if (parse_retries(&s, doc, buf, len) < 0)
		goto out;
	if ((v = json_object_get(doc, "depends_on")) && parse_deps(&s, v, buf, len, task_id) < 0)
		goto out;
	if (parse_replication(&s, doc, buf, len, task_id) < 0)
		goto out;
	*out = s;
	return 0;
out:
	dg_sched_release(&s);
	return ret;
}

void dg_sched_release(struct dg_sched *s)
{
	requires_release(&s->req);
	for (size_t i = 0; i < s->deps_nr; i++)
		free(s->deps[i]);
	free(s->deps);
	s->deps = NULL;
	s->deps_nr = 0;
	free(s->replica_of);
	s->replica_of = NULL;
}

/* ---- node facts ---- */

static void add_label(struct dg_node_facts *f, const char *s, size_t n)
{
	if (n == 0 || n > DG_LABEL_MAX || f->labels_nr >= DG_LABELS_MAX * 4)
		return;
	f->labels = dg_xrealloc(f->labels, (f->labels_nr + 1) * sizeof(*f->labels));
	f->labels[f->labels_nr++] = dg_xstrndup(s, n);
}

void dg_node_facts_local(struct dg_node_facts *out, const char *labels_csv)
{
	struct dg_node_facts f = DG_NODE_FACTS_INIT;
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	struct utsname u;

	for (const char *p = labels_csv; p && *p;) {
		size_t n;

		p += strspn(p, ", ");
		n = strcspn(p, ", ");
		add_label(&f, p, n);
		p += n;
	}
	f.arch = dg_xstrdup(uname(&u) == 0 ? u.machine : "unknown");
	f.cpus = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	f.memory_mb = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page >> 20 : 0;
	*out = f;
}

void dg_node_facts_from_json(struct dg_node_facts *out, const json_t *reg)
{
	struct dg_node_facts f = DG_NODE_FACTS_INIT;
	const json_t *labels = json_object_get(reg, "labels"), *v;
	size_t i;

	json_array_foreach(labels, i, v) {
		if (json_is_string(v))
			add_label(&f, json_string_value(v), strlen(json_string_value(v)));
	}
	if (json_is_string(json_object_get(reg, "arch")))
		f.arch = dg_xstrdup(json_string_value(json_object_get(reg, "arch")));
	if (json_integer_value(json_object_get(reg, "cpus")) > 0)
		f.cpus = (unsigned)json_integer_value(json_object_get(reg, "cpus"));
	if (json_integer_value(json_object_get(reg, "memory_bytes")) > 0)
		f.memory_mb = (uint64_t)json_integer_value(json_object_get(reg, "memory_bytes")) >> 20;
	*out = f;
}

void dg_node_facts_release(struct dg_node_facts *f)
{
	for (size_t i = 0; i < f->labels_nr; i++)
		free(f->labels[i]);
	free(f->labels);
	free(f->arch);
	memset(f, 0, sizeof(*f));
}

const char *dg_arch_canonical(const char *arch)
{
	static const char *const alias[][2] = {
		{ "amd64", "x86_64" }, { "x64", "x86_64" }, { "arm64", "aarch64" },
		{ "i686", "i386" }, { "i586", "i386" }, { "x86", "i386" },
	};

	for (size_t i = 0; arch && i < DG_ARRAY_SIZE(alias); i++) {
		if (!strcmp(arch, alias[i][0]))
			return alias[i][1];
	}
	return arch ? arch : "";
}

static bool has_label(const struct dg_node_facts *f, const char *label)
{
	for (size_t i = 0; i < f->labels_nr; i++) {
		if (!strcmp(f->labels[i], label))
			return true;
	}
	return false;
}

bool dg_sched_fits(const struct dg_requires *req, const struct dg_node_facts *f,
		   char *why, size_t whysz)
{
	char dummy[8];

	if (!why)
		why = dummy, whysz = sizeof(dummy);
	if (req->unknown) {
		snprintf(why, whysz, "requirement '%s' is not known to dgrid %s", req->unknown, DG_VERSION);
		return false;
	}
	for (size_t i = 0; i < req->labels_nr; i++) {
		if (!has_label(f, req->labels[i])) {
			snprintf(why, whysz, "needs label '%s'", req->labels[i]);
			return false;
		}
	}
	if (req->arch && strcmp(dg_arch_canonical(req->arch), dg_arch_canonical(f->arch))) {
		snprintf(why, whysz, "needs arch %s, node is %s", req->arch, f->arch ? f->arch : "unknown");
		return false;
	}
	if (req->min_cpus && f->cpus < req->min_cpus) {
		snprintf(why, whysz, "needs %u cpus, node has %u", req->min_cpus, f->cpus);
		return false;
	}
	if (req->min_memory_mb && f->memory_mb < req->min_memory_mb) {
		snprintf(why, whysz, "needs %" PRIu64 " MB of memory, node has %" PRIu64,
			 req->min_memory_mb, f->memory_mb);
		return false;
	}
	return true;
}
