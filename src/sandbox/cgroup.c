/*
 * cgroup.c - one cgroup per job, for memory, process count and CPU share.
 * Version 2 when a unified hierarchy with the memory and pids controllers is
 * mounted (the worker's subtree is delegated first: cgroup_v2.c), else
 * version 1 (memory, pids, cpu hierarchies). The job's cgroup sits below the
 * worker's own, so the worker's limits still cover its tasks.
 */
#include "../common.h"
#include "../error.h"
#include "sandbox.h"

#include <dirent.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_uint counter;

/* The v2 delegation, done once per process: it moves the worker itself. */
static pthread_mutex_t v2_lock = PTHREAD_MUTEX_INITIALIZER;
static bool v2_done;
static int v2_ret;
static struct dg_cgroup_v2 v2_state;
static char v2_error[1024];

static int write_file(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX + 64];
	int fd, ret = 0;
	size_t len = strlen(val);

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, val, len) != (ssize_t)len)
		ret = -1;
	close(fd);
	return ret;
}

static bool file_has_words(const char *path, const char *a, const char *b)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;
	bool ok = false;

	if (dg_strbuf_read_file(&sb, path, 4096) == 0) {
		dg_strbuf_addch(&sb, ' ');
		ok = strstr(sb.buf, a) && strstr(sb.buf, b);
	}
	dg_strbuf_release(&sb);
	return ok;
}

static const char *v2_root(void)
{
	if (file_has_words("/sys/fs/cgroup/cgroup.controllers", "memory", "pids"))
		return "/sys/fs/cgroup";
	if (file_has_words("/sys/fs/cgroup/unified/cgroup.controllers", "memory", "pids"))
		return "/sys/fs/cgroup/unified";
	return NULL;
}

static bool dir_exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *const v1_controllers[3] = { "memory", "pids", "cpu" };

int dg_cgroup_detect(struct dg_strbuf *why)
{
	if (v2_root())
		return 2;
	if (dir_exists("/sys/fs/cgroup/memory") && dir_exists("/sys/fs/cgroup/pids") &&
	    access("/sys/fs/cgroup/memory", W_OK) == 0 &&
	    access("/sys/fs/cgroup/pids", W_OK) == 0)
		return 1;
	if (why)
		dg_strbuf_addstr(why, "no writable cgroup hierarchy with memory and pids");
	return DG_ENOTFOUND;
}

static bool has_controller(const char *list, size_t len, const char *name)
{
	size_t n = strlen(name);

	while (len) {
		const char *comma = memchr(list, ',', len);
		size_t tok = comma ? (size_t)(comma - list) : len;

		if (tok == n && !memcmp(list, name, n))
			return true;
		if (!comma)
			break;
		len -= tok + 1;
		list = comma + 1;
	}
	return false;
}

/* The worker's own cgroup in a hierarchy (NULL controller: v2's "0::"). */
static void own_path(struct dg_strbuf *out, const char *controller)
{
	struct dg_strbuf sb = DG_STRBUF_INIT;
	char *line, *next;

	if (dg_strbuf_read_file(&sb, "/proc/self/cgroup", 1 << 16) < 0)
		goto out;
	for (line = sb.buf; line && *line; line = next) {
		char *ctl = strchr(line, ':'), *path;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!ctl || !(path = strchr(ctl + 1, ':')))
			continue;
		ctl++;
		if (controller ? has_controller(ctl, (size_t)(path - ctl), controller)
			       : path == ctl) {
			if (strcmp(path + 1, "/"))
				dg_strbuf_addstr(out, path + 1);
			break;
		}
	}
out:
	dg_strbuf_release(&sb);
}

static void make_dir_path(char *dst, const char *mount, const char *controller,
			  const char *name)
{
	struct dg_strbuf own = DG_STRBUF_INIT, base = DG_STRBUF_INIT;

	own_path(&own, controller);
	dg_strbuf_addf(&base, "%s%s", mount, own.buf);
	if (!dir_exists(base.buf)) {
		dg_strbuf_reset(&base);
		dg_strbuf_addstr(&base, mount);
	}
	snprintf(dst, PATH_MAX, "%s/%s", base.buf, name);
	dg_strbuf_release(&own);
	dg_strbuf_release(&base);
}

/* The outcome of the v2 delegation of this process (see sandbox.h). */
static int v2_delegated(struct dg_cgroup_v2 *out)
{
	pthread_mutex_lock(&v2_lock);
	if (!v2_done) {
		struct dg_strbuf self = DG_STRBUF_INIT;

		v2_ret = dg_strbuf_read_file(&self, "/proc/self/cgroup", 1 << 16);
		if (v2_ret == 0)
			v2_ret = dg_cgroup_v2_delegate(&v2_state, v2_root(), self.buf, getpid());
		if (v2_ret < 0)
			snprintf(v2_error, sizeof(v2_error), "%s", dg_error_last());
		dg_strbuf_release(&self);
		v2_done = true;
	}
	*out = v2_state;
	if (v2_ret < 0)
		dg_error_set("%s", v2_error);
	pthread_mutex_unlock(&v2_lock);
	return v2_ret;
}

