#!/usr/bin/env bash
# bench-budget-long.sh - bench-budget (read its header) with tasks longer
# than a cycle's share: 8 workers, 40 tasks of `sleep 20`, a budget of 60
# (bound 100 s). A worker's first claim is sized before a task has run on
# it (16 a slot); here that is 320 s of work, and before 0.16.0, which
# gives a batch's surplus back at the member's next turn, the first worker
# to arrive ran 16 in a row (0.15.3: 335.4 and 332.8 s; 0.16.0: 168.8 and
# 159.7 s; doc/scaling.md, "0.16.0"). RUNS, TASK_SLEEP, BUDGET and the
# rest are passed through.
export RUNS=${RUNS:-8:40} TASK_SLEEP=${TASK_SLEEP:-20}
exec bash "$(dirname "$0")/bench-budget.sh"
