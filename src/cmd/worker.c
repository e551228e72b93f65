/*
 * dgrid worker - run a worker node until SIGTERM/SIGINT (or, with
 * --exit-when-idle, until the grid is drained).
 */
#include "../common.h"
#include "../error.h"
#include "../exec.h"
#include "../http.h"
#include "../log.h"
#include "../textsafe.h"
#include "../worker.h"
#include "cmd.h"

#include <getopt.h>
#include <signal.h>

static const char usage_text[] =
	"usage: dgrid worker --repo URL [--node-id ID] [--slots N]\n"
	"                    [--executor native|docker|process] [--http ADDR:PORT|off]\n"
	"                    [--exit-when-idle] [--grace SECONDS] [--batch-ms MS] [--spool DIR]\n"
	"                    [--allowed-signers FILE [--trust-quorum M] [--signed-policy]]\n"
	"\n"
	"Registers nodes/ID.json, then claims tasks from tasks/queue/, runs them\n"
	"in the executor's sandbox and pushes results to tasks/completed/ or\n"
	"tasks/failed/. Heartbeats go to refs/dgrid/nodes/ID, outside the\n"
	"branch's history. Orphaned tasks of dead nodes go back to the queue.\n"
	"\n"
	"  --repo URL          state repository (DGRID_REPO_URL, DGRID_REPO_PATH)\n"
	"  --node-id ID        this node's id (NODE_ID; default: the host name)\n"
	"  --slots N           tasks at once, 1-256 (MAX_PARALLEL_TASKS; 1)\n"
	"  --executor NAME     native, docker or process (DGRID_EXECUTOR; best available).\n"
	"                      process runs tasks UNSANDBOXED and only when named.\n"
	"  --http ADDR:PORT    status page (DGRID_HTTP). Default auto: the first free\n"
	"                      port of 127.0.0.1:8000-8099, none free is a warning;\n"
	"                      an ADDR:PORT given here that is busy is an error (exit 2);\n"
	"                      off to disable\n"
	"  --exit-when-idle    exit once nothing is queued or running anywhere\n"
	"  --grace SECONDS     on SIGTERM, time running tasks get to finish (30)\n"
	"  --batch-ms MS       wait for other tasks to finish before pushing (300)\n"
	"  --spool DIR         where finished results wait for a push (DGRID_SPOOL)\n"
	"  --allowed-signers FILE  run only tasks signed by a key of this OpenSSH\n"
	"                      allowed_signers file (DGRID_ALLOWED_SIGNERS; doc/trust.md)\n"
	"  --trust-quorum M    how many keys of that file must sign the repository's\n"
	"                      trust/allowed_signers for it to count (DGRID_TRUST_QUORUM; 1)\n"
	"  --signed-policy     claim only while dgrid.json is signed by as many\n"
	"                      (DGRID_SIGNED_POLICY=1)\n"
	"Also: GIT_TOKEN, PULL_INTERVAL, HEARTBEAT_INTERVAL, LOG_LEVEL, DGRID_LABELS,\n"
	"DOCKER_MEMORY, DOCKER_CPUS, DGRID_PIDS, DGRID_TMP_SIZE.\n";

/* Error text can quote what a hostile repository holds: escape it. */
static void say_error(const char *msg)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;

	dg_strbuf_addstr(&sb, "error: ");
	dg_textsafe_addstr(&sb, msg);
	dg_strbuf_addch(&sb, '\n');
	fwrite(sb.buf, 1, sb.len, stderr);
	dg_strbuf_release(&sb);
}

