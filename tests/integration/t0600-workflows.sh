#!/usr/bin/env bash
# The GitHub automation, checked locally: every workflow parses as YAML (and
# passes yamllint when it is installed), no `run:` block interpolates event
# data into shell code, and scripts/validate-changed on a real git history
# refuses a bad task file with its reason, refuses changes outside the queue,
# judges by the base's policy, and passes good files.
. "$(dirname "$0")/lib.sh"

wf=$DGRID_SRC/.github/workflows
vc=$DGRID_SRC/scripts/validate-changed
export DGRID

check "the workflows exist" test -f "$wf/validate-tasks.yml" -a -f "$wf/dashboard.yml"

if python3 -c 'import yaml' 2>/dev/null; then
	for f in "$wf"/*.yml; do
		check "$(basename "$f") parses as YAML" python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$f"
	done
	# every run: block, as the runner will see it (PyYAML reads the key on as True)
	out=$(python3 - "$wf"/*.yml <<'PY'
import sys, yaml
bad = []
for path in sys.argv[1:]:
    doc = yaml.safe_load(open(path))
    on = doc.get("on", doc.get(True))
    if not on:
        bad.append(f"{path}: no triggers")
    for name, job in (doc.get("jobs") or {}).items():
        for i, step in enumerate(job.get("steps") or []):
            run = step.get("run")
            if run is None:
                continue
            for needle in ("${{ github.event", "${{ github.head_ref", "${{"):
                if needle in run:
                    bad.append(f"{path}: job {name} step {i}: run interpolates {needle!r}")
                    break
print("\n".join(bad))
PY
)
	check_eq "no run: block interpolates \${{ ... }} (event data, head_ref, anything)" "" "$out"
	python3 - "$wf/dashboard.yml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
on = d.get("on", d.get(True))
assert {"schedule", "push", "workflow_dispatch"} <= set(on), on
p = d["permissions"]
assert p == {"contents": "write", "pages": "write", "id-token": "write"}, p
uses = [s.get("uses", "") for s in d["jobs"]["dashboard"]["steps"]]
assert any(u.startswith("actions/upload-pages-artifact@") for u in uses), uses
assert any(u.startswith("actions/deploy-pages@") for u in uses), uses
runs = " ".join(s.get("run", "") for s in d["jobs"]["dashboard"]["steps"])
assert "dgrid reap" in runs and "dgrid dashboard --out site" in runs, runs
assert "git push" not in runs and "git commit" not in runs
PY
	check "dashboard.yml: triggers, permissions, reap, Pages deploy, no commits" [ $? -eq 0 ]
	python3 - "$wf/validate-tasks.yml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
on = d.get("on", d.get(True))
assert list(on) == ["pull_request"], on          # never pull_request_target
assert on["pull_request"]["paths"] == ["tasks/**"], on
assert d["permissions"] == {"contents": "read"}
runs = " ".join(s.get("run", "") for s in d["jobs"]["validate"]["steps"])
assert "install-deps" in runs and "make" in runs and "validate-changed" in runs, runs
PY
	check "validate-tasks.yml: pull_request on tasks/**, read-only, builds and validates" [ $? -eq 0 ]
	python3 - "$wf/release-image.yml" "$DGRID_SRC/Dockerfile" <<'PY'
import re, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
on = d.get("on", d.get(True))
assert list(on) == ["push"] and list(on["push"]) == ["tags"], on   # tags only, never branches
assert on["push"]["tags"] == ["v*.*.*"], on
assert d["permissions"] == {"contents": "read", "packages": "write"}, d["permissions"]
steps = d["jobs"]["image"]["steps"]
login = [s for s in steps if s.get("uses", "").startswith("docker/login-action@")]
assert login and login[0]["with"]["registry"] == "ghcr.io", login
assert login[0]["with"]["password"] == "${{ secrets.GITHUB_TOKEN }}", login
runs = "\n".join(s.get("run", "") for s in steps)
assert "src/version.h" in runs and '"v$version" != "$TAG"' in runs, "no tag/version check"
for arg in ("DGRID_VERSION=", "DGRID_REVISION=\"$SHA\"", "DGRID_SOURCE="):
    assert "--build-arg " + arg in runs, arg
assert "--target runtime" in runs and 'docker push "$image:$version"' in runs, runs
assert 'image="ghcr.io/' in runs
envs = [s.get("env", {}) for s in steps if "run" in s]
assert any(e.get("SHA") == "${{ github.sha }}" for e in envs), envs
df = open(sys.argv[2]).read()
runtime = df.split("AS runtime", 1)[1].split("\nFROM ", 1)[0]
for label, arg in (("version", "DGRID_VERSION"), ("revision", "DGRID_REVISION"), ("source", "DGRID_SOURCE")):
    assert re.search(r"ARG %s=" % arg, runtime), arg
    assert 'org.opencontainers.image.%s="$%s"' % (label, arg) in runtime, label
PY
	check "release-image.yml: on v* tags, pushes to ghcr.io with version and commit labels the Dockerfile sets" [ $? -eq 0 ]
else
	skip "python3-yaml is not installed (scripts/install-deps installs it)"
fi
if command -v yamllint >/dev/null; then
	check "yamllint accepts the workflows" yamllint -s -d \
		'{extends: default, rules: {line-length: {max: 140}, document-start: disable, truthy: {check-keys: false}}}' \
		"$wf"
else
	skip "yamllint is not installed"
fi
if command -v shellcheck >/dev/null; then
	check "shellcheck accepts scripts/validate-changed" shellcheck "$vc"
else
	skip "shellcheck is not installed"
fi

# --- validate-changed on a real history ------------------------------------
r=$T/repo
git init -q -b main "$r"
git -C "$r" config user.name t && git -C "$r" config user.email t@t
mkdir -p "$r/tasks/queue" "$r/tasks/completed"
touch "$r/tasks/queue/.gitkeep"
echo '{"task_id": "old", "script": "true"}' >"$r/tasks/queue/old.json"
git -C "$r" add -A && git -C "$r" commit -qm base
base=$(git -C "$r" rev-parse HEAD)

vc_run() { (cd "$r" && "$vc" "$@") >"$T/vc.out" 2>&1; }

echo '{"task_id": "good-1", "script": "echo hi", "timeout_seconds": 30}' >"$r/tasks/queue/good-1.json"
echo '{"task_id": "bad-1", "script": "", "timeout_seconds": 30}' >"$r/tasks/queue/bad-1.json"
git -C "$r" add -A && git -C "$r" commit -qm "one good, one bad"
vc_run "$base" HEAD
check_eq "one good and one bad file: exit 1" 1 $?
check "... the reason is printed with the path" grep -q '^tasks/queue/bad-1.json: script is empty' "$T/vc.out"
check "... the good file is reported ok" grep -q '^tasks/queue/good-1.json: ok' "$T/vc.out"
check "... the unchanged file is not checked" bash -c "! grep -q old.json '$T/vc.out'"

git -C "$r" checkout -q -b good "$base"
echo '{"task_id": "good-2", "script": "python3 -c 1"}' >"$r/tasks/queue/good-2.json"
echo '{"task_id": "good-3", "script": "ls", "timeout_seconds": 300}' >"$r/tasks/queue/good-3.json"
git -C "$r" add -A && git -C "$r" commit -qm "good files only"
vc_run main good
check_eq "only good files: exit 0 (base given as a branch)" 0 $?
check "... says how many it checked" grep -q 'ok (2 task file(s) checked)' "$T/vc.out"

# the work tree does not matter: HEAD's blobs are validated
echo 'not json' >"$r/tasks/queue/good-2.json"
vc_run main good
check_eq "the files are read from git, not from the work tree" 0 $?
git -C "$r" checkout -q -- .

# a wrong name and a file outside the queue
git -C "$r" checkout -q -b sneaky "$base"
echo '{"task_id": "other", "script": "true"}' >"$r/tasks/queue/mismatch.json"
echo '{"task_id": "x", "status": "success"}' >"$r/tasks/completed/w-x.json"
ln -s /etc/passwd "$r/tasks/queue/link.json"
git -C "$r" add -A && git -C "$r" commit -qm sneaky
vc_run "$base"
check_eq "a result, a symlink and a misnamed task: exit 1" 1 $?
check "... the result file is refused" grep -q '^tasks/completed/w-x.json: refused' "$T/vc.out"
check "... the symlink is refused" grep -q '^tasks/queue/link.json: refused: not a regular file' "$T/vc.out"
check "... the misnamed task is refused" grep -q '^tasks/queue/mismatch.json: .*' "$T/vc.out"
check "... the symlink target was never read" bash -c "! grep -q root: '$T/vc.out'"

# a file name that tries to smuggle a workflow command
git -C "$r" checkout -q -b inject "$base"
nl=$'\n'
echo '{}' >"$r/tasks/queue/x${nl}::error::pwned.json"
git -C "$r" add -A && git -C "$r" commit -qm inject
GITHUB_ACTIONS=true vc_run "$base"
check_eq "a file name with a newline: exit 1" 1 $?
check "... is refused without being printed" bash -c "! grep -q '^::error::pwned' '$T/vc.out'"
check "... and workflow commands are stopped on Actions" grep -q '^::stop-commands::[0-9a-f]\{32\}$' "$T/vc.out"

# the policy is the base's: a change cannot loosen the limits it is judged by
git -C "$r" checkout -q -b policy "$base"
echo '{"timeout_max": 600}' >"$r/dgrid.json"
git -C "$r" add -A && git -C "$r" commit -qm "policy in base"
pbase=$(git -C "$r" rev-parse HEAD)
echo '{"timeout_max": 100000}' >"$r/dgrid.json"
echo '{"task_id": "long", "script": "sleep 1", "timeout_seconds": 500}' >"$r/tasks/queue/long.json"
echo '{"task_id": "longer", "script": "sleep 1", "timeout_seconds": 5000}' >"$r/tasks/queue/longer.json"
git -C "$r" add -A && git -C "$r" commit -qm "loosen and submit"
vc_run "$pbase"
check_eq "judged by the base's policy: exit 1" 1 $?
check "... 500 s passes under the base's timeout_max 600" grep -q '^tasks/queue/long.json: ok' "$T/vc.out"
check "... 5000 s is refused despite the change's own policy" grep -q '^tasks/queue/longer.json: .*5000' "$T/vc.out"

vc_run 2>/dev/null
check_eq "no arguments: usage error" 2 $?
vc_run no-such-ref
check_eq "an unknown base: exit 2" 2 $?

finish
