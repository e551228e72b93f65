#!/usr/bin/env bash
# dgrid doctor names the cgroup mode the native sandbox uses, and the
# systemd unit delegates the worker's cgroup (needed on cgroup v2). The v2
# delegation logic itself is tested on a mock tree in tests/unit/test_cgroup.c.
. "$(dirname "$0")/lib.sh"
S=${DGRID_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}

"$DGRID" doctor >"$T/doctor.out" 2>&1
check_eq "doctor exits 0" 0 $?
mode=$(sed -n 's/^  mode: //p' "$T/doctor.out")
note "cgroup mode: $mode"
check "doctor prints exactly one cgroup mode line" test "$(grep -c '^  mode: ' "$T/doctor.out")" -eq 1
if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null &&
   grep -qw pids /sys/fs/cgroup/cgroup.controllers; then
	check "on a unified hierarchy the mode is v2" grep -qE '^v2' <<<"$mode"
elif [ -w /sys/fs/cgroup/memory ] && [ -w /sys/fs/cgroup/pids ]; then
	check "with writable v1 memory and pids the mode is v1" grep -q '^v1 ' <<<"$mode"
else
	check "without a usable hierarchy the mode says none and why" grep -q '^none: ' <<<"$mode"
fi
if grep -q '^  native   works' "$T/doctor.out"; then
	check "when native works, the mode is not 'none'" test "${mode#none}" = "$mode"
fi

unit=$S/packaging/dgrid-worker.service
check "the unit delegates its cgroup (Delegate=yes)" grep -q '^Delegate=yes$' "$unit"
finish
