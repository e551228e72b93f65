/*
 * signers.c - OpenSSH allowed_signers files (signers.h).
 */
#include "error.h"
#include "signers.h"
#include "strbuf.h"

#include <ctype.h>
#include <time.h>

#define SIGNERS_FILE_MAX (1 << 20)

/*
 * The next whitespace-separated token of a line; double quotes group
 * (and are kept: options need them, principals lose them later).
 */
static bool next_token(const char **p, const char *end, struct dg_strbuf *tok)
{
	bool quoted = false;

	dg_strbuf_reset(tok);
	while (*p < end && isspace((unsigned char)**p))
		(*p)++;
	while (*p < end && (quoted || !isspace((unsigned char)**p))) {
		if (**p == '"')
			quoted = !quoted;
		dg_strbuf_addch(tok, **p);
		(*p)++;
	}
	return tok->len > 0;
}

static bool is_key_type(const char *s)
{
	return !strncmp(s, "ssh-", 4) || !strncmp(s, "ecdsa-", 6) || !strncmp(s, "sk-", 3) ||
	       !strncmp(s, "rsa-", 4);
}

/* "YYYYMMDD[HHMM[SS]][Z]" as ssh-keygen reads it: UTC with Z, else local time. */
static int parse_time(int64_t *out, const char *s)
{
	size_t n = strlen(s), digits = n;
	struct tm tm;
	bool utc = n && (s[n - 1] == 'Z' || s[n - 1] == 'z');
	int v[6] = { 0, 0, 0, 0, 0, 0 };
	time_t t;

	if (utc)
		digits--;
	if (digits != 8 && digits != 12 && digits != 14)
		return DG_EINVALID;
	for (size_t i = 0; i < digits; i++) {
		if (!isdigit((unsigned char)s[i]))
			return DG_EINVALID;
	}
	sscanf(s, "%4d%2d%2d", &v[0], &v[1], &v[2]);
	if (digits >= 12)
		sscanf(s + 8, "%2d%2d", &v[3], &v[4]);
	if (digits == 14)
		sscanf(s + 12, "%2d", &v[5]);
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
		return DG_EINVALID;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	tm.tm_isdst = -1;
	t = utc ? timegm(&tm) : mktime(&tm);
	if (t == (time_t)-1)
		return DG_EINVALID;
	*out = (int64_t)t;
	return 0;
}

/* The value of name="value" (quotes required, as OpenSSH writes them). */
static int option_value(char **out, const char *opt, size_t name_len)
{
	const char *v = opt + name_len;
	size_t n = strlen(v);

	if (n < 3 || v[0] != '=' || v[1] != '"' || v[n - 1] != '"') {
		dg_error_set("option '%.*s' needs a quoted value", (int)name_len, opt);
		return DG_EINVALID;
	}
	*out = dg_xstrndup(v + 2, n - 3);
	return 0;
}

/* One option of a line; *skip is set for one dgrid cannot honour. */
static int parse_option(struct dg_signer *sg, const char *opt, bool *skip)
{
	char *v = NULL;
	int ret = 0;

	if (!strcasecmp(opt, "cert-authority")) {
		*skip = true;
	} else if (!strncasecmp(opt, "namespaces=", 11)) {
		if ((ret = option_value(&v, opt, 10)) == 0) {
			free(sg->namespaces);
			sg->namespaces = v;
			v = NULL;
		}
	} else if (!strncasecmp(opt, "valid-after=", 12) || !strncasecmp(opt, "valid-before=", 13)) {
		bool after = !strncasecmp(opt, "valid-after=", 12);

		if ((ret = option_value(&v, opt, after ? 11 : 12)) == 0 &&
		    parse_time(after ? &sg->valid_after : &sg->valid_before, v) < 0) {
			dg_error_set("%s \"%s\" is not a time YYYYMMDD[HHMM[SS]][Z]",
				     after ? "valid-after" : "valid-before", v);
			ret = DG_EINVALID;
		}
	} else {
		dg_error_set("unknown option '%.60s'", opt);
		ret = DG_EINVALID;
	}
	free(v);
	return ret;
}

/* The comma-separated options token; commas inside quotes do not split. */
static int parse_options(struct dg_signer *sg, const char *opts, bool *skip)
{
	struct dg_strbuf one = DG_STRBUF_INIT;
	bool quoted = false;
	int ret = 0;

	for (const char *p = opts;; p++) {
		if (*p == '"')
			quoted = !quoted;
		if (*p && (quoted || *p != ',')) {
			dg_strbuf_addch(&one, *p);
			continue;
		}
		if ((ret = parse_option(sg, one.buf, skip)) < 0 || !*p)
			break;
		dg_strbuf_reset(&one);
	}
	if (!ret && quoted) {
		dg_error_set("unbalanced quotes in options");
		ret = DG_EINVALID;
	}
	dg_strbuf_release(&one);
	return ret;
}

