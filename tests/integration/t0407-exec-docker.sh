#!/usr/bin/env bash
# The docker executor, when a Docker engine answers here; an honest skip
# otherwise (the exact command line is checked by tests/unit/test_exec_docker.c).
. "$(dirname "$0")/lib.sh"
EXECUTOR=docker
. "$(dirname "$0")/sandbox.sh"

# the exact line: ok N - docker suite # SKIP <reason>
skip_suite() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - docker suite # SKIP $*"; }

if ! timeout 5 docker info >/dev/null 2>&1; then
	skip_suite "no Docker engine"
	finish
	exit 0
fi
image=$("$DGRID" doctor | sed -n 's/^  docker image: //p')
if ! docker image inspect "$image" >/dev/null 2>&1; then
	skip_suite "image $image not present (runs use --pull never)"
	finish
	exit 0
fi

dx id 'id -u; cat /proc/self/status | grep -E "^(CapEff|NoNewPrivs)" | tr -s "\t" " "'
check_eq "uid 1000, no capabilities, no_new_privs" "1000
CapEff: 0000000000000000
NoNewPrivs: 1" "$(out id)"

dx net 'wget -q -T 3 -O- http://1.1.1.1/ >/dev/null 2>&1; echo "rc=$?"'
check "no network" grep -qv '^rc=0' <(out net)

dx ro 'echo x > /etc/x 2>/dev/null; echo "rc=$?"; echo y > /tmp/y && cat /tmp/y'
check_eq "read-only root, writable /tmp" "rc=1
y" "$(out ro)"

start=$(date +%s%N)
dx timeout --timeout 2 'sleep 60'
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check_eq "the timeout fires" "true" "$(jf timeout timed_out)"
check "... and the container is gone (${ms} ms)" \
	test -z "$(docker ps -aq --filter name=^dgrid- 2>/dev/null)"

dx yes 'yes'
check_eq "output is capped" "10240 true" "$(out yes | wc -c) $(jf yes output_limit)"
finish
