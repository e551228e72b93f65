#include "spool.h"
#include "error.h"
#include "fs.h"
#include "log.h"
#include "strbuf.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int dg_spool_open(struct dg_spool *spool, const char *dir)
{
	DIR *d;
	struct dirent *de;

	spool->dir = dg_xstrdup(dir);
	if (dg_fs_mkdirs(dir, 0700) < 0)
		return DG_ERROR;
	d = opendir(dir);
	if (!d) {
		dg_error_set("cannot open spool '%s': %s", dir, strerror(errno));
		return DG_ERROR;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp")) {
			char *p = dg_xasprintf("%s/%s", dir, de->d_name);
			unlink(p);
			free(p);
		}
	}
	closedir(d);
	return 0;
}

void dg_spool_release(struct dg_spool *spool)
{
	free(spool->dir);
	spool->dir = NULL;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int dg_spool_put(struct dg_spool *spool, const struct dg_result *res)
{
	struct dg_strbuf json = DG_STRBUF_INIT;
	char *tmp = dg_xasprintf("%s/.%s.%u.json.tmp", spool->dir, res->task_id, res->attempt);
	char *dst = dg_xasprintf("%s/%s.%u.json", spool->dir, res->task_id, res->attempt);
	int fd = -1, dfd = -1, ret = DG_ERROR;

	dg_result_to_json(&json, res);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, json.buf, json.len) < 0 || fsync(fd) < 0) {
		dg_error_set("cannot write spool file '%s': %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, dst) < 0) {
		dg_error_set("cannot rename '%s': %s", tmp, strerror(errno));
		goto out;
	}
	/* the rename itself must survive a crash */
	dfd = open(spool->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	free(dst);
	dg_strbuf_release(&json);
	return ret;
}

int dg_spool_remove(struct dg_spool *spool, const struct dg_result *res)
{
	char *p = dg_xasprintf("%s/%s.%u.json", spool->dir, res->task_id, res->attempt);
	int ret = 0;

	if (unlink(p) < 0 && errno != ENOENT) {
		dg_error_set("cannot remove spool file '%s': %s", p, strerror(errno));
		ret = DG_ERROR;
	}
	free(p);
	return ret;
}

int dg_spool_load(struct dg_spool *spool, struct dg_result **out, size_t *nr)
{
	struct dg_result *items = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	DIR *d = opendir(spool->dir);

	if (!d) {
		dg_error_set("cannot open spool '%s': %s", spool->dir, strerror(errno));
		return DG_ERROR;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct dg_strbuf data = DG_STRBUF_INIT;
		char *p;

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		p = dg_xasprintf("%s/%s", spool->dir, de->d_name);
		DG_ALLOC_GROW(items, n + 1, alloc);
		memset(&items[n], 0, sizeof(items[n]));
		if (dg_strbuf_read_file(&data, p, 4u << 20) < 0 ||
		    dg_result_parse(&items[n], data.buf, data.len) < 0) {
			char *bad = dg_xasprintf("%s.bad", p);
			dg_log(DG_LOG_ERROR, "event=spool-bad file=%s error=\"%s\"", p, dg_error_last());
			dg_result_release(&items[n]);
			rename(p, bad);
			free(bad);
		} else {
			char *cur = dg_xasprintf("%s/%s.%u.json", spool->dir, items[n].task_id,
						 items[n].attempt);
			/* an older version's "<task_id>.json": move it to its run's name */
			if (strcmp(cur, p) && rename(p, cur) < 0)
				dg_log(DG_LOG_WARNING, "event=spool-rename file=%s error=\"%s\"", p,
				       strerror(errno));
			free(cur);
			n++;
		}
		free(p);
		dg_strbuf_release(&data);
	}
	closedir(d);
	*out = items;
	*nr = n;
	return 0;
}
