/*
 * store_compact.c - keeping a store's cache small (see store_int.h).
 *
 * Every fetch that brings objects leaves a pack in the cache, and libgit2
 * keeps a descriptor open per pack it has read from: a worker fetching
 * every 10 s ran out of descriptors within hours. So libgit2 may keep at
 * most MWINDOW_FILE_LIMIT packs open, and a fetch repacks the cache into
 * one pack once it holds more than REPACK_PACKS packs or, judged like
 * `git gc --auto` from one of the 256 fan-out directories, about
 * 256 * REPACK_LOOSE_SAMPLE loose objects (transactions write loose ones).
 */
#include "error.h"
#include "log.h"
#include "store_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPACK_PACKS 16
#define REPACK_LOOSE_SAMPLE 8

/* Regular files in dir whose name ends with suffix ("" for all). */
static size_t count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0, sl = strlen(suffix);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] != '.' && l >= sl && !strcmp(de->d_name + l - sl, suffix))
			n++;
	}
	closedir(d);
	return n;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret = fd >= 0 && fsync(fd) == 0 ? 0 : -1;

	if (ret < 0)
		dg_error_set("cannot sync '%s': %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Removes every pack but keep_name ("pack-<hash>"), and every loose object. */
static void remove_old_objects(const char *objdir, const char *keep_name)
{
	char *packdir = dg_xasprintf("%s/pack", objdir);
	DIR *d = opendir(packdir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		const char *dot = strrchr(de->d_name, '.');
		size_t stem = dot ? (size_t)(dot - de->d_name) : 0;
		if (strncmp(de->d_name, "pack-", 5) || !stem ||
		    (stem == strlen(keep_name) && !strncmp(de->d_name, keep_name, stem)))
			continue;
		char *keep = dg_xasprintf("%s/%.*s.keep", packdir, (int)stem, de->d_name);
		char *path = dg_xasprintf("%s/%s", packdir, de->d_name);
		/* a .keep file is somebody's explicit wish: honour it */
		if (access(keep, F_OK) < 0)
			unlink(path);
		free(keep);
		free(path);
	}
	if (d)
		closedir(d);
	for (unsigned i = 0; i < 256; i++) {
		char *fan = dg_xasprintf("%s/%02x", objdir, i);
		DIR *f = opendir(fan);
		while (f && (de = readdir(f))) {
			if (de->d_name[0] == '.')
				continue;
			char *path = dg_xasprintf("%s/%s", fan, de->d_name);
			unlink(path);
			free(path);
		}
		if (f) {
			closedir(f);
			rmdir(fan);
		}
		free(fan);
	}
	free(packdir);
}

/* Closes libgit2's handles (of packs that are gone) by opening the cache afresh. */
static int reopen_cache(struct dg_store *store)
{
	int err;

	git_remote_free(store->remote);
	store->remote = NULL;
	git_repository_free(store->repo);
	store->repo = NULL;
	err = git_repository_open_bare(&store->repo, store->cache_path);
	if (err < 0)
		return store_git_fail(store, err, "cannot reopen cache repository");
	return store_remote_open(store);
}

/*
 * Writes everything reachable from the cache's refs into one new pack,
 * makes it durable, and only then removes the old packs and loose objects.
 * Safe because the store is single-threaded and holds no libgit2 object
 * between calls (a dg_txn's objects die with its transaction, and
 * transaction functions do not fetch), and the cache's flock keeps other
 * processes out. A failure before the removal leaves the cache as it was.
 */
int store_maybe_repack(struct dg_store *store)
{
	const char *objdir_rel = "objects";
	char *objdir = NULL, *packdir = NULL, *sample = NULL, *pack = NULL, *idx = NULL;
	char *keep_name = NULL;
	git_packbuilder *pb = NULL;
	git_revwalk *walk = NULL;
	int ret = 0;

	if (store->local)
		return 0;     /* somebody's own repository: not ours to repack */
	objdir = dg_xasprintf("%s/%s", git_repository_path(store->repo), objdir_rel);
	packdir = dg_xasprintf("%s/pack", objdir);
	sample = dg_xasprintf("%s/17", objdir);
	if (count_files(packdir, ".pack") <= REPACK_PACKS && count_files(sample, "") <= REPACK_LOOSE_SAMPLE)
		goto out;
	if (git_packbuilder_new(&pb, store->repo) < 0 || git_revwalk_new(&walk, store->repo) < 0 ||
	    git_revwalk_push_glob(walk, "refs/*") < 0 || git_packbuilder_insert_walk(pb, walk) < 0) {
		ret = store_git_fail(store, -1, "cannot repack the cache");
		goto warn;
	}
	if (git_packbuilder_object_count(pb) == 0)
		goto out;
	if (git_packbuilder_write(pb, packdir, 0, NULL, NULL) < 0) {
		ret = store_git_fail(store, -1, "cannot write the cache's new pack");
		goto warn;
	}
	keep_name = dg_xasprintf("pack-%s", git_packbuilder_name(pb));
	pack = dg_xasprintf("%s/%s.pack", packdir, keep_name);
	idx = dg_xasprintf("%s/%s.idx", packdir, keep_name);
	if (fsync_path(pack) < 0 || fsync_path(idx) < 0 || fsync_path(packdir) < 0) {
		ret = DG_ERROR;
		goto warn;
	}
	git_packbuilder_free(pb);
	pb = NULL;
	git_revwalk_free(walk);
	walk = NULL;
	remove_old_objects(objdir, keep_name);
	/* without its old packs the open repository is unusable: a hard error */
	ret = reopen_cache(store);
	/*
	 * The pack builder's tables (megabytes, growing with the cache) are
	 * free now; without a trim, glibc keeps the pages, so the process's
	 * memory would follow the largest repack ever made (make soak).
	 */
	malloc_trim(0);
	goto out;
warn:
	/* the cache is as it was: fetching worked, repacking waits for next time */
	dg_log(DG_LOG_WARNING, "event=repack-failed cache=%s error=\"%s\"", store->cache_path,
	       dg_error_last());
	ret = 0;
out:
	git_packbuilder_free(pb);
	git_revwalk_free(walk);
	free(objdir);
	free(packdir);
	free(sample);
	free(pack);
	free(idx);
	free(keep_name);
	return ret;
}