int cmd_worker(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "node-id", required_argument, NULL, 'n' },
		{ "slots", required_argument, NULL, 's' },
		{ "executor", required_argument, NULL, 'e' },
		{ "http", required_argument, NULL, 'H' },
		{ "exit-when-idle", no_argument, NULL, 'x' },
		{ "grace", required_argument, NULL, 'g' },
		{ "batch-ms", required_argument, NULL, 'b' },
		{ "spool", required_argument, NULL, 'S' },
		{ "allowed-signers", required_argument, NULL, 'A' },
		{ "trust-quorum", required_argument, NULL, 'Q' },
		{ "signed-policy", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dg_worker_opts o;
	struct dg_strbuf err = DG_STRBUF_INIT, why = DG_STRBUF_INIT;
	int c, ret = 2;
	sigset_t stop;

	/*
	 * A stop asked for while the worker starts (options, the executor's
	 * probe) waits for the worker to take it (stopsignal.h), so it ends
	 * the worker cleanly with status 0, not by the default action: t0710
	 * restarts nodes and stops them moments later.
	 */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	memset(&o, 0, sizeof(o));
	o.grace_seconds = 30;
	o.batch_ms = 300;
	o.limits = (struct dg_exec_limits)DG_EXEC_LIMITS_INIT;
	if (dg_config_from_env(&o.cfg, &err) < 0 || dg_exec_limits_from_env(&o.limits, &err) < 0)
		goto usage_error;
	o.labels = getenv("DGRID_LABELS");
	o.allowed_signers = getenv("DGRID_ALLOWED_SIGNERS");
	if (o.allowed_signers && !*o.allowed_signers)
		o.allowed_signers = NULL;
	o.trust_quorum = 1;
	if (getenv("DGRID_TRUST_QUORUM") && *getenv("DGRID_TRUST_QUORUM") &&
	    dg_parse_uint(&o.trust_quorum, "DGRID_TRUST_QUORUM", getenv("DGRID_TRUST_QUORUM"), 1, 32, &err) < 0)
		goto usage_error;
	o.signed_policy = getenv("DGRID_SIGNED_POLICY") && !strcmp(getenv("DGRID_SIGNED_POLICY"), "1");
	/*
	 * Only an address somebody chose must be honoured exactly; the default
	 * takes the next free port, so several workers fit on one host.
	 */
	o.http = getenv("DGRID_HTTP") && *getenv("DGRID_HTTP") ? o.cfg.http : DG_HTTP_AUTO;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o.cfg.repo_url = optarg; break;
		case 'n': o.cfg.node_id = optarg; break;
		case 's':
			if (dg_parse_uint(&o.cfg.slots, "--slots", optarg, 1, 256, &err) < 0)
				goto usage_error;
			break;
		case 'e': o.cfg.executor = optarg; break;
		case 'H': o.http = optarg; break;
		case 'x': o.exit_when_idle = true; break;
		case 'g':
			if (dg_parse_uint(&o.grace_seconds, "--grace", optarg, 0, 86400, &err) < 0)
				goto usage_error;
			break;
		case 'b':
			if (dg_parse_uint(&o.batch_ms, "--batch-ms", optarg, 0, 60000, &err) < 0)
				goto usage_error;
			break;
		case 'S': o.spool_dir = optarg; break;
		case 'A': o.allowed_signers = optarg; break;
		case 'Q':
			if (dg_parse_uint(&o.trust_quorum, "--trust-quorum", optarg, 1, 32, &err) < 0)
				goto usage_error;
			break;
		case 'P': o.signed_policy = true; break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		dg_strbuf_addf(&err, "unexpected argument '%s'", argv[optind]);
		goto usage_error;
	}
	if (!o.cfg.repo_url) {
		dg_strbuf_addstr(&err, "no repository: give --repo URL or set DGRID_REPO_URL");
		goto usage_error;
	}
	if (!dg_node_id_valid(o.cfg.node_id)) {
		dg_strbuf_addf(&err, "node id '%s' must be 1-64 characters of [A-Za-z0-9_.-] (--node-id, NODE_ID)",
			       o.cfg.node_id);
		goto usage_error;
	}
	if (o.signed_policy && !o.allowed_signers) {
		dg_strbuf_addstr(&err, "--signed-policy needs --allowed-signers: the keys that sign dgrid.json");
		goto usage_error;
	}
	if (o.http && !strcmp(o.http, "off"))
		o.http = NULL;
	if (o.cfg.executor) {
		struct dg_strbuf probe = DG_STRBUF_INIT;
		o.executor = dg_executor_find(o.cfg.executor);
		if (!o.executor) {
			dg_strbuf_addf(&err, "unknown executor '%s' (--executor, DGRID_EXECUTOR): use native, docker or process",
				       o.cfg.executor);
			goto usage_error;
		}
		if (o.executor->probe(&probe) < 0) {
			fprintf(stderr, "error: executor '%s' does not work here: %s\n", o.executor->name, probe.buf);
			dg_strbuf_release(&probe);
			ret = 1;
			goto out;
		}
		dg_strbuf_release(&probe);
	} else {
		o.executor = dg_executor_choose(&why);
		if (!o.executor) {
			fprintf(stderr, "error: no sandbox works on this host (%s); "
				"use --executor process to run tasks unsandboxed\n", why.buf);
			ret = 1;
			goto out;
		}
		dg_log(DG_LOG_INFO, "event=executor-chosen executor=%s why=\"%s\"", o.executor->name, why.buf);
	}
	if (!strcmp(o.executor->name, "process")) {
		o.isolation = "none (UNSANDBOXED: tasks run as ordinary processes)";
		dg_log(DG_LOG_WARNING, "event=unsandboxed executor=process: tasks run as this user and can read its files, its other processes and this worker's memory (/proc), and reach the network");
	} else if (!strcmp(o.executor->name, "native")) {
		o.isolation = "namespaces, seccomp, cgroups, no network, read-only root";
	} else {
		o.isolation = "docker: no network, read-only, cap-drop ALL";
	}
	if ((c = dg_worker_run(&o)) < 0) {
		say_error(dg_error_last());
		/* a configuration that cannot work (e.g. a busy --http port) is exit 2 */
		ret = c == DG_EINVALID ? 2 : 1;
		goto out;
	}
	ret = 0;
	goto out;
usage_error:
	say_error(err.buf);
out:
	dg_strbuf_release(&err);
	dg_strbuf_release(&why);
	return ret;
}
