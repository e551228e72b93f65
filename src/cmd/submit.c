/*
 * submit.c - dgrid submit: validates tasks and queues them in one commit.
 */
#include "../archive.h"
#include "../common.h"
#include "../deps.h"
#include "../jsonio.h"
#include "../error.h"
#include "../layout.h"
#include "../log.h"
#include "../members.h"
#include "../strbuf.h"
#include "../sshsig.h"
#include "../task.h"
#include "../tasksign.h"
#include "cmd.h"
#include "cmdutil.h"

#include <getopt.h>
#include <jansson.h>

static const char usage_text[] =
	"usage: dgrid submit [--repo URL] [--sign KEY] FILE.json...\n"
	"       dgrid submit [--repo URL] [--sign KEY] --id ID (--script S | --script-file F) [--timeout N]\n"
	"\n"
	"Validates the tasks against the grid's policy (its dgrid.json, else the\n"
	"built-in limits) and adds them to tasks/queue/ in one commit. A file's\n"
	"name must be its task_id plus .json. Nothing is pushed when any task is\n"
	"invalid ('path: reason' lines, exit 1) or when a task id is already in\n"
	"the grid (queued, running, completed or failed). On a grid of several\n"
	"repositories (dgrid.json \"repositories\"), the tasks go to the one\n"
	"with the fewest queued, and an id may be in none of them.\n"
	"\n"
	"Signed tasks (doc/trust.md): with --sign, each task file is signed with\n"
	"the OpenSSH ed25519 key KEY and its signature committed as ID.json.sig.\n"
	"Without it, a FILE.json.sig beside a FILE.json (ssh-keygen -Y sign -n\n"
	"dgrid-task) is checked and committed with the file's bytes unchanged.\n"
	"\n"
	"      --repo URL         state repository (DGRID_REPO_URL, DGRID_REPO_PATH)\n"
	"      --id ID            task id of a task given on the command line\n"
	"      --script S         its shell script\n"
	"      --script-file F    its shell script, read from F\n"
	"      --timeout N        its timeout_seconds (default 30)\n"
	"      --sign KEY         sign the tasks with this private key (DGRID_SIGNING_KEY)\n"
	"  -h, --help             this text\n";

struct pending {
	char *label;             /* path, or the --id for a command-line task */
	char *file_name;         /* base name to check against task_id; NULL for --id */
	struct dg_strbuf raw;    /* the task file as given */
	struct dg_strbuf sig;    /* FILE.json.sig given beside it: raw is written unchanged */
	struct dg_task task;     /* parsed with the policy last seen */
};

struct submit {
	struct pending *items;
	size_t nr, alloc;
	char **results;          /* completed/ and failed/ names, for the duplicate check */
	size_t results_nr, results_alloc;
	bool check_only;         /* another member: look for the ids, write nothing */
	struct dg_store *store;  /* the one written to: its archive is read for dependencies */
	const struct dg_sshkey *key;  /* --sign */
};

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static struct pending *add_pending(struct submit *s, const char *label, const char *file_name)
{
	struct pending *p;

	DG_ALLOC_GROW(s->items, s->nr + 1, s->alloc);
	p = &s->items[s->nr++];
	p->label = dg_xstrdup(label);
	p->file_name = file_name ? dg_xstrdup(file_name) : NULL;
	dg_strbuf_init(&p->raw, 0);
	dg_strbuf_init(&p->sig, 0);
	memset(&p->task, 0, sizeof(p->task));
	return p;
}

static void clear_results(struct submit *s)
{
	for (size_t i = 0; i < s->results_nr; i++)
		free(s->results[i]);
	s->results_nr = 0;
}

static void submit_release(struct submit *s)
{
	for (size_t i = 0; i < s->nr; i++) {
		free(s->items[i].label);
		free(s->items[i].file_name);
		dg_strbuf_release(&s->items[i].raw);
		dg_strbuf_release(&s->items[i].sig);
		dg_task_release(&s->items[i].task);
	}
	free(s->items);
	clear_results(s);
	free(s->results);
}

