#!/usr/bin/env bash
# Rotating submitters without touching every worker (doc/trust.md, "Signed
# lists and policy"): the repository's trust/allowed_signers counts only
# when a quorum of the worker's own keys signed it (M of N with
# --trust-quorum); an unsigned or under-signed list is ignored with a
# logged reason; a signature by a key the list itself adds, or by a key
# whose namespaces do not allow it, does not count. --signed-policy holds
# dgrid.json to the same rule.
. "$(dirname "$0")/lib.sh"

command -v ssh-keygen >/dev/null || { skip "ssh-keygen is not installed (openssh-client)"; finish; }

K=$T/keys
mkdir -p "$K"
for k in admin1 admin2 alice bob; do ssh-keygen -q -t ed25519 -N '' -C "$k" -f "$K/$k"; done
pub() { cut -d' ' -f1,2 "$K/$1.pub"; }
{
	echo "admin1@grid namespaces=\"dgrid-signers,dgrid-policy\" $(pub admin1)"
	echo "admin2@grid namespaces=\"dgrid-signers,dgrid-policy\" $(pub admin2)"
	echo "alice@grid namespaces=\"dgrid-task\" $(pub alice)"
} >"$T/local_signers"

daemon_grid '{"protocol": 3}'
W=$T/work
mkdir -p "$W/trust"
echo "bob@grid namespaces=\"dgrid-task\" $(pub bob)" >"$W/trust/allowed_signers"
n=0
bob_task() {   # bob_task: a new task signed by bob, in the work clone; prints its id
	n=$((n + 1))
	printf '{"task_id": "bob%s", "script": "echo bob", "timeout_seconds": 30}\n' "$n" >"$W/tasks/queue/bob$n.json"
	ssh-keygen -q -Y sign -f "$K/bob" -n dgrid-task "$W/tasks/queue/bob$n.json" 2>/dev/null
}
sign_list() {   # sign_list KEY OUT: a signature of the work clone's list by KEY, at OUT
	cp "$W/trust/allowed_signers" "$T/list"
	rm -f "$T/list.sig"
	ssh-keygen -q -Y sign -f "$K/$1" -n dgrid-signers "$T/list" 2>/dev/null
	mkdir -p "$(dirname "$2")"
	mv "$T/list.sig" "$2"
}
status_of() {
	local f
	f=$(git -C "$T/srv/grid.git" ls-tree -r --name-only main -- tasks/completed tasks/failed | grep "/$1\." | tail -1)
	[ -n "$f" ] && git -C "$T/srv/grid.git" show "main:$f" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["status"], r.get("reason", ""))'
}
worker() {   # worker LOG ARGS...: one worker until the grid is idle
	local log=$1
	shift
	DGRID_CACHE=$T/cache PULL_INTERVAL=1 timeout 120 "$DGRID" worker --repo "$URL" --node-id w1 \
		--executor process --exit-when-idle --http off --allowed-signers "$T/local_signers" "$@" >"$T/$log" 2>&1
}
pull() { git -C "$W" pull -q --rebase origin main; mkdir -p "$W/tasks/queue"; }

# ---- an unsigned list is ignored
bob_task
commit_push "$W" "an unsigned signers list and a task by bob"
worker w-a.log
check "an unsigned list is ignored, with the reason" \
	grep -q 'event=trust-list-ignored file=trust/allowed_signers reason="signed by 0 of the 1 keys of ours required (no signature files)' "$T/w-a.log"
check "... so bob's task is rejected as signed by an unknown key" grep -q "^rejected unknown key:" <<<"$(status_of bob1)"

# ---- signed by a key the list adds, or by alice (namespaces="dgrid-task"): still ignored
pull
sign_list bob "$W/trust/allowed_signers.sigs/bob.sig"
sign_list alice "$W/trust/allowed_signers.sigs/alice.sig"
bob_task
commit_push "$W" "the list signed by bob himself and by alice"
worker w-b.log
check "a signature by a key of the list itself does not count" \
	grep -q 'allowed_signers.sigs/bob.sig: unknown key' "$T/w-b.log"
