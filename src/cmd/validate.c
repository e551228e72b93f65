/*
 * validate.c - dgrid validate: checks task files before they are committed.
 */
#include "../common.h"
#include "../error.h"
#include "../strbuf.h"
#include "../version.h"
#include "../task.h"
#include "../textsafe.h"
#include "cmd.h"

#include <dirent.h>
#include <getopt.h>
#include <sys/stat.h>

static const char usage_text[] =
	"usage: dgrid validate [-v] [--policy FILE] FILE|DIR...\n"
	"\n"
	"Checks task files. A directory means every *.json file directly in it.\n"
	"Prints 'path: reason' for each invalid file; exit 0 when all are valid,\n"
	"1 when any is invalid, 2 on a usage or policy error. Dependencies\n"
	"(depends_on) among the files given must not form a cycle; those on\n"
	"other ids are checked by dgrid submit and the workers.\n"
	"\n"
	"  -v, --verbose      also print 'path: ok' for valid files\n"
	"      --policy FILE  limits from a dgrid.json file (default: built-in)\n"
	"  -h, --help         this text\n";

/* Report lines go through dg_textsafe_println: a file name (and the reason,
 * which may quote the file) can hold an escape sequence. */
#define say dg_textsafe_println

struct node {
	char *path;
	struct dg_task task;
	int mark;                 /* cycle search: 0 new, 1 on the path, 2 done */
};

struct validate_opts {
	struct dg_policy policy;
	bool verbose;
	struct node *nodes;       /* valid tasks with depends_on, for the cycle check */
	size_t nodes_nr, nodes_alloc;
};

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Returns 1 if valid, 0 if not (the reason is printed). */
static int check_file(struct validate_opts *o, const char *path, const struct stat *st)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;
	struct dg_task task = DG_TASK_INIT;
	int ok = 0;

	if (S_ISLNK(st->st_mode)) {
		say(stdout, "%s: is a symbolic link, not a regular file", path);
		goto out;
	}
	if (S_ISDIR(st->st_mode)) {
		say(stdout, "%s: is a directory, not a regular file", path);
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		say(stdout, "%s: is not a regular file", path);
		goto out;
	}
	if (dg_task_check_size((size_t)st->st_size, &o->policy) < 0 ||
	    dg_strbuf_read_file(&sb, path, o->policy.file_max) < 0 ||
	    dg_task_parse(&task, sb.buf, sb.len, base_name(path), &o->policy) < 0) {
		say(stdout, "%s: %s", path, dg_error_last());
		goto out;
	}
	ok = 1;
	if (o->verbose)
		say(stdout, "%s: ok", path);
	DG_ALLOC_GROW(o->nodes, o->nodes_nr + 1, o->nodes_alloc);
	o->nodes[o->nodes_nr].path = dg_xstrdup(path);
	o->nodes[o->nodes_nr].mark = 0;
	o->nodes[o->nodes_nr++].task = task;
	memset(&task, 0, sizeof(task));
out:
	dg_task_release(&task);
	dg_strbuf_release(&sb);
	return ok;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_shard_name(const char *name)
{
	return name[0] && !name[1] && strchr("0123456789abcdef", name[0]);
}

/*
 * Returns the number of invalid files, or -1 if the directory is
 * unreadable. Shards (subdirectories named by one hex digit, layout.h) are
 * entered, depth levels deep: a checkout of a protocol 3 grid keeps its
 * queued tasks in tasks/queue/a/b/.
 */
static int check_dir(struct validate_opts *o, const char *dir, unsigned depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, **shards = NULL;
	size_t nr = 0, alloc = 0, shards_nr = 0, shards_alloc = 0, dlen = strlen(dir);
	int bad = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (depth && is_shard_name(de->d_name)) {
			DG_ALLOC_GROW(shards, shards_nr + 1, shards_alloc);
			shards[shards_nr++] = dg_xstrdup(de->d_name);
			continue;
		}
		if (len < 5 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		DG_ALLOC_GROW(names, nr + 1, alloc);
		names[nr++] = dg_xstrdup(de->d_name);
	}
	closedir(d);
	if (nr > 1)   /* qsort's array may not be NULL, even for no element */
		qsort(names, nr, sizeof(*names), cmp_names);
	for (size_t i = 0; i < nr; i++) {
		char *path = dg_xasprintf("%s%s%s", dir,
					  dlen && dir[dlen - 1] == '/' ? "" : "/", names[i]);
		struct stat st;

		if (lstat(path, &st) < 0)
			say(stdout, "%s: %s", path, strerror(errno));
		else if (check_file(o, path, &st))
			bad--;
		bad++;
		free(path);
		free(names[i]);
	}
	free(names);
	if (shards_nr > 1)
		qsort(shards, shards_nr, sizeof(*shards), cmp_names);
	for (size_t i = 0; i < shards_nr; i++) {
		char *path = dg_xasprintf("%s%s%s", dir, dlen && dir[dlen - 1] == '/' ? "" : "/", shards[i]);
		struct stat st;
		int sub;

		/* a symlink named like a shard is not followed */
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && (sub = check_dir(o, path, depth - 1)) > 0)
			bad += sub;
		free(path);
		free(shards[i]);
	}
	free(shards);
	return bad;
}

