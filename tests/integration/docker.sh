# docker.sh - a real Docker engine and offline images for the docker tests
# (sourced after lib.sh; also by bench/bench-exec.sh).
#
#   docker_need [task|base|none]   engine up (DOCKER_HOST exported) and the
#                                  images present, or a loud skip/fail and exit
#   DOCKER_TASK_IMAGE              debian 12 minbase + python3, for tasks
#   DOCKER_BASE_IMAGE              debian:12-slim (also tagged debian:12)
#   docker_left NAME-PREFIX        ids of containers whose name starts so
#
# The engine: one that already answers (DOCKER_HOST or the default socket) is
# used as it is; otherwise a private dockerd starts on a socket under $T with
# no bridge and no iptables (tasks run with --network none) and stops at exit.
# Its data root is persistent, $DGRID_TEST_CACHE/docker (default
# /var/cache/dgrid-test), so images are made once per machine; a lock on the
# cache serialises test files that would share it.
#
# The images, offline: no registry is reachable here, so debian:12-slim is
# `debootstrap --variant=minbase bookworm` from the apt mirror this machine
# already uses (read from its apt sources), imported with `docker import`; the
# rootfs tarball is kept in the cache, so a lost data root costs an import, not
# a debootstrap. The task image adds python3 with `docker build --network host`
# (apt inside reaches the same mirror) and is saved to the cache as well.
#
# A machine with no dockerd binary skips the whole file with a loud reason;
# one where dockerd exists but does not start, or images cannot be made,
# FAILS: the suite never silently skips where it can run.

DGRID_TEST_CACHE=${DGRID_TEST_CACHE:-/var/cache/dgrid-test}
DOCKER_BASE_IMAGE=debian:12-slim
DOCKER_TASK_IMAGE=dgrid-test/task:12
_dockerd_pid=
_docker_run=
_docker_lock_fd=

# /usr/bin/docker (Debian's, the same version as dockerd) before any other
# client on PATH.
docker() {
	if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else command docker "$@"; fi
}

_docker_down() {
	local i
	if [ -n "$_dockerd_pid" ]; then
		# containers die with the daemon (no live-restore); it unmounts them
		kill "$_dockerd_pid" 2>/dev/null
		for i in $(seq 150); do
			kill -0 "$_dockerd_pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -9 "$_dockerd_pid" 2>/dev/null
		wait "$_dockerd_pid" 2>/dev/null
		_dockerd_pid=
		# containerd-shim processes are reparented to init when dockerd
		# is killed; they exit with their containers
		# and dockerd leaves its netns bind mount in the exec root
		awk -v a="$DGRID_TEST_CACHE/docker" -v b="$_docker_run" \
			'index($2, a) == 1 || (b != "" && index($2, b) == 1) { print $2 }' /proc/mounts |
			sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
	fi
	[ -n "$_docker_run" ] && rm -rf "$_docker_run"
	_docker_run=
}
trap '_docker_down; _cleanup' EXIT

# The apt mirror of this machine: deb822 sources first, then sources.list.
_apt_mirror() {
	local f m=""
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		m=$(awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ { print u; exit }' "$f")
		[ -n "$m" ] && break
	done
	if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
		m=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
	fi
	echo "${m:-http://deb.debian.org/debian}"
}

_docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

_docker_start() {
	local run i
	if _docker_answers; then
		note "using the Docker engine at ${DOCKER_HOST:-the default socket}"
		return 0
	fi
	if ! command -v dockerd >/dev/null; then
		return 2
	fi
	mkdir -p "$DGRID_TEST_CACHE/docker"
	exec {_docker_lock_fd}>"$DGRID_TEST_CACHE/lock"
	flock "$_docker_lock_fd"
	# short paths: containerd's sockets live under the exec root
	run=$(mktemp -d /tmp/dgd.XXXXXX)
	_docker_run=$run
	export DOCKER_HOST="unix://$run/docker.sock"
	dockerd --iptables=false --ip6tables=false --bridge=none \
		--data-root "$DGRID_TEST_CACHE/docker" --exec-root "$run/exec" \
		--pidfile "$run/dockerd.pid" -H "$DOCKER_HOST" \
		>"$T/dockerd.log" 2>&1 &
	_dockerd_pid=$!
	for i in $(seq 150); do
		_docker_answers && return 0
		kill -0 "$_dockerd_pid" 2>/dev/null || break
		sleep 0.2
	done
	return 1
}

# debian:12-slim from the cached rootfs tarball, made by debootstrap if absent.
_docker_base_image() {
	local tarball=$DGRID_TEST_CACHE/debian-12-minbase.tar rootfs mirror
	docker image inspect "$DOCKER_BASE_IMAGE" >/dev/null 2>&1 && return 0
	if [ ! -s "$tarball" ]; then
		command -v debootstrap >/dev/null || { note "no debootstrap"; return 1; }
		mirror=$(_apt_mirror)
		note "making $DOCKER_BASE_IMAGE: debootstrap minbase bookworm from $mirror (once per machine)"
		rootfs=$(mktemp -d "$DGRID_TEST_CACHE/rootfs.XXXXXX")
		if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$T/debootstrap.log" 2>&1; then
			tail -5 "$T/debootstrap.log" | sed 's/^/# /'
			rm -rf "$rootfs"
			return 1
		fi
		rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
		tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
		rm -rf "$rootfs"
	fi
	docker import "$tarball" "$DOCKER_BASE_IMAGE" >/dev/null &&
		docker tag "$DOCKER_BASE_IMAGE" debian:12
}

_docker_task_image() {
	local saved=$DGRID_TEST_CACHE/task-12.tar
	docker image inspect "$DOCKER_TASK_IMAGE" >/dev/null 2>&1 && return 0
	if [ -s "$saved" ] && docker load -i "$saved" >/dev/null 2>&1; then
		return 0
	fi
	note "making $DOCKER_TASK_IMAGE: python3 on $DOCKER_BASE_IMAGE (once per machine)"
	printf '%s\n' "FROM $DOCKER_BASE_IMAGE" \
		"RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 >/dev/null && rm -rf /var/lib/apt/lists/*" |
		docker build --network host -q -t "$DOCKER_TASK_IMAGE" - >"$T/task-image.log" 2>&1 || {
		tail -5 "$T/task-image.log" | sed 's/^/# /'
		return 1
	}
	docker save -o "$saved.tmp" "$DOCKER_TASK_IMAGE" && mv "$saved.tmp" "$saved"
}

docker_need() {
	local what=${1:-task} rc
	_docker_start
	rc=$?
	if [ "$rc" -eq 2 ]; then
		skip "DOCKER SUITE NOT RUN: no Docker engine answers and dockerd is not installed (scripts/install-deps installs docker.io)"
		finish
		exit 0
	fi
	if [ "$rc" -ne 0 ]; then
		fail "a private dockerd did not start (see below)"
		tail -15 "$T/dockerd.log" 2>/dev/null | sed 's/^/# /'
		finish
		exit 1
	fi
	if [ "$what" != none ] && ! _docker_base_image; then
		fail "cannot make $DOCKER_BASE_IMAGE offline"
		finish
		exit 1
	fi
	if [ "$what" = task ] && ! _docker_task_image; then
		fail "cannot make $DOCKER_TASK_IMAGE offline"
		finish
		exit 1
	fi
	export DGRID_DOCKER_IMAGE=$DOCKER_TASK_IMAGE
}

docker_left() { docker ps -aq --filter "name=^$1" 2>/dev/null; }
