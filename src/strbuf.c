#include "strbuf.h"
#include "error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

char dg_strbuf_empty[1];

void dg_strbuf_init(struct dg_strbuf *sb, size_t hint)
{
	sb->alloc = 0;
	sb->len = 0;
	sb->buf = dg_strbuf_empty;
	if (hint)
		dg_strbuf_grow(sb, hint);
}

void dg_strbuf_release(struct dg_strbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	dg_strbuf_init(sb, 0);
}

char *dg_strbuf_detach(struct dg_strbuf *sb, size_t *len)
{
	char *res;

	dg_strbuf_grow(sb, 0);
	res = sb->buf;
	if (len)
		*len = sb->len;
	dg_strbuf_init(sb, 0);
	return res;
}

void dg_strbuf_grow(struct dg_strbuf *sb, size_t extra)
{
	bool fresh = !sb->alloc;
	size_t want;

	if (extra > SIZE_MAX - sb->len - 1) {
		fprintf(stderr, "fatal: string too large\n");
		abort();
	}
	want = sb->len + extra + 1;
	if (want <= sb->alloc)
		return;
	if (fresh)
		sb->buf = NULL;
	sb->alloc = want + 16 > sb->alloc * 3 / 2 ? want + 16 : sb->alloc * 3 / 2;
	sb->buf = dg_xrealloc(sb->buf, sb->alloc);
	if (fresh)
		sb->buf[0] = '\0';
}

void dg_strbuf_setlen(struct dg_strbuf *sb, size_t len)
{
	if (!sb->alloc) {
		/* only 0 is a valid length for the static empty buffer */
		return;
	}
	sb->len = len < sb->alloc ? len : sb->alloc - 1;
	sb->buf[sb->len] = '\0';
}

void dg_strbuf_add(struct dg_strbuf *sb, const void *data, size_t len)
{
	if (!len)
		return;
	dg_strbuf_grow(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void dg_strbuf_addstr(struct dg_strbuf *sb, const char *s)
{
	dg_strbuf_add(sb, s, strlen(s));
}

void dg_strbuf_addch(struct dg_strbuf *sb, int c)
{
	dg_strbuf_grow(sb, 1);
	sb->buf[sb->len++] = (char)c;
	sb->buf[sb->len] = '\0';
}

void dg_strbuf_vaddf(struct dg_strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(sb->buf + sb->len, sb->alloc ? sb->alloc - sb->len : 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n >= (sb->alloc ? sb->alloc - sb->len : 0)) {
		dg_strbuf_grow(sb, (size_t)n);
		n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
		if (n < 0)
			return;
	}
	sb->len += (size_t)n;
}

void dg_strbuf_addf(struct dg_strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dg_strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

void dg_strbuf_rtrim(struct dg_strbuf *sb)
{
	while (sb->len && strchr(" \t\r\n", sb->buf[sb->len - 1]))
		sb->len--;
	if (sb->alloc)
		sb->buf[sb->len] = '\0';
}

ssize_t dg_strbuf_read_fd(struct dg_strbuf *sb, int fd, size_t max)
{
	size_t total = 0;

	for (;;) {
		size_t want = 65536;
		ssize_t n;

		if (max) {
			if (total >= max)
				break;
			if (want > max - total)
				want = max - total;
		}
		dg_strbuf_grow(sb, want);
		n = read(fd, sb->buf + sb->len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		sb->len += (size_t)n;
		sb->buf[sb->len] = '\0';
		total += (size_t)n;
	}
	return (ssize_t)total;
}

int dg_strbuf_read_file(struct dg_strbuf *sb, const char *path, size_t max)
{
	struct stat st;
	int fd, ret = DG_ERROR;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int err = errno;
		dg_error_set("cannot open '%s': %s", path, strerror(err));
		return err == ENOENT ? DG_ENOTFOUND : DG_ERROR;
	}
	if (fstat(fd, &st) < 0) {
		dg_error_set("cannot stat '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		dg_error_set("'%s' is not a regular file", path);
		ret = DG_EINVALID;
		goto out;
	}
	if (max && (uintmax_t)st.st_size > max) {
		dg_error_set("'%s' is %jd bytes, limit %zu", path, (intmax_t)st.st_size, max);
		ret = DG_EINVALID;
		goto out;
	}
	/* read one byte past max so a file that grew meanwhile is caught */
	if (dg_strbuf_read_fd(sb, fd, max ? max + 1 : 0) < 0) {
		dg_error_set("cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	if (max && sb->len > max) {
		dg_error_set("'%s' is larger than %zu bytes", path, max);
		ret = DG_EINVALID;
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}
