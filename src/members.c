/*
 * members.c - the repositories one grid spans (members.h).
 */
#include "members.h"
#include "error.h"
#include "jsonio.h"

#include <ctype.h>

/* scheme://user:secret@host/...: a password or token in the URL */
static bool has_credentials(const char *url)
{
	const char *scheme = strstr(url, "://"), *auth, *end;

	if (!scheme)
		return false;
	auth = scheme + 3;
	end = auth + strcspn(auth, "/");
	for (const char *at = auth; at < end; at++)
		if (*at == '@')
			return memchr(auth, ':', (size_t)(at - auth)) != NULL;
	return false;
}

static int check_url(const json_t *v, size_t i, struct dg_strbuf *err)
{
	const char *url;
	size_t len;

	if (!json_is_string(v)) {
		dg_strbuf_addf(err, "repositories[%zu]: expected a URL string, got %s", i, dg_json_type_name(v));
		return DG_EINVALID;
	}
	url = json_string_value(v);
	len = json_string_length(v);
	if (!len || len > DG_MEMBER_URL_MAX || strlen(url) != len) {
		dg_strbuf_addf(err, "repositories[%zu]: a URL of 1 to %d characters", i, DG_MEMBER_URL_MAX);
		return DG_EINVALID;
	}
	for (size_t k = 0; k < len; k++) {
		if ((unsigned char)url[k] <= ' ' || url[k] == 0x7f) {
			dg_strbuf_addf(err, "repositories[%zu]: a URL holds no spaces or control characters", i);
			return DG_EINVALID;
		}
	}
	if (url[0] == '-') {
		dg_strbuf_addf(err, "repositories[%zu]: a URL does not start with '-'", i);
		return DG_EINVALID;
	}
	if (has_credentials(url)) {
		/* never quote it: the point is that it holds a secret */
		dg_strbuf_addf(err, "repositories[%zu]: the URL holds a password or token, which would be a secret "
			       "in the repository; workers reach every member with their own GIT_TOKEN", i);
		return DG_EINVALID;
	}
	return 0;
}

int dg_members_check(const json_t *value, struct dg_strbuf *err)
{
	size_t i;
	json_t *v;

	if (!json_is_array(value)) {
		dg_strbuf_addf(err, "repositories: expected an array of URLs, got %s", dg_json_type_name(value));
		return DG_EINVALID;
	}
	if (json_array_size(value) > DG_MEMBERS_MAX - 1) {
		dg_strbuf_addf(err, "repositories: at most %d URLs, got %zu", DG_MEMBERS_MAX - 1,
			       json_array_size(value));
		return DG_EINVALID;
	}
	json_array_foreach(value, i, v)
		if (check_url(v, i, err) < 0)
			return DG_EINVALID;
	return 0;
}

/*
 * Where a URL leads: "scheme://host:port" (user info dropped, host in lower
 * case), "ssh://host" for scp-like user@host:path, "local" for a path.
 */
static void origin_of(struct dg_strbuf *out, const char *url)
{
	const char *scheme = strstr(url, "://"), *auth, *end, *at;
	size_t colon = strcspn(url, ":/");

	if (scheme) {
		auth = scheme + 3;
		end = auth + strcspn(auth, "/");
		for (at = end; at > auth && at[-1] != '@'; at--)
			;
		dg_strbuf_add(out, url, (size_t)(scheme - url));
		dg_strbuf_addstr(out, "://");
		for (const char *p = at; p < end; p++)
			dg_strbuf_addch(out, (char)tolower((unsigned char)*p));
	} else if (url[colon] == ':' && url[0] != '/') {
		at = strchr(url, '@');
		auth = at && at < url + colon ? at + 1 : url;
		dg_strbuf_addstr(out, "ssh://");
		for (const char *p = auth; p < url + colon; p++)
			dg_strbuf_addch(out, (char)tolower((unsigned char)*p));
	} else {
		dg_strbuf_addstr(out, "local");
	}
}

/*
 * A member lives where the home does. Workers send the home's GIT_TOKEN
 * (or SSH key) to every member, and anybody who can push dgrid.json
 * writes the list: a URL on another host would hand them the token, and
 * a local path on a volunteer's own disk would have the worker write to
 * it. So a member's scheme, host and port must be the home's.
 */
static int check_origin(const char *home, const char *url, size_t i)
{
	struct dg_strbuf a = DG_STRBUF_INIT, b = DG_STRBUF_INIT;
	int ret = 0;

	origin_of(&a, home);
	origin_of(&b, url);
	if (strcmp(a.buf, b.buf)) {
		dg_error_set("dgrid.json repositories[%zu]: the repository is not at the home's %s but at %s: "
			     "a grid's repositories share one scheme, host and port, so that the token "
			     "reaches no other host", i, a.buf, b.buf);
		ret = DG_EINVALID;
	}
	dg_strbuf_release(&a);
	dg_strbuf_release(&b);
	return ret;
}

static void add(struct dg_members *m, const char *url)
{
	if (dg_members_find(m, url) < m->nr)
		return;
	m->urls = dg_xrealloc(m->urls, (m->nr + 1) * sizeof(*m->urls));
	m->urls[m->nr++] = dg_xstrdup(url);
}

int dg_members_read(struct dg_members *m, const char *home_url, const char *json, size_t len)
{
	struct dg_strbuf err = DG_STRBUF_INIT;
	json_t *root = json ? dg_json_load_object(json, len) : NULL, *list, *v;
	int ret = 0;
	size_t i;

	memset(m, 0, sizeof(*m));
	add(m, home_url);
	list = root ? json_object_get(root, "repositories") : NULL;
	if (list && dg_members_check(list, &err) < 0) {
		dg_error_set("dgrid.json %s", err.buf);
		ret = DG_EINVALID;
	} else if (list) {
		json_array_foreach(list, i, v) {
			if ((ret = check_origin(home_url, json_string_value(v), i)) < 0) {
				/* all or nothing: the home alone */
				for (size_t k = 1; k < m->nr; k++)
					free(m->urls[k]);
				m->nr = 1;
				break;
			}
			add(m, json_string_value(v));
		}
	}
	json_decref(root);
	dg_strbuf_release(&err);
	return ret;
}

void dg_members_release(struct dg_members *m)
{
	for (size_t i = 0; i < m->nr; i++)
		free(m->urls[i]);
	free(m->urls);
	memset(m, 0, sizeof(*m));
}

size_t dg_members_find(const struct dg_members *m, const char *url)
{
	size_t n = strlen(url);

	/* "a/b.git/" and "a/b.git" are one repository */
	while (n > 1 && url[n - 1] == '/')
		n--;
	for (size_t i = 0; i < m->nr; i++) {
		size_t k = strlen(m->urls[i]);
		while (k > 1 && m->urls[i][k - 1] == '/')
			k--;
		if (k == n && !memcmp(m->urls[i], url, n))
			return i;
	}
	return m->nr;
}

uint32_t dg_members_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

size_t dg_members_start(const struct dg_members *m, const char *node_id)
{
	return m->nr ? dg_members_hash(node_id) % m->nr : 0;
}