int dg_cgroup_create(struct dg_cgroup *cg, const struct dg_exec_limits *lim)
{
	char name[64], val[64];
	int v = dg_cgroup_detect(NULL);

	memset(cg, 0, sizeof(*cg));
	snprintf(name, sizeof(name), "dgrid-%ld-%u", (long)getpid(),
		 atomic_fetch_add(&counter, 1));
	if (v == 2) {
		struct dg_cgroup_v2 v2;
		int ret = v2_delegated(&v2);

		return ret < 0 ? ret : dg_cgroup_v2_create(cg, &v2, name, lim);
	}
	if (v != 1) {
		dg_error_set("no usable cgroup hierarchy");
		return DG_ERROR;
	}
	cg->version = 1;
	for (int i = 0; i < 3; i++) {
		char mount[64];

		snprintf(mount, sizeof(mount), "/sys/fs/cgroup/%s", v1_controllers[i]);
		if (!dir_exists(mount))
			continue; /* cpu is optional */
		make_dir_path(cg->dirs[cg->ndirs], mount, v1_controllers[i], name);
		if (mkdir(cg->dirs[cg->ndirs], 0700) < 0) {
			if (i == 2)
				continue;
			goto fail;
		}
		cg->ndirs++;
		if (i == 0 && lim->memory_bytes) {
			snprintf(val, sizeof(val), "%" PRIu64, lim->memory_bytes);
			if (write_file(cg->dirs[cg->ndirs - 1], "memory.limit_in_bytes", val) < 0)
				goto fail;
			/* absent without swap accounting; then there is only RAM anyway */
			write_file(cg->dirs[cg->ndirs - 1], "memory.memsw.limit_in_bytes", val);
			write_file(cg->dirs[cg->ndirs - 1], "memory.swappiness", "0");
		}
		if (i == 1 && lim->pids) {
			snprintf(val, sizeof(val), "%u", lim->pids);
			if (write_file(cg->dirs[cg->ndirs - 1], "pids.max", val) < 0)
				goto fail;
		}
		if (i == 2 && lim->cpus > 0) {
			snprintf(val, sizeof(val), "%.0f", lim->cpus * 100000);
			write_file(cg->dirs[cg->ndirs - 1], "cpu.cfs_period_us", "100000");
			write_file(cg->dirs[cg->ndirs - 1], "cpu.cfs_quota_us", val);
		}
	}
	return 0;
fail:
	dg_error_set("cannot set up the cgroup '%s': %s",
		     cg->ndirs ? cg->dirs[cg->ndirs - 1] : name, strerror(errno));
	dg_cgroup_remove(cg);
	return DG_ERROR;
}

int dg_cgroup_add(struct dg_cgroup *cg, pid_t pid)
{
	char val[32];

	snprintf(val, sizeof(val), "%ld", (long)pid);
	for (int i = 0; i < cg->ndirs; i++) {
		if (write_file(cg->dirs[i], "cgroup.procs", val) < 0) {
			dg_error_set("cannot move the task into '%s': %s", cg->dirs[i],
				     strerror(errno));
			return DG_ERROR;
		}
	}
	return 0;
}

/* Returns how many processes were signalled. */
static int kill_procs(const char *dir)
{
	char path[PATH_MAX + 32];
	struct dg_strbuf sb = DG_STRBUF_INIT;
	int n = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if (dg_strbuf_read_file(&sb, path, 1 << 20) == 0) {
		char *p = sb.buf, *end;

		for (;;) {
			long pid = strtol(p, &end, 10);

			if (end == p)
				break;
			if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
				n++;
			p = end;
		}
	}
	dg_strbuf_release(&sb);
	return n;
}

void dg_cgroup_kill(struct dg_cgroup *cg)
{
	if (!cg->ndirs)
		return;
	if (cg->version == 2 && write_file(cg->dirs[0], "cgroup.kill", "1") == 0)
		return;
	/* pids (v1) or the only dir (v2): every process of the job is there */
	kill_procs(cg->dirs[cg->ndirs > 1 ? 1 : 0]);
}

void dg_cgroup_remove(struct dg_cgroup *cg)
{
	for (int i = cg->ndirs - 1; i >= 0; i--) {
		for (int tries = 0; tries < 200; tries++) {
			if (rmdir(cg->dirs[i]) == 0 || errno == ENOENT)
				break;
			if (errno != EBUSY)
				break;
			kill_procs(cg->dirs[i]);
			usleep(5000);
		}
	}
	cg->ndirs = 0;
}

void dg_cgroup_report(struct dg_strbuf *out)
{
	const char *v2 = v2_root();
	struct dg_strbuf why = DG_STRBUF_INIT;
	int v = dg_cgroup_detect(&why);

	if (v == 2) {
		struct dg_cgroup_v2 st;

		if (v2_delegated(&st) == 0)
			dg_strbuf_addf(out, "mode: v2, tasks below '%s' (controllers: %s)%s%s%s\n",
				       *st.own ? st.own : "/", st.controllers,
				       *st.leaf ? "; the worker moved itself to '" : "",
				       *st.leaf ? st.leaf + strlen(v2) : "", *st.leaf ? "'" : "");
		else
			dg_strbuf_addf(out, "mode: v2, not usable: %s\n", dg_error_last());
	} else if (v == 1) {
		dg_strbuf_addstr(out, "mode: v1 (no cgroup v2 hierarchy offers memory and "
				 "pids); tasks below the worker's memory, pids and cpu cgroups\n");
	} else {
		dg_strbuf_addf(out, "mode: none: %s\n", why.buf);
	}
	dg_strbuf_release(&why);
	dg_strbuf_addf(out, "cgroup v2 (memory+pids): %s%s\n", v2 ? "yes at " : "no",
		       v2 ? v2 : "");
	for (int i = 0; i < 3; i++) {
		char mount[64];

		snprintf(mount, sizeof(mount), "/sys/fs/cgroup/%s", v1_controllers[i]);
		dg_strbuf_addf(out, "cgroup v1 %s: %s\n", v1_controllers[i],
			       dir_exists(mount) && access(mount, W_OK) == 0 ? "yes" : "no");
	}
}