check "a signature by a key not allowed the namespace does not count" \
	grep -q "allowed_signers.sigs/alice.sig: wrong namespace: .*may not sign 'dgrid-signers'" "$T/w-b.log"
check "... and bob's task is rejected" grep -q "^rejected unknown key:" <<<"$(status_of bob2)"

# ---- signed by admin1: honoured with quorum 1, ignored with quorum 2
pull
sign_list admin1 "$W/trust/allowed_signers.sig"
bob_task
commit_push "$W" "the list signed by admin1"
worker w-c.log --trust-quorum 2
check "with --trust-quorum 2, one admin's signature is not enough" \
	grep -q 'reason="signed by 1 of the 2 keys of ours required' "$T/w-c.log"
check "... bob's task is rejected" grep -q "^rejected unknown key:" <<<"$(status_of bob3)"
pull
bob_task
commit_push "$W" "another task by bob"
worker w-d.log
check "with quorum 1, the list signed by admin1 is accepted" grep -q "event=trust-list-accepted file=trust/allowed_signers keys=1" "$T/w-d.log"
check_eq "... and bob's task runs" "success " "$(status_of bob4)"

# ---- the second admin signs: quorum 2 is met
pull
sign_list admin2 "$W/trust/allowed_signers.sigs/admin2.sig"
bob_task
commit_push "$W" "the list signed by admin2 too"
worker w-e.log --trust-quorum 2
check "two admins' signatures meet --trust-quorum 2" grep -q "event=trust-list-accepted" "$T/w-e.log"
check_eq "... bob's task runs" "success " "$(status_of bob5)"

# ---- an edit after signing voids the signatures
pull
echo "mallory@grid $(pub alice)" >>"$W/trust/allowed_signers"
bob_task
commit_push "$W" "the list edited after it was signed"
worker w-f.log
check "a list edited after signing is ignored" \
	grep -q 'trust-list-ignored.*signature does not match the signed bytes' "$T/w-f.log"
check "... bob's task is rejected" grep -q "^rejected unknown key:" <<<"$(status_of bob6)"

# ---- --signed-policy
pull
printf '{"protocol": 3, "timeout_max": 600}\n' >"$W/dgrid.json"
printf '{"task_id": "al1", "script": "echo alice", "timeout_seconds": 30}\n' >"$W/tasks/queue/al1.json"
ssh-keygen -q -Y sign -f "$K/alice" -n dgrid-task "$W/tasks/queue/al1.json" 2>/dev/null
commit_push "$W" "an unsigned policy"
DGRID_CACHE=$T/cache PULL_INTERVAL=1 timeout 8 "$DGRID" worker --repo "$URL" --node-id w1 --executor process \
	--http off --allowed-signers "$T/local_signers" --signed-policy >"$T/w-g.log" 2>&1
check "--signed-policy: an unsigned dgrid.json stops claims, with the reason" \
	grep -q 'event=policy-unsigned reason="dgrid.json is signed by 0 of the 1 keys of ours required' "$T/w-g.log"
check_eq "... the task stays queued" 1 \
	"$(git -C "$T/srv/grid.git" ls-tree -r --name-only main -- tasks/queue | grep -c '/al1\.json$')"
pull
"$DGRID" sign --key "$K/admin1" --namespace dgrid-policy "$W/dgrid.json" >/dev/null
commit_push "$W" "the policy signed"
worker w-h.log --signed-policy
check "a signed dgrid.json is accepted" grep -q "event=policy-signed" "$T/w-h.log"
check_eq "... and the task runs" "success " "$(status_of al1)"
"$DGRID" worker --repo "$URL" --signed-policy >"$T/usage.out" 2>&1
check_eq "--signed-policy without --allowed-signers is a usage error" 2 $?

finish
