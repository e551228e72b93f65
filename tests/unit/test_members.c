/*
 * test_members.c - the list of a grid's repositories (members.h): valid
 * lists, the home first and every repository once, every kind of bad
 * entry refused with a message that never quotes a secret, and the start
 * member of a node spread evenly and stable.
 */
#include "common.h"
#include "error.h"
#include "members.h"
#include "strbuf.h"

#include <setjmp.h>
#include <cmocka.h>

#define HOME "git://host/home.git"
#define FNV_W1 273102853u  /* FNV-1a 32 of "w1" */

/* dg_members_check on a JSON text; err gets the message. */
static int check_text(const char *json, struct dg_strbuf *err)
{
	json_error_t jerr;
	json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	int ret;

	assert_non_null(v);
	dg_strbuf_reset(err);
	ret = dg_members_check(v, err);
	json_decref(v);
	return ret;
}

static void test_valid_lists(void **state DG_UNUSED)
{
	struct dg_strbuf err = DG_STRBUF_INIT;

	assert_int_equal(check_text("[]", &err), 0);
	assert_int_equal(check_text("[\"https://github.com/org/grid-2\"]", &err), 0);
	assert_int_equal(check_text("[\"git://h/a.git\", \"ssh://git@h/b.git\", \"git@h:org/c.git\", "
				    "\"/srv/d.git\", \"file:///srv/e.git\", \"https://user@h/f.git\"]", &err), 0);
	assert_int_equal(err.len, 0);
	dg_strbuf_release(&err);
}

static void test_read(void **state DG_UNUSED)
{
	static const char json[] = "{\"protocol\": 3, \"repositories\": "
		"[\"git://host/b.git\", \"git://host/c.git\"]}";
	struct dg_members m;

	assert_int_equal(dg_members_read(&m, HOME, json, strlen(json)), 0);
	assert_int_equal(m.nr, 3);
	assert_string_equal(m.urls[0], HOME);
	assert_string_equal(m.urls[1], "git://host/b.git");
	assert_string_equal(m.urls[2], "git://host/c.git");
	assert_int_equal(dg_members_find(&m, "git://host/c.git"), 2);
	assert_int_equal(dg_members_find(&m, "git://host/c.git/"), 2);
	assert_int_equal(dg_members_find(&m, "git://host/d.git"), 3);
	dg_members_release(&m);
	assert_int_equal(m.nr, 0);
	assert_null(m.urls);

	/* no document, no key, an empty list: the home alone */
	assert_int_equal(dg_members_read(&m, HOME, NULL, 0), 0);
	assert_int_equal(m.nr, 1);
	dg_members_release(&m);
	assert_int_equal(dg_members_read(&m, HOME, "{\"protocol\": 3}", 15), 0);
	assert_int_equal(m.nr, 1);
	dg_members_release(&m);
	assert_int_equal(dg_members_read(&m, HOME, "{\"repositories\": []}", 20), 0);
	assert_int_equal(m.nr, 1);
	assert_string_equal(m.urls[0], HOME);
	dg_members_release(&m);
}

/* The home named again, repeats, with and without a trailing '/': once each, in first-seen order. */
static void test_duplicates(void **state DG_UNUSED)
{
	static const char json[] = "{\"repositories\": [\"git://host/b.git\", \"" HOME "\", "
		"\"git://host/b.git/\", \"" HOME "/\", \"git://host/c.git//\", \"git://host/b.git\", "
		"\"git://host/c.git\"]}";
	struct dg_members m;

	assert_int_equal(dg_members_read(&m, HOME, json, strlen(json)), 0);
	assert_int_equal(m.nr, 3);
	assert_string_equal(m.urls[0], HOME);
	assert_string_equal(m.urls[1], "git://host/b.git");
	assert_string_equal(m.urls[2], "git://host/c.git//");
	dg_members_release(&m);

	/* the home given with a trailing '/' and listed without: one */
	assert_int_equal(dg_members_read(&m, HOME "/", "{\"repositories\": [\"" HOME "\"]}",
					 strlen("{\"repositories\": [\"" HOME "\"]}")), 0);
	assert_int_equal(m.nr, 1);
	dg_members_release(&m);
}

/* Each bad value is refused with DG_EINVALID and a message holding want. */
static void refused(const char *json, const char *want)
{
	struct dg_strbuf err = DG_STRBUF_INIT;

	assert_int_equal(check_text(json, &err), DG_EINVALID);
	if (!strstr(err.buf, want))
		fail_msg("'%s': message '%s' lacks '%s'", json, err.buf, want);
	dg_strbuf_release(&err);
}

