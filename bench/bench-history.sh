#!/usr/bin/env bash
# bench-history.sh - what one task costs on a grid that is already old
# (issue 10: "cost per task independent of the grid's age").
#
# Everything runs in a fresh temporary directory against one
# `git daemon --enable=receive-pack` on 127.0.0.1 (free port), killed by the
# exit trap with every other process this script started.
#
# For each N in HISTORY_SIZES:
#  1. Build a bare repository grid-N.git whose main holds N results in the
#     original flat layout: tasks/completed/old-NNNNNN.wK.1.json (~95%) and
#     tasks/failed/... (~5%, failed or timeout), from 10 nodes w1..w10
#     (nodes/wK.json, registered by dgrid 0.2.0, protocol 1), each result
#     with its own stdout/stderr and timestamps spread over days, one commit
#     per 100 results (so history grows with N), then one commit queueing
#     QUEUE tasks tasks/queue/bench-K.json ({"script":"true"}). No dgrid.json:
#     a protocol 1 grid as older versions wrote it. The pack is written
#     directly (python, see write_grid_pack), indexed by git index-pack and
#     given a bitmap as a host keeps it (host_repack).
#  2. If this dgrid migrates flat results (supports_protocol3), run
#     `dgrid upgrade --repo URL` and report its wall time and how much the
#     bare repository grew (a failed upgrade is reported; the run goes on);
#     then, if this dgrid archives, `dgrid archive --repo URL` (main keeps
#     the policy's keep_results, 10,000: the rest of the one-time
#     migration, so the worker runs on a grid as it stays); then host_repack.
#  3. A new volunteer's first fetch: `dgrid status` with an empty
#     DGRID_CACHE (seconds, du -sk of the cache). Then, if this dgrid
#     compacts, `dgrid compact --repo URL` and host_repack: the last step of
#     the one-time migration (its time is added to the migration's), so that
#     the worker's first fetch is the migrated state, not its history.
#     Then, unless CLAIM_BATCH_MAX is empty, one plain-git commit sets
#     dgrid.json's claim_batch_max to it (default 1): since 0.6.0 a worker
#     on a grid with other registrations (here w1..w10) claims in batches,
#     and the issue's targets are in bytes per push with one task a push,
#     as the original measured them. CLAIM_BATCH_MAX= (empty) keeps dgrid's
#     batching: bytes per push then grow with the batch, and with the
#     results main holds (400 at N=100, keep_results 10,000 at 100,000).
#  4. One worker, empty DGRID_CACHE: `dgrid worker --node-id bench
#     --exit-when-idle --http off --slots 1 --executor native`, PULL_INTERVAL=1,
#     LOG_LEVEL=debug, until it exits (WORKER_TIMEOUT). Then every bench-K
#     must have a result under tasks/completed or tasks/failed (searched
#     recursively: a newer layout shards them); otherwise a loud FAIL.
#  5. If `dgrid compact --help` works: `dgrid archive --repo URL` (main keeps
#     the policy's keep_results, 10,000), `dgrid compact --repo URL`,
#     host_repack, and the first fetch again ("after compaction").
#
# Counting:
#  bytes/push   `bytes=B` of the worker's `event=pushed` debug lines (what
#               libgit2 reported sending), median and max over all pushes;
#               the first push also carries the node's registration.
#               Heartbeats (refs/dgrid/nodes/bench, protocol 1) are not
#               transactions and are not counted.
#  pushes/task  event=pushed lines / QUEUE.
#  growth/task  `git count-objects -v` size + size-pack (KiB) of the bare
#               repository after the worker minus before it (after any
#               migration), / QUEUE. "gc": the same on copies of the before
#               and after repositories each packed by `git gc --prune=now`
#               (pushes arrive as loose objects; gc shows what stays).
#  tasks/s      QUEUE / wall seconds of the worker run, its first fetch of
#               the grid included ("startup" in the detail lines is the time
#               until its first push, "steady" the rate after it).
#
# Then one table, the ratios against the smallest N of the run, and the
# issue's targets with PASS/FAIL (informational: the exit status is non-zero
# only when the benchmark broke, e.g. a task without a result).
#
# Environment: DGRID (binary; default build/dgrid), HISTORY_SIZES
#   ("100 10000 100000"), QUEUE (tasks the worker runs per size, 300),
#   CLAIM_BATCH_MAX (1; empty: dgrid's batching, see step 3),
#   WORKER_TIMEOUT (seconds for one worker run, 900), PULL_INTERVAL (1),
#   KEEP_TMP=1 keeps the directory (grids, logs).
# Duration: on protocol 2 (flat layout) every push at N=100,000 carries the
# whole 2.3 MB tasks/completed tree; on 2 CPUs busy with other work (load
# average 6-9) the worker did 0.5 tasks/s there and the whole run took 18
# minutes, building the grids ~1 of them. The header and the last line show
# the load average: tasks/s is only comparable within one run.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
DGRID=${DGRID:-$SRC/build/dgrid}
HISTORY_SIZES=${HISTORY_SIZES:-100 10000 100000}
QUEUE=${QUEUE:-300}
CLAIM_BATCH_MAX=${CLAIM_BATCH_MAX-1}
WORKER_TIMEOUT=${WORKER_TIMEOUT:-900}
BENCH_PULL_INTERVAL=${PULL_INTERVAL:-1}
RESULTS_PER_COMMIT=100
[ -x "$DGRID" ] || { echo "bench-history: $DGRID missing (make)"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/dgrid-bench.XXXXXX")
_pids=()
cleanup() {
	local p
	for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do wait "$p" 2>/dev/null; done
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# git CLI: no user config, no auto gc anywhere (it would change the sizes)
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$T/gitconfig
git config --file "$T/gitconfig" gc.auto 0
git config --file "$T/gitconfig" init.defaultBranch main

. "$SRC/tests/integration/net.sh"

now() { date +%s.%N; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
# fdiv A B [FORMAT]: A / B, "n/a" when either is missing or B is 0
fdiv() {
	awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN {
		if (a == "" || a == "n/a" || b == "" || b == "n/a" || b + 0 == 0) print "n/a"; else printf f, a / b }'
}

# --- capabilities of the binary under test: adjust here when they change

# Does this dgrid migrate flat results (protocol 3, `dgrid upgrade` moves
# tasks/completed/* into subdirectories)? 0.4.0 does; 0.3.0 spoke protocol 2.
supports_protocol3() {
	"$DGRID" upgrade --help 2>&1 | grep -q '(3: tasks and results in shards'
}

# Can this dgrid rewrite a grid so that a new worker fetches less?
supports_compact() {
	"$DGRID" compact --help >/dev/null 2>&1
}

# --- building an old grid

# write_grid_pack N QUEUE PER_COMMIT TIPFILE: a pack (on stdout) holding the
# whole history of an N-result grid; the id of main's commit goes to TIPFILE.
#
# Why not git fast-import: it finds a path in a directory by a linear scan,
# so N files in one directory cost O(N^2) (103 s for N=100,000 measured,
# 60 s even with 10x fewer commits). Writing the pack is seconds, and cheap
# to make realistic: result names grow with the task number, so every older
# version of tasks/completed/ (and failed/) is a byte prefix of the final
# one and is stored as a one-instruction delta against it, and each result
# blob is a delta against the previous one - a pack like the one `git gc`
# makes of such a history (blobs 10% smaller, trees 60% smaller: about
# the best git could do).
write_grid_pack() {
	python3 - "$@" <<'PY'
import sys, random, hashlib, time, zlib, struct

n, queue, per_commit, tipfile = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
NODES = ["w%d" % i for i in range(1, 11)]
COMMIT, TREE, BLOB, OFS_DELTA = 1, 2, 3, 6
NAMES = {COMMIT: b"commit", TREE: b"tree", BLOB: b"blob"}
MAX_DEPTH = 16   # what `git repack -adf` reaches on such a history
rng = random.Random(n)

def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

def varint(v):
    out = []
    while True:
        out.append(v & 0x7f)
        v >>= 7
        if not v:
            return bytes(out)
        out[-1] |= 0x80

def copy_op(off, size):
    # git delta "copy": which offset/size bytes follow is in the opcode's bits
    op, args = 0x80, []
    for i in range(4):
        if (off >> 8 * i) & 0xff:
            op |= 1 << i
            args.append((off >> 8 * i) & 0xff)
    for i in range(3):
        if (size >> 8 * i) & 0xff:
            op |= 0x10 << i
            args.append((size >> 8 * i) & 0xff)
    return bytes([op] + args)

def common_ends(a, b):
    # lengths of the common prefix and (not overlapping it) suffix of a and b;
    # the first differing byte is the highest one set in a XOR of both
    m = min(len(a), len(b))
    if not m:
        return 0, 0
    x = int.from_bytes(a[:m], "big") ^ int.from_bytes(b[:m], "big")
    pre = m if not x else m - 1 - (x.bit_length() - 1) // 8
    x = int.from_bytes(a[len(a) - m:], "little") ^ int.from_bytes(b[len(b) - m:], "little")
    suf = m if not x else m - 1 - (x.bit_length() - 1) // 8
    return pre, min(suf, m - pre)

def line_delta(base, target):
    # Result files share their shape: copy each line the base holds; of the
    # others, copy what they share with the base's line at the same place
    # (prefix, suffix) and insert the rest. None unless clearly smaller.
    blines, where, offs, pos = base.splitlines(keepends=True), {}, [], 0
    for line in blines:
        where.setdefault(line, pos)
        offs.append(pos)
        pos += len(line)
    ops, copy, lit = [], None, bytearray()   # pending copy (off, size), pending literal
    def flush_literal():
        nonlocal lit
        if not lit:
            return
        for i in range(0, len(lit), 127):
            ops.append(bytes([len(lit[i:i + 127])]) + lit[i:i + 127])
        lit = bytearray()
    def emit_copy(off, size):
        nonlocal copy
        flush_literal()
        if copy and copy[0] + copy[1] == off:
            copy = (copy[0], copy[1] + size)
        else:
            if copy:
                ops.append(copy_op(*copy))
            copy = (off, size)
    def emit_insert(data):
        nonlocal copy
        if copy:
            ops.append(copy_op(*copy))
            copy = None
        lit.extend(data)
    for i, line in enumerate(target.splitlines(keepends=True)):
        if line in where:
            emit_copy(where[line], len(line))
            continue
        other = blines[i] if i < len(blines) else b""
        pre, suf = common_ends(line, other)
        if pre >= 4:
            emit_copy(offs[i], pre)
        else:
            pre = 0
        emit_insert(line[pre:len(line) - suf] if suf >= 4 else line[pre:])
        if suf >= 4:
            emit_copy(offs[i] + len(other) - suf, suf)
    flush_literal()
    if copy:
        ops.append(copy_op(*copy))
    delta = varint(len(base)) + varint(len(target)) + b"".join(ops)
    return delta if len(delta) < len(target) * 3 // 4 else None

class Pack:
    """Objects in memory (offset order), written with header and checksum at the end."""
    def __init__(self):
        self.chunks, self.pos, self.at = [], 12, {}   # at: oid -> (offset, delta depth)
    def _put(self, kind, size, extra, data):
        head = [(kind << 4) | (size & 15)]
        size >>= 4
        while size:
            head[-1] |= 0x80
            head.append(size & 0x7f)
            size >>= 7
        chunk = bytes(head) + extra + zlib.compress(data)
        self.chunks.append(chunk)
        self.pos += len(chunk)
    def add(self, kind, body, base=None, delta=None):
        """body whole, or as delta against base (an oid in this pack)."""
        oid = hashlib.sha1(b"%s %d\0" % (NAMES[kind], len(body)) + body).digest()
        if oid in self.at:
            return oid
        depth = 0
        if base is not None and delta is not None:
            base_off, base_depth = self.at[base]
            depth = base_depth + 1
            dist = self.pos - base_off
            enc = [dist & 0x7f]
            dist >>= 7
            while dist:
                dist -= 1
                enc.insert(0, 0x80 | (dist & 0x7f))
                dist >>= 7
            self.at[oid] = (self.pos, depth)
            self._put(OFS_DELTA, len(delta), bytes(enc), delta)
        else:
            self.at[oid] = (self.pos, 0)
            self._put(kind, len(body), b"", body)
        return oid
    def depth(self, oid):
        return self.at[oid][1]
    def write(self, out):
        sha = hashlib.sha1()
        for chunk in [b"PACK" + struct.pack(">II", 2, len(self.chunks))] + self.chunks:
            sha.update(chunk)
            out.write(chunk)
        out.write(sha.digest())

def tree_bytes(entries):
    # entries {name: (mode, oid)}; git orders a directory as if named "name/"
    key = lambda k: k + "/" if entries[k][0] == "40000" else k
    return b"".join(b"%s %s\0%s" % (entries[k][0].encode(), k.encode(), entries[k][1])
                    for k in sorted(entries, key=key))

# results, oldest first: (directory, file name, content, finished at)
t0 = 1767225600   # 2026-01-01T00:00:00Z
t = t0 + 3600
results = []
for k in range(n):
    tid, node = "old-%06d" % k, rng.choice(NODES)
    t += rng.randint(5, 120)          # 100,000 results span ~72 days
    dur = rng.randint(200, 60000)
    h = hashlib.sha1(b"%d/%d" % (n, k)).hexdigest()
    if rng.random() < 0.05:
        d = "failed"
        st, rc = ("timeout", -1) if rng.random() < 0.3 else ("failed", rng.choice((1, 2, 127)))
        so = "step %d of %s: partial %s\\n" % (rng.randint(1, 9), tid, h[:12])
        se = "error: check %s failed\\n" % h[12:20]
    else:
        d, st, rc = "completed", "success", 0
        so, se = "processed %s items=%d sum=%s\\n" % (tid, rng.randint(1, 99999), h[:16]), ""
    body = ('{\n  "task_id": "%s",\n  "node_id": "%s",\n  "exit_code": %d,\n  "stdout": "%s",\n'
            '  "stderr": "%s",\n  "timestamp": "%s",\n  "status": "%s",\n  "stdout_truncated": false,\n'
            '  "stderr_truncated": false,\n  "attempt": 1,\n  "started_at": "%s",\n  "duration_ms": %d,\n'
            '  "executor": "native"\n}\n') % (tid, node, rc, so, se, iso(t), st, iso(t - dur // 1000), dur)
    results.append((d, "%s.%s.1.json" % (tid, node), body.encode(), t))

pack = Pack()
empty = pack.add(BLOB, b"")
readme = pack.add(BLOB, b"# dgrid state repository\n\nThis repository holds the whole state of a dgrid grid.\n")
gitkeep_tree = pack.add(TREE, tree_bytes({".gitkeep": ("100644", empty)}))
nodes = {".gitkeep": ("100644", empty)}
for i, nd in enumerate(NODES):
    reg = ('{\n  "node_id": "%s",\n  "name": "host-%02d",\n  "cpus": %d,\n  "memory_bytes": %d,\n'
           '  "arch": "x86_64",\n  "labels": [],\n  "version": "0.2.0",\n  "protocol": 1,\n'
           '  "executor": "native",\n  "isolation": "namespaces, seccomp, cgroups, no network, read-only root",\n'
           '  "slots": %d,\n  "registered_at": "%s"\n}\n') % (
               nd, i, 2 << (i % 4), (4 << (i % 4)) << 30, 1 + i % 4, iso(t0 + 60 * i))
    nodes[nd + ".json"] = ("100644", pack.add(BLOB, reg.encode()))
nodes_tree = pack.add(TREE, tree_bytes(nodes))

blob_of, prev = [], None
for _, _, body, _ in results:
    delta = None
    if prev is not None and pack.depth(prev[0]) < MAX_DEPTH:
        delta = line_delta(prev[1], body)
    oid = pack.add(BLOB, body, prev[0] if delta else None, delta)
    blob_of.append(oid)
    prev = (oid, body)

# Every older version of a result directory is a byte prefix of its final
# version (task ids grow: each commit appends at the end of the sorted
# tree), so it is stored as a one-instruction delta against the final one.
# Only the final versions are whole: `git gc` would keep a few more (git
# repack -adf makes this history's pack 30% bigger), but a whole old tree
# is something a later gc may still shrink, and growth after gc (before vs
# after the worker) must measure the worker, not this pack.
entry = lambda name: len(b"100644 \0") + len(name) + 20
sizes, length = [], {"completed": entry(".gitkeep"), "failed": entry(".gitkeep")}
for start in range(0, n, per_commit):
    for d, name, _, _ in results[start:start + per_commit]:
        length[d] += entry(name)
    sizes.append(dict(length))
final = {}
for d in ("completed", "failed"):
    ent = {".gitkeep": ("100644", empty)}
    ent.update({name: ("100644", blob_of[i]) for i, (dd, name, _, _) in enumerate(results) if dd == d})
    body = tree_bytes(ent)
    final[d] = (body, pack.add(TREE, body))

def prefix_tree(d, size):
    body, oid = final[d]
    if size == len(body):
        return oid
    return pack.add(TREE, body[:size], oid, varint(len(body)) + varint(size) + copy_op(0, size))

def root(completed, failed, queued):
    tasks = pack.add(TREE, tree_bytes({"completed": ("40000", completed), "failed": ("40000", failed),
                                       "in_progress": ("40000", gitkeep_tree), "queue": ("40000", queued)}))
    return pack.add(TREE, tree_bytes({"README.md": ("100644", readme), "nodes": ("40000", nodes_tree),
                                      "tasks": ("40000", tasks)}))

def commit(tree, parent, who, when, msg):
    body = "tree %s\n" % tree.hex()
    if parent:
        body += "parent %s\n" % parent.hex()
    body += "author %s <dgrid@localhost> %d +0000\ncommitter %s <dgrid@localhost> %d +0000\n\n%s\n" % (
        who, when, who, when, msg)
    return pack.add(COMMIT, body.encode())

tip = commit(root(gitkeep_tree, gitkeep_tree, gitkeep_tree), None, "dgrid", t0,
             "initialise grid; register %d nodes" % len(NODES))
for start, size in zip(range(0, n, per_commit), sizes):
    batch = results[start:start + per_commit]
    who = rng.choice(NODES)
    tip = commit(root(prefix_tree("completed", size["completed"]), prefix_tree("failed", size["failed"]),
                      gitkeep_tree), tip, who, batch[-1][3],
                 "%s: report %d results (%s .. %s)" % (who, len(batch), batch[0][1].split(".")[0],
                                                       batch[-1][1].split(".")[0]))
queued = {".gitkeep": ("100644", empty)}
for k in range(1, queue + 1):
    task = b'{"task_id":"bench-%d","script":"true","timeout_seconds":60}\n' % k
    queued["bench-%d.json" % k] = ("100644", pack.add(BLOB, task))
tip = commit(root(prefix_tree("completed", len(final["completed"][0])),
                  prefix_tree("failed", len(final["failed"][0])), pack.add(TREE, tree_bytes(queued))), tip,
             "dgrid", t + 3600, "submit %d tasks: bench-1 .. bench-%d" % (queue, queue))
pack.write(sys.stdout.buffer)
with open(tipfile, "w") as f:
    f.write(tip.hex() + "\n")
PY
}

# host_repack REPO: one pack with a reachability bitmap, as a host keeps a
# repository (git gc), keeping the deltas it has. Without the bitmap
# upload-pack walks every old tree for each first fetch (8 s at N=100,000),
# with loose objects it searches deltas for them on every fetch.
host_repack() {
	git -C "$1" repack -a -d -b -q
}

# build_grid N: $T/srv/grid-N.git, served by the daemon; prints the seconds
build_grid() {
	local n=$1 repo=$T/srv/grid-$1.git t0
	t0=$(now)
	git init -q --bare -b main "$repo" || return 1
	write_grid_pack "$n" "$QUEUE" "$RESULTS_PER_COMMIT" "$T/tip-$n" |
		git -C "$repo" index-pack --stdin >/dev/null || return 1
	git -C "$repo" update-ref refs/heads/main "$(cat "$T/tip-$n")" || return 1
	host_repack "$repo" || return 1
	# a host that allows forced updates (with a lease): dgrid compact needs one
	git -C "$repo" config receive.denyNonFastForwards false
	git -C "$repo" config receive.autogc false
	git -C "$repo" config gc.auto 0
	fsub "$(now)" "$t0"
}

# --- measuring

# objects_kib REPO: loose + packed objects, KiB, as git count-objects -v says
objects_kib() {
	git -C "$1" count-objects -v | awk '$1 == "size:" || $1 == "size-pack:" { s += $2 } END { print s + 0 }'
}

# gc_kib REPO: objects_kib of a copy of REPO after `git gc --prune=now`
gc_kib() {
	local copy=$T/gc-copy.git kib
	rm -rf "$copy"
	cp -a "$1" "$copy"
	git -C "$copy" gc -q --prune=now
	kib=$(objects_kib "$copy")
	rm -rf "$copy"
	echo "$kib"
}

# first_fetch URL DIR: "KIB SECONDS" of `dgrid status` with an empty cache DIR
first_fetch() {
	local t0 t1
	rm -rf "$2"
	t0=$(now)
	if ! DGRID_CACHE=$2 timeout "$WORKER_TIMEOUT" "$DGRID" status --repo "$1" >"$2.out" 2>&1; then
		echo "# first fetch failed: $(tail -1 "$2.out")" >&2
		echo "n/a n/a"
		return
	fi
	t1=$(now)
	echo "$(du -sk "$2" | cut -f1) $(fsub "$t1" "$t0")"
}

# set_claim_batch_max URL DIR: one plain-git commit setting dgrid.json's
# claim_batch_max to CLAIM_BATCH_MAX (the grid's other keys kept)
set_claim_batch_max() {
	rm -rf "$2"
	git clone -q --single-branch --branch main "$1" "$2" &&
	python3 - "$2/dgrid.json" "$CLAIM_BATCH_MAX" <<'PY' &&
import json, sys
try:
    doc = json.load(open(sys.argv[1]))
except FileNotFoundError:
    doc = {}
doc["claim_batch_max"] = int(sys.argv[2])
open(sys.argv[1], "w").write(json.dumps(doc, indent=2) + "\n")
PY
	git -C "$2" -c user.name=bench -c user.email=bench@localhost commit -qam "policy: claim_batch_max $CLAIM_BATCH_MAX" &&
	git -C "$2" push -q origin HEAD:main || { echo "# could not set claim_batch_max" >&2; return 1; }
	rm -rf "$2"
}

# push_stats LOG: "MEDIAN_BYTES MAX_BYTES PUSHES" of its event=pushed lines
push_stats() {
	sed -n 's/.* event=pushed .* bytes=\([0-9]*\).*/\1/p' "$1" | python3 -c '
import sys, statistics
b = [int(x) for x in sys.stdin.read().split()]
print("%d %d %d" % (statistics.median(b), max(b), len(b)) if b else "n/a n/a 0")'
}

# log_seconds LOG START_EPOCH: seconds from START to the first event=pushed
log_seconds() {
	python3 - "$1" "$2" <<'PY'
import sys, datetime
for line in open(sys.argv[1], errors="replace"):
    if " event=pushed " in line:
        t = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
        t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
        print("%.2f" % (t - float(sys.argv[2])))
        break
else:
    print("n/a")
PY
}

# bench_results REPO: "FILES DISTINCT" results of bench-K tasks on main,
# anywhere below tasks/completed and tasks/failed
bench_results() {
	git -C "$1" ls-tree -r --name-only main -- tasks/completed tasks/failed |
		sed 's|.*/||' | grep '^bench-' | awk -F. '{ files++; ids[$1] = 1 }
			END { n = 0; for (i in ids) n++; print files + 0, n }'
}

# --- one size

declare -A R_NOTE R_MIG R_MED R_MAX R_PPT R_GROW R_GROWGC R_TPS R_FF R_FFC
broken=0

run_size() {
	local n=$1 repo=$T/srv/grid-$1.git url=$URL/grid-$1.git log=$T/logs/worker-$1.log
	local secs k0 k1 mig="n/a" before after gcb gca t0 t1 rc files ids med max pushes startup steady ff ffc

	echo "# N=$n: building grid-$n.git ($n results, $QUEUE queued)"
	if ! secs=$(build_grid "$n"); then
		echo "FAIL: N=$n: could not build the grid"
		broken=1
		return
	fi
	echo "# N=$n: built in ${secs}s: $(git -C "$repo" rev-list --count main) commits, $(objects_kib "$repo") KiB packed"

	if supports_protocol3; then
		k0=$(objects_kib "$repo")
		t0=$(now)
		if timeout "$WORKER_TIMEOUT" "$DGRID" upgrade --repo "$url" >"$T/logs/upgrade-$n.log" 2>&1; then
			t1=$(now)
			k1=$(objects_kib "$repo")
			mig="$(fsub "$t1" "$t0")s / $((k1 - k0))KB"
			echo "# N=$n: upgrade took $(fsub "$t1" "$t0")s, repository +$((k1 - k0)) KiB"
			if supports_compact; then
				# the rest of the one-time migration: main keeps keep_results (10,000)
				t0=$(now)
				"$DGRID" archive --repo "$url" >"$T/logs/archive0-$n.log" 2>&1
				t1=$(now)
				mig="$mig + archive $(fsub "$t1" "$t0")s"
				echo "# N=$n: dgrid archive took $(fsub "$t1" "$t0")s: $(grep -h '^archived' "$T/logs/archive0-$n.log")"
			fi
			host_repack "$repo"
		else
			mig="FAILED"
			echo "# N=$n: UPGRADE FAILED (going on without it): $(tail -3 "$T/logs/upgrade-$n.log" | tr '\n' ' ')"
		fi
	fi
	R_MIG[$n]=$mig

	# what a new volunteer downloads from the grid as the host keeps it
	read -r ff secs < <(first_fetch "$url" "$T/ff-$n")
	R_FF[$n]="$ff / $secs"
	echo "# N=$n: first fetch (dgrid status, empty cache): ${secs}s, ${ff} KiB"
	if [ "$mig" != "FAILED" ] && supports_compact; then
		# the last step of the one-time migration: main's history restarts
		# from the migrated state, so the worker's first fetch is that state
		t0=$(now)
		if timeout "$WORKER_TIMEOUT" "$DGRID" compact --repo "$url" >"$T/logs/compact0-$n.log" 2>&1; then
			t1=$(now)
			mig="$mig + compact $(fsub "$t1" "$t0")s"
			echo "# N=$n: dgrid compact took $(fsub "$t1" "$t0")s"
			host_repack "$repo"
		else
			mig="$mig + compact FAILED"
			echo "# N=$n: COMPACT FAILED (going on without it): $(tail -3 "$T/logs/compact0-$n.log" | tr '\n' ' ')"
		fi
		R_MIG[$n]=$mig
	fi

	if [ -n "$CLAIM_BATCH_MAX" ] && [ "$mig" != "FAILED" ] && supports_protocol3; then
		set_claim_batch_max "$url" "$T/policy-$n" && host_repack "$repo"
	fi

	before=$(objects_kib "$repo")
	gcb=$(gc_kib "$repo")

	t0=$(now)
	PULL_INTERVAL=$BENCH_PULL_INTERVAL LOG_LEVEL=debug DGRID_CACHE=$T/cache-$n \
		timeout "$WORKER_TIMEOUT" "$DGRID" worker --repo "$url" --node-id bench \
		--exit-when-idle --http off --slots 1 --executor native >"$log" 2>&1 &
	_pids+=($!)
	wait $!
	rc=$?
	t1=$(now)
	secs=$(fsub "$t1" "$t0")

	after=$(objects_kib "$repo")
	gca=$(gc_kib "$repo")
	read -r files ids < <(bench_results "$repo")
	read -r med max pushes < <(push_stats "$log")
	startup=$(log_seconds "$log" "$t0")
	steady=$(awk -v q="$QUEUE" -v s="$secs" -v u="$startup" 'BEGIN { if (u == "n/a" || s - u <= 0) print "n/a"; else printf "%.2f", q / (s - u) }')

	R_MED[$n]=$med
	R_MAX[$n]=$max
	R_PPT[$n]=$(fdiv "$pushes" "$QUEUE")
	R_GROW[$n]=$(fdiv "$((after - before))" "$QUEUE" "%.1f")
	R_GROWGC[$n]=$(fdiv "$((gca - gcb))" "$QUEUE" "%.2f")
	R_TPS[$n]=$(fdiv "$QUEUE" "$secs")
	echo "# N=$n: worker ${secs}s exit=$rc (startup ${startup}s, steady ${steady} tasks/s), $pushes pushes" \
		"(median $med B, max $max B), results for bench-*: $files files, $ids tasks;" \
		"objects ${before} -> ${after} KiB, after gc ${gcb} -> ${gca} KiB;" \
		"warnings/errors: $(awk '$2 == "warning" || $2 == "error"' "$log" | wc -l)"
	if [ "$ids" != "$QUEUE" ] || [ "$rc" != 0 ]; then
		echo "!!!!! FAIL: N=$n: $ids of $QUEUE queued tasks have a result, worker exit status $rc" \
			"(log: $log$([ -n "${KEEP_TMP:-}" ] || echo ", removed at exit: KEEP_TMP=1 keeps it"))"
		tail -5 "$log" | sed 's/^/!!!!!   /'
		R_NOTE[$n]="!"
		broken=1
	fi

	R_FFC[$n]="n/a"
	if supports_compact; then
		# the archive keeps main to keep_results (10,000) results, compaction its history to one commit
		t0=$(now)
		"$DGRID" archive --repo "$url" >"$T/logs/archive-$n.log" 2>&1
		echo "# N=$n: dgrid archive took $(fsub "$(now)" "$t0")s: $(grep -h '^archived' "$T/logs/archive-$n.log")"
		t0=$(now)
		if timeout "$WORKER_TIMEOUT" "$DGRID" compact --repo "$url" >"$T/logs/compact-$n.log" 2>&1; then
			echo "# N=$n: compact took $(fsub "$(now)" "$t0")s, objects now $(objects_kib "$repo") KiB"
			host_repack "$repo"
			read -r ffc secs < <(first_fetch "$url" "$T/ffc-$n")
			R_FFC[$n]="$ffc / $secs"
			echo "# N=$n: first fetch after compaction: ${secs}s, ${ffc} KiB"
		else
			R_FFC[$n]="FAILED"
			echo "# N=$n: COMPACT FAILED: $(tail -3 "$T/logs/compact-$n.log" | tr '\n' ' ')"
		fi
	fi
	# the grids of the large sizes take much disk (pushes arrive as loose trees)
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$repo" "$T/cache-$n" "$T/ff-$n" "$T/ffc-$n"
}

# --- main

mkdir -p "$T/srv" "$T/logs"
PORT=$(free_port)
git daemon --reuseaddr --listen=127.0.0.1 --port="$PORT" --base-path="$T/srv" \
	--export-all --enable=receive-pack --informative-errors "$T/srv" >"$T/daemon.log" 2>&1 &
_pids+=($!)
wait_port "$PORT" || { echo "git daemon did not start"; exit 1; }
URL=git://127.0.0.1:$PORT

sizes=$(printf '%s\n' $HISTORY_SIZES | sort -n | tr '\n' ' ')
small=${sizes%% *}
large=$(echo $sizes | awk '{ print $NF }')
# other work on the machine slows the worker: say how busy it was
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
echo "# dgrid history benchmark: $("$DGRID" version), $(nproc) CPUs, load average $(loadavg), git daemon on 127.0.0.1"
echo "# sizes: $sizes; $QUEUE tasks (\`true\`) per size, one worker --slots 1 --executor native, PULL_INTERVAL=$BENCH_PULL_INTERVAL"
echo "# migration: $(supports_protocol3 && echo "dgrid upgrade (protocol 3)" || echo "none (this dgrid has no protocol 3)");" \
	"compaction: $(supports_compact && echo "dgrid compact" || echo "none (no dgrid compact)")"
bench_t0=$(date +%s)

for n in $sizes; do run_size "$n"; done

echo
echo "history benchmark: $QUEUE tasks on a grid of N results ($("$DGRID" version))"
fmt='%-8s %-14s %9s %9s %7s %9s %9s %7s %-16s %-16s\n'
printf "$fmt" results "migr s / KB" "med KB/p" "max KB/p" "push/t" "grow KB/t" "gc KB/t" "tasks/s" "1st fetch KB / s" "after compact"
for n in $sizes; do
	printf "$fmt" "$n${R_NOTE[$n]:-}" "${R_MIG[$n]:-n/a}" "$(fdiv "${R_MED[$n]:-}" 1024 %.1f)" "$(fdiv "${R_MAX[$n]:-}" 1024 %.1f)" \
		"${R_PPT[$n]:-n/a}" "${R_GROW[$n]:-n/a}" "${R_GROWGC[$n]:-n/a}" "${R_TPS[$n]:-n/a}" \
		"${R_FF[$n]:-n/a}" "${R_FFC[$n]:-n/a}"
done
[ $broken = 0 ] || echo "(! = the worker did not finish every task: figures of that row are not valid)"
echo "ratios against N=$small (bytes/push: median; tasks/s):"
for n in $sizes; do
	printf '  N=%-8s bytes/push x%s   tasks/s x%s\n' "$n" "$(fdiv "${R_MED[$n]:-}" "${R_MED[$small]:-}")" \
		"$(fdiv "${R_TPS[$n]:-}" "${R_TPS[$small]:-}")"
done

# holds A le|ge B: 1 when both are numbers and A <= B (le) or A >= B (ge)
holds() {
	awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN { num = "^-?[0-9]+([.][0-9]+)?$"
		if (a !~ num || b !~ num) print 0; else print (op == "le" ? a + 0 <= b + 0 : a + 0 >= b + 0) }'
}
scale() { awk -v a="$1" -v f="$2" 'BEGIN { if (a ~ /^-?[0-9.]+$/) printf "%.3f", a * f; else print "n/a" }'; }
# verdict OK... -- TEXT: PASS when every OK is 1
verdict() {
	local ok=1
	while [ "$1" != -- ]; do [ "$1" = 1 ] || ok=0; shift; done
	shift
	if [ $ok = 1 ]; then echo "  PASS  $*"; else echo "  FAIL  $*"; fi
}
echo "targets (issue 10; informational):"
m_s=${R_MED[$small]:-n/a} m_l=${R_MED[$large]:-n/a}
verdict "$(holds "$m_l" le "$(scale "$m_s" 1.5)")" "$(holds "$m_l" le 16384)" -- \
	"median bytes/push at N=$large ($m_l B) <= 1.5 x N=$small ($m_s B) and <= 16 KB"
for n in $sizes; do
	g=${R_GROWGC[$n]:-n/a}
	verdict "$(holds "$g" le 2)" -- "growth per task after gc at N=$n ($g KB) <= 2 KB"
done
tp_s=${R_TPS[$small]:-n/a} tp_l=${R_TPS[$large]:-n/a}
verdict "$(holds "$tp_l" ge "$(scale "$tp_s" 0.8)")" -- "tasks/s at N=$large ($tp_l) >= 0.8 x N=$small ($tp_s)"
# without a compact command, the grid as it is is what a new volunteer fetches
ffl=${R_FFC[$large]:-n/a} what="after compaction"
case $ffl in
n/a) ffl=${R_FF[$large]:-n/a} what="without compaction (no dgrid compact)" ;;
FAILED) ffl=${R_FF[$large]:-n/a} what="without compaction (dgrid compact failed)" ;;
esac
ffl=${ffl%% *}
verdict "$(holds "$ffl" le 5120)" -- "first fetch at N=$large $what (${ffl} KiB) <= 5 MB"
echo "# bench-history took $(( $(date +%s) - bench_t0 ))s; load average now $(loadavg)"
exit $broken
