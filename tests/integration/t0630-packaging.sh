#!/usr/bin/env bash
# Packaging, checked statically (no systemd as PID 1, no Kubernetes
# cluster): the Dockerfile's shape, the entry point's NODE_ID rule,
# docker-compose.yml through `docker-compose config`, the systemd unit
# through `systemd-analyze verify`, its wrapper's credential handling, and
# the Kubernetes manifest's structure. The image and the compose file are
# also built and run on a real engine: t0640 and t0641.
. "$(dirname "$0")/lib.sh"

S=$DGRID_SRC
df=$S/Dockerfile

# --- Dockerfile -----------------------------------------------------------
check "Dockerfile: build stage on debian:12 with install-deps and make" \
	bash -c "grep -q '^FROM debian:12 AS build' '$df' && grep -q 'scripts/install-deps' '$df' && grep -q 'make' '$df'"
check "Dockerfile: runtime stage on debian:12-slim" grep -q '^FROM debian:12-slim AS runtime' "$df"
for lib in libgit2-1.5 libjansson4 libmicrohttpd12 libseccomp2 libsodium23 ca-certificates python3; do
	check "Dockerfile: runtime installs $lib" grep -qw -- "$lib" "$df"
done
check "Dockerfile: runtime does not install -dev packages" \
	bash -c "! sed -n '/AS runtime/,/AS gitd/p' '$df' | grep -q -- '-dev'"
check "Dockerfile: runtime user is not root" \
	bash -c "sed -n '/AS runtime/,/AS gitd/p' '$df' | grep -q '^USER dgrid'"
check "Dockerfile: the executor choice is documented" grep -q 'Executor' "$df"
# the runtime library names must exist in Debian 12 (this host is Debian 12)
if command -v apt-cache >/dev/null && grep -q 'VERSION_ID="12"' /etc/os-release 2>/dev/null; then
	missing=""
	for p in libgit2-1.5 libjansson4 libmicrohttpd12 libseccomp2 libsodium23; do
		apt-cache show "$p" >/dev/null 2>&1 || missing="$missing $p"
	done
	check_eq "runtime packages exist in this Debian 12" "" "$missing"
	# and they are what the built binary needs (apt brings their own dependencies)
	needed=$(objdump -p "$DGRID" | awk '/NEEDED/ {print $2}' | sort | tr '\n' ' ')
	note "the binary needs: $needed"
	extra=""
	for so in $needed; do
		case $so in
		libc.so.* | libm.so.* | libpthread.so.* | ld-linux*) ;;
		libasan.so.* | libubsan.so.*) ;;   # only in the make asan build
		libgit2.so.1.5 | libjansson.so.4 | libmicrohttpd.so.12 | libseccomp.so.2 | libsodium.so.23) ;;
		*) extra="$extra $so" ;;
		esac
	done
	check_eq "every library the binary needs is in the runtime list" "" "$extra"
else
	skip "not Debian 12: package names not checked"
fi
if command -v hadolint >/dev/null; then
	check "hadolint accepts the Dockerfile" hadolint "$df"
else
	skip "hadolint is not installed (not packaged in Debian 12)"
fi

