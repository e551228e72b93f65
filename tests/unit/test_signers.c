/*
 * test_signers.c - allowed_signers files as ssh-keygen reads them
 * (signers.h): principals, options, skipped lines, refusals with their
 * line numbers, and dg_signers_check's verdicts.
 */
#include "common.h"
#include "error.h"
#include "signers.h"
#include "sshsig.h"
#include "strbuf.h"

#include <setjmp.h>
#include <cmocka.h>
#include <time.h>
#include <unistd.h>

/* Two keys made once with ssh-keygen -t ed25519 (test data, no secret kept). */
#define KEY1 "AAAAC3NzaC1lZDI1NTE5AAAAIEqp2i7pP9un0vPfWIS7Z7is6Q8aHCq7/5OlLmRD6yKK"
#define KEY1_FP "SHA256:MJW8Vwb+Nqkj0iV0Cxwl4tdX8bFFYhxf2JEiVYV36MA"
#define KEY2 "AAAAC3NzaC1lZDI1NTE5AAAAIHXmrFIg0d3WYBJ0oNNTw6mWyuAv/jyJxeTRHqIQa7VK"
#define KEY2_FP "SHA256:M7B78MLWcsf9JCoENOkSgXooNWmvmJLw5GB1ofD+jOA"
/* a real ssh-rsa key's start is enough: such lines are skipped unread */
#define RSA "AAAAB3NzaC1yc2EAAAADAQABAAABAQC7"

#define NS DG_SSHSIG_TASK_NAMESPACE
/* 2026-01-02T00:00:00Z */
#define JAN2 INT64_C(1767312000)

static unsigned char pk1[DG_SSH_ED25519_PK], pk2[DG_SSH_ED25519_PK];

static int setup(void **state DG_UNUSED)
{
	if (dg_sshkey_parse_public(pk1, "ssh-ed25519", KEY1) || dg_sshkey_parse_public(pk2, "ssh-ed25519", KEY2))
		return -1;
	return 0;
}

static void assert_prefix(const char *s, const char *prefix)
{
	if (strncmp(s, prefix, strlen(prefix)))
		fail_msg("'%s' does not start with '%s'", s, prefix);
}

static void assert_contains(const char *s, const char *part)
{
	if (!strstr(s, part))
		fail_msg("'%s' does not contain '%s'", s, part);
}

static void parse(struct dg_signers *s, const char *text)
{
	*s = (struct dg_signers)DG_SIGNERS_INIT;
	if (dg_signers_parse(s, "allowed", text, strlen(text)))
		fail_msg("refused: %s", dg_error_last());
}

/* dg_signers_check of a one-line file; 0 or DG_EINVALID with the message. */
static int check_line(const char *line, const unsigned char *pk, const char *ns, int64_t now)
{
	struct dg_signers s;
	const struct dg_signer *who = NULL;
	int ret;

	parse(&s, line);
	assert_int_equal(s.nr, 1);
	ret = dg_signers_check(&s, pk, ns, now, &who);
	if (!ret)
		assert_ptr_equal(who, &s.v[0]);
	dg_signers_release(&s);
	return ret;
}

static void test_lines(void **state DG_UNUSED)
{
	struct dg_signers s;
	const struct dg_signer *who = NULL;

	parse(&s, "# allowed signers of the grid\n"
		  "\n"
		  "   \t\n"
		  "  # an indented comment\n"
		  "alice@example.com ssh-ed25519 " KEY1 " alice's laptop\n"
		  "\"bob@example.com,carol\" ssh-ed25519 " KEY2 "\r\n"
		  "\t\"d a v e\"   ssh-ed25519   " KEY2 "\n"
		  "#alice ssh-ed25519 garbage\n"
		  "erin ssh-ed25519 " KEY1);      /* no final newline */
	assert_string_equal(s.path, "allowed");
	assert_int_equal(s.nr, 4);
	assert_int_equal(s.skipped, 0);
	assert_string_equal(s.v[0].principals, "alice@example.com");
	assert_memory_equal(s.v[0].pk, pk1, sizeof(pk1));
	assert_int_equal(s.v[0].line, 5);
	assert_null(s.v[0].namespaces);
	assert_true(s.v[0].valid_after == INT64_MIN);
	assert_true(s.v[0].valid_before == INT64_MAX);
	assert_string_equal(s.v[1].principals, "bob@example.com,carol");
	assert_memory_equal(s.v[1].pk, pk2, sizeof(pk2));
	assert_int_equal(s.v[1].line, 6);
	assert_string_equal(s.v[2].principals, "d a v e");
	assert_int_equal(s.v[2].line, 7);
	assert_string_equal(s.v[3].principals, "erin");
	assert_int_equal(s.v[3].line, 9);

	/* the first line of a key is the one that answers */
	assert_int_equal(dg_signers_check(&s, pk1, NS, JAN2, &who), 0);
	assert_string_equal(who->principals, "alice@example.com");
	assert_int_equal(dg_signers_check(&s, pk2, NS, JAN2, &who), 0);
	assert_string_equal(who->principals, "bob@example.com,carol");
	dg_signers_release(&s);
	assert_int_equal(s.nr, 0);
	assert_null(s.v);
	assert_null(s.path);

	/* an empty file lists nobody */
	parse(&s, "");
	assert_int_equal(s.nr, 0);
	assert_int_equal(dg_signers_check(&s, pk1, NS, JAN2, &who), DG_EINVALID);
	assert_string_equal(dg_error_last(), "unknown key: " KEY1_FP " is not in the allowed signers");
	dg_signers_release(&s);

	parse(&s, "alice ssh-ed25519 " KEY1 "\n");
	assert_int_equal(dg_signers_check(&s, pk2, NS, JAN2, &who), DG_EINVALID);
	assert_string_equal(dg_error_last(), "unknown key: " KEY2_FP " is not in the allowed signers");
	dg_signers_release(&s);
}

