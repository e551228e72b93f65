#!/usr/bin/env python3
"""check_repo.py - the end-of-run invariants of a dgrid grid, judged from the
state repository alone (plus the execution log the tasks wrote outside it).

Used by the chaos test (t0710) and the id tests (t0701, t0702). It prints one
line per invariant, which the calling shell turns into a TAP line:

    PASS <description>
    FAIL <description: which task, which file, which counts>
    NOTE <figure worth printing>

Results are identified by the JSON fields of every *.json file under
tasks/completed and tasks/failed (recursively), never by their file names:
the naming scheme is being changed and may move results into subdirectories.

Execution log: one line per task start, "start TASK_ID PID", appended by the
task's own script (the process executor runs it on the host).

Usage: check_repo.py --repo BARE.git --submitted IDS_FILE --exec-log FILE
                     [--nodes ID,ID...] [--branch main] [--max-attempts 3]
                     [--expect-status success,abandoned] [--exact-once]
"""
import argparse
import collections
import json
import subprocess
import sys

RESULT_DIRS = ("tasks/completed", "tasks/failed")
# How many offenders a FAIL line names before it says "and N more".
SHOW = 8


def git(repo, *args, data=None):
    return subprocess.run(["git", "-C", repo, *args], input=data, check=True,
                          stdout=subprocess.PIPE).stdout


def tree_files(repo, branch, path):
    """Regular files (not dot files) under PATH in BRANCH, recursively: [(path, blob)]."""
    try:
        out = git(repo, "ls-tree", "-r", "-z", branch, "--", path + "/")
    except subprocess.CalledProcessError:
        return []
    files = []
    for rec in out.split(b"\0"):
        if not rec:
            continue
        meta, name = rec.split(b"\t", 1)
        name = name.decode()
        if name.rsplit("/", 1)[-1].startswith("."):
            continue
        files.append((name, meta.split()[2].decode()))
    return files


def blobs(repo, shas):
    """Contents of the blobs, in order, through one cat-file --batch."""
    if not shas:
        return []
    out = git(repo, "cat-file", "--batch", data="".join(s + "\n" for s in shas).encode())
    res, pos = [], 0
    for _ in shas:
        nl = out.index(b"\n", pos)
        size = int(out[pos:nl].split()[2])
        res.append(out[nl + 1:nl + 1 + size])
        pos = nl + 1 + size + 1
    return res


def listing(items):
    items = list(items)
    text = "; ".join(items[:SHOW])
    if len(items) > SHOW:
        text += "; and %d more" % (len(items) - SHOW)
    return text


