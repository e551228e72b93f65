/*
 * store_peek - opens a store on URL with its cache as it is, peeks at the
 * remote's tip (dg_store_peek) without fetching, and prints one line:
 *   known=TIP remote=TIP known_after=TIP
 * (known: the tip the cache held before; known_after: the same after the
 * peek, which must not change it). With "fetch" as the third argument it
 * fetches first. Exit 1 with the store's error on stderr when the peek
 * fails. Used by t0123 to check the peek over git:// and HTTP.
 *
 * usage: store_peek URL CACHE_DIR [fetch]   (GIT_TOKEN from the environment)
 */
#include "common.h"
#include "error.h"
#include "store.h"

#include <git2.h>

int main(int argc, char **argv)
{
	struct dg_store_opts opts = DG_STORE_OPTS_INIT;
	struct dg_store *store = NULL;
	char known[41], remote[41];
	int ret = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: store_peek URL CACHE_DIR [fetch]\n");
		return 2;
	}
	git_libgit2_init();
	opts.url = argv[1];
	opts.cache_dir = argv[2];
	opts.cache_tag = "peek";
	opts.token = getenv("GIT_TOKEN");
	if (dg_store_open(&store, &opts) < 0 || (argc > 3 && !strcmp(argv[3], "fetch") && dg_store_fetch(store) < 0)) {
		fprintf(stderr, "store_peek: %s\n", dg_error_last());
		goto out;
	}
	snprintf(known, sizeof(known), "%s", dg_store_tip(store));
	if (dg_store_peek(store, remote) < 0) {
		fprintf(stderr, "store_peek: %s\n", dg_error_last());
		goto out;
	}
	printf("known=%s remote=%s known_after=%s\n", known, remote, dg_store_tip(store));
	ret = 0;
out:
	dg_store_free(store);
	git_libgit2_shutdown();
	return ret;
}