static void test_namespaces(void **state DG_UNUSED)
{
	struct dg_signers s;

	assert_int_equal(check_line("a namespaces=\"dgrid-task\" ssh-ed25519 " KEY1, pk1, NS, JAN2), 0);
	assert_int_equal(check_line("a namespaces=\"git,dgrid-task\" ssh-ed25519 " KEY1, pk1, NS, JAN2), 0);
	assert_int_equal(check_line("a namespaces=\"*\" ssh-ed25519 " KEY1, pk1, NS, JAN2), 0);
	assert_int_equal(check_line("a namespaces=\"dgrid-*\" ssh-ed25519 " KEY1, pk1, NS, JAN2), 0);
	assert_int_equal(check_line("a namespaces=\"dgrid-tas?\" ssh-ed25519 " KEY1, pk1, NS, JAN2), 0);
	assert_int_equal(check_line("a NAMESPACES=\"dgrid-task\" ssh-ed25519 " KEY1, pk1, NS, JAN2), 0);
	assert_int_equal(check_line("a namespaces=\"*,!git\" ssh-ed25519 " KEY1, pk1, NS, JAN2), 0);

	assert_int_equal(check_line("a namespaces=\"git,file\" ssh-ed25519 " KEY1, pk1, NS, JAN2), DG_EINVALID);
	assert_prefix(dg_error_last(), "wrong namespace:");
	assert_prefix(dg_error_last(), "wrong namespace: key " KEY1_FP " (a) may not sign 'dgrid-task'");
	assert_contains(dg_error_last(), "git,file");
	assert_contains(dg_error_last(), "line 1");
	assert_int_equal(check_line("a namespaces=\"*,!dgrid-task\" ssh-ed25519 " KEY1, pk1, NS, JAN2),
			 DG_EINVALID);
	assert_prefix(dg_error_last(), "wrong namespace:");
	assert_int_equal(check_line("a namespaces=\"!dgrid-task,*\" ssh-ed25519 " KEY1, pk1, NS, JAN2),
			 DG_EINVALID);
	assert_prefix(dg_error_last(), "wrong namespace:");
	assert_int_equal(check_line("a namespaces=\"dgrid\" ssh-ed25519 " KEY1, pk1, NS, JAN2), DG_EINVALID);
	assert_int_equal(check_line("a namespaces=\"dgrid-task-x\" ssh-ed25519 " KEY1, pk1, NS, JAN2),
			 DG_EINVALID);
	assert_int_equal(check_line("a namespaces=\"\" ssh-ed25519 " KEY1, pk1, NS, JAN2), DG_EINVALID);
	/* stars backtrack: a run of them matches the shortest and longest runs alike */
	assert_int_equal(check_line("a namespaces=\"d*-*k\" ssh-ed25519 " KEY1, pk1, NS, JAN2), 0);
	assert_int_equal(check_line("a namespaces=\"**d**t*a*s*k**\" ssh-ed25519 " KEY1, pk1, NS, JAN2), 0);
	assert_int_equal(check_line("a namespaces=\"*task?\" ssh-ed25519 " KEY1, pk1, NS, JAN2), DG_EINVALID);
	assert_int_equal(check_line("a namespaces=\"*-*-*\" ssh-ed25519 " KEY1, pk1, NS, JAN2), DG_EINVALID);
	/*
	 * A hostile pattern: many stars that match and a tail that never does.
	 * Going back to every star took exponential time (the fuzzer's case ran
	 * for more than 15 s); this one would outlast the test run.
	 */
	{
		char line[512], ns[200];
		size_t n = 0;

		memset(ns, 'a', sizeof(ns) - 1);
		ns[sizeof(ns) - 1] = '\0';
		n += (size_t)snprintf(line, sizeof(line), "a namespaces=\"");
		for (int i = 0; i < 40; i++)
			n += (size_t)snprintf(line + n, sizeof(line) - n, "*a");
		snprintf(line + n, sizeof(line) - n, "b\" ssh-ed25519 %s", KEY1);
		assert_int_equal(check_line(line, pk1, ns, JAN2), DG_EINVALID);
		assert_prefix(dg_error_last(), "wrong namespace:");
	}
	/* and a refused namespace is refused only for that namespace */
	assert_int_equal(check_line("a namespaces=\"git,file\" ssh-ed25519 " KEY1, pk1, "git", JAN2), 0);

	/* a later line of the same key may allow what an earlier one refused */
	parse(&s, "a namespaces=\"git\" ssh-ed25519 " KEY1 "\n"
		  "b namespaces=\"dgrid-task\" ssh-ed25519 " KEY1 "\n");
	{
		const struct dg_signer *who = NULL;

		assert_int_equal(dg_signers_check(&s, pk1, NS, JAN2, &who), 0);
		assert_string_equal(who->principals, "b");
		assert_int_equal(who->line, 2);
		assert_string_equal(who->namespaces, "dgrid-task");
	}
	dg_signers_release(&s);
}

