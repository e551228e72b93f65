#include "log.h"
#include "strbuf.h"
#include "textsafe.h"

#include <pthread.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum dg_log_level threshold = DG_LOG_INFO;
static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;
static size_t secrets_nr, secrets_alloc;

void dg_log_set_level(enum dg_log_level level)
{
	threshold = level;
}

enum dg_log_level dg_log_get_level(void)
{
	return threshold;
}

int dg_log_parse_level(enum dg_log_level *out, const char *name)
{
	static const struct {
		const char *name;
		enum dg_log_level level;
	} names[] = {
		{ "debug", DG_LOG_DEBUG },     { "info", DG_LOG_INFO },
		{ "warning", DG_LOG_WARNING }, { "warn", DG_LOG_WARNING },
		{ "error", DG_LOG_ERROR },
	};

	for (size_t i = 0; i < DG_ARRAY_SIZE(names); i++) {
		if (!strcasecmp(name, names[i].name)) {
			*out = names[i].level;
			return 0;
		}
	}
	return DG_EINVALID;
}

void dg_log_add_secret(const char *secret)
{
	if (!secret || strlen(secret) < 4)
		return;
	pthread_mutex_lock(&secrets_lock);
	for (size_t i = 0; i < secrets_nr; i++) {
		if (!strcmp(secrets[i], secret))
			goto out;
	}
	DG_ALLOC_GROW(secrets, secrets_nr + 1, secrets_alloc);
	secrets[secrets_nr++] = dg_xstrdup(secret);
out:
	pthread_mutex_unlock(&secrets_lock);
}

/* Length of the registered secret that starts at s, or 0. */
static size_t secret_at(const char *s)
{
	for (size_t i = 0; i < secrets_nr; i++) {
		size_t n = strlen(secrets[i]);
		if (!strncmp(s, secrets[i], n))
			return n;
	}
	return 0;
}

/*
 * At "://", masks what stands between it and an '@' that comes before the
 * next '/', i.e. the userinfo of a URL. Returns how many bytes of src were
 * consumed (0 when there is no userinfo).
 */
static size_t mask_userinfo(struct dg_strbuf *dst, const char *s)
{
	size_t n = strcspn(s + 3, "/@ \t\n\"'");

	if (s[3 + n] != '@' || n == 0)
		return 0;
	dg_strbuf_addstr(dst, "://***@");
	return 3 + n + 1;
}

void dg_redact(struct dg_strbuf *dst, const char *src)
{
	pthread_mutex_lock(&secrets_lock);
	while (*src) {
		size_t n = secret_at(src);

		if (n) {
			dg_strbuf_addstr(dst, "***");
			src += n;
			continue;
		}
		if (!strncmp(src, "://", 3) && (n = mask_userinfo(dst, src))) {
			src += n;
			continue;
		}
		dg_strbuf_addch(dst, *src++);
	}
	pthread_mutex_unlock(&secrets_lock);
}

static const char *level_name(enum dg_log_level level)
{
	switch (level) {
	case DG_LOG_DEBUG: return "debug";
	case DG_LOG_INFO: return "info";
	case DG_LOG_WARNING: return "warning";
	case DG_LOG_ERROR: return "error";
	}
	return "?";
}

void dg_log(enum dg_log_level level, const char *fmt, ...)
{
	struct dg_strbuf raw = DG_STRBUF_INIT, red = DG_STRBUF_INIT, line = DG_STRBUF_INIT;
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	if (level < threshold)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

	va_start(ap, fmt);
	dg_strbuf_vaddf(&raw, fmt, ap);
	va_end(ap);
	dg_redact(&red, raw.buf);

	dg_strbuf_addf(&line, "%s.%03ldZ %s ", when, ts.tv_nsec / 1000000, level_name(level));
	/*
	 * The whole message, not each field: any field may hold a hostile
	 * file name or node id. A newline would forge another event and an
	 * escape sequence would act on the terminal that reads the log.
	 */
	dg_textsafe_add(&line, red.buf, red.len);
	dg_strbuf_addch(&line, '\n');
	/* a single write keeps lines from concurrent threads apart */
	if (write(STDERR_FILENO, line.buf, line.len) < 0) {
		/* nowhere left to report it */
	}
	dg_strbuf_release(&raw);
	dg_strbuf_release(&red);
	dg_strbuf_release(&line);
}
