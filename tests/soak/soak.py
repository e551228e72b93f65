#!/usr/bin/env python3
"""soak.py - measurements for the soak test (t0700).

  soak.py sample --out FILE --until EPOCH --interval S NAME=PID,CACHE_DIR,LOG ...
      every S seconds, for each worker: open descriptors, VmRSS (kB), pack
      files under its cache directory, and the ms of every "event=pushed"
      line its debug log gained since the previous sample (the per-step time).
  soak.py status --out FILE --until EPOCH --interval S -- COMMAND...
      runs COMMAND (dgrid status) again and again: its wall time (ms) and
      peak resident memory (kB, from wait4's rusage) per run.
  soak.py analyze FILE START END
      compares the first and the last minute (or third, for short runs) and
      prints PASS/FAIL/SKIP/NOTE lines (see tests/chaos/lib.sh, tap_from_checker).

Samples are lines "EPOCH NAME METRIC VALUE".
"""
import os
import re
import statistics
import subprocess
import sys
import time

PUSHED = re.compile(r"event=pushed .*\bms=(\d+)")


def count_packs(path):
    n = 0
    for _, _, files in os.walk(path):
        n += sum(1 for f in files if f.endswith(".pack"))
    return n


def memory_kb(pid):
    """VmRSS, RssAnon and RssFile of a process, in KiB."""
    got = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "RssAnon", "RssFile"):
                got[key] = int(line.split()[1])
    return got.get("VmRSS", 0), got.get("RssAnon", 0), got.get("RssFile", 0)


def sample(args):
    out, until, interval, specs = args["out"], args["until"], args["interval"], args["rest"]
    watched = []
    for spec in specs:
        name, rest = spec.split("=", 1)
        pid, cache, log = rest.split(",", 2)
        watched.append({"name": name, "pid": int(pid), "cache": cache, "log": log, "pos": 0})
    with open(out, "a", buffering=1) as f:
        while time.time() < until:
            now = int(time.time())
            for w in watched:
                try:
                    fds = len(os.listdir("/proc/%d/fd" % w["pid"]))
                    rss, anon, mapped = memory_kb(w["pid"])
                except OSError:
                    f.write("%d %s gone 1\n" % (now, w["name"]))
                    continue
                f.write("%d %s fds %d\n" % (now, w["name"], fds))
                f.write("%d %s rss_kb %d\n" % (now, w["name"], rss))
                f.write("%d %s anon_kb %d\n" % (now, w["name"], anon))
                f.write("%d %s file_kb %d\n" % (now, w["name"], mapped))
                f.write("%d %s packs %d\n" % (now, w["name"], count_packs(w["cache"])))
                try:
                    with open(w["log"], errors="replace") as lg:
                        lg.seek(w["pos"])
                        data = lg.read()
                        # only whole lines: the rest is read next time
                        cut = data.rfind("\n") + 1
                        w["pos"] += len(data[:cut].encode(errors="replace"))
                    for m in PUSHED.finditer(data[:cut]):
                        f.write("%d %s step_ms %s\n" % (now, w["name"], m.group(1)))
                except OSError:
                    pass
            time.sleep(interval)


def status(args):
    out, until, interval, cmd = args["out"], args["until"], args["interval"], args["rest"]
    with open(out, "a", buffering=1) as f, open(os.devnull, "w") as null:
        while time.time() < until:
            t0 = time.monotonic()
            p = subprocess.Popen(cmd, stdout=null, stderr=null)
            _, st, ru = os.wait4(p.pid, 0)
            ms = (time.monotonic() - t0) * 1000
            now = int(time.time())
            code = os.waitstatus_to_exitcode(st)
            f.write("%d status ms %d\n" % (now, ms))
            f.write("%d status peak_kb %d\n" % (now, ru.ru_maxrss))
            f.write("%d status exit %d\n" % (now, code))
            time.sleep(interval)