static void test_bad_values(void **state DG_UNUSED)
{
	refused("\"git://host/b.git\"", "expected an array of URLs, got");
	refused("{\"url\": \"git://host/b.git\"}", "expected an array of URLs, got");
	refused("42", "expected an array of URLs");
	refused("null", "expected an array of URLs");
	refused("[\"git://host/b.git\", 7]", "repositories[1]: expected a URL string, got");
	refused("[null]", "repositories[0]: expected a URL string");
	refused("[[\"git://host/b.git\"]]", "repositories[0]: expected a URL string");
	refused("[{\"url\": \"x\"}]", "repositories[0]: expected a URL string");
	refused("[\"\"]", "repositories[0]: a URL of 1 to 1024 characters");
	refused("[\"git://host/a\\u0000b\"]", "repositories[0]: a URL of 1 to");
	refused("[\"git://host/a b.git\"]", "no spaces or control characters");
	refused("[\"git://host/a\\nb.git\"]", "no spaces or control characters");
	refused("[\"git://host/a\\u001bb.git\"]", "no spaces or control characters");
	refused("[\"git://host/a\\u007f.git\"]", "no spaces or control characters");
	refused("[\"git://h/ok.git\", \"-uexploit\"]", "repositories[1]: a URL does not start with '-'");
	refused("[\"--upload-pack=touch /tmp/x\"]", "repositories[0]:");
}

static void test_too_long(void **state DG_UNUSED)
{
	struct dg_strbuf json = DG_STRBUF_INIT;

	dg_strbuf_addstr(&json, "[\"git://host/");
	for (int i = 0; i < DG_MEMBER_URL_MAX; i++)
		dg_strbuf_addch(&json, 'x');
	dg_strbuf_addstr(&json, "\"]");
	refused(json.buf, "a URL of 1 to 1024 characters");
	dg_strbuf_release(&json);
}

static void test_too_many(void **state DG_UNUSED)
{
	struct dg_strbuf json = DG_STRBUF_INIT, err = DG_STRBUF_INIT;

	/* DG_MEMBERS_MAX - 1 others (the home is one of the 64): accepted */
	dg_strbuf_addch(&json, '[');
	for (int i = 0; i < DG_MEMBERS_MAX - 1; i++)
		dg_strbuf_addf(&json, "%s\"git://host/g%d.git\"", i ? ", " : "", i);
	dg_strbuf_addch(&json, ']');
	assert_int_equal(check_text(json.buf, &err), 0);
	dg_strbuf_setlen(&json, json.len - 1);
	dg_strbuf_addstr(&json, ", \"git://host/one-more.git\"]");
	refused(json.buf, "at most 63 URLs, got 64");
	dg_strbuf_release(&json);
	dg_strbuf_release(&err);
}

/* user:password@ is refused, the message never quotes it, and read leaves the home alone. */
static void test_credentials(void **state DG_UNUSED)
{
	static const char json[] = "{\"repositories\": [\"git://host/b.git\", "
		"\"https://bob:s3cr3t-Pa55@github.com/org/grid.git\"]}";
	struct dg_strbuf err = DG_STRBUF_INIT;
	struct dg_members m;

	refused("[\"https://bob:s3cr3t-Pa55@github.com/org/grid.git\"]", "holds a password or token");
	assert_int_equal(check_text("[\"https://x-access-token:not-a-real-token-42@github.com/o/g\"]", &err),
			 DG_EINVALID);
	assert_null(strstr(err.buf, "not-a-real-token-42"));
	assert_null(strstr(err.buf, "github.com"));
	/* a user without a password is no secret */
	assert_int_equal(check_text("[\"https://bob@github.com/org/grid.git\"]", &err), 0);
	/* an '@' after the host part is a path, not credentials */
	assert_int_equal(check_text("[\"https://github.com/org/a:b@c.git\"]", &err), 0);

	dg_error_clear();
	assert_int_equal(dg_members_read(&m, HOME, json, strlen(json)), DG_EINVALID);
	assert_int_equal(m.nr, 1);
	assert_string_equal(m.urls[0], HOME);
	assert_non_null(strstr(dg_error_last(), "repositories[1]"));
	assert_null(strstr(dg_error_last(), "s3cr3t-Pa55"));
	assert_null(strstr(dg_error_last(), "bob"));
	dg_members_release(&m);
	dg_strbuf_release(&err);
}

/* A bad list in a dgrid.json: an error naming the file, the home alone. */
static void test_read_invalid(void **state DG_UNUSED)
{
	static const char json[] = "{\"repositories\": \"git://host/b.git\"}";
	struct dg_members m;

	dg_error_clear();
	assert_int_equal(dg_members_read(&m, HOME, json, strlen(json)), DG_EINVALID);
	assert_int_equal(m.nr, 1);
	assert_non_null(strstr(dg_error_last(), "dgrid.json"));
	dg_members_release(&m);
}

