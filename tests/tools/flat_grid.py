#!/usr/bin/env python3
"""flat_grid.py - a git fast-import stream for a grid in the flat layout of
protocols 1 and 2, as older dgrid versions and the original D-GRID left it.

usage: flat_grid.py RESULTS [--queue N] [--per-commit K] [--prefix P] [--runs FILE]

Writes to stdout a stream for `git fast-import` that builds refs/heads/main:
RESULTS results in tasks/completed/ (every 20th in tasks/failed/), half named
the current way (P000123.nodeK.1.json) and half the original way
(nodeK-P000123.json), with distinct contents, one commit per K results (500);
then, in a last commit, N queued tasks tasks/queue/qN.json whose script
appends its id to FILE (default /dev/null) so that a test can count runs.
"""
import argparse
import json
import sys
import time


def blob(out, data):
    out.write(b"blob\n")
    out.write(b"data %d\n" % len(data))
    out.write(data)
    out.write(b"\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results", type=int)
    ap.add_argument("--queue", type=int, default=0)
    ap.add_argument("--per-commit", type=int, default=500)
    ap.add_argument("--prefix", default="old")
    ap.add_argument("--runs", default="/dev/null")
    args = ap.parse_args()
    out = sys.stdout.buffer
    when = 1764000000
    mark = 0
    parent = None

    def commit(files, message):
        nonlocal mark, parent
        mark += 1
        out.write(b"commit refs/heads/main\n")
        out.write(b"mark :%d\n" % mark)
        out.write(b"committer grid <grid@localhost> %d +0000\n" % (when + mark))
        msg = message.encode()
        out.write(b"data %d\n%s\n" % (len(msg), msg))
        if parent:
            out.write(b"from :%d\n" % parent)
        for path, data in files:
            out.write(b"M 100644 inline %s\n" % path.encode())
            out.write(b"data %d\n" % len(data))
            out.write(data)
            out.write(b"\n")
        parent = mark

    files = [("nodes/node%d.json" % k,
              json.dumps({"node_id": "node%d" % k, "cpus": 2}).encode()) for k in range(10)]
    for i in range(args.results):
        tid = "%s%06d" % (args.prefix, i)
        node = "node%d" % (i % 10)
        ok = i % 20 != 0
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when + i * 7))
        doc = {"task_id": tid, "node_id": node, "status": "success" if ok else "failed",
               "exit_code": 0 if ok else 1, "stdout": "result %d of %s\n" % (i * 7919 % 100003, tid),
               "stderr": "", "timestamp": ts, "attempt": 1}
        d = "tasks/completed" if ok else "tasks/failed"
        name = "%s.%s.1.json" % (tid, node) if i % 2 else "%s-%s.json" % (node, tid)
        files.append(("%s/%s" % (d, name), json.dumps(doc, indent=2).encode() + b"\n"))
        if len(files) >= args.per_commit:
            commit(files, "results up to %s" % tid)
            files = []
    for i in range(args.queue):
        tid = "q%d" % i
        task = {"task_id": tid, "script": "echo %s >>%s" % (tid, args.runs), "timeout_seconds": 60}
        files.append(("tasks/queue/%s.json" % tid, json.dumps(task).encode() + b"\n"))
    if files or not parent:
        commit(files, "queue")
    out.write(b"done\n")


if __name__ == "__main__":
    main()