# Growth beyond noise, metric by metric (first window -> last window medians):
#  - fds: a worker's descriptors are its log, pipes of running tasks (2 per
#    slot), the git connection and the HTTP socket, and one per pack file of
#    its cache that libgit2 has read. The cache is repacked into one pack
#    once it holds more than 16 (store_compact.c), so that part saw-tooths
#    between 1 and 17 whatever the run's length: 5 of noise plus those 16 is
#    the bound; a leak per task or per fetch (hundreds of each) is not.
#  - packs: every fetch that brings objects adds a pack to the cache unless
#    someone repacks; a bounded cache must stay under a constant whatever the
#    run's length (50 packs), so this is judged on the maximum, not on growth.
#  - anon_kb (RssAnon: the heap and other private memory, where a leak
#    shows): allocator noise and libgit2's caches warm up in the first
#    minute; 30 % plus 2 MB covers that, a leak per task of even 1 KB over
#    ten minutes of tasks does not fit (and the short run only catches
#    bigger leaks).
#  - peak_kb: the peak resident set of each `dgrid status` run, same rule.
#  - rss_kb (VmRSS) and file_kb (RssFile) are reported, not judged: the
#    file-backed part is the binary, its libraries and the pages of the
#    cache's pack files that libgit2 has mapped, which follow the cache's
#    size (the grid's whole history in protocol 1), not the worker's heap.
RULES = {
    "fds": lambda a, b: b <= a + 5 + 16,
    "anon_kb": lambda a, b: b <= 1.3 * a + 2048,
    "peak_kb": lambda a, b: b <= 1.3 * a + 2048,
    "step_ms": lambda a, b: b <= 2 * a + 50,
    "ms": lambda a, b: b <= 2 * a + 100,
}
RULE_TEXT = {
    "fds": "last <= first + 5 + 16 packs",
    "anon_kb": "last <= 1.3 x first + 2 MB",
    "peak_kb": "last <= 1.3 x first + 2 MB",
    "step_ms": "last <= 2 x first + 50 ms",
    "ms": "last <= 2 x first + 100 ms",
}
PACKS_MAX = 50
# judged only on builds without AddressSanitizer (SOAK_SANITIZED=1)
MEMORY = ("anon_kb", "peak_kb")


def analyze(path, start, end):
    span = end - start
    win = min(60, span / 3)
    data = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 4:
                continue
            t, name, metric, value = int(parts[0]), parts[1], parts[2], float(parts[3])
            data.setdefault((name, metric), []).append((t, value))
    print("NOTE soak: %ds, windows: first %ds and last %ds" % (span, win, win))
    for (name, metric), series in sorted(data.items()):
        if metric == "gone":
            print("FAIL soak: %s stayed alive for the whole run (its process was gone at %ds)"
                  % (name, series[0][0] - start))
            continue
        if metric == "exit":
            bad = [v for _, v in series if v != 0]
            print("%s soak: every dgrid status run exits 0 (%d of %d failed)" % (
                "FAIL" if bad else "PASS", len(bad), len(series)))
            continue
        first = [v for t, v in series if t < start + win]
        last = [v for t, v in series if t >= end - win]
        if not first or not last:
            # a loaded machine may push nothing in a window: no verdict
            print("SKIP soak: %s %s has samples in both windows (first %d, last %d)"
                  % (name, metric, len(first), len(last)))
            continue
        a, b = statistics.median(first), statistics.median(last)
        print("NOTE soak: %s %s first-minute median %g, last-minute median %g (max %g, %d samples)"
              % (name, metric, a, b, max(v for _, v in series), len(series)))
        if metric == "packs":
            top = max(last)
            print("%s soak: %s pack files in its cache stay bounded (last-minute max %d <= %d; first-minute median %g)"
                  % ("PASS" if top <= PACKS_MAX else "FAIL", name, top, PACKS_MAX, a))
        elif metric in MEMORY and os.environ.get("SOAK_SANITIZED") == "1":
            # AddressSanitizer keeps freed blocks in its quarantine (up to
            # 256 MB) and adds shadow pages, so private memory grows in a
            # sanitized run whatever the worker does; LeakSanitizer judges
            # leaks there instead
            print("SKIP soak: %s %s stays flat (a sanitized build: first %g, last %g)" % (name, metric, a, b))
        elif metric in RULES:
            good = RULES[metric](a, b)
            print("%s soak: %s %s stays flat (%s: first %g, last %g)"
                  % ("PASS" if good else "FAIL", name, metric, RULE_TEXT[metric], a, b))
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "analyze":
        return analyze(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    args = {"rest": []}
    argv = sys.argv[2:]
    while argv:
        a = argv.pop(0)
        if a == "--":
            args["rest"] += argv
            break
        if a in ("--out", "--until", "--interval"):
            v = argv.pop(0)
            args[a[2:]] = v if a == "--out" else float(v)
        else:
            args["rest"].append(a)
    return (sample if cmd == "sample" else status)(args) or 0


if __name__ == "__main__":
    sys.exit(main())