static void signer_release(struct dg_signer *sg)
{
	free(sg->principals);
	free(sg->namespaces);
}

static void note_skipped(struct dg_signers *s, unsigned line, const char *why)
{
	if (!s->skipped++)
		snprintf(s->skipped_first, sizeof(s->skipped_first), "line %u: %s", line, why);
}

/* One line: 0 (added or skipped), or DG_EINVALID with the reason. */
static int parse_line(struct dg_signers *s, unsigned line, const char *p, const char *end)
{
	struct dg_strbuf tok = DG_STRBUF_INIT, type = DG_STRBUF_INIT;
	struct dg_signer sg = { NULL, { 0 }, NULL, INT64_MIN, INT64_MAX, line };
	bool skip = false;
	int ret = DG_EINVALID;

	if (!next_token(&p, end, &tok) || tok.buf[0] == '#') {
		ret = 0;
		goto out;
	}
	/* principals, without their quotes */
	if (tok.buf[0] == '"' && tok.len >= 2 && tok.buf[tok.len - 1] == '"')
		sg.principals = dg_xstrndup(tok.buf + 1, tok.len - 2);
	else
		sg.principals = dg_xstrdup(tok.buf);
	if (!next_token(&p, end, &tok)) {
		dg_error_set("no key after the principals");
		goto out;
	}
	if (!is_key_type(tok.buf)) {
		if (parse_options(&sg, tok.buf, &skip) < 0)
			goto out;
		if (!next_token(&p, end, &tok)) {
			dg_error_set("no key after the options");
			goto out;
		}
	}
	dg_strbuf_addstr(&type, tok.buf);
	if (!next_token(&p, end, &tok)) {
		dg_error_set("no base64 key after '%.40s'", type.buf);
		goto out;
	}
	if (skip) {
		note_skipped(s, line, "cert-authority (certificates are not supported)");
		ret = 0;
		goto out;
	}
	if (strcmp(type.buf, "ssh-ed25519")) {
		char why[80];

		snprintf(why, sizeof(why), "key type '%.40s' (dgrid verifies ssh-ed25519 only)", type.buf);
		note_skipped(s, line, why);
		ret = 0;
		goto out;
	}
	if (dg_sshkey_parse_public(sg.pk, type.buf, tok.buf) < 0)
		goto out;
	DG_ALLOC_GROW(s->v, s->nr + 1, s->alloc);
	s->v[s->nr++] = sg;
	memset(&sg, 0, sizeof(sg));
	ret = 0;
out:
	signer_release(&sg);
	dg_strbuf_release(&tok);
	dg_strbuf_release(&type);
	return ret;
}

int dg_signers_parse(struct dg_signers *signers, const char *name, const char *text, size_t len)
{
	struct dg_signers s = DG_SIGNERS_INIT;
	const char *p = text, *end = text + len;
	unsigned line = 0;
	int ret = 0;

	if (len && memchr(text, '\0', len)) {
		dg_error_set("%s: contains a NUL byte: not an allowed_signers file", name);
		return DG_EINVALID;
	}
	while (p < end && !ret) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			eol = end;
		line++;
		if ((ret = parse_line(&s, line, p, eol)) < 0)
			dg_error_prefix("%s:%u", name, line);
		if (eol == end)
			break;
		p = eol + 1;
	}
	if (ret < 0) {
		dg_signers_release(&s);
		return ret;
	}
	s.path = dg_xstrdup(name);
	*signers = s;
	return 0;
}

int dg_signers_load(struct dg_signers *signers, const char *path)
{
	struct dg_strbuf text = DG_STRBUF_INIT;
	int ret = dg_strbuf_read_file(&text, path, SIGNERS_FILE_MAX);

	if (ret < 0)
		dg_error_prefix("allowed signers '%s'", path);
	else
		ret = dg_signers_parse(signers, path, text.buf, text.len);
	dg_strbuf_release(&text);
	return ret;
}

void dg_signers_release(struct dg_signers *signers)
{
	for (size_t i = 0; i < signers->nr; i++)
		signer_release(&signers->v[i]);
	free(signers->v);
	free(signers->path);
	*signers = (struct dg_signers)DG_SIGNERS_INIT;
}

void dg_signers_append(struct dg_signers *dst, const struct dg_signers *src)
{
	for (size_t i = 0; i < src->nr; i++) {
		struct dg_signer sg = src->v[i];

		sg.principals = dg_xstrdup(sg.principals);
		sg.namespaces = sg.namespaces ? dg_xstrdup(sg.namespaces) : NULL;
		DG_ALLOC_GROW(dst->v, dst->nr + 1, dst->alloc);
		dst->v[dst->nr++] = sg;
	}
}

