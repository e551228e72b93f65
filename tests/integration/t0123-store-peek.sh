#!/usr/bin/env bash
# t0123: the peek (dg_store_peek) a worker standing aside looks with. It
# reads the branch's tip from the ref advertisement alone: the host packs
# nothing for it, and the store's known tip does not move. Checked against
# a git daemon whose pack-objects runs are logged (uploadpack.
# packObjectsHook, from the daemon's global config) and against git
# http-backend with a token: the remote tip is git's, a fetch packs where a
# peek does not, a refused token and a closed port are errors that name
# the cause and not the token.
. "$(dirname "$0")/lib.sh"

PEEK=$DGRID_SRC/${BUILD:-build}/tests/tools/store_peek
mkdir -p "$T/srv"
BARE=$T/srv/grid.git
make_bare "$BARE"
"$DGRID" init "$BARE" >/dev/null 2>&1

# every pack-objects the daemon's upload-pack runs leaves a line
cat >"$T/pack-hook" <<HOOK
#!/bin/sh
echo pack >>"$T/packs"
exec "\$@"
HOOK
chmod +x "$T/pack-hook"
start_git_daemon_pack_hook "$T/srv" "$T/pack-hook"
URL="git://127.0.0.1:$GIT_DAEMON_PORT/grid.git"
TIP=$(git -C "$BARE" rev-parse main)
packs() { cat "$T/packs" 2>/dev/null | wc -l; }

out=$("$PEEK" "$URL" "$T/cache" 2>"$T/err")
check_eq "a fresh cache: nothing known, the remote's tip seen" "known= remote=$TIP known_after=" "$out"
check_eq "the peek made the host pack nothing" 0 "$(packs)"
out=$("$PEEK" "$URL" "$T/cache" fetch 2>"$T/err")
check_eq "after a fetch: known and remote agree" "known=$TIP remote=$TIP known_after=$TIP" "$out"
check_eq "the fetch made the host pack once" 1 "$(packs)"

# the branch moves; the cache stays behind
clone_work "$BARE" "$T/work"
echo x >"$T/work/x"
git -C "$T/work" add x && git -C "$T/work" commit -qm "plain commit" && git -C "$T/work" push -q origin main
NEW=$(git -C "$BARE" rev-parse main)
out=$("$PEEK" "$URL" "$T/cache" 2>"$T/err")
check_eq "a moved branch: the peek sees the new tip, the known one stays" \
	"known=$TIP remote=$NEW known_after=$TIP" "$out"
check_eq "and the host packed nothing for it" 1 "$(packs)"

# HTTP with a token
TOKEN=peek-secret-$$
start_http_git "$T/srv" x-access-token "$TOKEN"
HURL="http://127.0.0.1:$HTTP_GIT_PORT/git/grid.git"
out=$(GIT_TOKEN=$TOKEN "$PEEK" "$HURL" "$T/cache-http" 2>"$T/err")
check_eq "over HTTP with the token: the remote's tip" "known= remote=$NEW known_after=" "$out"
GIT_TOKEN=wrong-$TOKEN "$PEEK" "$HURL" "$T/cache-http" >"$T/out" 2>"$T/err"
rc=$?
note "wrong token: $(cat "$T/err")"
check_eq "a refused token fails the peek" 1 "$rc"
check "the error says the credentials were refused" grep -qi 'auth\|credential\|401' "$T/err"
check "the error does not show the token" bash -c "! grep -q '$TOKEN' '$T/err' '$T/out'"

# nothing listens
PORT=$(free_port)
"$PEEK" "git://127.0.0.1:$PORT/grid.git" "$T/cache-down" >"$T/out" 2>"$T/err"
rc=$?
note "closed port: $(cat "$T/err")"
check_eq "a closed port fails the peek" 1 "$rc"
check "the error says it could not connect" grep -qi 'connect' "$T/err"
finish
