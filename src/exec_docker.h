/*
 * exec_docker.h - executor "docker": one `docker run` per task through the
 * docker client (no shell), for hosts where the native sandbox does not
 * work but a Docker engine answers.
 */
#ifndef DG_EXEC_DOCKER_H
#define DG_EXEC_DOCKER_H

#include "common.h"
#include "exec.h"

/*
 * The default image, pinned by digest so that a task always meets the same
 * bytes. It must be present locally (runs use --pull never): the probe
 * checks it, so a worker whose image is missing refuses to start with the
 * `docker pull` command that fixes it (doc/running.md). This digest is
 * python:3.11-alpine's (3.11.15, April 2026) as `docker pull` reports it,
 * i.e. the multi-platform index: it was cross-checked against public build
 * logs that pulled it, not pulled from this build host (no registry
 * reachable). Update it with
 *   docker buildx imagetools inspect python:3.11-alpine
 * and pre-pull it on each worker. DGRID_DOCKER_IMAGE overrides it; any image
 * with /bin/sh and cat works.
 */
#define DG_DOCKER_DEFAULT_IMAGE \
	"python:3.11-alpine@sha256:8b5bfdb1fd2d78aa94e21c4d61be52487693f54be7f1021647751ff365795703"

/* Prefix of every container name: leftovers are found by it. */
#define DG_DOCKER_NAME_PREFIX "dgrid-"

/* An argv for execvp: owned strings, NULL-terminated. */
struct dg_docker_cmd {
	char **argv;
	size_t argc, alloc;
};

#define DG_DOCKER_CMD_INIT { NULL, 0, 0 }

/*
 * The `docker run ...` command line for one task. The script is not in it:
 * it goes to the client's stdin and a fixed wrapper runs it (exec_docker.c
 * says why), so a script of any size fits.
 */
void dg_docker_run_argv(struct dg_docker_cmd *cmd, const char *image,
			const char *name, const struct dg_exec_limits *lim);
void dg_docker_cmd_release(struct dg_docker_cmd *cmd);

/* DGRID_DOCKER_IMAGE or the default; borrowed. */
const char *dg_docker_image(void);

/*
 * Removes containers a previous worker left behind (docker ps -aq --filter
 * name=^dgrid- then docker rm -f). Returns how many, or a negative code.
 */
int dg_docker_remove_leftovers(void);

#endif