/*
 * (Re)parses every task with pol. On the first failure returns DG_EINVALID
 * with "label: reason" in dg_error_last(); when print is true, prints one
 * such line per invalid task instead and returns the count of invalid ones.
 */
static int parse_all(struct submit *s, const struct dg_policy *pol, bool print)
{
	int bad = 0;

	for (size_t i = 0; i < s->nr; i++) {
		struct pending *p = &s->items[i];

		dg_task_release(&p->task);
		memset(&p->task, 0, sizeof(p->task));
		if (dg_task_check_size(p->raw.len, pol) < 0 ||
		    dg_task_parse(&p->task, p->raw.buf, p->raw.len, p->file_name, pol) < 0) {
			if (!print) {
				dg_error_prefix("%s", p->label);
				return DG_EINVALID;
			}
			printf("%s: %s\n", p->label, dg_error_last());
			bad++;
			continue;
		}
		for (size_t j = 0; j < i; j++) {
			if (s->items[j].task.task_id &&
			    !strcmp(s->items[j].task.task_id, p->task.task_id)) {
				dg_error_set("task_id '%s' is also given by %s", p->task.task_id,
					     s->items[j].label);
				if (!print) {
					dg_error_prefix("%s", p->label);
					return DG_EINVALID;
				}
				printf("%s: %s\n", p->label, dg_error_last());
				bad++;
				break;
			}
		}
	}
	return bad;
}

/* The policy of a dgrid.json read with err (0 or DG_ENOTFOUND). */
static int policy_from(struct dg_policy *pol, int err, const struct dg_strbuf *doc)
{
	*pol = dg_policy_default;
	if (err == DG_ENOTFOUND)
		return 0;
	if (err < 0)
		return err;
	if (dg_policy_parse(pol, doc->buf, doc->len) < 0) {
		dg_error_prefix("the repository's dgrid.json");
		return DG_EINVALID;
	}
	return 0;
}

static int collect_result(const struct dg_entry *e, void *payload)
{
	struct submit *s = payload;

	if (!e->is_file)
		return 0;
	DG_ALLOC_GROW(s->results, s->results_nr + 1, s->results_alloc);
	s->results[s->results_nr++] = dg_xstrdup(e->path);
	return 0;
}

/*
 * Is there a result of task id in dir? Current result names start with
 * "{task}." (layout.h) and say so alone. Files of the original layout are
 * {node}-{task}.json and both ids may contain '-', so a name ending in
 * "-{id}.json" only counts when the file's own task_id says so (or cannot
 * be read, to err on the side of refusing a duplicate).
 */
static int has_result(struct dg_txn *txn, struct submit *s, const char *id,
		      char **found)
{
	size_t idlen = strlen(id);
	int ret = 0;

	for (size_t i = 0; i < s->results_nr && !ret; i++) {
		const char *slash = strrchr(s->results[i], '/');
		const char *name = slash ? slash + 1 : s->results[i];
		size_t n = strlen(name);
		struct dg_strbuf path = DG_STRBUF_INIT, data = DG_STRBUF_INIT, tid = DG_STRBUF_INIT;
		json_t *doc;

		dg_strbuf_addstr(&path, s->results[i]);
		if (dg_layout_result_task(name, &tid) == 0) {
			ret = !strcmp(tid.buf, id);
		} else if (n < idlen + 6 || strcmp(name + n - 5, ".json") ||
			   name[n - 6 - idlen] != '-' || memcmp(name + n - 5 - idlen, id, idlen)) {
			ret = 0;
		} else if (dg_txn_read(txn, path.buf, &data) < 0) {
			ret = 1;
		} else {
			doc = json_loadb(data.buf, data.len, 0, NULL);
			const char *t = json_string_value(json_object_get(doc, "task_id"));
			ret = !t || !strcmp(t, id);
			json_decref(doc);
		}
		if (ret)
			*found = dg_strbuf_detach(&path, NULL);
		dg_strbuf_release(&path);
		dg_strbuf_release(&data);
		dg_strbuf_release(&tid);
	}
	return ret;
}

