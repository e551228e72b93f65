/*
 * cgroup_v2.c - the worker's delegated cgroup v2 subtree and the task
 * cgroups below it (contract in sandbox.h). Paths come from the caller, so
 * nothing here assumes /sys/fs/cgroup or reads /proc.
 */
#include "../common.h"
#include "../error.h"
#include "sandbox.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* The controllers the tasks' limits need, in the order they are enabled. */
static const struct {
	const char *name;
	bool required;
} wanted[] = { { "memory", true }, { "pids", true }, { "cpu", false } };

/* 0, or -1 with errno set (ENOENT when the control file does not exist). */
static int write_file(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX + 64];
	int fd, ret = 0, e = 0;
	size_t len = strlen(val);

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	/* O_TRUNC as `echo >` does: no-op on cgroupfs, exact content in a mock */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, val, len) != (ssize_t)len) {
		e = errno ? errno : EIO;
		ret = -1;
	}
	close(fd);
	errno = e;
	return ret;
}

static int read_file(struct dg_strbuf *sb, const char *dir, const char *file)
{
	char path[PATH_MAX + 64];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	ret = dg_strbuf_read_file(sb, path, 1 << 20);
	dg_strbuf_rtrim(sb);
	return ret;
}

/* Whether a space or newline separated list holds word. */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, " \n\t");

		if (len == n && !memcmp(p, word, n))
			return true;
		p += len;
		p += strspn(p, " \n\t");
	}
	return false;
}

static bool not_ours(int e)
{
	return e == EACCES || e == EPERM || e == EROFS;
}

/* The path of the "0::" line, without its newline; DG_ENOTFOUND if none. */
static int parse_self(char *own, size_t size, const char *self_cgroup)
{
	const char *line = self_cgroup, *path = NULL;
	size_t plen = 0;
	int ret = DG_ENOTFOUND;

	while (line && *line && !path) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len >= 3 && !memcmp(line, "0::", 3)) {
			path = line + 3;
			plen = len - 3;
		}
		line = nl ? nl + 1 : NULL;
	}
	if (!path) {
		dg_error_set("no cgroup v2 entry (\"0::\") in /proc/self/cgroup: "
			     "this process is not in a unified hierarchy");
	} else if (plen == 0 || path[0] != '/' || plen >= size || memmem(path, plen, "/..", 3)) {
		dg_error_set("cannot use the cgroup v2 path '%.*s' of this process",
			     (int)plen, path);
		ret = DG_ERROR;
	} else {
		/* the root is "/": own stays "" so that mount + own is the mount */
		if (plen == 1)
			plen = 0;
		memcpy(own, path, plen);
		own[plen] = '\0';
		ret = 0;
	}
	return ret;
}

static void not_delegated(const char *own, const char *dir, const char *file, int e)
{
	dg_error_set("cgroup v2 subtree '%s' is not delegated; set Delegate=yes "
		     "(cannot write '%s/%s': %s)", *own ? own : "/", dir, file, strerror(e));
}

/* Step 2 of the contract: the worker leaves the cgroup it delegates. */
static int move_to_leaf(struct dg_cgroup_v2 *out, pid_t pid)
{
	const char *own = *out->own ? out->own : "/";
	char val[32];
	int e, ret = DG_ERROR;

	snprintf(out->leaf, sizeof(out->leaf), "%s/" DG_CGROUP_V2_LEAF, out->base);
	snprintf(val, sizeof(val), "%ld", (long)pid);
	if (mkdir(out->leaf, 0755) < 0 && errno != EEXIST) {
		e = errno;
		if (not_ours(e))
			dg_error_set("cgroup v2 subtree '%s' is not delegated; set Delegate=yes "
				     "(cannot create '%s': %s)", own, out->leaf, strerror(e));
		else
			dg_error_set("cannot create the worker's cgroup '%s': %s", out->leaf,
				     strerror(e));
	} else if (write_file(out->leaf, "cgroup.procs", val) < 0) {
		e = errno;
		if (not_ours(e))
			not_delegated(out->own, out->leaf, "cgroup.procs", e);
		else
			dg_error_set("cannot move the worker into '%s': %s", out->leaf,
				     strerror(e));
	} else {
		ret = 0;
	}
	return ret;
}

