#include "../common.h"
#include "../version.h"
#include "cmd.h"

#include <git2.h>

int cmd_version(int argc DG_UNUSED, char **argv DG_UNUSED)
{
	int major, minor, rev;

	git_libgit2_version(&major, &minor, &rev);
	printf("dgrid %s (libgit2 %d.%d.%d)\n", DG_VERSION, major, minor, rev);
	return 0;
}
