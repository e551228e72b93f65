#!/usr/bin/env bash
# t0122: a push the server declines is not a lost race. Against a git daemon:
#  - a pre-receive hook that always declines: `dgrid submit` fails with one
#    line naming the ref and the server's reason, after a few tries (the hook
#    counts them), not 30 attempts of "the branch kept moving";
#  - `dgrid init` likewise;
#  - a hook that declines 10% of pushes at random: 4 concurrent writers
#    (tests/tools/txn_writer) all finish, every file lands once, and the
#    refusals are counted as refusals, not as races;
#  - a race lost at the host (two pushes on one tip, both sent: the hook ran
#    for both, the host counts both) is told from one lost before sending
#    (libgit2 saw the branch move and sent nothing: the hook never ran). A
#    push budget counts only the first kind (worker.c retries the second
#    within its slot).
. "$(dirname "$0")/lib.sh"

WRITER=$DGRID_SRC/${BUILD:-build}/tests/tools/txn_writer
mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
"$DGRID" init "$BARE" >/dev/null 2>&1
start_git_daemon "$T/srv"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
TIP=$(git -C "$BARE" rev-parse main)

cat >"$BARE/hooks/pre-receive" <<HOOK
#!/bin/sh
echo x >>"$T/declined"
echo "branch main is protected" >&2
exit 1
HOOK
chmod +x "$BARE/hooks/pre-receive"

DGRID_CACHE=$T/cache "$DGRID" submit --repo "$URL" --id t1 --script 'echo hi' >"$T/submit.out" 2>"$T/submit.err"
rc=$?
note "submit: $(cat "$T/submit.err")"
check_eq "declined submit exits 1" 1 "$rc"
# one error line, and it comes first (under ASan a LeakSanitizer summary may follow)
check_eq "declined submit prints one error line" 1 "$(grep -c '^error:' "$T/submit.err")"
check "the error line comes first" bash -c "head -1 '$T/submit.err' | grep -q '^error: '"
check "the error names the ref and the server's reason" \
	grep -q 'push to refs/heads/main refused by the server: pre-receive hook declined' "$T/submit.err"
check "the error carries the hook's own words" grep -q 'branch main is protected' "$T/submit.err"
check "the error does not call it contention" bash -c "! grep -qi 'kept moving' '$T/submit.err'"
tries=$(wc -l <"$T/declined")
check "the server saw a few tries ($tries), not 30" test "$tries" -ge 2 -a "$tries" -le 4
check_eq "the branch did not move" "$TIP" "$(git -C "$BARE" rev-parse main)"

rm -f "$T/declined"
DGRID_CACHE=$T/cache-init "$DGRID" init "$URL" >"$T/init.out" 2>"$T/init.err"
rc=$?
note "init: $(cat "$T/init.err")"
# the layout exists already, so init has nothing to push; give it a policy to write
if [ "$rc" -eq 0 ]; then
	printf '{"max_attempts": 5}\n' >"$T/policy.json"
	DGRID_CACHE=$T/cache-init "$DGRID" init --policy "$T/policy.json" "$URL" >"$T/init.out" 2>"$T/init.err"
	rc=$?
	note "init --policy: $(cat "$T/init.err")"
fi
check_eq "declined init exits 1" 1 "$rc"
check "declined init names the ref and the reason" \
	grep -q 'push to refs/heads/main refused by the server: pre-receive hook declined' "$T/init.err"

# 10% of pushes declined at random, as a throttling host would
rm -f "$T/declined"
cat >"$BARE/hooks/pre-receive" <<HOOK
#!/bin/bash
if [ \$((RANDOM % 10)) -eq 0 ]; then echo x >>"$T/declined"; echo "throttled" >&2; exit 1; fi
exit 0
HOOK
chmod +x "$BARE/hooks/pre-receive"
WRITERS=4 PER=20
pids=()
for i in $(seq $WRITERS); do
	"$WRITER" "$URL" "w$i" $PER "$T/cache-w$i" >"$T/w$i.out" 2>&1 &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
