/*
 * exec.h - running one task script under an executor.
 *
 * An executor is a backend behind four operations (beanstalkd's linux.c
 * idea): spawn the script, kill everything it started, and clean up what is
 * left after it ended; plus a probe that says whether it works on this host.
 * The generic job code (exec.c) owns the rest, identical for all executors:
 * reading stdout and stderr while the task runs with a cap per stream
 * (never buffering more than the cap), the wall-clock deadline, reaping,
 * and the result.
 *
 * Lifecycle of a job, driven by the caller's event loop:
 *
 *   dg_job_start(&job, ex, script, &limits)
 *   loop: n = dg_job_pollfds(job, fds, max); poll(fds, n, until deadline);
 *         if (dg_job_service(job) == 1) break;   // finished
 *   dg_job_finish(job, &result)                  // frees job
 *   dg_exec_result_release(&result)
 *
 * dg_job_kill() may be called at any time (shutdown); the job then finishes
 * soon with killed set. dg_exec_run() does all of this for one script.
 * Nothing here prints; failures set dg_error_last().
 *
 * How the script reaches the shell (native, process). Never in argv: one
 * argument is at most MAX_ARG_STRLEN (128 KiB) while a policy may allow
 * 1 MiB scripts, and argv is readable by anyone in `ps`. The worker writes
 * the script into a memfd (dg_child_script_open), seals it (no write, grow
 * or shrink: the task cannot change what it runs) and hands it over as fd 3;
 * the task execs `sh -c '. /dev/fd/3' sh`, so $0 stays "sh" and line
 * numbers count from the script's first line as with `sh -c SCRIPT` (dash
 * names the file in its messages: "sh: 1: /dev/fd/3: x: not found"). The
 * memfd's text starts
 * with "exec 3<&-; " on the script's first line (line numbers unchanged):
 * the shell closes fd 3 once it has opened its own copy, so nothing the
 * script runs inherits a descriptor beyond 0-2. stdin stays /dev/null.
 * Why not the alternatives: a pipe fed by the worker needs the event loop
 * to write up to 1 MiB while the task starts; a file in the task's /tmp
 * would show up in the task's own listing and cost its tmpfs quota; the
 * sandbox already has /dev/fd -> /proc/self/fd (mounts.c). Executors that
 * run elsewhere (docker) get the script as a string and choose for
 * themselves.
 */
#ifndef DG_EXEC_H
#define DG_EXEC_H

#include "clock.h"
#include "common.h"
#include "strbuf.h"

#include <poll.h>

struct dg_exec_limits {
	unsigned timeout_ms;      /* wall clock; the whole process tree dies */
	size_t output_cap;        /* bytes kept per stream (stdout, stderr) */
	size_t output_kill;       /* bytes read per stream after which the job is killed */
	uint64_t memory_bytes;    /* 0: no memory limit */
	double cpus;              /* 0: no CPU share limit */
	unsigned pids;            /* 0: no process limit */
	uint64_t tmp_bytes;       /* size of the task's /tmp where the executor makes one */
	uint64_t file_bytes;      /* largest file the task may write (RLIMIT_FSIZE) */
	unsigned cpu_seconds;     /* RLIMIT_CPU; 0: derived from the timeout */
};

/* Defaults of the original design: 10 KB output, 512 MiB, 1 CPU, 64 pids. */
#define DG_EXEC_LIMITS_INIT { 30000, 10240, 1 << 20, 512ull << 20, 1.0, 64, 64ull << 20, 64ull << 20, 0 }

struct dg_exec_result {
	int exit_code;             /* the script's exit status; 128+N when killed by signal N */
	int term_signal;           /* signal that ended it, 0 if it exited */
	bool timed_out;            /* killed at the deadline */
	bool killed;               /* killed for any reason (timeout, output, dg_job_kill) */
	bool output_limit;         /* killed because it printed more than output_kill */
	bool stdout_truncated;
	bool stderr_truncated;
	struct dg_strbuf out;      /* at most output_cap bytes; may hold any bytes */
	struct dg_strbuf err;
	uint64_t duration_ms;
};