/*
 * Results of a task are in dir itself (layouts before protocol 3, which a
 * migrated grid keeps no more of) or in the task's shard (layout.h): the
 * check reads those trees only, never the whole history.
 */
static int check_results(struct dg_txn *txn, struct submit *s, const char *dir)
{
	struct dg_strbuf shard = DG_STRBUF_INIT;
	int ret;

	clear_results(s);
	if ((ret = dg_txn_list(txn, dir, collect_result, s)) < 0)
		return ret;
	for (size_t i = 0; i < s->nr; i++) {
		char *found = NULL;

		dg_strbuf_reset(&shard);
		dg_strbuf_addf(&shard, "%s/", dir);
		dg_layout_shard(&shard, s->items[i].task.task_id, DG_RESULT_SHARD_DEPTH);
		if ((ret = dg_txn_list(txn, shard.buf, collect_result, s)) < 0)
			break;
		if (has_result(txn, s, s->items[i].task.task_id, &found)) {
			dg_error_set("task '%s' already exists: %s", s->items[i].task.task_id, found);
			free(found);
			ret = DG_ECONFLICT;
			break;
		}
	}
	dg_strbuf_release(&shard);
	return ret;
}

static int found_archived(const char *path, const struct dg_strbuf *data, void *payload)
{
	(void)path;
	(void)data;
	(void)payload;
	return 0;
}

/*
 * A dependency must be queued, running or among the results on main (the
 * batch is written already), and the graph must not lead back: workers
 * judge it so (deps.h), and would reject the task later.
 */
static int check_deps(struct dg_txn *txn, struct submit *s, const struct pending *p)
{
	enum dg_deps_verdict v;
	size_t missing = 0;
	char why[512];
	int ret;

	if (!p->task.sched.deps_nr)
		return 0;
	if ((ret = dg_deps_judge(txn, NULL, &p->task, &v, &missing, why, sizeof(why))) < 0)
		return ret;
	switch (v) {
	case DG_DEPS_READY:
	case DG_DEPS_BLOCKED:
		return 0;
	case DG_DEPS_MISSING:
		if (s->store && dg_archive_find(s->store, p->task.sched.deps[missing], found_archived, NULL) > 0)
			dg_error_set("%s: depends on '%s', whose results are archived: workers judge "
				     "dependencies by main, so it could never run", p->label,
				     p->task.sched.deps[missing]);
		else
			dg_error_set("%s: depends on '%s', which exists nowhere (not queued, running, "
				     "among the results or archived)", p->label, p->task.sched.deps[missing]);
		return DG_EINVALID;
	case DG_DEPS_DOOMED:
		dg_error_set("%s: %s, so it could never run", p->label, why);
		return DG_EINVALID;
	case DG_DEPS_CYCLE:
		dg_error_set("%s: %s", p->label, why);
		return DG_EINVALID;
	}
	return 0;
}

/*
 * Writes a task and its signature: the bytes a signature given beside the
 * file was made over, else the task as parsed, signed with --sign's key.
 */
static int write_task(struct dg_txn *txn, const struct submit *s, const struct pending *p,
		      const char *path)
{
	struct dg_strbuf doc = DG_STRBUF_INIT, sig = DG_STRBUF_INIT, sig_path = DG_STRBUF_INIT;
	int ret;

	if (p->sig.len)
		dg_strbuf_add(&doc, p->raw.buf, p->raw.len);
	else
		dg_task_to_json(&doc, &p->task);
	if (p->sig.len)
		dg_strbuf_add(&sig, p->sig.buf, p->sig.len);
	else if (s->key)
		dg_sshsig_sign(&sig, s->key, DG_SSHSIG_TASK_NAMESPACE, doc.buf, doc.len);
	dg_tasksign_sidecar(&sig_path, path);
	if ((ret = dg_txn_write(txn, path, doc.buf, doc.len)) == 0 && sig.len)
		ret = dg_txn_write(txn, sig_path.buf, sig.buf, sig.len);
	dg_strbuf_release(&doc);
	dg_strbuf_release(&sig);
	dg_strbuf_release(&sig_path);
	return ret;
}

