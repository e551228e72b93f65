#!/usr/bin/env bash
# t0711: the chaos run of t0710 on a protocol 2 grid: claims are leases, no
# worker pushes a heartbeat, and the same invariants must hold. `make chaos`
# runs the long version of both.
: "${CHAOS_TASKS:=40}" "${CHAOS_SECONDS:=50}"
export CHAOS_TASKS CHAOS_SECONDS
CHAOS_PROTOCOL=2 exec bash "$(dirname "$0")/t0710-chaos.sh"
