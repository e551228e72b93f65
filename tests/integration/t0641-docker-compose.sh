#!/usr/bin/env bash
# docker-compose.yml brought up for real: the init service makes the bare
# repository, the git daemon serves it, two workers drain the example tasks
# submitted from this host; `down -v` leaves no container, volume or network.
# This machine type refuses privileged containers, so the workers run the
# way the compose file documents for that case: unprivileged, with
# DGRID_EXECUTOR=process.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/docker.sh"
docker_need base

if ! command -v docker-compose >/dev/null; then
	fail "docker-compose is not installed (scripts/install-deps installs it)"
	finish
	exit 1
fi
make -C "$DGRID_SRC" image IMAGE=dgrid:local >"$T/build.log" 2>&1
check_eq "make image (cached layers)" 0 $?
docker image prune -f >/dev/null 2>&1

export COMPOSE_PROJECT_NAME="dgridt$$"
export DGRID_PRIVILEGED=false DGRID_WORKER_USER=10001:10001 DGRID_EXECUTOR=process
DGRID_GIT_PORT=$(free_port)
DGRID_HTTP_PORT_1=$(free_port)
DGRID_HTTP_PORT_2=$(free_port)
export DGRID_GIT_PORT DGRID_HTTP_PORT_1 DGRID_HTTP_PORT_2
compose() { docker-compose -f "$DGRID_SRC/docker-compose.yml" "$@"; }
trap 'compose down -v --remove-orphans >/dev/null 2>&1; _docker_down; _cleanup' EXIT

compose up -d --no-build >"$T/up.log" 2>&1
rc=$?
check_eq "docker-compose up starts the grid" 0 $rc
[ "$rc" -eq 0 ] || tail -20 "$T/up.log" | sed 's/^/# /'
URL="git://127.0.0.1:$DGRID_GIT_PORT/grid.git"
check "the git daemon serves the repository the init service made" \
	wait_for 60 git ls-remote --exit-code "$URL" main

n=0
for f in "$DGRID_SRC"/examples/*.json; do
	"$DGRID" submit --repo "$URL" "$f" >/dev/null 2>&1 && n=$((n + 1))
done
note "$n example tasks submitted"
results() {
	local c
	c=$("$DGRID" status --repo "$URL" --json 2>/dev/null | /usr/bin/python3 -c '
import json,sys; d=json.load(sys.stdin); print(d["completed"] + d["failed"])' 2>/dev/null)
	[ "${c:-0}" -ge "$n" ]
}
check "the two workers drain every example task" wait_for 120 results
"$DGRID" status --repo "$URL" >"$T/status.out" 2>&1
sed 's/^/# /' "$T/status.out" | head -20
check "both workers registered" bash -c "grep -q worker-1 '$T/status.out' && grep -q worker-2 '$T/status.out'"
check "a worker's status page answers on its published port" \
	curl -fsS -o /dev/null "http://127.0.0.1:$DGRID_HTTP_PORT_1/health"

compose down -v --remove-orphans >"$T/down.log" 2>&1
check_eq "docker-compose down -v" 0 $?
check_eq "no container of the project is left" "" \
	"$(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")"
check_eq "no volume or network of the project is left" "" \
	"$(docker volume ls -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"; docker network ls -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")"
finish