# --- entry point -----------------------------------------------------------
ep=$S/packaging/docker-entrypoint.sh
cat >"$T/fake-dgrid" <<'SH'
#!/bin/sh
echo "dgrid $*"
SH
chmod +x "$T/fake-dgrid"
out=$(env -u NODE_ID DGRID="$T/fake-dgrid" DGRID_REPO_URL=git://x/y sh "$ep" worker 2>&1)
check_eq "entrypoint: NODE_ID unset is exit 2" 2 $?
check "... with a message naming NODE_ID" grep -q 'NODE_ID is not set' <<<"$out"
out=$(NODE_ID=w1 DGRID="$T/fake-dgrid" DGRID_REPO_URL=git://x/y sh "$ep" worker --slots 2)
check_eq "entrypoint: runs the worker when NODE_ID is set" "dgrid worker --slots 2" "$out"
out=$(NODE_ID=w1 DGRID="$T/fake-dgrid" DGRID_REPO_URL=git://x/y sh "$ep" --slots 2)
check_eq "entrypoint: bare flags go to the worker" "dgrid worker --slots 2" "$out"
out=$(env -u NODE_ID DGRID="$T/fake-dgrid" sh "$ep" doctor)
check_eq "entrypoint: other commands need no NODE_ID" "dgrid doctor" "$out"

# --- docker-compose.yml ----------------------------------------------------
if command -v docker-compose >/dev/null; then
	(cd "$S" && docker-compose -f docker-compose.yml config) >"$T/compose.out" 2>&1
	check_eq "docker-compose config accepts docker-compose.yml" 0 $?
	check "... two workers with their own NODE_ID" \
		bash -c "grep -c 'NODE_ID: worker-[12]' '$T/compose.out' | grep -qx 2"
	check "... a git daemon service on the repository volume" grep -q 'target: gitd' "$T/compose.out"
	check "... privileged native workers unless DGRID_PRIVILEGED=false" \
		bash -c "grep -c 'privileged: true' '$T/compose.out' | grep -qx 2"
	(cd "$S" && DGRID_PRIVILEGED=false DGRID_EXECUTOR=process docker-compose -f docker-compose.yml config) >"$T/compose2.out" 2>&1
	check "... the documented unprivileged variant: process executor, not privileged" \
		bash -c "grep -c 'privileged: false' '$T/compose2.out' | grep -qx 2 && grep -c 'DGRID_EXECUTOR: process' '$T/compose2.out' | grep -qx 2"
elif docker compose version >/dev/null 2>&1; then
	check "docker compose config accepts docker-compose.yml" \
		bash -c "cd '$S' && docker compose -f docker-compose.yml config >/dev/null"
else
	skip "neither docker-compose nor the compose plugin is installed"
fi

# --- systemd ---------------------------------------------------------------
unit=$S/packaging/dgrid-worker.service
wrap=$S/packaging/dgrid-worker-start
check "unit: LoadCredential for the token" grep -q '^LoadCredential=git-token:' "$unit"
check "unit: Restart=on-failure" grep -q '^Restart=on-failure' "$unit"
check "unit: does not restrict namespaces or cgroups (the sandbox needs them)" \
	bash -c "! grep -qE '^(RestrictNamespaces|ProtectControlGroups|PrivateDevices)=' '$unit'"
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/sd/bin" "$T/sd/man/man1"
	cp "$wrap" "$T/sd/bin/" && cp "$S/doc/dgrid.1" "$T/sd/man/man1/"
	sed "s|/usr/local/libexec/dgrid-worker-start|$T/sd/bin/dgrid-worker-start|" "$unit" >"$T/sd/dgrid-worker.service"
	MANPATH=$T/sd/man systemd-analyze verify "$T/sd/dgrid-worker.service" >"$T/verify.out" 2>&1
	check_eq "systemd-analyze verify accepts the unit" 0 $?
	[ -s "$T/verify.out" ] && sed 's/^/#   /' "$T/verify.out"
else
	skip "systemd-analyze is not installed"
fi
mkdir -p "$T/creds"
printf 'tok-123\n' >"$T/creds/git-token"
cat >"$T/env-dgrid" <<'SH'
#!/bin/sh
echo "args=$* token=${GIT_TOKEN:-none}"
SH
chmod +x "$T/env-dgrid"
out=$(env -u GIT_TOKEN CREDENTIALS_DIRECTORY="$T/creds" DGRID="$T/env-dgrid" sh "$wrap" --http off)
check_eq "wrapper exports GIT_TOKEN from the credential, without the newline" "args=worker --http off token=tok-123" "$out"
out=$(env -u GIT_TOKEN -u CREDENTIALS_DIRECTORY DGRID="$T/env-dgrid" sh "$wrap")
check_eq "wrapper without a credential: no token" "args=worker token=none" "$out"

if command -v shellcheck >/dev/null; then
	check "shellcheck accepts the entry point and the wrapper" shellcheck "$ep" "$wrap"
else
	skip "shellcheck is not installed"
fi

# --- the /health endpoint the image's HEALTHCHECK and the k8s probe use -----
"$DGRID" init "$T/grid.git" >/dev/null 2>&1
port=$(free_port)
DGRID_CACHE=$T/cache "$DGRID" worker --repo "$T/grid.git" --node-id probe \
	--http "127.0.0.1:$port" >"$T/worker.log" 2>&1 &
wpid=$!
track "$wpid"
if wait_port "$port"; then
	# 503 until its first fetch and status (a slow first fetch, e.g. under
	# the sanitizers, is seen as such): then 200
	first=$(curl -s "http://127.0.0.1:$port/health")
	check "before its first status, /health says ok or why not" bash -c \
		"echo '$first' | grep -Eqx 'ok|unavailable: no status published yet|unavailable: no successful fetch yet'"
	check "a worker started with --http answers /health with 200" wait_for 30 bash -c \
		"[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/health)\" = 200 ]"
else
	fail "the worker did not open its --http port (the Dockerfile HEALTHCHECK and the Kubernetes livenessProbe rely on /health)"
fi
kill "$wpid" 2>/dev/null

# --- Kubernetes --------------------------------------------------------------
if python3 -c 'import yaml' 2>/dev/null; then
	python3 - "$S/packaging/kubernetes/worker-deployment.yaml" <<'PY'
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
kinds = {d["kind"]: d for d in docs}
assert set(kinds) == {"Secret", "Deployment"}, kinds.keys()
c = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
env = {e["name"]: e for e in c["env"]}
assert env["NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
ref = env["GIT_TOKEN"]["valueFrom"]["secretKeyRef"]
assert ref["name"] == kinds["Secret"]["metadata"]["name"], ref
assert ref["key"] in kinds["Secret"]["stringData"], ref
assert c["livenessProbe"]["httpGet"]["path"] == "/health"
PY
	check "kubernetes: Secret + Deployment, NODE_ID from the pod name, token from the Secret" [ $? -eq 0 ]
else
	skip "python3-yaml is not installed"
fi

finish
