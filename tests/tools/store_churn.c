/*
 * store_churn - many fetches that each bring new objects, as a long-running
 * worker sees them: COUNT rounds of "a peer store commits and pushes one
 * file, then our store fetches", and every fourth round our store commits
 * too (loose objects in its cache). After each round it counts its own open
 * descriptors (/proc/self/fd). Prints one line:
 *   rounds=N packs=P loose=L max_fds=F fds=F
 * packs and loose are what CACHE_DIR holds at the end.
 *
 * usage: store_churn URL COUNT CACHE_DIR PEER_CACHE_DIR
 * With STORE_CHURN_DEBUG set, the stores' debug lines go to stderr. With
 * STORE_CHURN_HOLD set, our store's repacking is held through the rounds
 * (dg_store_hold_repack, as a worker's turn holds it) and the line starts
 * with held_packs=P, the packs then; then released and dg_store_tidy
 * called, and the rest counted after it.
 */
#include "common.h"
#include "error.h"
#include "log.h"
#include "store.h"

#include <dirent.h>
#include <git2.h>

struct add_file {
	char path[128];
};

static int add_one(struct dg_txn *txn, void *payload)
{
	struct add_file *a = payload;

	if (dg_txn_exists(txn, a->path))
		return 1;
	dg_txn_message(txn, "add %s", a->path);
	return dg_txn_write(txn, a->path, a->path, strlen(a->path));
}

/* Entries of dir whose name ends with suffix, "" for all (no dot files). */
static size_t count(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0, sl = strlen(suffix);

	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] != '.' && l >= sl && !strcmp(de->d_name + l - sl, suffix))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static int write_one(struct dg_store *store, const char *who, unsigned long i)
{
	struct add_file a;

	snprintf(a.path, sizeof(a.path), "churn/%s-%lu.txt", who, i);
	if (dg_store_transact(store, add_one, &a, NULL) < 0) {
		fprintf(stderr, "store_churn: %s: %s\n", a.path, dg_error_last());
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct dg_store_opts opts = DG_STORE_OPTS_INIT, peer_opts = DG_STORE_OPTS_INIT;
	struct dg_store *store = NULL, *peer = NULL;
	size_t fds, max_fds = 0, loose = 0;
	unsigned long n;
	char path[4096];
	int ret = 1;
	bool hold = getenv("STORE_CHURN_HOLD") != NULL;

	if (argc != 5) {
		fprintf(stderr, "usage: store_churn URL COUNT CACHE_DIR PEER_CACHE_DIR\n");
		return 2;
	}
	n = strtoul(argv[2], NULL, 10);
	/* the repacks' debug lines (store_compact.c), for t0120 */
	if (getenv("STORE_CHURN_DEBUG"))
		dg_log_set_level(DG_LOG_DEBUG);
	git_libgit2_init();
	opts.url = peer_opts.url = argv[1];
	opts.cache_dir = argv[3];
	peer_opts.cache_dir = argv[4];
	opts.max_attempts = peer_opts.max_attempts = 200;
	if (dg_store_open(&store, &opts) < 0 || dg_store_open(&peer, &peer_opts) < 0 ||
	    dg_store_fetch(store) < 0 || dg_store_fetch(peer) < 0) {
		fprintf(stderr, "store_churn: %s\n", dg_error_last());
		goto out;
	}
	if (hold)
		dg_store_hold_repack(store, true);
	for (unsigned long i = 0; i < n; i++) {
		if (write_one(peer, "peer", i) < 0)
			goto out;
		if (dg_store_fetch(store) < 0) {
			fprintf(stderr, "store_churn: fetch %lu: %s\n", i, dg_error_last());
			goto out;
		}
		if (i % 4 == 3 && write_one(store, "me", i) < 0)
			goto out;
		fds = count("/proc/self/fd", "");
		if (fds > max_fds)
			max_fds = fds;
	}
	if (hold) {
		snprintf(path, sizeof(path), "%s/objects/pack", argv[3]);
		printf("held_packs=%zu ", count(path, ".pack"));
		dg_store_hold_repack(store, false);
		if (dg_store_tidy(store) < 0) {
			fprintf(stderr, "store_churn: tidy: %s\n", dg_error_last());
			goto out;
		}
	}
	for (unsigned i = 0; i < 256; i++) {
		snprintf(path, sizeof(path), "%s/objects/%02x", argv[3], i);
		loose += count(path, "");
	}
	snprintf(path, sizeof(path), "%s/objects/pack", argv[3]);
	printf("rounds=%lu packs=%zu loose=%zu max_fds=%zu fds=%zu\n", n, count(path, ".pack"), loose,
	       max_fds, count("/proc/self/fd", ""));
	ret = 0;
out:
	dg_store_free(peer);
	dg_store_free(store);
	git_libgit2_shutdown();
	return ret;
}
