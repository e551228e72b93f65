#!/usr/bin/env python3
"""unfit_queue.py - a git fast-import stream for a protocol 3 grid whose
queue holds N tasks that only a node labelled "gpu" may run, in their
shards (tasks/queue/a/b/ID.json), as intake leaves a bulk submission.

usage: unfit_queue.py N | git fast-import --done
"""
import hashlib, json, sys
N = int(sys.argv[1])
out = sys.stdout.buffer
def data(b):
    out.write(b"data %d\n" % len(b)); out.write(b); out.write(b"\n")
out.write(b"commit refs/heads/main\nmark :1\ncommitter g <g@l> 1764000000 +0000\n"); data(b"grid")
out.write(b"M 100644 inline dgrid.json\n"); data(b'{"protocol": 3}\n')
for i in range(N):
    tid = "gpu%07d" % i
    h = hashlib.sha256(tid.encode()).hexdigest()
    doc = json.dumps({"task_id": tid, "script": "./train.sh", "requires": {"labels": ["gpu"]}}).encode()
    out.write(b"M 100644 inline tasks/queue/%s/%s/%s.json\n" % (h[0].encode(), h[1].encode(), tid.encode()))
    data(doc)
out.write(b"done\n")