#define DG_EXEC_RESULT_INIT { 0, 0, false, false, false, false, false, DG_STRBUF_INIT, DG_STRBUF_INIT, 0 }

void dg_exec_result_release(struct dg_exec_result *res);

struct dg_job;

struct dg_executor {
	const char *name;
	/* 0 when usable here; otherwise a negative code and why in *why. */
	int (*probe)(struct dg_strbuf *why);
	/*
	 * Starts the script (see "How the script reaches the shell" above for
	 * native and process). Must set job->pid (the process whose exit ends the
	 * job) and job->out_fd, job->err_fd (read ends, O_NONBLOCK|O_CLOEXEC).
	 */
	int (*spawn)(struct dg_job *job, const char *script);
	/* Kills every process the job started (idempotent). */
	void (*kill)(struct dg_job *job);
	/*
	 * After the job ended and was reaped: removes cgroups, containers,
	 * temporary files. May replace job->wait_status with the status the
	 * script itself had (native: the PID-1 reaper reports it).
	 */
	void (*cleanup)(struct dg_job *job);
};

/* The public part of a job, for executors. */
struct dg_job {
	const struct dg_executor *ex;
	struct dg_exec_limits limits;
	pid_t pid;
	int pidfd;                 /* readable when pid exited (set by exec.c) */
	int out_fd, err_fd;
	void *impl;                /* the executor's own state */
	/* owned by exec.c */
	int64_t started_ms, deadline_ms;
	size_t out_seen, err_seen;
	bool exited;
	int wait_status;
	struct dg_exec_result res;
};

/* "process", "native", "docker"; NULL if the name is unknown. */
const struct dg_executor *dg_executor_find(const char *name);
/*
 * The best executor that works here (native, then docker); NULL when none
 * does, with the reasons for each in *why. Never picks "process": running
 * untrusted code unsandboxed must be asked for by name.
 */
const struct dg_executor *dg_executor_choose(struct dg_strbuf *why);

int dg_job_start(struct dg_job **out, const struct dg_executor *ex,
		 const char *script, const struct dg_exec_limits *limits);
/* Fills up to max pollfds the caller should wait on; returns how many. */
size_t dg_job_pollfds(struct dg_job *job, struct pollfd *fds, size_t max);
/*
 * Monotonic milliseconds (dg_now_ms) at which the job will be killed; once
 * the main process ended, the end of the short drain of its pipes (so a
 * loop that polls until this deadline always comes back in time).
 */
int64_t dg_job_deadline(const struct dg_job *job);
/* Non-blocking: reads output, enforces the deadline, reaps. 1 when finished. */
int dg_job_service(struct dg_job *job);
void dg_job_kill(struct dg_job *job);
/* Moves the result out and frees the job; only after service returned 1. */
void dg_job_finish(struct dg_job *job, struct dg_exec_result *res);

/* Runs one script to its end (blocking). */
int dg_exec_run(const struct dg_executor *ex, const char *script,
		const struct dg_exec_limits *limits, struct dg_exec_result *res);

/*
 * Fills a task result's status, exit code, reason, output and flags from
 * an executor's outcome (defined in exec_result.c).
 */
struct dg_result;
void dg_result_from_exec(struct dg_result *res, const struct dg_exec_result *er,
			 unsigned timeout_seconds);

/* "512m", "1g", "64k" or plain bytes (binary multiples); DG_EINVALID if not. */
int dg_exec_parse_size(uint64_t *out, const char *s);

/*
 * Overrides limits from the worker's environment: DOCKER_MEMORY (bytes,
 * "512m", "1g"), DOCKER_CPUS ("1.5"), DGRID_PIDS, DGRID_TMP_SIZE. A bad
 * value leaves *lim partly updated and returns DG_EINVALID with a message
 * naming the variable appended to *err.
 */
int dg_exec_limits_from_env(struct dg_exec_limits *lim, struct dg_strbuf *err);

#endif