static void test_validity(void **state DG_UNUSED)
{
	struct dg_signers s;
	int64_t now = (int64_t)time(NULL);

	/* the formats: days, minutes, seconds; UTC with Z */
	parse(&s, "a valid-after=\"20260102Z\" ssh-ed25519 " KEY1 "\n"
		  "b valid-after=\"202601020304Z\" ssh-ed25519 " KEY1 "\n"
		  "c valid-after=\"20260102030405Z\" ssh-ed25519 " KEY1 "\n"
		  "d valid-before=\"20260102030405z\",valid-after=\"20260101Z\" ssh-ed25519 " KEY1 "\n");
	assert_int_equal(s.nr, 4);
	assert_true(s.v[0].valid_after == JAN2);
	assert_true(s.v[0].valid_before == INT64_MAX);
	assert_true(s.v[1].valid_after == JAN2 + 3 * 3600 + 4 * 60);
	assert_true(s.v[2].valid_after == JAN2 + 3 * 3600 + 4 * 60 + 5);
	assert_true(s.v[3].valid_before == JAN2 + 3 * 3600 + 4 * 60 + 5);
	assert_true(s.v[3].valid_after == JAN2 - 86400);
	dg_signers_release(&s);

	/* without Z, local time: the same digits one zone east are earlier */
	{
		char *tz = getenv("TZ") ? dg_xstrdup(getenv("TZ")) : NULL;

		setenv("TZ", "JST-9", 1);
		tzset();
		parse(&s, "a valid-after=\"20260102\" ssh-ed25519 " KEY1 "\n"
			  "b valid-after=\"20260102030405\" ssh-ed25519 " KEY1 "\n");
		assert_true(s.v[0].valid_after == JAN2 - 9 * 3600);
		assert_true(s.v[1].valid_after == JAN2 - 9 * 3600 + 3 * 3600 + 4 * 60 + 5);
		dg_signers_release(&s);
		if (tz)
			setenv("TZ", tz, 1);
		else
			unsetenv("TZ");
		tzset();
		free(tz);
	}

	/* judged at now: the bounds themselves */
	assert_int_equal(check_line("a valid-after=\"20260102Z\" ssh-ed25519 " KEY1, pk1, NS, JAN2), 0);
	assert_int_equal(check_line("a valid-after=\"20260102Z\" ssh-ed25519 " KEY1, pk1, NS, JAN2 - 1),
			 DG_EINVALID);
	assert_prefix(dg_error_last(), "not yet valid: key " KEY1_FP " (a)");
	assert_contains(dg_error_last(), "2026-01-02T00:00:00Z");
	assert_int_equal(check_line("a valid-before=\"20260102Z\" ssh-ed25519 " KEY1, pk1, NS, JAN2 - 1), 0);
	assert_int_equal(check_line("a valid-before=\"20260102Z\" ssh-ed25519 " KEY1, pk1, NS, JAN2),
			 DG_EINVALID);
	assert_prefix(dg_error_last(), "expired: key " KEY1_FP " (a)");
	assert_contains(dg_error_last(), "2026-01-02T00:00:00Z");

	/* and against this machine's clock */
	assert_int_equal(check_line("a valid-after=\"20990101\" ssh-ed25519 " KEY1, pk1, NS, now), DG_EINVALID);
	assert_prefix(dg_error_last(), "not yet valid:");
	assert_int_equal(check_line("a valid-after=\"20990101000000Z\" ssh-ed25519 " KEY1, pk1, NS, now),
			 DG_EINVALID);
	assert_prefix(dg_error_last(), "not yet valid:");
	assert_contains(dg_error_last(), "2099-01-01T00:00:00Z");
	assert_int_equal(check_line("a valid-before=\"20000101\" ssh-ed25519 " KEY1, pk1, NS, now), DG_EINVALID);
	assert_prefix(dg_error_last(), "expired:");
	assert_int_equal(check_line("a valid-before=\"20000101000000Z\" ssh-ed25519 " KEY1, pk1, NS, now),
			 DG_EINVALID);
	assert_prefix(dg_error_last(), "expired:");
	assert_contains(dg_error_last(), "2000-01-01T00:00:00Z");
	assert_int_equal(check_line("a valid-after=\"20000101\",valid-before=\"20990101Z\" ssh-ed25519 " KEY1,
				    pk1, NS, now), 0);

	/* every option at once, and a namespace refusal comes first */
	assert_int_equal(check_line("\"a,b\" namespaces=\"git\",valid-before=\"20000101Z\" ssh-ed25519 " KEY1,
				    pk1, NS, now), DG_EINVALID);
	assert_prefix(dg_error_last(), "wrong namespace: key " KEY1_FP " (a,b)");
}

