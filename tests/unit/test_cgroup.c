/*
 * The cgroup v2 delegation (src/sandbox/cgroup_v2.c) on a mock tree: a temp
 * dir with regular files standing for the control files. The real thing
 * cannot run here (this host's controllers are all on v1), so the tests
 * assert which file gets which content and which error is reported.
 *
 * A mock tree cannot create control files when a directory is made, so the
 * leaf and task directories are made beforehand (with empty control files);
 * the code reuses an existing leaf, and an existing task cgroup when empty.
 */
#include "common.h"
#include "error.h"
#include "exec.h"
#include "exec_child.h"
#include "fs.h"
#include "sandbox/sandbox.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#define SERVICE "/system.slice/dgrid.service"
#define SELF "12:pids:/system.slice/dgrid.service\n0::" SERVICE "\n"

static char root[64];

static void path_of(char *dst, size_t size, const char *rel)
{
	snprintf(dst, size, "%s%s", root, rel);
}

static void put(const char *rel, const char *text)
{
	char p[PATH_MAX];
	FILE *f;

	path_of(p, sizeof(p), rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *get(const char *rel)
{
	static char buf[4096];
	char p[PATH_MAX];
	FILE *f;
	size_t n;

	path_of(p, sizeof(p), rel);
	f = fopen(p, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void dir(const char *rel)
{
	char p[PATH_MAX];

	path_of(p, sizeof(p), rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static bool exists(const char *rel)
{
	char p[PATH_MAX];

	path_of(p, sizeof(p), rel);
	return access(p, F_OK) == 0;
}

/* A cgroup directory with the control files a real one would have. */
static void cgroup_dir(const char *rel, const char *controllers)
{
	static const char *const files[] = {
		"cgroup.procs", "cgroup.subtree_control", "cgroup.kill", "memory.max",
		"memory.swap.max", "pids.max", "cpu.max",
	};
	char p[PATH_MAX];

	dir(rel);
	for (size_t i = 0; i < DG_ARRAY_SIZE(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", rel, files[i]);
		put(p, "");
	}
	snprintf(p, sizeof(p), "%s/cgroup.controllers", rel);
	put(p, controllers);
}

/* The tree of a Debian 12 host with the worker as a delegated service. */
static int setup(void **state DG_UNUSED)
{
	memcpy(root, "/tmp/dgrid-cgtest.XXXXXX", sizeof("/tmp/dgrid-cgtest.XXXXXX"));
	assert_non_null(mkdtemp(root));
	/* the not-delegated test runs as nobody, which must get through */
	assert_int_equal(chmod(root, 0755), 0);
	put("/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
	dir("/system.slice");
	cgroup_dir(SERVICE, "cpuset cpu io memory pids\n");
	put(SERVICE "/cgroup.procs", "4242\n");
	return 0;
}

static int teardown(void **state DG_UNUSED)
{
	dg_fs_rmtree(root);
	return 0;
}

static void test_delegate_moves_worker_and_enables(void **state DG_UNUSED)
{
	struct dg_cgroup_v2 v2;
	char base[PATH_MAX];

	cgroup_dir(SERVICE "/worker", "");
	assert_int_equal(dg_cgroup_v2_delegate(&v2, root, SELF, 4242), 0);
	path_of(base, sizeof(base), SERVICE);
	assert_string_equal(v2.own, SERVICE);
	assert_string_equal(v2.base, base);
	assert_string_equal(v2.controllers, "memory pids cpu");
	/* the worker left its cgroup (no internal processes) ... */
	assert_string_equal(get(SERVICE "/worker/cgroup.procs"), "4242");
	assert_string_equal(v2.leaf + strlen(root), SERVICE "/worker");
	/* ... then the controllers were enabled for the children, in one write */
	assert_string_equal(get(SERVICE "/cgroup.subtree_control"), "+memory +pids +cpu");
	/* nothing else was touched */
	assert_string_equal(get(SERVICE "/cgroup.procs"), "4242\n");
	assert_string_equal(get("/cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc\n");
}

static void test_task_cgroup_limits(void **state DG_UNUSED)
{
	struct dg_exec_limits lim = DG_EXEC_LIMITS_INIT;
	struct dg_cgroup_v2 v2;
	struct dg_cgroup cg;

	cgroup_dir(SERVICE "/worker", "");
	assert_int_equal(dg_cgroup_v2_delegate(&v2, root, SELF, 4242), 0);
	cgroup_dir(SERVICE "/dgrid-4242-0", "memory pids cpu\n");
	lim.memory_bytes = 256ull << 20;
	lim.pids = 32;
	lim.cpus = 1.5;
	assert_int_equal(dg_cgroup_v2_create(&cg, &v2, "dgrid-4242-0", &lim), 0);
	assert_int_equal(cg.version, 2);
	assert_int_equal(cg.ndirs, 1);
	assert_string_equal(cg.dirs[0] + strlen(root), SERVICE "/dgrid-4242-0");
	assert_string_equal(get(SERVICE "/dgrid-4242-0/memory.max"), "268435456");
	assert_string_equal(get(SERVICE "/dgrid-4242-0/memory.swap.max"), "0");
	assert_string_equal(get(SERVICE "/dgrid-4242-0/pids.max"), "32");
	assert_string_equal(get(SERVICE "/dgrid-4242-0/cpu.max"), "150000 100000");
	assert_int_equal(dg_cgroup_add(&cg, 777), 0);
	assert_string_equal(get(SERVICE "/dgrid-4242-0/cgroup.procs"), "777");
	/* killing uses cgroup.kill (the pid listed is never signalled here) */
	put(SERVICE "/dgrid-4242-0/cgroup.procs", "");
	dg_cgroup_kill(&cg);
	assert_string_equal(get(SERVICE "/dgrid-4242-0/cgroup.kill"), "1");
}

static void test_task_cgroup_without_cpu(void **state DG_UNUSED)
{
	struct dg_exec_limits lim = DG_EXEC_LIMITS_INIT;
	struct dg_cgroup_v2 v2;
	struct dg_cgroup cg;

	/* only what the kernel lists is enabled; cpu is optional */
	put(SERVICE "/cgroup.controllers", "memory pids\n");
	cgroup_dir(SERVICE "/worker", "");
	assert_int_equal(dg_cgroup_v2_delegate(&v2, root, SELF, 4242), 0);
	assert_string_equal(get(SERVICE "/cgroup.subtree_control"), "+memory +pids");
	assert_string_equal(v2.controllers, "memory pids");
	cgroup_dir(SERVICE "/dgrid-4242-1", "memory pids\n");
	assert_int_equal(dg_cgroup_v2_create(&cg, &v2, "dgrid-4242-1", &lim), 0);
	assert_string_equal(get(SERVICE "/dgrid-4242-1/cpu.max"), "");
	assert_string_equal(get(SERVICE "/dgrid-4242-1/pids.max"), "64");
}

static void test_task_cgroup_in_use(void **state DG_UNUSED)
{
	struct dg_exec_limits lim = DG_EXEC_LIMITS_INIT;
	struct dg_cgroup_v2 v2;
	struct dg_cgroup cg;

	cgroup_dir(SERVICE "/worker", "");
	assert_int_equal(dg_cgroup_v2_delegate(&v2, root, SELF, 4242), 0);
	cgroup_dir(SERVICE "/dgrid-4242-2", "memory pids cpu\n");
	put(SERVICE "/dgrid-4242-2/cgroup.procs", "99\n");
	assert_int_equal(dg_cgroup_v2_create(&cg, &v2, "dgrid-4242-2", &lim), DG_ERROR);
	assert_non_null(strstr(dg_error_last(), "exists and is in use"));
	assert_string_equal(get(SERVICE "/dgrid-4242-2/memory.max"), "");
}

/* Controllers already enabled and no process inside: nothing to write. */
static void test_delegate_already_done(void **state DG_UNUSED)
{
	struct dg_cgroup_v2 v2;

	put(SERVICE "/cgroup.procs", "");
	put(SERVICE "/cgroup.subtree_control", "cpu memory pids\n");
	assert_int_equal(dg_cgroup_v2_delegate(&v2, root, SELF, 4242), 0);
	assert_false(exists(SERVICE "/worker"));
	assert_string_equal(v2.leaf, "");
	assert_string_equal(get(SERVICE "/cgroup.subtree_control"), "cpu memory pids\n");
	assert_string_equal(v2.controllers, "memory pids cpu");
}

/* Only cpu missing, no process inside: exactly "+cpu" is written. */
static void test_delegate_adds_only_missing(void **state DG_UNUSED)
{
	struct dg_cgroup_v2 v2;

	put(SERVICE "/cgroup.procs", "");
	put(SERVICE "/cgroup.subtree_control", "memory pids\n");
	assert_int_equal(dg_cgroup_v2_delegate(&v2, root, SELF, 4242), 0);
	assert_string_equal(get(SERVICE "/cgroup.subtree_control"), "+cpu");
	assert_false(exists(SERVICE "/worker"));
}

static void test_missing_controller(void **state DG_UNUSED)
{
	struct dg_cgroup_v2 v2;

	/* a unit without Delegate=yes: systemd enabled only pids for it */
	put(SERVICE "/cgroup.controllers", "pids\n");
	assert_int_equal(dg_cgroup_v2_delegate(&v2, root, SELF, 4242), DG_ENOTFOUND);
	assert_string_equal(dg_error_last(),
			    "cgroup v2 controller 'memory' is not available in '" SERVICE
			    "' (cgroup.controllers: 'pids'): the subtree is not delegated; "
			    "set Delegate=yes");
	/* checked before anything is moved or enabled */
	assert_false(exists(SERVICE "/worker"));
	assert_string_equal(get(SERVICE "/cgroup.subtree_control"), "");
}

/* Run as nobody, so that root-owned control files answer EACCES as a
 * non-delegated subtree does for an unprivileged worker. */
static int delegate_as_nobody(struct dg_cgroup_v2 *v2)
{
	int ret;

	assert_int_equal(seteuid(65534), 0);
	ret = dg_cgroup_v2_delegate(v2, root, SELF, 4242);
	assert_int_equal(seteuid(0), 0);
	return ret;
}

static void test_not_delegated_subtree_control(void **state DG_UNUSED)
{
	struct dg_cgroup_v2 v2;

	if (geteuid() != 0) {
		skip();
	}
	put(SERVICE "/cgroup.procs", "");
	assert_int_equal(delegate_as_nobody(&v2), DG_ERROR);
	assert_non_null(strstr(dg_error_last(),
			       "cgroup v2 subtree '" SERVICE "' is not delegated; set Delegate=yes"));
	assert_non_null(strstr(dg_error_last(), "cgroup.subtree_control': Permission denied"));
}

static void test_not_delegated_leaf(void **state DG_UNUSED)
{
	struct dg_cgroup_v2 v2;

	if (geteuid() != 0) {
		skip();
	}
	assert_int_equal(delegate_as_nobody(&v2), DG_ERROR);
	assert_non_null(strstr(dg_error_last(),
			       "cgroup v2 subtree '" SERVICE "' is not delegated; set Delegate=yes"));
	assert_false(exists(SERVICE "/worker"));
	assert_string_equal(get(SERVICE "/cgroup.subtree_control"), "");
}

static void test_self_cgroup_parsing(void **state DG_UNUSED)
{
	struct dg_cgroup_v2 v2;

	/* v1 only: no unified entry */
	assert_int_equal(dg_cgroup_v2_delegate(&v2, root, "4:memory:/x\n1:name=systemd:/\n", 1),
			 DG_ENOTFOUND);
	assert_non_null(strstr(dg_error_last(), "no cgroup v2 entry"));
	/* a cgroup that is not there (another mount, another namespace) */
	assert_int_equal(dg_cgroup_v2_delegate(&v2, root, "0::/nowhere.slice\n", 1), DG_ERROR);
	assert_non_null(strstr(dg_error_last(), "is missing"));
	assert_int_equal(dg_cgroup_v2_delegate(&v2, root, "0::/../etc\n", 1), DG_ERROR);
	/* the root of a (namespaced) tree: "0::/" is the mount itself */
	put("/cgroup.procs", "1\n");
	put("/cgroup.subtree_control", "");
	cgroup_dir("/worker", "");
	assert_int_equal(dg_cgroup_v2_delegate(&v2, root, "0::/\n", 1), 0);
	assert_string_equal(v2.own, "");
	assert_string_equal(v2.base, root);
	assert_string_equal(get("/worker/cgroup.procs"), "1");
	assert_string_equal(get("/cgroup.subtree_control"), "+memory +pids +cpu");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delegate_moves_worker_and_enables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_cgroup_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_cgroup_without_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_cgroup_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delegate_already_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delegate_adds_only_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_controller, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_delegated_subtree_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_delegated_leaf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_cgroup_parsing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
