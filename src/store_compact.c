/*
 * store_compact.c - keeping a store's cache small (see store_int.h).
 *
 * Every fetch that brings objects leaves a pack in the cache, and libgit2
 * keeps a descriptor open per pack it has read from: a worker fetching
 * every 10 s ran out of descriptors within hours. So libgit2 may keep at
 * most MWINDOW_FILE_LIMIT packs open, and a fetch repacks the cache once
 * it holds more than REPACK_PACKS packs or, judged like `git gc --auto`
 * from one of the 256 fan-out directories, about 256 * REPACK_LOOSE_SAMPLE
 * loose objects (transactions write loose ones).
 *
 * Repacking everything each time cost what the grid holds, not what
 * changed: a worker on a grid of 10,000 queued tasks with a push every 2 s
 * spent 80 % of its CPU rewriting them every 16 fetches
 * (bench-queue-read.sh). So a full repack is the base: REPACK_BASE_FILE
 * records its pack, its object count and the tips it was made from, and a
 * later repack writes only what those tips do not reach - everything new
 * since the base, in one pack beside it - until that is half the base's
 * size, when a full repack makes a new base (geometric, as `git repack
 * --geometric`: the cost of repacking follows the churn).
 */
#include "clock.h"
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
/* in the cache: "pack-HEX OBJECTS" then a tip per line */
#define REPACK_BASE_FILE "dgrid-base-pack"
#define REPACK_TIPS_MAX 100000

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

static bool is_kept(const char *name, size_t stem, const char *const *keep, size_t keep_nr)
{
	for (size_t i = 0; i < keep_nr; i++)
		if (stem == strlen(keep[i]) && !strncmp(name, keep[i], stem))
			return true;
	return false;
}

