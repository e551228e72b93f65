/*
 * repo_fixture.h - temporary directories and shell commands in them, for
 * the unit tests that need a real repository made with git itself (a
 * store on a local path, real trees and ids). Header-only: each unit test
 * is one file linked with libdgrid.a. Include after cmocka.h.
 */
#ifndef DG_REPO_FIXTURE_H
#define DG_REPO_FIXTURE_H

#include "common.h"
#include "strbuf.h"

#include <stdarg.h>
#include <stdlib.h>

/* Runs "cd DIR && COMMAND" with its output discarded, and asserts it succeeded. */
static void sh_vin(const char *dir, const char *fmt, va_list ap) DG_PRINTF(2, 0);

static void sh_vin(const char *dir, const char *fmt, va_list ap)
{
	struct dg_strbuf cmd = DG_STRBUF_INIT;

	dg_strbuf_addf(&cmd, "cd '%s' && ", dir);
	dg_strbuf_vaddf(&cmd, fmt, ap);
	dg_strbuf_addstr(&cmd, " >/dev/null");
	assert_int_equal(system(cmd.buf), 0);
	dg_strbuf_release(&cmd);
}

static void sh_in(const char *dir, const char *fmt, ...) DG_PRINTF(2, 3);

static void sh_in(const char *dir, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sh_vin(dir, fmt, ap);
	va_end(ap);
}

/* Makes /tmp/dgrid-TAG.XXXXXX into buf (size >= 32): 0, or -1. */
static int tmpdir_make(char *buf, size_t size, const char *tag)
{
	snprintf(buf, size, "/tmp/dgrid-%s.XXXXXX", tag);
	return mkdtemp(buf) ? 0 : -1;
}

/* Removes the directory and everything in it: 0, or -1. */
static int tmpdir_remove(const char *dir)
{
	char *cmd = dg_xasprintf("rm -rf '%s'", dir);
	int rc = system(cmd);

	free(cmd);
	return rc == 0 ? 0 : -1;
}

#endif
