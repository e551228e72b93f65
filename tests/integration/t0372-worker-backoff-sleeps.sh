#!/usr/bin/env bash
# t0372: a worker waiting out a backoff sleeps; it does not spin. While the
# remote was down, a worker with a free slot or a finished result to push
# woke up at once, again and again (its next step was due, but the backoff
# forbade it), burning a whole core for as long as the outage lasted.
# Measured: CPU seconds the worker uses in 8 s of an outage, idle and with
# a result waiting. A sleeping worker uses a few hundredths of a second;
# the spinning one used as much CPU as the machine gave it.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/srv"
make_bare "$T/srv/grid.git"
PORT=$(free_port)
git_daemon_at "$PORT" "$T/srv"
clone_work "$T/srv/grid.git" "$T/work"
mkdir -p "$T/work/tasks/queue"
printf '{"task_id": "t1", "script": "sleep 3; echo done", "timeout_seconds": 30}\n' >"$T/work/tasks/queue/t1.json"
commit_push "$T/work" "task t1"

DGRID_CACHE=$T/cache PULL_INTERVAL=1 "$DGRID" worker --repo "git://127.0.0.1:$PORT/grid.git" \
	--node-id w --executor process --http off >"$T/w.log" 2>&1 &
W=$!
track $W
check "the task started" wait_for 30 grep -q 'task=t1 event=started' "$T/w.log"
git_daemon_stop "$PORT"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_s=$(getconf CLK_TCK)
check "the task finished while the remote is down" wait_for 30 grep -q 'task=t1 event=finished' "$T/w.log"
check "the report failed: the result waits in the spool" wait_for 30 grep -q 'event=remote-error' "$T/w.log"
a=$(cpu_ticks $W); sleep 8; b=$(cpu_ticks $W)
used=$(( (b - a) * 100 / ticks_per_s ))
check "a result waiting, the remote down: the worker sleeps (${used}/100 CPU seconds in 8 s)" test "$used" -lt 100

git_daemon_at "$PORT" "$T/srv"
check "the remote is back: the result is pushed" wait_for 90 bash -c \
	"git -C '$T/srv/grid.git' ls-tree -r --name-only main tasks/completed | grep -q 't1\.w\.1\.json'"
git_daemon_stop "$PORT"
sleep 2
a=$(cpu_ticks $W); sleep 8; b=$(cpu_ticks $W)
used=$(( (b - a) * 100 / ticks_per_s ))
check "idle with a free slot, the remote down: the worker sleeps (${used}/100 CPU seconds in 8 s)" test "$used" -lt 100
kill -TERM $W
wait $W
check_eq "it stops on SIGTERM with status 0" 0 $?
finish
