/*
 * mounts.c - the task's root file system, built in the child's own mount
 * namespace (nothing here is visible to the host):
 *
 *   /             tmpfs, read-only once built
 *   /usr ...      read-only nosuid nodev binds of the host's (or
 *                 DGRID_ROOTFS's) system directories; symlinks stay symlinks
 *   /etc          generated: passwd, group, hosts, resolv.conf, nsswitch.conf
 *                 (+ the host's /etc/alternatives, which is only symlinks)
 *   /tmp          tmpfs with size= and nr_inodes= limits, the only writable place
 *   /proc         a fresh proc of the new PID namespace, with Docker's masks;
 *                 hidepid=2 hides PID 1 (the reaper, a copy of the worker)
 *   /dev          null zero full random urandom, and the fd symlinks
 *
 * Runs after clone, before exec: system calls only (no allocation, no stdio).
 */
#include "../common.h"
#include "sandbox.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OLD "/oldroot"

static const char *const system_dirs[] = {
	"usr", "bin", "sbin", "lib", "lib64", "lib32", "libx32",
};

static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom" };

/* Docker's masked and read-only paths of /proc. */
static const char *const proc_masked[] = {
	"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
	"/proc/latency_stats", "/proc/timer_stats", "/proc/acpi", "/proc/asound",
	"/proc/scsi",
};
static const char *const proc_readonly[] = {
	"/proc/sys", "/proc/irq", "/proc/bus", "/proc/fs", "/proc/sysrq-trigger",
};

static const struct etc_file {
	const char *name, *text;
} etc_files[] = {
	{ "/etc/passwd", "root:x:0:0:root:/root:/usr/sbin/nologin\n"
		"task:x:1000:1000:dgrid task:/tmp:/bin/sh\n"
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" },
	{ "/etc/group", "root:x:0:\ntask:x:1000:\nnogroup:x:65534:\n" },
	{ "/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\tdgrid\n" },
	{ "/etc/resolv.conf", "" },
	{ "/etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\n"
		"hosts: files\nnetworks: files\nprotocols: files\nservices: files\n" },
	{ "/etc/hostname", "dgrid\n" },
};

/* dst = a + b, truncated safely; async-signal-safe. */
static void join(char *dst, size_t size, const char *a, const char *b)
{
	size_t n = 0;

	for (; *a && n + 1 < size; a++)
		dst[n++] = *a;
	for (; *b && n + 1 < size; b++)
		dst[n++] = *b;
	dst[n] = '\0';
}

/* The flags a user namespace may not drop from a bind (they are locked). */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
	if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
	return f;
}

struct dg_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

static int bind_ro(const char *src, const char *dst)
{
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	if (mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID |
		  MS_NODEV | locked_flags(dst), NULL) < 0)
		return -1;
#ifdef SYS_mount_setattr
	{
		/* submounts too (MOUNT_ATTR_RDONLY|NOSUID|NODEV, AT_RECURSIVE) */
		struct dg_mount_attr attr = { 0x1 | 0x2 | 0x4, 0, 0, 0 };

		syscall(SYS_mount_setattr, AT_FDCWD, dst, 0x8000, &attr, sizeof(attr));
	}
#endif
	return 0;
}