cat "$T"/w*.out | sed 's/^/# /'
check_eq "every writer finished despite random refusals" 0 "$bad"
check_eq "every file landed" $((WRITERS * PER)) "$(git -C "$BARE" ls-tree -r --name-only main -- data | wc -l)"
check_eq "no transaction committed twice" 0 "$(git -C "$BARE" log --format=%s main | grep '^add ' | sort | uniq -d | wc -l)"
declined=$(cat "$T/declined" 2>/dev/null | wc -l)
refused=$(sed -n 's/.*refused=\([0-9]*\).*/\1/p' "$T"/w*.out | awk "{s+=\$1} END {print s+0}")
note "hook declined $declined pushes; writers counted $refused refusals"
check "writers counted the refusals as refusals ($refused)" test "${refused:-0}" -ge 1
check "no more refusals counted than the hook made" test "${refused:-0}" -le "$declined"

# A race lost at the host: writer a's push waits in the hook (the first
# invocation sleeps until b is done); b, started once a's hook runs, fetched
# the old tip, pushes on it and lands first. a's ref update then fails: its
# pack was sent, the hook ran, the host counted the push.
rm -f "$T/hook-runs" "$T/b-done"
cat >"$BARE/hooks/pre-receive" <<HOOK
#!/bin/bash
echo x >>"$T/hook-runs"
if mkdir "$T/first-push" 2>/dev/null; then
	touch "$T/a-in-hook"
	for i in \$(seq 150); do [ -e "$T/b-done" ] && break; sleep 0.1; done
fi
exit 0
HOOK
chmod +x "$BARE/hooks/pre-receive"
"$WRITER" "$URL" a 1 "$T/cache-a" >"$T/a.out" 2>&1 &
apid=$!
wait_for 30 test -e "$T/a-in-hook"
"$WRITER" "$URL" b 1 "$T/cache-b" >"$T/b.out" 2>&1
touch "$T/b-done"
wait "$apid"
check_eq "writer a finished after its lost race" 0 "$?"
sed 's/^/# /' "$T/a.out" "$T/b.out"
check "b won at once (rejected=0)" grep -q 'committed=1 .*rejected=0 .*lost_at_host=0' "$T/b.out"
check "a lost one race at the host and then committed" grep -q 'committed=1 .*rejected=1 .*lost_at_host=1' "$T/a.out"
check_eq "the hook ran for a's two pushes and b's one" 3 "$(wc -l <"$T/hook-runs")"

# The same race under a limit of one race lost at the host (what a member
# of a budget grid sets): e gives up after its one counted push, and
# retries nothing the host would count again.
rm -f "$T/hook-runs" "$T/b-done" "$T/a-in-hook"
rmdir "$T/first-push"
TXN_WRITER_MAX_LOST_AT_HOST=1 "$WRITER" "$URL" e 1 "$T/cache-e" >"$T/e.out" 2>&1 &
epid=$!
wait_for 30 test -e "$T/a-in-hook"
"$WRITER" "$URL" f 1 "$T/cache-f" >"$T/f.out" 2>&1
touch "$T/b-done"
wait "$epid"
check "writer e gave up after its race lost at the host" test "$?" -ne 0
sed 's/^/# /' "$T/e.out" "$T/f.out"
check "e says why" grep -q 'gave up after 1 push that the host refused' "$T/e.out"
check_eq "the hook ran for e's one push and f's" 2 "$(wc -l <"$T/hook-runs")"
check_eq "e's file is not on main" 0 "$(git -C "$BARE" ls-tree -r --name-only main -- data | grep -c '^data/e-')"

# A race lost before sending: c fetched, then d landed, then c pushed on
# its old tip. libgit2 sees main moved in the push's ref advertisement and
# sends nothing: the hook never runs for that try. c runs under the limit
# above: a race the host never saw does not count towards it.
rm -f "$T/hook-runs"
TXN_WRITER_MAX_LOST_AT_HOST=1 TXN_WRITER_WAIT_FOR=$T/d-done "$WRITER" "$URL" c 1 "$T/cache-c" >"$T/c.out" 2>"$T/c.err" &
cpid=$!
wait_for 30 grep -q ready "$T/c.err"
"$WRITER" "$URL" d 1 "$T/cache-d" >"$T/d.out" 2>&1
touch "$T/d-done"
wait "$cpid"
check_eq "writer c finished after its lost race" 0 "$?"
sed 's/^/# /' "$T/c.out" "$T/d.out"
check "c lost one race before sending and then committed" grep -q 'committed=1 .*rejected=1 .*lost_at_host=0' "$T/c.out"
check_eq "the hook ran for d's push and c's second try only" 2 "$(wc -l <"$T/hook-runs")"
finish