static struct node *node_of(struct validate_opts *o, const char *id)
{
	for (size_t i = 0; i < o->nodes_nr; i++) {
		if (!strcmp(o->nodes[i].task.task_id, id))
			return &o->nodes[i];
	}
	return NULL;
}

/* Depth-first: the chain of ids on the path is in chain; true at a cycle. */
static bool cycle_from(struct validate_opts *o, struct node *n, struct dg_strbuf *chain)
{
	size_t len = chain->len;

	if (n->mark == 2)
		return false;
	dg_strbuf_addf(chain, "%s%s", len ? " -> " : "", n->task.task_id);
	if (n->mark == 1)
		return true;
	n->mark = 1;
	for (size_t i = 0; i < n->task.sched.deps_nr; i++) {
		struct node *d = node_of(o, n->task.sched.deps[i]);

		if (d && cycle_from(o, d, chain))
			return true;
	}
	n->mark = 2;
	dg_strbuf_setlen(chain, len);
	return false;
}

/* Reports each dependency cycle among the valid files once; returns how many files it names. */
static int check_cycles(struct validate_opts *o)
{
	struct dg_strbuf chain = DG_STRBUF_INIT;
	int bad = 0;

	for (size_t i = 0; i < o->nodes_nr; i++) {
		if (o->nodes[i].mark || !o->nodes[i].task.sched.deps_nr)
			continue;
		dg_strbuf_reset(&chain);
		if (cycle_from(o, &o->nodes[i], &chain)) {
			say(stdout, "%s: dependency cycle: %s", o->nodes[i].path, chain.buf);
			bad++;
			/* the rest of this cycle is reported by this line */
			for (size_t k = 0; k < o->nodes_nr; k++)
				o->nodes[k].mark = o->nodes[k].mark == 1 ? 2 : o->nodes[k].mark;
		}
	}
	dg_strbuf_release(&chain);
	return bad;
}

static int load_policy(struct dg_policy *pol, const char *path)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;
	int ret = -1;

	if (dg_strbuf_read_file(&sb, path, 1 << 20) < 0) {
		say(stderr, "error: cannot read policy: %s", dg_error_last());
		goto out;
	}
	if (dg_policy_parse(pol, sb.buf, sb.len) < 0) {
		say(stderr, "error: invalid policy '%s': %s", path, dg_error_last());
		goto out;
	}
	if (pol->ignored_nr)
		say(stderr, "warning: policy '%s': unknown key '%s'%s, ignored by dgrid %s "
		    "(a typo, or a key of a newer version)", path, pol->ignored,
		    pol->ignored_nr > 1 ? " and others" : "", DG_VERSION);
	if (dg_policy_check_protocol(pol) < 0)
		say(stderr, "warning: policy '%s': %s", path, dg_error_last());
	ret = 0;
out:
	dg_strbuf_release(&sb);
	return ret;
}

int cmd_validate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "policy", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct validate_opts o = { dg_policy_default, false, NULL, 0, 0 };
	int c, bad = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'v':
			o.verbose = true;
			break;
		case 'p':
			if (load_policy(&o.policy, optarg) < 0)
				return 2;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case ':':
			say(stderr, "error: option '%s' needs a value", argv[optind - 1]);
			fputs(usage_text, stderr);
			return 2;
		default:
			say(stderr, "error: unknown option '%s'", argv[optind - 1]);
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		const char *path = argv[i];
		struct stat st;

		if (stat(path, &st) < 0) {
			say(stdout, "%s: %s", path, strerror(errno));
			bad++;
		} else if (S_ISDIR(st.st_mode)) {
			int n = check_dir(&o, path, 3);

			if (n < 0) {
				say(stdout, "%s: %s", path, strerror(errno));
				bad++;
			} else {
				bad += n;
			}
		} else if (!check_file(&o, path, &st)) {
			bad++;
		}
	}
	bad += check_cycles(&o);
	for (size_t i = 0; i < o.nodes_nr; i++) {
		free(o.nodes[i].path);
		dg_task_release(&o.nodes[i].task);
	}
	free(o.nodes);
	fflush(stdout);
	return bad ? 1 : 0;
}