static int touch(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = strlen(text);

	if (fd < 0)
		return -1;
	if (len && write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int system_tree(const struct dg_sandbox_plan *plan, const char **step)
{
	char src[PATH_MAX + 16], dst[64], target[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < DG_ARRAY_SIZE(system_dirs); i++) {
		join(src, sizeof(src), plan->rootfs, "/");
		join(src, sizeof(src), src, system_dirs[i]);
		join(dst, sizeof(dst), "/", system_dirs[i]);
		if (lstat(src, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(src, target, sizeof(target) - 1);

			if (n < 0)
				return *step = "readlink system dir", -1;
			target[n] = '\0';
			if (symlink(target, dst) < 0)
				return *step = "symlink system dir", -1;
		} else if (S_ISDIR(st.st_mode)) {
			if (mkdir(dst, 0755) < 0)
				return *step = "mkdir system dir", -1;
			if (bind_ro(src, dst) < 0)
				return *step = "bind system dir read-only", -1;
		}
	}
	return 0;
}

static int etc_tree(const char **step)
{
	struct stat st;

	if (mkdir("/etc", 0755) < 0)
		return *step = "mkdir /etc", -1;
	for (size_t i = 0; i < DG_ARRAY_SIZE(etc_files); i++)
		if (write_text(etc_files[i].name, etc_files[i].text) < 0)
			return *step = "write /etc", -1;
	/* Debian's awk, editor ... are symlinks through /etc/alternatives */
	if (lstat(OLD "/etc/alternatives", &st) == 0 && S_ISDIR(st.st_mode)) {
		if (mkdir("/etc/alternatives", 0755) < 0 ||
		    bind_ro(OLD "/etc/alternatives", "/etc/alternatives") < 0)
			return *step = "bind /etc/alternatives", -1;
	}
	return 0;
}

static int dev_tree(const char **step)
{
	char src[64], dst[64];

	if (mkdir("/dev", 0755) < 0 ||
	    mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,nr_inodes=64,mode=0755") < 0)
		return *step = "mount /dev", -1;
	for (size_t i = 0; i < DG_ARRAY_SIZE(dev_nodes); i++) {
		join(src, sizeof(src), OLD "/dev/", dev_nodes[i]);
		join(dst, sizeof(dst), "/dev/", dev_nodes[i]);
		if (touch(dst, 0666) < 0 || mount(src, dst, NULL, MS_BIND, NULL) < 0)
			return *step = "bind a /dev node", -1;
	}
	if (symlink("/proc/self/fd", "/dev/fd") < 0 ||
	    symlink("/proc/self/fd/0", "/dev/stdin") < 0 ||
	    symlink("/proc/self/fd/1", "/dev/stdout") < 0 ||
	    symlink("/proc/self/fd/2", "/dev/stderr") < 0)
		return *step = "symlink /dev/fd", -1;
	if (mount(NULL, "/dev", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
		  "size=64k,nr_inodes=64,mode=0755") < 0)
		return *step = "remount /dev read-only", -1;
	return 0;
}

static int proc_tree(const char **step)
{
	struct stat st;

	if (mkdir("/proc", 0555) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2") < 0)
		return *step = "mount /proc", -1;
	for (size_t i = 0; i < DG_ARRAY_SIZE(proc_masked); i++) {
		const char *p = proc_masked[i];

		if (stat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
				  "size=0,nr_inodes=1") < 0)
				return *step = "mask a /proc directory", -1;
		} else if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0) {
			return *step = "mask a /proc file", -1;
		}
	}
	for (size_t i = 0; i < DG_ARRAY_SIZE(proc_readonly); i++) {
		const char *p = proc_readonly[i];

		if (stat(p, &st) < 0)
			continue;
		if (bind_ro(p, p) < 0)
			return *step = "make a /proc path read-only", -1;
	}
	return 0;
}

int dg_sandbox_mount_root(const struct dg_sandbox_plan *plan, const char **step)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return *step = "make / private", -1;
	/* the new root is built on a tmpfs over /tmp, then pivoted into */
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
		  "size=1m,nr_inodes=256,mode=0755") < 0)
		return *step = "mount the root tmpfs", -1;
	if (chdir("/tmp") < 0 || mkdir("oldroot", 0700) < 0)
		return *step = "prepare pivot_root", -1;
	if (syscall(SYS_pivot_root, ".", "oldroot") < 0)
		return *step = "pivot_root", -1;
	if (chdir("/") < 0)
		return *step = "chdir /", -1;
	if (system_tree(plan, step) < 0 || etc_tree(step) < 0 || dev_tree(step) < 0)
		return -1;
	if (mkdir("/tmp", 01777) < 0 || chmod("/tmp", 01777) < 0 ||
	    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, plan->tmp_opts) < 0)
		return *step = "mount /tmp", -1;
	/* proc can only be mounted while a full proc is visible: before umount */
	if (proc_tree(step) < 0)
		return -1;
	if (umount2(OLD, MNT_DETACH) < 0)
		return *step = "umount the old root", -1;
	if (rmdir(OLD) < 0)
		return *step = "rmdir the old root", -1;
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
		  "size=1m,nr_inodes=256,mode=0755") < 0)
		return *step = "remount / read-only", -1;
	return 0;
}