/* Removes every pack but those named in keep ("pack-<hash>"), and every loose object. */
static void remove_old_objects(const char *objdir, const char *const *keep_names, size_t keep_nr)
{
	char *packdir = dg_xasprintf("%s/pack", objdir);
	DIR *d = opendir(packdir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		const char *dot = strrchr(de->d_name, '.');
		size_t stem = dot ? (size_t)(dot - de->d_name) : 0;
		if (strncmp(de->d_name, "pack-", 5) || !stem || is_kept(de->d_name, stem, keep_names, keep_nr))
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

/* The base pack (REPACK_BASE_FILE): what a full repack wrote, and from which tips. */
struct base_pack {
	char name[64];           /* "pack-<hex>"; "" when there is none */
	size_t objects;
	git_oid *tips;
	size_t tips_nr, tips_alloc;
};

static void base_release(struct base_pack *b)
{
	free(b->tips);
	memset(b, 0, sizeof(*b));
}

static char *base_path(struct dg_store *store)
{
	return dg_xasprintf("%s/%s", git_repository_path(store->repo), REPACK_BASE_FILE);
}

/* Reads the base's record; an unreadable one, or one whose pack is gone, is no base. */
static void base_read(struct dg_store *store, const char *packdir, struct base_pack *b)
{
	char *path = base_path(store), line[128], *pack = NULL;
	FILE *f = fopen(path, "re");
	bool ok = f && fgets(line, sizeof(line), f) && sscanf(line, "%63s %zu", b->name, &b->objects) == 2 &&
		  !strncmp(b->name, "pack-", 5) && b->objects > 0;

	while (ok && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		DG_ALLOC_GROW(b->tips, b->tips_nr + 1, b->tips_alloc);
		ok = b->tips_nr < REPACK_TIPS_MAX && git_oid_fromstr(&b->tips[b->tips_nr++], line) == 0;
	}
	if (ok) {
		pack = dg_xasprintf("%s/%s.pack", packdir, b->name);
		ok = access(pack, F_OK) == 0;
	}
	if (f)
		fclose(f);
	if (!ok || !b->tips_nr)
		base_release(b);
	free(pack);
	free(path);
}

/* Records a full repack's pack and the tips of the refs it packed, atomically. */
static void base_write(struct dg_store *store, const char *name, size_t objects)
{
	struct base_pack b = { { 0 }, 0, NULL, 0, 0 };
	char *path = base_path(store), *tmp = dg_xasprintf("%s.tmp", path), hex[GIT_OID_HEXSZ + 1];
	git_reference_iterator *it = NULL;
	git_reference *r = NULL;
	FILE *f;
	bool ok;

	if (git_reference_iterator_glob_new(&it, store->repo, "refs/*") == 0) {
		while (git_reference_next(&r, it) == 0) {
			git_object *o = NULL;

			/* the commits a walk of every ref starts from */
			if (git_reference_peel(&o, r, GIT_OBJECT_COMMIT) == 0) {
				DG_ALLOC_GROW(b.tips, b.tips_nr + 1, b.tips_alloc);
				b.tips[b.tips_nr++] = *git_object_id(o);
			}
			git_object_free(o);
			git_reference_free(r);
		}
	}
	git_reference_iterator_free(it);
	f = fopen(tmp, "we");
	ok = f && fprintf(f, "%s %zu\n", name, objects) > 0;
	for (size_t i = 0; ok && i < b.tips_nr; i++)
		ok = fprintf(f, "%s\n", git_oid_tostr(hex, sizeof(hex), &b.tips[i])) > 0;
	if (f && fclose(f) != 0)
		ok = false;
	/* no record, no base: the next repack is a full one, which is always right */
	if (!ok || rename(tmp, path) < 0)
		unlink(tmp);
	base_release(&b);
	free(tmp);
	free(path);
}

/* A pack builder holding what refs reach, less what base's tips reach (base NULL: all). */
static int fill(struct dg_store *store, const struct base_pack *base, git_packbuilder **pb, git_revwalk **walk)
{
	if (git_packbuilder_new(pb, store->repo) < 0 || git_revwalk_new(walk, store->repo) < 0 ||
	    git_revwalk_push_glob(*walk, "refs/*") < 0)
		return -1;
	for (size_t i = 0; base && i < base->tips_nr; i++)
		if (git_revwalk_hide(*walk, &base->tips[i]) < 0)
			return -1;
	return git_packbuilder_insert_walk(*pb, *walk) < 0 ? -1 : 0;
}

/*
 * Writes what the cache's refs reach into a new pack - all of it (a full
 * repack), or what is new since the base pack (above) -, makes it durable,
 * and only then removes the other packs and the loose objects. Safe
 * because the store is single-threaded and holds no libgit2 object
 * between calls (a dg_txn's objects die with its transaction, and
 * transaction functions do not fetch), and the cache's flock keeps other
 * processes out. The base stays: it holds everything its tips reach. A
 * failure before the removal leaves the cache as it was.
 */
int store_maybe_repack(struct dg_store *store)
{
	const char *objdir_rel = "objects";
	char *objdir = NULL, *packdir = NULL, *sample = NULL, *pack = NULL, *idx = NULL;
	char *keep_name = NULL;
	git_packbuilder *pb = NULL;
	git_revwalk *walk = NULL;
	struct base_pack base = { { 0 }, 0, NULL, 0, 0 };
	size_t objects;
	int64_t t0 = dg_now_ms();
	int ret = 0;

	if (store->local)
		return 0;     /* somebody's own repository: not ours to repack */
	objdir = dg_xasprintf("%s/%s", git_repository_path(store->repo), objdir_rel);
	packdir = dg_xasprintf("%s/pack", objdir);
	sample = dg_xasprintf("%s/17", objdir);
	if (count_files(packdir, ".pack") <= REPACK_PACKS && count_files(sample, "") <= REPACK_LOOSE_SAMPLE)
		goto out;
	base_read(store, packdir, &base);
	/* what is new since the base, unless that is half the base already: then all */
	if (base.name[0] && (fill(store, &base, &pb, &walk) < 0 ||
			     git_packbuilder_object_count(pb) * 2 > base.objects)) {
		base_release(&base);
		git_packbuilder_free(pb);
		git_revwalk_free(walk);
		pb = NULL;
		walk = NULL;
	}
	if (!base.name[0] && fill(store, NULL, &pb, &walk) < 0) {
		ret = store_git_fail(store, -1, "cannot repack the cache");
		goto warn;
	}
	objects = git_packbuilder_object_count(pb);
	if (objects == 0 && !base.name[0])
		goto out;
	if (objects == 0) {
		/* nothing the base does not hold: the rest is garbage */
		const char *keep[1] = { base.name };

		remove_old_objects(objdir, keep, 1);
		ret = reopen_cache(store);
		goto out;
	}
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
	{
		const char *keep[2] = { keep_name, base.name };

		remove_old_objects(objdir, keep, base.name[0] ? 2 : 1);
	}
	/* without its old packs the open repository is unusable: a hard error */
	ret = reopen_cache(store);
	if (ret == 0 && !base.name[0])
		base_write(store, keep_name, objects);
	dg_log(DG_LOG_DEBUG, "event=repack kind=%s objects=%zu base_objects=%zu ms=%lld",
	       base.name[0] ? "incremental" : "full", objects, base.name[0] ? base.objects : objects,
	       (long long)(dg_now_ms() - t0));
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
	base_release(&base);
	free(objdir);
	free(packdir);
	free(sample);
	free(pack);
	free(idx);
	free(keep_name);
	return ret;
}

