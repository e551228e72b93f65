#!/usr/bin/env bash
# bench-queue-read-blocked.sh - bench-queue-read.sh on a busy grid's queue:
# 10,000 tasks waiting for one task no node here may run, while results of
# other tasks land every 2 s (BLOCKED=1 there; doc/tasks.md, "Cost";
# deps_stamp.h). Same environment as bench-queue-read.sh.
exec env BLOCKED="${BLOCKED:-1}" bash "$(dirname "$0")/bench-queue-read.sh" "$@"
