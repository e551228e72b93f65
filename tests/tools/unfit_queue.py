#!/usr/bin/env python3
"""unfit_queue.py - a git fast-import stream for a protocol 3 grid whose
queue holds N tasks that only a node labelled "gpu" may run, in their
shards (tasks/queue/a/b/ID.json), as intake leaves a bulk submission.
With "blocked", the N tasks (blkNNNNNNN) need no label but depend on
"gate", one more queued task that needs "gpu": any node could run them,
none may yet. With "blocked-each", N / 2 such tasks each depend on one of
N / 2 gpu tasks of their own (gateNNNNNNN): their dependencies' results
would land all over the results leaves.

usage: unfit_queue.py N [blocked|blocked-each] | git fast-import --done
"""
import hashlib, json, sys
N = int(sys.argv[1])
BLOCKED = sys.argv[2:] == ["blocked"]
EACH = sys.argv[2:] == ["blocked-each"]
out = sys.stdout.buffer
def data(b):
    out.write(b"data %d\n" % len(b)); out.write(b); out.write(b"\n")
out.write(b"commit refs/heads/main\nmark :1\ncommitter g <g@l> 1764000000 +0000\n"); data(b"grid")
out.write(b"M 100644 inline dgrid.json\n"); data(b'{"protocol": 3}\n')
def task(i):
    gpu = {"labels": ["gpu"]}
    if EACH and i % 2:
        return "gate%07d" % (i // 2), {"task_id": "gate%07d" % (i // 2), "script": "./train.sh", "requires": gpu}
    if EACH:
        return "blk%07d" % (i // 2), {"task_id": "blk%07d" % (i // 2), "script": "./eval.sh",
                                      "depends_on": ["gate%07d" % (i // 2)]}
    if BLOCKED and i == N:
        return "gate", {"task_id": "gate", "script": "./train.sh", "requires": {"labels": ["gpu"]}}
    if BLOCKED:
        return "blk%07d" % i, {"task_id": "blk%07d" % i, "script": "./eval.sh", "depends_on": ["gate"]}
    return "gpu%07d" % i, {"task_id": "gpu%07d" % i, "script": "./train.sh", "requires": {"labels": ["gpu"]}}
for i in range(N + (BLOCKED and N > 0)):
    tid, t = task(i)
    h = hashlib.sha256(tid.encode()).hexdigest()
    doc = json.dumps(t).encode()
    out.write(b"M 100644 inline tasks/queue/%s/%s/%s.json\n" % (h[0].encode(), h[1].encode(), tid.encode()))
    data(doc)
out.write(b"done\n")