static void test_skipped(void **state DG_UNUSED)
{
	struct dg_signers s;

	parse(&s, "ca@example.com cert-authority ssh-ed25519 " KEY2 "\n"
		  "alice ssh-ed25519 " KEY1 "\n"
		  "bob ssh-rsa " RSA " bob's rsa key\n"
		  "carol ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY=\n"
		  "dave sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t\n"
		  "erin namespaces=\"git\",cert-authority ssh-ed25519 " KEY2 "\n");
	assert_int_equal(s.nr, 1);
	assert_int_equal(s.skipped, 5);
	assert_string_equal(s.v[0].principals, "alice");
	assert_int_equal(s.v[0].line, 2);
	assert_prefix(s.skipped_first, "line 1: cert-authority");
	/* a certificate authority's key is not a signer's key */
	{
		const struct dg_signer *who = NULL;

		assert_int_equal(dg_signers_check(&s, pk2, NS, JAN2, &who), DG_EINVALID);
		assert_prefix(dg_error_last(), "unknown key:");
	}
	dg_signers_release(&s);
	assert_int_equal(s.skipped, 0);

	parse(&s, "# rsa first\nbob ssh-rsa " RSA "\n");
	assert_int_equal(s.nr, 0);
	assert_int_equal(s.skipped, 1);
	assert_prefix(s.skipped_first, "line 2: ");
	assert_contains(s.skipped_first, "'ssh-rsa'");
	dg_signers_release(&s);
}

struct bad_case {
	const char *text;
	unsigned line;
	const char *reason;
};

#define OK1 "alice ssh-ed25519 " KEY1 "\n"

