/*
 * fs.c - directories and files on local disk (fs.h).
 */
#include "fs.h"
#include "error.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

int dg_fs_mkdir(const char *path)
{
	int err;

	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		err = errno;
		dg_error_set("cannot create directory '%s': %s", path, strerror(err));
		return DG_ERROR;
	}
	return 0;
}

int dg_fs_mkdirs(const char *path, mode_t mode)
{
	char *tmp = dg_xstrdup(path);
	int ret = 0;

	for (char *p = tmp + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST) {
			dg_error_set("cannot create directory '%s': %s", tmp, strerror(errno));
			ret = DG_ERROR;
			break;
		}
		*p = c;
		if (!c)
			break;
	}
	free(tmp);
	return ret;
}

int dg_fs_write(const char *dir, const char *name, const void *data, size_t len)
{
	char *path = dg_xasprintf("%s/%s", dir, name);
	char *tmp = dg_xasprintf("%s/.%s.tmp", dir, name);
	int fd = -1, ret = DG_ERROR, err;
	size_t off = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = errno;
		dg_error_set("cannot create '%s': %s", tmp, strerror(err));
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, (const char *)data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			dg_error_set("cannot write '%s': %s", tmp, strerror(err));
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		err = errno;
		fd = -1;
		dg_error_set("cannot write '%s': %s", tmp, strerror(err));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		err = errno;
		dg_error_set("cannot rename '%s': %s", tmp, strerror(err));
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret)
		unlink(tmp);
	free(path);
	free(tmp);
	return ret;
}

/* nftw has no payload argument: the first failure of this thread's walk */
static _Thread_local int rmtree_errno;

static int rm_one(const char *path, const struct stat *st DG_UNUSED, int type,
		  struct FTW *ftw DG_UNUSED)
{
	int r = type == FTW_DP || type == FTW_DNR ? rmdir(path) : unlink(path);

	if (r < 0 && errno != ENOENT && !rmtree_errno)
		rmtree_errno = errno;
	return 0;
}

int dg_fs_rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	rmtree_errno = 0;
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT &&
	    !rmtree_errno)
		rmtree_errno = errno;
	if (rmtree_errno) {
		errno = rmtree_errno;
		return -1;
	}
	return 0;
}