/* n members named g0 .. */
static void fill(struct dg_members *m, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->urls = dg_xcalloc(n, sizeof(*m->urls));
	for (size_t i = 0; i < n; i++)
		m->urls[i] = dg_xasprintf("git://host/g%zu.git", i);
	m->nr = n;
}

/* 64 node ids over n members: each gets about 64 / n, and the same id the same member. */
static void spread(size_t n, unsigned min_each)
{
	struct dg_members m;
	unsigned count[3] = { 0 };
	char id[32];

	fill(&m, n);
	for (int i = 0; i < 64; i++) {
		snprintf(id, sizeof(id), "node-%02d", i);
		size_t k = dg_members_start(&m, id);
		assert_true(k < n);
		assert_int_equal(dg_members_start(&m, id), k);
		count[k]++;
	}
	for (size_t k = 0; k < n; k++)
		if (count[k] < min_each)
			fail_msg("%zu members: member %zu starts only %u of 64 nodes", n, k, count[k]);
	dg_members_release(&m);
}

/* origin of a listed URL vs the home's: "scheme://host:port" must match */
static int read_one(const char *home, const char *url)
{
	struct dg_strbuf json = DG_STRBUF_INIT;
	struct dg_members m;
	int ret;

	dg_strbuf_addf(&json, "{\"repositories\": [\"%s\"]}", url);
	ret = dg_members_read(&m, home, json.buf, json.len);
	/* refused: the home alone */
	assert_int_equal(m.nr, ret ? 1 : 2);
	dg_members_release(&m);
	dg_strbuf_release(&json);
	return ret;
}

static void test_same_origin(void **state DG_UNUSED)
{
	assert_int_equal(read_one("https://github.com/org/a", "https://github.com/org/b"), 0);
	assert_int_equal(read_one("https://github.com/org/a", "https://GitHub.com/other/c.git"), 0);
	assert_int_equal(read_one("https://tok@github.com/org/a", "https://github.com/org/b"), 0);
	assert_int_equal(read_one("git@github.com:org/a.git", "me@github.com:org/b.git"), 0);
	assert_int_equal(read_one("/srv/a.git", "/srv/b.git"), 0);
	assert_int_equal(read_one("git://127.0.0.1:9418/a.git", "git://127.0.0.1:9418/b.git"), 0);
	/* another host would receive the home's token */
	assert_int_equal(read_one("https://github.com/org/a", "https://evil.example/x"), DG_EINVALID);
	assert_true(strstr(dg_error_last(), "repositories[0]") != NULL);
	assert_true(strstr(dg_error_last(), "https://evil.example") != NULL);
	assert_int_equal(read_one("https://github.com/org/a", "https://github.com.evil.example/x"), DG_EINVALID);
	assert_int_equal(read_one("https://github.com/org/a", "https://github.com:8443/org/b"), DG_EINVALID);
	assert_int_equal(read_one("https://github.com/org/a", "http://github.com/org/b"), DG_EINVALID);
	assert_int_equal(read_one("https://github.com/org/a", "git@github.com:org/b.git"), DG_EINVALID);
	assert_int_equal(read_one("git://127.0.0.1:9418/a.git", "git://127.0.0.1:9419/b.git"), DG_EINVALID);
	/* a remote home never sends its workers to a path on their own disk */
	assert_int_equal(read_one("https://github.com/org/a", "/home/volunteer/repo.git"), DG_EINVALID);
	assert_int_equal(read_one("https://github.com/org/a", "file:///home/volunteer/repo.git"), DG_EINVALID);
	assert_int_equal(read_one("/srv/a.git", "https://github.com/org/b"), DG_EINVALID);
}

static void test_start(void **state DG_UNUSED)
{
	struct dg_members m;

	spread(2, 20);   /* 32 each when even */
	spread(3, 13);   /* 21 each when even */
	/* stable across runs, hosts and versions: FNV-1a of the id, not a seeded hash */
	fill(&m, 3);
	assert_int_equal(dg_members_start(&m, "w1"), FNV_W1 % 3);
	assert_int_equal(dg_members_start(&m, ""), 2166136261u % 3);
	dg_members_release(&m);
	fill(&m, 1);
	assert_int_equal(dg_members_start(&m, "anything"), 0);
	dg_members_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_lists),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_read_invalid),
		cmocka_unit_test(test_same_origin),
		cmocka_unit_test(test_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
