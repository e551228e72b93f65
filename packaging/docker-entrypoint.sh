#!/bin/sh
# Entry point of the dgrid image: `worker` (the default) needs NODE_ID, and
# the repository; any other dgrid command runs as given (doctor, status, ...).
set -eu

# `docker run IMAGE --slots 2` means the worker with those flags
case "${1:-}" in -*) set -- worker "$@" ;; esac

if [ "${1:-worker}" = worker ]; then
	if [ -z "${NODE_ID:-}" ]; then
		echo "error: NODE_ID is not set: give every worker its own id," \
			"e.g. docker run -e NODE_ID=worker-1 ..." >&2
		exit 2
	fi
	if [ -z "${DGRID_REPO_URL:-}" ] && [ -z "${DGRID_REPO_PATH:-}" ]; then
		echo "error: DGRID_REPO_URL is not set: the state repository," \
			"e.g. -e DGRID_REPO_URL=https://github.com/OWNER/grid.git" >&2
		exit 2
	fi
fi
exec "${DGRID:-/usr/local/bin/dgrid}" "$@"
