#!/usr/bin/env bash
# The docker executor's basics on a real engine (docker.sh starts a private
# dockerd when none answers; the exact command line is checked by
# tests/unit/test_exec_docker.c, the attacks by t0440-t0445).
. "$(dirname "$0")/lib.sh"
EXECUTOR=docker
. "$(dirname "$0")/sandbox.sh"

. "$(dirname "$0")/docker.sh"
docker_need task

dx id 'id -u; cat /proc/self/status | grep -E "^(CapEff|NoNewPrivs)" | tr -s "\t" " "'
check_eq "uid 1000, no capabilities, no_new_privs" "1000
CapEff: 0000000000000000
NoNewPrivs: 1" "$(out id)"

dx net 'cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "'
check_eq "no network but loopback" "lo" "$(out net)"

dx ro 'echo x > /etc/x 2>/dev/null; echo "rc=$?"; echo y > /tmp/y && cat /tmp/y'
check_eq "read-only root, writable /tmp" "rc=2
y" "$(out ro)"   # dash: a failed redirection is status 2

start=$(date +%s%N)
dx timeout --timeout 2 'sleep 60'
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check_eq "the timeout fires" "true" "$(jf timeout timed_out)"
check "... and the container is gone (${ms} ms)" test -z "$(docker_left dgrid-)"

dx yes 'yes'
check_eq "output is capped" "10240 true" "$(out yes | wc -c) $(jf yes output_limit)"
finish
