#!/usr/bin/env bash
# The project's Dockerfile, built and run on a real engine (`make image`,
# offline: the base images come from docker.sh, apt inside the build uses
# this machine's mirror; the engine's layer cache makes a rebuild cost only
# the compile). From the image: dgrid doctor, dgrid status and a worker
# against a git daemon on this host.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/docker.sh"
docker_need base
PY=/usr/bin/python3

start=$(date +%s)
make -C "$DGRID_SRC" image IMAGE=dgrid:local >"$T/build.log" 2>&1
rc=$?
note "make image took $(( $(date +%s) - start )) s"
check_eq "make image builds the Dockerfile" 0 $rc
[ "$rc" -eq 0 ] || { tail -20 "$T/build.log" | sed 's/^/# /'; finish; exit 1; }
# earlier builds' layers, no longer tagged, would fill the cached data root
docker image prune -f >/dev/null 2>&1

docker run --rm --network none dgrid:local doctor >"$T/doctor.out" 2>&1
check_eq "dgrid doctor runs in the image" 0 $?
check "... and reports the executors" grep -q '^executors:' "$T/doctor.out"
note "in the image: $(grep -A3 '^executors:' "$T/doctor.out" | tail -3 | tr -s ' ' | tr '\n' ';')"
check_eq "the image runs as the unprivileged user dgrid" "10001" \
	"$(docker run --rm --network none --entrypoint id dgrid:local -u)"
ver=$(sed -n 's/^#define DG_VERSION "\(.*\)"/\1/p' "$DGRID_SRC/src/version.h")
check_eq "the image's labels name its version and commit" "$ver $(git -C "$DGRID_SRC" rev-parse HEAD 2>/dev/null || echo unknown)" \
	"$(docker inspect --format '{{ index .Config.Labels "org.opencontainers.image.version" }} {{ index .Config.Labels "org.opencontainers.image.revision" }}' dgrid:local)"

mkdir -p "$T/srv"
make_bare "$T/srv/grid.git"
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
"$DGRID" init "$URL" >/dev/null 2>&1
for f in "$DGRID_SRC"/examples/*.json; do
	"$DGRID" submit --repo "$URL" "$f" >/dev/null 2>&1
done
n=$(count_files "$T/srv/grid.git" tasks/queue)
note "$n example tasks queued"

# the engine here has no bridge: containers reach the host's git daemon on
# the host network
docker run --rm --network host dgrid:local status --repo "$URL" >"$T/status.out" 2>&1
check_eq "dgrid status from the image reads the grid" 0 $?
check "... and counts the queue" grep -qE "queue[^0-9]*$n" "$T/status.out"

# an unprivileged container offers no sandbox: the worker refuses to start
docker run --rm --network host -e NODE_ID=img-0 -e DGRID_REPO_URL="$URL" \
	dgrid:local --exit-when-idle --http off >"$T/nosandbox.out" 2>&1
check_eq "a worker in an unprivileged container refuses to run tasks unsandboxed" 1 $?
check "... saying so" grep -q 'no sandbox works on this host' "$T/nosandbox.out"

# privileged containers cannot start on this machine type ("unable to apply
# caps"), so the native sandbox inside the image is not run here; the
# worker's loop runs with the executor the Dockerfile documents for trusted
# tasks
docker run --rm --network host -e NODE_ID=img-1 -e DGRID_REPO_URL="$URL" \
	-e DGRID_EXECUTOR=process -e PULL_INTERVAL=1 \
	dgrid:local --exit-when-idle --http off >"$T/worker.out" 2>&1
check_eq "a worker from the image drains the queue and exits 0" 0 $?
check_eq "every example task has a result" "$n" \
	"$(( $(count_files "$T/srv/grid.git" tasks/completed) + $(count_files "$T/srv/grid.git" tasks/failed) ))"
check_eq "the queue is empty" 0 "$(count_files "$T/srv/grid.git" tasks/queue)"
check "hello ran in the image" bash -c \
	"git -C '$T/srv/grid.git' show main:tasks/completed/hello.img-1.1.json | grep -q 'Hello, D-GRID'"
check_eq "no container is left" "" "$(docker ps -aq --filter ancestor=dgrid:local)"
finish
