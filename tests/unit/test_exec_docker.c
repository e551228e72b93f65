#include "common.h"
#include "exec_docker.h"

#include <setjmp.h>
#include <cmocka.h>

static void test_run_argv_exact(void **state DG_UNUSED)
{
	static const char *const want[] = {
		"docker", "run", "--rm", "--init", "--name", "dgrid-0123456789abcdef",
		"--hostname", "dgrid", "--network", "none", "--read-only",
		"--tmpfs", "/tmp:rw,nosuid,nodev,size=67108864,nr_inodes=16384,mode=1777",
		"--user", "1000:1000", "--cap-drop", "ALL",
		"--security-opt", "no-new-privileges",
		"--pids-limit", "64", "--memory", "536870912",
		"--memory-swap", "536870912", "--cpus", "1.5",
		"--ulimit", "core=0", "--ulimit", "nofile=256:256",
		"--ulimit", "fsize=67108864", "--ulimit", "cpu=31:32",
		"--env", "HOME=/tmp", "--env", "LANG=C.UTF-8", "--workdir", "/tmp",
		"--log-driver", "none", "--pull", "never", "-i",
		"img@sha256:abc", "/bin/sh", "-c",
		"dgrid_script=$(cat) || exit 126; exec </dev/null; eval \"$dgrid_script\"",
	};
	struct dg_exec_limits lim = DG_EXEC_LIMITS_INIT;
	struct dg_docker_cmd cmd = DG_DOCKER_CMD_INIT;

	lim.cpus = 1.5;
	dg_docker_run_argv(&cmd, "img@sha256:abc", "dgrid-0123456789abcdef", &lim);
	assert_int_equal(cmd.argc, DG_ARRAY_SIZE(want));
	for (size_t i = 0; i < DG_ARRAY_SIZE(want); i++)
		assert_string_equal(cmd.argv[i], want[i]);
	assert_null(cmd.argv[cmd.argc]);
	dg_docker_cmd_release(&cmd);
}

static void test_run_argv_no_limits(void **state DG_UNUSED)
{
	struct dg_exec_limits lim = DG_EXEC_LIMITS_INIT;
	struct dg_docker_cmd cmd = DG_DOCKER_CMD_INIT;

	lim.memory_bytes = 0;
	lim.pids = 0;
	lim.cpus = 0;
	dg_docker_run_argv(&cmd, "i", "dgrid-x", &lim);
	for (size_t i = 0; i < cmd.argc; i++) {
		assert_string_not_equal(cmd.argv[i], "--memory");
		assert_string_not_equal(cmd.argv[i], "--pids-limit");
		assert_string_not_equal(cmd.argv[i], "--cpus");
	}
	/* never a shell around docker, and the script is not in argv: -i feeds it */
	assert_string_equal(cmd.argv[cmd.argc - 2], "-c");
	assert_string_equal(cmd.argv[cmd.argc - 4], "i");
	assert_string_equal(cmd.argv[cmd.argc - 5], "-i");
	dg_docker_cmd_release(&cmd);
}

static void test_default_image_is_pinned(void **state DG_UNUSED)
{
	const char *at = strstr(DG_DOCKER_DEFAULT_IMAGE, "@sha256:");

	assert_non_null(at);
	assert_int_equal(strlen(at + 8), 64);
	assert_int_equal(strspn(at + 8, "0123456789abcdef"), 64);
	unsetenv("DGRID_DOCKER_IMAGE");
	assert_string_equal(dg_docker_image(), DG_DOCKER_DEFAULT_IMAGE);
	setenv("DGRID_DOCKER_IMAGE", "alpine:3", 1);
	assert_string_equal(dg_docker_image(), "alpine:3");
	unsetenv("DGRID_DOCKER_IMAGE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_argv_exact),
		cmocka_unit_test(test_run_argv_no_limits),
		cmocka_unit_test(test_default_image_is_pinned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
