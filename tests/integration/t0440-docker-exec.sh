#!/usr/bin/env bash
# The docker executor on a real engine (docker.sh starts a private dockerd
# when none answers): identity, a script too large for argv, the task's
# stdin, a missing image refused at start-up with the command that fixes it.
. "$(dirname "$0")/lib.sh"
EXECUTOR=docker
. "$(dirname "$0")/sandbox.sh"
. "$(dirname "$0")/docker.sh"
docker_need task

dx id 'id -u; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t" " "'
check_eq "uid 1000, no capabilities, no_new_privs, seccomp" "1000
CapEff: 0000000000000000
NoNewPrivs: 1
Seccomp: 2" "$(out id)"
check_eq "the task succeeded through docker" "docker 0" "$(jf id executor) $(jf id exit_code)"

# 600 KiB: far above one argv string's 128 KiB (MAX_ARG_STRLEN)
"$PY" - "$T" <<'PY'
import json, sys
lines = ["n=0"]
pad = "#" + "p" * 60
for i in range(9000):
    lines.append("n=$((n+1)) " + pad)
lines.append('echo "lines=$n"; echo "stdin=$(cat | wc -c)"')
script = "\n".join(lines) + "\n"
assert len(script) > 600 * 1024
open(sys.argv[1] + "/big.json", "w").write(json.dumps(
    {"task_id": "big", "script": script, "timeout_seconds": 60}))
open(sys.argv[1] + "/policy.json", "w").write(json.dumps({"script_max": 1048576, "file_max": 2097152}))
PY
"$DGRID" run --executor docker --policy "$T/policy.json" "$T/big.json" >"$T/bigres.json" 2>"$T/bigres.err"
check_eq "a 600 KiB script runs whole through docker" "success" "$(jf bigres status)"
check_eq "... every line of it ran, and its stdin is empty" "lines=9000
stdin=0" "$(out bigres)"
[ "$(jf bigres status)" = success ] || head -c 600 "$T/bigres.err" "$T/bigres.json" | sed 's/^/# /'

dx stdin 'cat; echo "rc=$?"; ls -A /tmp | wc -l'
check_eq "a task reading stdin gets EOF; /tmp holds nothing of ours" "rc=0
0" "$(out stdin)"

# the script is not on any command line of the host
mark="dgridmark$RANDOM$RANDOM"
dx argv --timeout 20 "sleep 3; echo $mark >/dev/null" &
pid=$!
sleep 1.5
check "the script is on no host command line (but dgrid exec's own)" \
	bash -c "! pgrep -af '$mark' | grep -v -e pgrep -e 'dgrid exec'"
wait $pid
check_eq "... and the task ran" "0" "$(jf argv exit_code)"

# a missing image: one clear error at start-up, naming it and the fix
DGRID_DOCKER_IMAGE=dgrid-test/absent:1 "$DGRID" doctor >"$T/doctor.out" 2>&1
check "dgrid doctor says the image is missing and how to fetch it" \
	grep -q "image 'dgrid-test/absent:1' is not present.*docker pull dgrid-test/absent:1" "$T/doctor.out"
make_bare "$T/grid.git"
"$DGRID" init "$T/grid.git" >/dev/null 2>&1
"$DGRID" submit --repo "$T/grid.git" --id t1 --script 'echo hi' >/dev/null 2>&1
DGRID_DOCKER_IMAGE=dgrid-test/absent:1 timeout 60 "$DGRID" worker --repo "$T/grid.git" \
	--node-id w1 --executor docker --http off --exit-when-idle >"$T/w.out" 2>"$T/w.err"
check_eq "a worker with a missing image exits 1 at start-up" 1 $?
check "... saying which image and how to fetch it" \
	grep -q "executor 'docker' does not work here: image 'dgrid-test/absent:1' is not present.*docker pull" "$T/w.err"
check_eq "... and claimed nothing (the task is still queued)" 1 "$(count_files "$T/grid.git" tasks/queue)"
check_eq "no container is left" "" "$(docker_left dgrid-)"
finish
