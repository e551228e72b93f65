#!/usr/bin/env python3
"""archived_grid.py - a git fast-import stream for a protocol 3 grid that is
old: MAIN results in their shards on main and ARCHIVED results in
refs/dgrid/archive (batches of 500, with summary.json), as years of
archiving leave it. The archived files share one blob (readers must not read
them; only their names and the summary count). The summary ref that readers
fetch is left to `dgrid archive`, which publishes it when it is missing.

usage: archived_grid.py MAIN ARCHIVED | git fast-import --done
"""
import hashlib, json, sys
N_MAIN, N_ARCH = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
def data(b):
    out.write(b"data %d\n" % len(b)); out.write(b); out.write(b"\n")
# main
out.write(b"commit refs/heads/main\nmark :1\ncommitter g <g@l> 1764000000 +0000\n"); data(b"main")
out.write(b"M 100644 inline dgrid.json\n"); data(b'{"protocol": 3, "keep_results": 10000}\n')
for i in range(N_MAIN):
    tid = "m%07d" % i
    h = hashlib.sha256(tid.encode()).hexdigest()
    doc = json.dumps({"task_id": tid, "node_id": "n%d" % (i % 50), "status": "success" if i % 20 else "failed",
                      "exit_code": 0, "stdout": "x%d" % i, "timestamp": "2026-11-30T10:%02d:00Z" % (i % 60)}).encode()
    out.write(b"M 100644 inline tasks/completed/%s/%s/%s/%s.n%d.1.json\n" % (h[0].encode(), h[1].encode(), h[2].encode(), tid.encode(), i % 50))
    data(doc)
# archive: one shared blob, distinct names, batches of 500
out.write(b"blob\nmark :2\n"); data(b'{"task_id": "a", "status": "success"}\n')
out.write(b"commit refs/dgrid/archive\nmark :3\ncommitter g <g@l> 1764000000 +0000\n"); data(b"archive")
summary = {"results": N_ARCH, "status": {"success": N_ARCH - N_ARCH // 20, "failed": N_ARCH // 20},
           "nodes": {"n%d" % k: [N_ARCH // 50, 0] for k in range(50)}, "hours": {}, "batches": (N_ARCH + 499) // 500}
out.write(b"M 100644 inline summary.json\n"); data(json.dumps(summary).encode())
for i in range(N_ARCH):
    k = i // 500 + 1
    out.write(b"M 100644 :2 batches/%03d/%03d/completed/a%07d.n%d.1.json\n" % (k // 1000, k % 1000, i, i % 50))
out.write(b"done\n")
