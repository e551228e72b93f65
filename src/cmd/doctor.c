/*
 * dgrid doctor - which isolation features this host supports, and which
 * executor the worker would choose. Always exits 0: it is a report.
 */
#include "../common.h"
#include "../exec.h"
#include "../exec_docker.h"
#include "../sandbox/sandbox.h"
#include "cmd.h"

#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/seccomp.h>

static const char usage_text[] =
	"usage: dgrid doctor\n"
	"\n"
	"Prints which isolation features this host supports (each namespace,\n"
	"cgroup v1/v2 memory and pids, seccomp, a Docker engine), which cgroup\n"
	"mode the native sandbox uses (v2 in a delegated subtree, v1, or none and\n"
	"why), whether each executor works and which one the worker would choose.\n"
	"On cgroup v2 this moves dgrid itself into a leaf of its cgroup, as the\n"
	"worker does.\n";

/* Whether a child can unshare this namespace (inside a new user ns, unless user). */
static bool can_unshare(int flag)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int f = flag == CLONE_NEWUSER ? flag : flag | CLONE_NEWUSER;

		/* as root, also try without a user namespace */
		_exit(unshare(f) == 0 || (geteuid() == 0 && unshare(flag) == 0) ? 0 : 1);
	}
	if (pid < 0)
		return false;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool has_seccomp(void)
{
	return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
}

int cmd_doctor(int argc, char **argv)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;
	const struct dg_executor *chosen;
	const struct sock_fprog *prog;
	static const char *const names[] = { "native", "docker", "process" };

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage_text, stdout);
		return 0;
	}
	printf("namespaces:\n");
	for (size_t i = 0; i < DG_ARRAY_SIZE(dg_sandbox_namespaces); i++)
		printf("  %-8s %s\n", dg_sandbox_namespaces[i].name,
		       can_unshare(dg_sandbox_namespaces[i].flag) ? "yes" : "no");
	printf("cgroups:\n");
	dg_cgroup_report(&sb);
	{
		char *line = sb.buf, *nl;

		while (*line && (nl = strchr(line, '\n'))) {
			printf("  %.*s\n", (int)(nl - line), line);
			line = nl + 1;
		}
	}
	dg_strbuf_reset(&sb);
	printf("seccomp:\n  filter mode %s, dgrid filter %s\n",
	       has_seccomp() ? "yes" : "no",
	       dg_sandbox_seccomp(&prog) == 0 ? "compiles" : "does not compile");
	printf("executors:\n");
	for (size_t i = 0; i < DG_ARRAY_SIZE(names); i++) {
		const struct dg_executor *ex = dg_executor_find(names[i]);

		dg_strbuf_reset(&sb);
		if (ex->probe(&sb) == 0)
			printf("  %-8s works%s\n", names[i],
			       !strcmp(names[i], "process") ? " (no isolation: only when asked for by name)" : "");
		else
			printf("  %-8s unavailable: %s\n", names[i], sb.buf);
	}
	printf("  docker image: %s\n", dg_docker_image());
	dg_strbuf_reset(&sb);
	chosen = dg_executor_choose(&sb);
	if (chosen)
		printf("worker would use: %s\n", chosen->name);
	else
		printf("worker would use: none (%s); tasks cannot run sandboxed here\n", sb.buf);
	dg_strbuf_release(&sb);
	return 0;
}