static const struct bad_case bad_cases[] = {
	{ OK1 "bob\n", 2, "no key after the principals" },
	{ OK1 "# c\nbob ssh-ed25519\n", 3, "no base64 key after 'ssh-ed25519'" },
	{ OK1 OK1 "bob namespaces=\"git\"\n", 3, "no key after the options" },
	{ OK1 "bob ssh-ed25519 AAAA!!!!\n", 2, "the public key is not valid base64" },
	{ OK1 "bob ssh-ed25519 " KEY1 "x\n", 2, "not valid base64" },
	{ "\n\n\nbob ssh-ed25519 AAAA\n", 4, "truncated public key" },
	{ OK1 "\r\nbob ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n", 3, "malformed ssh-ed25519 public key" },
	{ OK1 "bob ssh-ed25519 " RSA "AAAA\n", 2, "key type 'ssh-rsa' is not supported" },
	{ OK1 "bob from=\"10.0.0.1\" ssh-ed25519 " KEY1 "\n", 2, "unknown option 'from=\"10.0.0.1\"'" },
	{ OK1 "bob frobnicate ssh-ed25519 " KEY1 "\n", 2, "unknown option 'frobnicate'" },
	{ OK1 "bob namespaces=git ssh-ed25519 " KEY1 "\n", 2, "option 'namespaces' needs a quoted value" },
	{ OK1 "bob valid-after=20260101 ssh-ed25519 " KEY1 "\n", 2, "option 'valid-after' needs a quoted value" },
	{ OK1 "bob valid-before=\"20260101 ssh-ed25519 " KEY1 "\n", 2, NULL },
	{ OK1 "bob valid-after=\"2026-01-01\" ssh-ed25519 " KEY1 "\n", 2,
	  "valid-after \"2026-01-01\" is not a time YYYYMMDD[HHMM[SS]][Z]" },
	{ OK1 "bob valid-before=\"20261301\" ssh-ed25519 " KEY1 "\n", 2, "valid-before \"20261301\" is not a time" },
	{ OK1 "bob valid-before=\"20260132\" ssh-ed25519 " KEY1 "\n", 2, "is not a time" },
	{ OK1 "bob valid-before=\"2026010\" ssh-ed25519 " KEY1 "\n", 2, "is not a time" },
	{ OK1 "bob valid-before=\"202601011\" ssh-ed25519 " KEY1 "\n", 2, "is not a time" },
	{ OK1 "bob valid-before=\"20260101T\" ssh-ed25519 " KEY1 "\n", 2, "is not a time" },
	{ OK1 "bob valid-before=\"20260101246000\" ssh-ed25519 " KEY1 "\n", 2, "is not a time" },
	{ OK1 "bob valid-before=\"\" ssh-ed25519 " KEY1 "\n", 2, "is not a time" },
	{ OK1 "bob valid-before=\"Z\" ssh-ed25519 " KEY1 "\n", 2, "is not a time" },
	{ OK1 "bob valid-after=\"+2026010\" ssh-ed25519 " KEY1 "\n", 2, "is not a time" },
	{ OK1 "bob namespaces=\"git\",,valid-before=\"20990101\" ssh-ed25519 " KEY1 "\n", 2, "unknown option ''" },
	/* a line without principals: the key type is taken for them */
	{ OK1 "ssh-ed25519 " KEY1 "\n", 2, "unknown option" },
};

static void test_malformed(void **state DG_UNUSED)
{
	struct dg_strbuf want = DG_STRBUF_INIT;

	for (size_t i = 0; i < DG_ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct dg_signers s = DG_SIGNERS_INIT;

		if (dg_signers_parse(&s, "signers.txt", c->text, strlen(c->text)) != DG_EINVALID)
			fail_msg("case %zu accepted: %s", i, c->text);
		/* the whole file is refused: nothing is kept */
		assert_int_equal(s.nr, 0);
		assert_null(s.v);
		assert_null(s.path);
		dg_strbuf_reset(&want);
		dg_strbuf_addf(&want, "signers.txt:%u: ", c->line);
		if (strncmp(dg_error_last(), want.buf, want.len))
			fail_msg("case %zu: '%s' does not start with '%s'", i, dg_error_last(), want.buf);
		if (c->reason && !strstr(dg_error_last(), c->reason))
			fail_msg("case %zu: '%s' does not contain '%s'", i, dg_error_last(), c->reason);
	}
	dg_strbuf_release(&want);
}

static void test_nul_and_files(void **state DG_UNUSED)
{
	struct dg_signers s = DG_SIGNERS_INIT;
	const struct dg_signer *who = NULL;
	char path[] = "/tmp/dgrid-signers-XXXXXX";
	static const char text[] = "# signers\nalice ssh-ed25519 " KEY1 "\n";
	int fd;

	assert_int_equal(dg_signers_parse(&s, "nul", "alice\0 ssh-ed25519 " KEY1, 20), DG_EINVALID);
	assert_prefix(dg_error_last(), "nul: ");
	assert_contains(dg_error_last(), "NUL byte");

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
	assert_int_equal(dg_signers_load(&s, path), 0);
	assert_string_equal(s.path, path);
	assert_int_equal(s.nr, 1);
	assert_int_equal(s.v[0].line, 2);
	assert_int_equal(dg_signers_check(&s, pk1, NS, JAN2, &who), 0);
	dg_signers_release(&s);
	assert_int_equal(unlink(path), 0);

	assert_true(dg_signers_load(&s, path) < 0);
	assert_contains(dg_error_last(), "allowed signers '");
	assert_contains(dg_error_last(), path);
	assert_int_equal(s.nr, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_validity),
		cmocka_unit_test(test_skipped),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_nul_and_files),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