/* FILE.sig beside FILE: it must be a signature of FILE's bytes, or nothing is submitted. */
static int read_given_signature(struct pending *p, const char *file)
{
	struct dg_strbuf path = DG_STRBUF_INIT;
	struct dg_sshsig sig;
	int ret;

	dg_tasksign_sidecar(&path, file);
	ret = dg_strbuf_read_file(&p->sig, path.buf, DG_TASKSIGN_MAX);
	if (ret == DG_ENOTFOUND) {
		ret = 0;
	} else if (ret == 0 && (dg_sshsig_parse(&sig, p->sig.buf, p->sig.len) < 0 ||
				dg_sshsig_verify(&sig, DG_SSHSIG_TASK_NAMESPACE, p->raw.buf, p->raw.len) < 0)) {
		ret = DG_EINVALID;
	}
	if (ret < 0)
		printf("%s: %s\n", path.buf, dg_error_last());
	dg_strbuf_release(&path);
	return ret;
}

static int queue_tasks(struct dg_txn *txn, void *payload)
{
	struct submit *s = payload;
	struct dg_strbuf doc = DG_STRBUF_INIT, path = DG_STRBUF_INIT, msg = DG_STRBUF_INIT;
	struct dg_policy pol;
	int ret, err;

	/* the policy and the tasks as of this attempt's tip */
	err = dg_txn_read(txn, "dgrid.json", &doc);
	if (s->check_only)
		/* the ids are all it needs: the tasks are judged where they go */
		ret = parse_all(s, &dg_policy_loosest, false);
	else if ((ret = policy_from(&pol, err, &doc)) == 0)
		ret = parse_all(s, &pol, false);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < s->nr; i++) {
		static const char *const dirs[] = { DG_DIR_QUEUE, DG_DIR_RUNNING };
		const char *id = s->items[i].task.task_id;

		for (size_t d = 0; d < DG_ARRAY_SIZE(dirs); d++) {
			if (dg_layout_find_task(txn, dirs[d], id, &path) == 0) {
				dg_error_set("task '%s' already exists: %s", id, path.buf);
				ret = DG_ECONFLICT;
				goto out;
			}
		}
	}
	if ((ret = check_results(txn, s, "tasks/completed")) < 0 ||
	    (ret = check_results(txn, s, "tasks/failed")) < 0)
		goto out;
	if (s->check_only) {
		ret = 1;   /* nothing to write */
		goto out;
	}
	for (size_t i = 0; i < s->nr; i++) {
		const struct pending *p = &s->items[i];

		dg_strbuf_reset(&path);
		dg_strbuf_reset(&doc);
		/* fair share: flat, so that intake groups it by this commit's author like any submission */
		if (pol.fair_share)
			dg_layout_task_path(&path, DG_DIR_QUEUE, p->task.task_id, 1);
		else
			dg_layout_queue_path(&path, &p->task, pol.protocol);
		if ((ret = write_task(txn, s, p, path.buf)) < 0)
			goto out;
		if (i < 5)
			dg_strbuf_addf(&msg, "%s%s", i ? ", " : "", p->task.task_id);
	}
	/* dependencies: judged with the batch written, so ids among it count */
	for (size_t i = 0; i < s->nr; i++) {
		if ((ret = check_deps(txn, s, &s->items[i])) < 0)
			goto out;
	}
	if (s->nr > 5)
		dg_strbuf_addf(&msg, " and %zu more", s->nr - 5);
	dg_txn_message(txn, "submit %zu task%s: %s", s->nr, s->nr == 1 ? "" : "s", msg.buf);
	ret = 0;
out:
	dg_strbuf_release(&doc);
	dg_strbuf_release(&path);
	dg_strbuf_release(&msg);
	return ret;
}

static int count_queued(const struct dg_entry *e, void *payload)
{
	*(size_t *)payload += e->is_file;
	return 0;
}