class Report:
    def __init__(self):
        self.failed = 0

    def check(self, good, desc, why=""):
        if good:
            print("PASS " + desc)
        else:
            self.failed += 1
            print("FAIL " + desc + (": " + why if why else ""))

    @staticmethod
    def note(text):
        print("NOTE " + text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--branch", default="main")
    ap.add_argument("--submitted", required=True)
    ap.add_argument("--exec-log", required=True)
    ap.add_argument("--nodes", default="")
    ap.add_argument("--max-attempts", type=int, default=3)
    ap.add_argument("--expect-status", default="success,abandoned")
    ap.add_argument("--exact-once", action="store_true",
                    help="no faults were injected: every task ran once, attempt 1")
    a = ap.parse_args()
    rep = Report()

    submitted = [l.strip() for l in open(a.submitted) if l.strip()]
    subset = set(submitted)
    execs = collections.Counter()
    with open(a.exec_log) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "start":
                execs[parts[1]] += 1

    # -- queue and in_progress are empty
    for d in ("tasks/queue", "tasks/in_progress"):
        left = tree_files(a.repo, a.branch, d)
        desc = "%s is empty at the end" % d
        why = ""
        if left:
            docs = blobs(a.repo, [b for _, b in left])
            items = []
            for (p, _), raw in zip(left, docs):
                try:
                    doc = json.loads(raw)
                    items.append("%s (node_id %s, attempt %s)" % (p, doc.get("node_id"), doc.get("attempt")))
                except ValueError:
                    items.append(p + " (not JSON)")
            why = "%d file(s) left: %s" % (len(left), listing(items))
        rep.check(not left, desc, why)

    # -- parse every result file
    files = []
    for d in RESULT_DIRS:
        files += tree_files(a.repo, a.branch, d)
    docs = blobs(a.repo, [b for _, b in files])
    by_task = collections.defaultdict(list)
    bad = []
    for (path, _), raw in zip(files, docs):
        try:
            doc = json.loads(raw)
            tid = doc["task_id"]
            assert isinstance(tid, str)
        except (ValueError, KeyError, AssertionError, TypeError):
            bad.append(path)
            continue
        doc["_path"] = path
        by_task[tid].append(doc)
    rep.check(not bad, "every result file is JSON with a task_id",
              "%d bad: %s" % (len(bad), listing(bad)))

    def desc_of(d):
        return "%s (node_id %s, status %s, attempt %s)" % (
            d["_path"], d.get("node_id"), d.get("status"), d.get("attempt"))

    # -- nothing lost, nothing doubled, nothing invented
    lost = [t for t in submitted if t not in by_task]
    rep.check(not lost, "every submitted task has a terminal result (nothing lost)",
              "%d of %d tasks have no result in tasks/completed or tasks/failed: %s"
              % (len(lost), len(submitted), listing(lost)))
    dup = {t: v for t, v in by_task.items() if len(v) > 1}
    rep.check(not dup, "no task has more than one terminal result",
              "%d task(s): %s" % (len(dup), listing(
                  "%s has %d results: %s" % (t, len(v), ", ".join(desc_of(d) for d in v))
                  for t, v in sorted(dup.items()))))
    extra = sorted(t for t in by_task if t not in subset)
    rep.check(not extra, "no result for a task id that was never submitted",
              "%d: %s" % (len(extra), listing(desc_of(by_task[t][0]) for t in extra)))

    # -- each result names the task it is a result of (the script echoes it)
    wrong = []
    for t, v in by_task.items():
        for d in v:
            if d.get("status") == "success" and ("out %s\n" % t) not in (d.get("stdout") or ""):
                wrong.append("%s: stdout %r" % (desc_of(d), (d.get("stdout") or "")[:60]))
    rep.check(not wrong, "every success result carries its own task's output",
              "%d: %s" % (len(wrong), listing(wrong)))

    # -- node ids in results are the workers that ran
    if a.nodes:
        nodes = set(a.nodes.split(","))
        alien = [desc_of(d) for v in by_task.values() for d in v
                 if d.get("status") != "rejected" and d.get("node_id") not in nodes]
        rep.check(not alien, "every result's node_id is one of the workers (%d nodes)" % len(nodes),
                  "%d: %s" % (len(alien), listing(alien)))

    # -- statuses
    allowed = set(a.expect_status.split(","))
    counts = collections.Counter(d.get("status") for v in by_task.values() for d in v)
    odd = [desc_of(d) for v in by_task.values() for d in v if d.get("status") not in allowed]
    rep.check(not odd, "every result's status is one of %s" % ",".join(sorted(allowed)),
              "%d: %s" % (len(odd), listing(odd)))

    # -- executions never exceed the attempts recorded; everything ran
    over, never, badatt = [], [], []
    for t in submitted:
        for d in by_task.get(t, []):
            att = d.get("attempt")
            if not isinstance(att, int) or att < 1:
                badatt.append(desc_of(d))
                continue
            if execs[t] > att:
                over.append("%s ran %d times, result %s" % (t, execs[t], desc_of(d)))
            if att > a.max_attempts:
                badatt.append(desc_of(d) + " above max_attempts %d" % a.max_attempts)
        statuses = {d.get("status") for d in by_task.get(t, [])}
        if t in by_task and execs[t] == 0 and not statuses & {"rejected", "abandoned"}:
            never.append("%s never ran but has %s" % (t, ", ".join(desc_of(d) for d in by_task[t])))
    rep.check(not badatt, "every result records an attempt in 1..max_attempts",
              "%d: %s" % (len(badatt), listing(badatt)))
    rep.check(not over, "executions of a task never exceed the attempt in its result",
              "%d task(s): %s" % (len(over), listing(over)))
    rep.check(not never, "every task with a success/failed result executed at least once",
              "%d: %s" % (len(never), listing(never)))
    if a.exact_once:
        once = [("%s ran %d times" % (t, execs[t])) for t in submitted if execs[t] != 1]
        rep.check(not once, "without faults every task ran exactly once",
                  "%d: %s" % (len(once), listing(once)))
        retried = [desc_of(d) for v in by_task.values() for d in v if d.get("attempt") != 1]
        rep.check(not retried, "without faults every result is attempt 1 (no live claim was reaped)",
                  "%d: %s" % (len(retried), listing(retried)))

    # -- history: a result file is written once and never modified or deleted
    out = git(a.repo, "log", "--all", "--raw", "--no-renames", "--no-abbrev", "--format=commit %H %s",
              "--", *RESULT_DIRS).decode(errors="replace")
    commit, added, rewritten = "", 0, []
    for line in out.splitlines():
        if line.startswith("commit "):
            commit = line[7:]
        elif line.startswith(":"):
            meta, path = line.split("\t", 1)
            kind = meta.split()[-1]
            if kind == "A":
                added += 1
            else:
                rewritten.append("%s %s in commit %s" % (
                    {"M": "modified", "D": "deleted"}.get(kind, kind), path, commit[:60]))
    rep.check(not rewritten, "no result file was ever modified or deleted (history of all refs)",
              "%d: %s" % (len(rewritten), listing(rewritten)))

    rep.note("tasks submitted %d, with a result %d, results %d (%s), executions %d, "
             "result files ever added %d, rewritten %d" % (
                 len(submitted), len(by_task), sum(counts.values()),
                 " ".join("%s=%d" % kv for kv in sorted(counts.items())),
                 sum(execs[t] for t in submitted), added, len(rewritten)))
    multi = collections.Counter(min(execs[t], 4) for t in submitted)
    rep.note("executions per task: " + " ".join(
        "%s:%d" % ("4+" if k == 4 else k, n) for k, n in sorted(multi.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
