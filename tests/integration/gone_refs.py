#!/usr/bin/env python3
"""gone_refs.py COUNT [STOPPED]: a git fast-import stream of COUNT node refs
(refs/dgrid/nodes/goneNNNNN) of nodes gone a day: heartbeats committed a
day ago, the first STOPPED of them (default all) saying "stopped", the
others "idle" (nodes that died). Used by t0374 and bench-node-refs.sh:
    python3 gone_refs.py 40 20 | git -C BARE fast-import --quiet
"""
import sys
import time

count = int(sys.argv[1])
stopped = int(sys.argv[2]) if len(sys.argv) > 2 else count
day_ago = int(time.time()) - 86400
for i in range(count):
    state = "stopped" if i < stopped else "idle"
    data = '{"node_id": "gone%05d", "state": "%s", "time": "2026-01-01T00:00:00Z"}\n' % (i, state)
    print("commit refs/dgrid/nodes/gone%05d" % i)
    print("committer gone <gone@localhost> %d +0000" % day_ago)
    print("data 9\nheartbeat")
    print("M 100644 inline heartbeat.json")
    print("data %d" % len(data.encode()))
    print(data, end="")
    print()
