/*
 * fs.h - directories and files on local disk, for what dgrid writes
 * outside a repository: the dashboard's site, the demo's grid directory,
 * the process executor's scratch directories.
 *
 * dg_fs_write() replaces a file so that a reader (a web server, another
 * dgrid) sees the old content or the new, never a part: the data goes to
 * ".NAME.tmp" in the same directory, is fsynced and renamed over NAME.
 *
 * dg_fs_rmtree() is a cleanup: it keeps removing after a failure, never
 * follows a symbolic link nor enters another file system (a bind mount
 * left in a scratch directory is not emptied), and reports through errno
 * only, so that an error path can call it without losing the message it
 * has set.
 *
 * Nothing here prints. dg_fs_mkdir and dg_fs_write return 0 or DG_ERROR
 * with dg_error_last() set.
 */
#ifndef DG_FS_H
#define DG_FS_H

#include "common.h"

/* Creates directory path (mode 0755); one that exists already is fine. */
int dg_fs_mkdir(const char *path);

/* Creates path and its missing parents with mode (mkdir -p); existing ones are fine. */
int dg_fs_mkdirs(const char *path, mode_t mode);

/* Writes len bytes of data to dir/name (mode 0644) as described above. */
int dg_fs_write(const char *dir, const char *name, const void *data, size_t len);

/*
 * Removes path and everything below it; a missing path is fine. Returns 0,
 * or -1 with errno from the first removal that failed (dg_error_last()
 * untouched).
 */
int dg_fs_rmtree(const char *path);

#endif
