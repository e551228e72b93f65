/*
 * txn_writer - runs COUNT transactions against a state repository, each
 * adding one file DIR/WRITER-N.txt (DIR defaults to data), and prints one
 * line of totals:
 *   writer=W committed=C attempts=A rejected=R bytes=B seconds=S refused=F lost_at_host=H
 * (rejected: lost races; refused: pushes the server declined without a race;
 * lost_at_host: the lost races whose push reached the host)
 * Used by the transaction concurrency test and the benchmark. With
 * TXN_WRITER_WAIT_FOR=FILE it prints "ready" on stderr after its first
 * fetch and waits (at most 60 s) for FILE to exist before its first
 * transaction: a stale view, on cue. TXN_WRITER_MAX_LOST_AT_HOST=N sets
 * dg_store_set_max_lost_at_host (a worker's limit on a budget grid), and
 * TXN_WRITER_ATTEMPTS=N the attempts a transaction makes (default 200).
 * TXN_WRITER_SIDE=NAME makes each transaction carry the side ref
 * refs/dgrid/NAME (dg_txn_side; one file, side.json, holding the writer's
 * line), or delete it with TXN_WRITER_SIDE_DELETE=1; the totals then add
 * side_published=P (transactions whose side ref landed), printed on
 * stderr as well when a transaction fails.
 *
 * usage: txn_writer URL WRITER COUNT [CACHE_DIR [DIR]]
 * (CACHE_DIR "" means the default cache)
 */
#include "common.h"
#include "error.h"
#include "store.h"

#include <git2.h>
#include <time.h>
#include <unistd.h>

struct add_file {
	char path[128];
	char body[128];
	const char *side;      /* TXN_WRITER_SIDE, or NULL */
	bool side_delete;
};

static int add_one(struct dg_txn *txn, void *payload)
{
	struct add_file *a = payload;

	/* a retried transaction whose first push did land must not write twice */
	if (dg_txn_exists(txn, a->path))
		return 1;
	dg_txn_message(txn, "add %s", a->path);
	if (a->side && dg_txn_side(txn, a->side, "side.json", a->side_delete ? NULL : a->body, strlen(a->body)) < 0)
		return DG_EINVALID;
	return dg_txn_write(txn, a->path, a->body, strlen(a->body));
}

int main(int argc, char **argv)
{
	struct dg_store_opts opts = DG_STORE_OPTS_INIT;
	struct dg_store *store = NULL;
	struct timespec t0, t1;
	unsigned long count;
	unsigned committed = 0, attempts = 0, rejected = 0, refused = 0, lost_at_host = 0;
	const char *wait_for = getenv("TXN_WRITER_WAIT_FOR");
	const char *max_lost = getenv("TXN_WRITER_MAX_LOST_AT_HOST");
	const char *side = getenv("TXN_WRITER_SIDE"), *attempts_env = getenv("TXN_WRITER_ATTEMPTS");
	unsigned side_published = 0;
	size_t bytes = 0;
	const char *dir;
	int ret = 1;

	if (argc < 4) {
		fprintf(stderr, "usage: txn_writer URL WRITER COUNT [CACHE_DIR [DIR]]\n");
		return 2;
	}
	count = strtoul(argv[3], NULL, 10);
	git_libgit2_init();
	opts.url = argv[1];
	opts.cache_dir = argc > 4 && *argv[4] ? argv[4] : NULL;
	dir = argc > 5 ? argv[5] : "data";
	opts.cache_tag = argv[2];
	opts.token = getenv("GIT_TOKEN");
	opts.max_attempts = attempts_env && *attempts_env ? (unsigned)strtoul(attempts_env, NULL, 10) : 200;
	/* t0122 declines 10% of pushes at random: four in a row must not end a writer */
	opts.max_refusals = 8;
	if (dg_store_open(&store, &opts) < 0 || dg_store_fetch(store) < 0) {
		fprintf(stderr, "txn_writer: %s\n", dg_error_last());
		goto out;
	}
	if (max_lost && *max_lost)
		dg_store_set_max_lost_at_host(store, (unsigned)strtoul(max_lost, NULL, 10));
	if (wait_for && *wait_for) {
		struct timespec tick = { 0, 50 * 1000000L };

		fprintf(stderr, "ready\n");
		for (int i = 0; i < 1200 && access(wait_for, F_OK) != 0; i++)
			nanosleep(&tick, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; i < count; i++) {
		struct add_file a;
		struct dg_txn_stats st;

		snprintf(a.path, sizeof(a.path), "%s/%s-%lu.txt", dir, argv[2], i);
		snprintf(a.body, sizeof(a.body), "%s %lu\n", argv[2], i);
		a.side = side && *side ? side : NULL;
		a.side_delete = getenv("TXN_WRITER_SIDE_DELETE") != NULL;
		int err = dg_store_transact(store, add_one, &a, &st);
		side_published += st.side_published;
		if (err < 0) {
			fprintf(stderr, "txn_writer: %s: %s\n", a.path, dg_error_last());
			if (a.side)
				fprintf(stderr, "side_published=%u\n", side_published);
			goto out;
		}
		committed += st.committed;
		attempts += st.attempts;
		rejected += st.rejected;
		refused += st.refused;
		lost_at_host += st.lost_at_host;
		bytes += st.bytes_pushed;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("writer=%s committed=%u attempts=%u rejected=%u bytes=%zu seconds=%.3f refused=%u lost_at_host=%u",
	       argv[2], committed, attempts, rejected, bytes,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, refused, lost_at_host);
	if (side && *side)
		printf(" side_published=%u", side_published);
	printf("\n");
	ret = 0;
out:
	dg_store_free(store);
	git_libgit2_shutdown();
	return ret;
}
