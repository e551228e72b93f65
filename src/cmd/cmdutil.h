/*
 * cmdutil.h - what the repository commands (init, submit, status) share:
 * reading the configuration with the --repo flag on top, opening the store
 * and reporting getopt errors. These helpers print (they serve cmd_*) and
 * return exit codes: 0 ok, 1 failure, 2 usage or configuration error.
 */
#ifndef DG_CMDUTIL_H
#define DG_CMDUTIL_H

#include "../common.h"
#include "../config.h"
#include "../store.h"
#include "../task.h"

/*
 * Reads the environment into cfg and puts repo_flag (when not NULL) over
 * DGRID_REPO_URL/DGRID_REPO_PATH. Returns 0, or 2 after printing a
 * one-line error naming the bad variable or the missing repository.
 */
int cmd_repo_config(struct dg_config *cfg, const char *repo_flag);

/*
 * Opens the store for cfg and, when fetch is true, brings its tip up to
 * date. Returns 0, or 1 after printing "error: ..." (secrets redacted).
 * *out is NULL on failure.
 */
int cmd_open_store(struct dg_store **out, const struct dg_config *cfg, bool fetch);

/* Is path missing, or an empty directory? */
bool cmd_path_is_empty(const char *path);

/*
 * Reads the grid's policy (dgrid.json at the known tip, the defaults when
 * absent) into pol and requires a protocol with shards (3) that this dgrid
 * speaks, for what ("archiving", "compaction"). Returns 0, or 1 after
 * printing why.
 */
int cmd_sharded_policy(struct dg_store *store, struct dg_policy *pol, const char *what);

/* Prints "error: <dg_error_last()>" with secrets masked; returns 1. */
int cmd_fail(const char *what);

/*
 * Reports a getopt_long failure (c is ':' or '?') for argv[optind - 1] in
 * one line pointing at 'dgrid <cmd> --help'; returns 2.
 */
int cmd_bad_option(int c, char **argv, const char *cmd);

#endif