static void warn_member(const char *url, const char *what)
{
	struct dg_strbuf red = DG_STRBUF_INIT;

	dg_redact(&red, url);
	fprintf(stderr, "warning: repository %s: %s: ", red.buf, what);
	dg_strbuf_release(&red);
	cmd_fail(NULL);
}

/*
 * On a grid of several repositories (members.h): no other member may know
 * any of the ids, and the tasks go to the member with the fewest queued
 * (the home on a tie). A member that cannot be reached is skipped with a
 * warning: it can neither take the tasks nor be asked about their ids.
 * Returns the store to submit to (*home, or one the caller must free).
 */
static int choose_member(struct submit *s, const struct dg_config *home_cfg, struct dg_store **home,
			 const struct dg_strbuf *policy_doc, struct dg_store **target)
{
	struct dg_members m;
	size_t best = 0, fewest = 0;
	int ret = 0;

	*target = *home;
	if (dg_members_read(&m, home_cfg->repo_url, policy_doc->len ? policy_doc->buf : NULL, policy_doc->len) < 0)
		return cmd_fail("the repository's dgrid.json");
	if (m.nr < 2)
		goto out;
	dg_layout_walk_store(*home, DG_DIR_QUEUE, count_queued, &fewest);
	/* the home's own check is the submission's when the tasks stay there */
	for (size_t k = 0; k < m.nr && !ret; k++) {
		struct dg_config cfg = *home_cfg;
		struct dg_store_opts so;
		struct dg_store *store = NULL;
		size_t queued = 0;
		int r;

		cfg.repo_url = m.urls[k];
		dg_config_store_opts(&cfg, &so, "cli");
		if (!k) {
			store = *home;
		} else if (dg_store_open(&store, &so) < 0 || dg_store_fetch(store) < 0) {
			warn_member(m.urls[k], "skipped");
			dg_store_free(store);
			continue;
		}
		s->check_only = true;
		r = dg_store_transact(store, queue_tasks, s, NULL);
		s->check_only = false;
		if (r == DG_ECONFLICT) {
			struct dg_strbuf red = DG_STRBUF_INIT;
			dg_redact(&red, m.urls[k]);
			dg_error_prefix("in repository %s", red.buf);
			dg_strbuf_release(&red);
			ret = cmd_fail("nothing submitted");
		} else if (!k) {
			if (r < 0)
				ret = cmd_fail("nothing submitted");
			continue;
		} else if (r < 0) {
			warn_member(m.urls[k], "skipped");
		} else if (dg_layout_walk_store(store, DG_DIR_QUEUE, count_queued, &queued) == 0 &&
			   queued < fewest) {
			fewest = queued;
			best = k;
			if (*target != *home)
				dg_store_free(*target);
			*target = store;
			continue;
		}
		if (store != *home)
			dg_store_free(store);
	}
	if (!ret && best) {
		struct dg_strbuf red = DG_STRBUF_INIT;
		dg_redact(&red, m.urls[best]);
		printf("repository %s (%zu queued, the fewest of %zu)\n", red.buf, fewest, m.nr);
		dg_strbuf_release(&red);
	}
	if (ret && *target != *home) {
		dg_store_free(*target);
		*target = *home;
	}
out:
	dg_members_release(&m);
	return ret;
}

/* Builds the task of --id/--script/--timeout as a JSON document. */
static void command_line_task(struct dg_strbuf *out, const char *id, const char *script,
			      unsigned timeout, bool has_timeout)
{
	json_t *o = json_object();

	json_object_set_new(o, "task_id", json_string(id));
	json_object_set_new(o, "script", json_string(script));
	if (has_timeout)
		json_object_set_new(o, "timeout_seconds", json_integer(timeout));
	dg_json_dump(out, o);
	json_decref(o);
}