/* Step 3: one write, so that a regular file shows exactly what was asked. */
static int enable_controllers(struct dg_cgroup_v2 *out, const char *available)
{
	struct dg_strbuf enabled = DG_STRBUF_INIT, req = DG_STRBUF_INIT;
	int ret = DG_ERROR, e = 0;
	bool with_cpu = false;

	if (read_file(&enabled, out->base, "cgroup.subtree_control") < 0) {
		dg_error_prefix("cannot read the enabled cgroup v2 controllers");
		goto out;
	}
	for (size_t i = 0; i < DG_ARRAY_SIZE(wanted); i++) {
		if (!has_word(available, wanted[i].name) || has_word(enabled.buf, wanted[i].name))
			continue;
		dg_strbuf_addf(&req, "%s+%s", req.len ? " " : "", wanted[i].name);
		with_cpu |= !wanted[i].required;
	}
	if (req.len && write_file(out->base, "cgroup.subtree_control", req.buf) < 0) {
		e = errno;
		/* cpu can be refused alone (e.g. realtime threads): go on without it */
		if (with_cpu && !not_ours(e) && e != EBUSY) {
			/* "+cpu" is last: drop it and the space before it, if any */
			dg_strbuf_setlen(&req, req.len > 4 ? req.len - 5 : 0);
			with_cpu = false;
			e = req.len && write_file(out->base, "cgroup.subtree_control", req.buf) < 0
			    ? errno : 0;
		}
	}
	if (e) {
		if (not_ours(e))
			not_delegated(out->own, out->base, "cgroup.subtree_control", e);
		else if (e == EBUSY)
			dg_error_set("cgroup v2 subtree '%s' has processes besides the worker, "
				     "so controllers cannot be enabled (%s); run the worker in a "
				     "cgroup of its own (systemd: Delegate=yes; by hand: "
				     "systemd-run --scope -p Delegate=yes dgrid ...)",
				     *out->own ? out->own : "/", strerror(e));
		else
			dg_error_set("cannot enable '%s' in '%s/cgroup.subtree_control': %s",
				     req.buf, out->base, strerror(e));
		goto out;
	}
	out->controllers[0] = '\0';
	for (size_t i = 0; i < DG_ARRAY_SIZE(wanted); i++) {
		const char *c = wanted[i].name;

		if (has_word(enabled.buf, c) || (has_word(available, c) && (wanted[i].required || with_cpu))) {
			size_t n = strlen(out->controllers);

			snprintf(out->controllers + n, sizeof(out->controllers) - n, "%s%s",
				 n ? " " : "", c);
		}
	}
	ret = 0;
out:
	dg_strbuf_release(&enabled);
	dg_strbuf_release(&req);
	return ret;
}

int dg_cgroup_v2_delegate(struct dg_cgroup_v2 *out, const char *mount,
			  const char *self_cgroup, pid_t pid)
{
	struct dg_strbuf available = DG_STRBUF_INIT, procs = DG_STRBUF_INIT;
	struct stat st;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = parse_self(out->own, sizeof(out->own), self_cgroup)) < 0)
		goto out;
	ret = DG_ERROR;
	snprintf(out->base, sizeof(out->base), "%s%s", mount, out->own);
	if (stat(out->base, &st) < 0 || !S_ISDIR(st.st_mode)) {
		dg_error_set("the cgroup v2 directory '%s' of this process is missing "
			     "(is the unified hierarchy mounted at '%s'?)", out->base, mount);
		goto out;
	}
	if (read_file(&available, out->base, "cgroup.controllers") < 0) {
		dg_error_prefix("cannot read the cgroup v2 controllers");
		goto out;
	}
	for (size_t i = 0; i < DG_ARRAY_SIZE(wanted); i++) {
		if (wanted[i].required && !has_word(available.buf, wanted[i].name)) {
			dg_error_set("cgroup v2 controller '%s' is not available in '%s' "
				     "(cgroup.controllers: '%s'): the subtree is not delegated; "
				     "set Delegate=yes", wanted[i].name,
				     *out->own ? out->own : "/", available.buf);
			ret = DG_ENOTFOUND;
			goto out;
		}
	}
	if (read_file(&procs, out->base, "cgroup.procs") < 0) {
		dg_error_prefix("cannot list the processes of the worker's cgroup");
		goto out;
	}
	if (procs.len && move_to_leaf(out, pid) < 0)
		goto out;
	if (enable_controllers(out, available.buf) < 0)
		goto out;
	ret = 0;
out:
	dg_strbuf_release(&available);
	dg_strbuf_release(&procs);
	return ret;
}

int dg_cgroup_v2_create(struct dg_cgroup *cg, const struct dg_cgroup_v2 *v2,
			const char *name, const struct dg_exec_limits *lim)
{
	struct dg_strbuf procs = DG_STRBUF_INIT;
	const char *file = NULL;
	char val[64];
	int ret = DG_ERROR, e;

	memset(cg, 0, sizeof(*cg));
	snprintf(cg->dirs[0], sizeof(cg->dirs[0]), "%s/%s", v2->base, name);
	if (mkdir(cg->dirs[0], 0700) < 0) {
		e = errno;
		if (e != EEXIST || read_file(&procs, cg->dirs[0], "cgroup.procs") < 0 ||
		    procs.len) {
			dg_error_set("cannot create the cgroup '%s': %s", cg->dirs[0],
				     e == EEXIST ? "it exists and is in use" : strerror(e));
			goto out;
		}
	}
	cg->ndirs = 1;
	cg->version = 2;
	if (lim->memory_bytes) {
		snprintf(val, sizeof(val), "%" PRIu64, lim->memory_bytes);
		if (write_file(cg->dirs[0], (file = "memory.max"), val) < 0)
			goto fail;
		/* absent without swap accounting; then there is only RAM anyway */
		write_file(cg->dirs[0], "memory.swap.max", "0");
	}
	if (lim->pids) {
		snprintf(val, sizeof(val), "%u", lim->pids);
		if (write_file(cg->dirs[0], (file = "pids.max"), val) < 0)
			goto fail;
	}
	if (lim->cpus > 0 && has_word(v2->controllers, "cpu")) {
		snprintf(val, sizeof(val), "%.0f 100000", lim->cpus * 100000);
		if (write_file(cg->dirs[0], (file = "cpu.max"), val) < 0)
			goto fail;
	}
	ret = 0;
	goto out;
fail:
	e = errno;
	dg_error_set("cannot write '%s' in the cgroup '%s': %s%s", file, cg->dirs[0],
		     strerror(e), e == ENOENT ? " (is its controller enabled in the parent's "
		     "cgroup.subtree_control?)" : "");
	dg_cgroup_remove(cg);
out:
	dg_strbuf_release(&procs);
	return ret;
}
