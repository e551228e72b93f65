/*
 * members.h - the repositories one grid spans (dgrid.json "repositories").
 *
 * One repository's push budget is a hard ceiling (GitHub: 6 pushes a
 * minute). A grid grows past it by spreading over several repositories,
 * each a whole grid of its own - its own dgrid.json, budget, nodes, queue
 * and results - listed in the "repositories" key of the repository workers
 * are pointed at (their home):
 *
 *   { "repositories": ["https://github.com/org/grid-2", "git://host/grid-3"] }
 *
 * Nothing crosses between members: a task lives and ends in the repository
 * it was submitted to, so every invariant of one repository holds as it
 * is. What spans them is who works where (doc/protocol.md, "Several
 * repositories"): each worker starts on a member chosen by its node id,
 * and an idle one looks at another member now and then and moves there
 * when it has queued tasks. `dgrid submit` puts new tasks where the queue
 * is shortest; `dgrid status` and the dashboard add every member up.
 *
 * The home is always member 0, whether or not the list names it; a URL
 * listed twice counts once. URLs must not carry credentials (they would be
 * a secret in the repository): every member is reached with the same
 * GIT_TOKEN or SSH key as the home, and so must share the home's scheme,
 * host and port (a local path: the home is one too) - anybody who can push
 * dgrid.json could otherwise send the token to a host of theirs.
 */
#ifndef DG_MEMBERS_H
#define DG_MEMBERS_H

#include "common.h"
#include "strbuf.h"

#include <jansson.h>

#define DG_MEMBERS_MAX 64
#define DG_MEMBER_URL_MAX 1024

struct dg_members {
	char **urls;              /* urls[0]: the home */
	size_t nr;
};

/*
 * Checks the value of "repositories" (an array of URL strings); on error
 * returns DG_EINVALID with what is wrong and where in err.
 */
int dg_members_check(const json_t *value, struct dg_strbuf *err);

/*
 * The members named by a dgrid.json (NULL or without the key: the home
 * alone). An invalid list is an error (DG_EINVALID, message set); m then
 * holds the home alone.
 */
int dg_members_read(struct dg_members *m, const char *home_url, const char *json, size_t len);
void dg_members_release(struct dg_members *m);

/*
 * The member a node starts on: a hash of its id, so that a fleet spreads
 * evenly and a node comes back to the same member after a restart.
 */
size_t dg_members_start(const struct dg_members *m, const char *node_id);

/* FNV-1a (32 bits) of s: stable across versions and hosts, unlike a seeded hash. */
uint32_t dg_members_hash(const char *s);

/* The member with this URL, or m->nr. */
size_t dg_members_find(const struct dg_members *m, const char *url);

#endif