int cmd_submit(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "id", required_argument, NULL, 'i' },
		{ "script", required_argument, NULL, 's' },
		{ "script-file", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "sign", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct submit s = { 0 };
	struct dg_config cfg;
	struct dg_store *store = NULL, *target = NULL;
	struct dg_strbuf err = DG_STRBUF_INIT, script = DG_STRBUF_INIT, doc = DG_STRBUF_INIT;
	struct dg_policy pol;
	struct dg_txn_stats st;
	const char *repo = NULL, *id = NULL, *script_arg = NULL, *script_file = NULL;
	const char *key_path = getenv("DGRID_SIGNING_KEY");
	struct dg_sshkey key = DG_SSHKEY_INIT;
	unsigned timeout = 0;
	bool has_timeout = false;
	int c, ret = 2, bad = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': repo = optarg; break;
		case 'i': id = optarg; break;
		case 's': script_arg = optarg; break;
		case 'f': script_file = optarg; break;
		case 'k': key_path = optarg; break;
		case 't':
			if (dg_parse_uint(&timeout, "--timeout", optarg, 1, 86400, &err) < 0) {
				fprintf(stderr, "error: %s\n", err.buf);
				goto out;
			}
			has_timeout = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			ret = 0;
			goto out;
		default:
			ret = cmd_bad_option(c, argv, "submit");
			goto out;
		}
	}
	if (id) {
		if (optind < argc) {
			fprintf(stderr, "error: --id takes no task files, got '%s'\n", argv[optind]);
			goto out;
		}
		if (!script_arg == !script_file) {
			fprintf(stderr, "error: --id needs exactly one of --script and --script-file\n");
			goto out;
		}
	} else {
		if (script_arg || script_file || has_timeout) {
			fprintf(stderr, "error: --script, --script-file and --timeout need --id\n");
			goto out;
		}
		if (optind >= argc) {
			fprintf(stderr, "error: no task given: FILE.json... or --id ID --script S "
				"(see 'dgrid submit --help')\n");
			goto out;
		}
	}
	if ((ret = cmd_repo_config(&cfg, repo)))
		goto out;

	ret = 1;
	if (key_path && *key_path) {
		if (dg_sshkey_load(&key, key_path) < 0) {
			fprintf(stderr, "error: --sign: %s\n", dg_error_last());
			ret = 2;
			goto out;
		}
		s.key = &key;
	}
	if (id) {
		struct pending *p = add_pending(&s, id, NULL);

		if (script_file && dg_strbuf_read_file(&script, script_file, 1 << 20) < 0) {
			printf("%s: %s\n", script_file, dg_error_last());
			goto out;
		}
		command_line_task(&p->raw, id, script_file ? script.buf : script_arg, timeout,
				  has_timeout);
	}
	for (int i = optind; i < argc; i++) {
		struct pending *p = add_pending(&s, argv[i], base_name(argv[i]));

		/* a generous cap: the policy's file_max is checked once it is known */
		if (dg_strbuf_read_file(&p->raw, argv[i], 16u << 20) < 0) {
			printf("%s: %s\n", argv[i], dg_error_last());
			bad++;
		} else if (!s.key && read_given_signature(p, argv[i]) < 0) {
			bad++;
		}
	}
	if (bad)
		goto out;

	if (cmd_open_store(&store, &cfg, true))
		goto out;
	if (policy_from(&pol, dg_store_read(store, "dgrid.json", &doc), &doc) < 0) {
		cmd_fail(NULL);
		goto out;
	}
	if (parse_all(&s, &pol, true) > 0)
		goto out;
	if (choose_member(&s, &cfg, &store, &doc, &target))
		goto out;
	s.store = target;
	if ((ret = dg_store_transact(target, queue_tasks, &s, &st)) < 0) {
		ret = cmd_fail("nothing submitted");
		goto out;
	}
	for (size_t i = 0; i < s.nr; i++)
		printf("submitted %s\n", s.items[i].task.task_id);
	printf("commit %s\n", st.commit);
	ret = 0;
out:
	fflush(stdout);
	if (target != store)
		dg_store_free(target);
	dg_store_free(store);
	submit_release(&s);
	dg_sshkey_release(&key);
	dg_strbuf_release(&err);
	dg_strbuf_release(&script);
	dg_strbuf_release(&doc);
	return ret;
}