unsigned dg_signers_count(const struct dg_signers *signers, const char *ns, const void *data,
			  size_t len, const struct dg_signature_file *sigs, size_t n, int64_t now,
			  struct dg_strbuf *why)
{
	unsigned char (*seen)[DG_SSH_ED25519_PK] = dg_xcalloc(n + 1, sizeof(*seen));
	unsigned count = 0;

	for (size_t i = 0; i < n; i++) {
		const struct dg_signer *who;
		struct dg_sshsig sig;
		bool again = false;

		if (dg_sshsig_parse(&sig, sigs[i].armor, sigs[i].len) < 0 ||
		    dg_sshsig_verify(&sig, ns, data, len) < 0 ||
		    dg_signers_check(signers, sig.pk, ns, now, &who) < 0) {
			dg_strbuf_addf(why, "%s: %s; ", sigs[i].name, dg_error_last());
			continue;
		}
		for (unsigned k = 0; k < count && !again; k++)
			again = !memcmp(seen[k], sig.pk, DG_SSH_ED25519_PK);
		if (again) {
			dg_strbuf_addf(why, "%s: a second signature by %s counts once; ", sigs[i].name,
				       who->principals);
			continue;
		}
		memcpy(seen[count++], sig.pk, DG_SSH_ED25519_PK);
	}
	free(seen);
	return count;
}

/*
 * OpenSSH's match_pattern: '*' any run, '?' any one character, nothing else
 * special. One point to go back to, the last star: a later star can match
 * whatever an earlier one would have, so trying the earlier one again is
 * never needed, and the time is at most len(s) x len(p). The recursive
 * match, which went back to every star, took exponential time in the stars:
 * the fuzzer found a namespaces pattern (an allowed_signers line anybody
 * who can push may write) that kept it busy for more than 15 s.
 */
static bool glob_match(const char *s, const char *p)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*p == '*') {
			star = ++p;      /* the pattern after the star... */
			resume = s;      /* ...tried from here on, one character later each time */
		} else if (*p && (*p == '?' || *p == *s)) {
			p++;
			s++;
		} else if (star) {
			p = star;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return !*p;
}

/* OpenSSH's match_pattern_list: a negated match denies, else any match allows. */
static bool namespace_allowed(const char *list, const char *ns)
{
	struct dg_strbuf pat = DG_STRBUF_INIT;
	bool allowed = false, denied = false;

	for (const char *p = list;; p++) {
		if (*p && *p != ',') {
			dg_strbuf_addch(&pat, *p);
			continue;
		}
		if (pat.buf[0] == '!' && glob_match(ns, pat.buf + 1))
			denied = true;
		else if (pat.buf[0] != '!' && pat.len && glob_match(ns, pat.buf))
			allowed = true;
		if (!*p)
			break;
		dg_strbuf_reset(&pat);
	}
	dg_strbuf_release(&pat);
	return allowed && !denied;
}

int dg_signers_check(const struct dg_signers *signers, const unsigned char pk[DG_SSH_ED25519_PK],
		     const char *ns, int64_t now, const struct dg_signer **who)
{
	char fp[DG_SSH_FINGERPRINT_LEN + 1], when[32];
	const struct dg_signer *refused = NULL;
	const char *why = NULL;

	for (size_t i = 0; i < signers->nr; i++) {
		const struct dg_signer *sg = &signers->v[i];

		if (memcmp(sg->pk, pk, DG_SSH_ED25519_PK))
			continue;
		if (sg->namespaces && !namespace_allowed(sg->namespaces, ns))
			refused = sg, why = "namespace";
		else if (now < sg->valid_after)
			refused = sg, why = "after";
		else if (now >= sg->valid_before)
			refused = sg, why = "before";
		else {
			*who = sg;
			return 0;
		}
	}
	dg_sshkey_fingerprint(fp, pk);
	if (!refused) {
		dg_error_set("unknown key: %s is not in the allowed signers", fp);
	} else if (!strcmp(why, "namespace")) {
		dg_error_set("wrong namespace: key %s (%s) may not sign '%s' (namespaces %s, line %u)", fp,
			     refused->principals, ns, refused->namespaces, refused->line);
	} else {
		struct tm tm;
		time_t t = (time_t)(!strcmp(why, "after") ? refused->valid_after : refused->valid_before);

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (!strcmp(why, "after"))
			dg_error_set("not yet valid: key %s (%s) is valid from %s (line %u)", fp,
				     refused->principals, when, refused->line);
		else
			dg_error_set("expired: key %s (%s) was valid until %s (line %u)", fp,
				     refused->principals, when, refused->line);
	}
	return DG_EINVALID;
}
