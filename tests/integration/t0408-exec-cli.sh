#!/usr/bin/env bash
# dgrid exec and dgrid doctor as commands: help, errors, JSON, environment knobs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sandbox.sh"

check "dgrid exec --help" bash -c "\"\$DGRID\" exec --help >/dev/null"
check "dgrid doctor --help" bash -c "\"\$DGRID\" doctor --help >/dev/null"
"$DGRID" doctor >"$T/doctor" 2>&1
check_eq "dgrid doctor exits 0" "0" "$?"
check "doctor lists the namespaces" grep -q '^  pid ' "$T/doctor"
check "doctor names the executor the worker would use" grep -q '^worker would use: ' "$T/doctor"
check "doctor reports seccomp" grep -q '^seccomp:' "$T/doctor"

"$DGRID" exec >/dev/null 2>&1
check_eq "no script is a usage error" "2" "$?"
"$DGRID" exec --executor nope true >/dev/null 2>"$T/nope"
check_eq "an unknown executor is a usage error" "2" "$?"
DOCKER_MEMORY=lots "$DGRID" exec --executor process true >/dev/null 2>"$T/badmem"
check_eq "a bad DOCKER_MEMORY is a configuration error" "2" "$?"
check "... naming the variable" grep -q DOCKER_MEMORY "$T/badmem"
DOCKER_CPUS=-1 "$DGRID" exec --executor process true >/dev/null 2>"$T/badcpu"
check "a bad DOCKER_CPUS names the variable" grep -q DOCKER_CPUS "$T/badcpu"
DGRID_PIDS=0 "$DGRID" exec --executor process true >/dev/null 2>"$T/badpids"
check "a bad DGRID_PIDS names the variable" grep -q DGRID_PIDS "$T/badpids"
DGRID_TMP_SIZE=1x "$DGRID" exec --executor process true >/dev/null 2>"$T/badtmp"
check "a bad DGRID_TMP_SIZE names the variable" grep -q DGRID_TMP_SIZE "$T/badtmp"

"$DGRID" exec --executor process 'printf "\377\0x"; exit 3' >"$T/j.json"
check_eq "the JSON carries every field" \
	"duration_ms executor exit_code killed output_limit stderr stderr_truncated stdout stdout_truncated term_signal timed_out" \
	"$("$PY" -c 'import json,sys; print(" ".join(sorted(json.load(open(sys.argv[1])))))' "$T/j.json")"
check_eq "bytes are kept, invalid UTF-8 replaced" '"\ufffd\u0000x"' \
	"$("$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["stdout"]))' "$T/j.json")"

if "$DGRID" exec --executor native true >/dev/null 2>&1; then
	DGRID_TMP_SIZE=2m dx tmpenv 'df -k /tmp | tail -1 | tr -s " " | cut -d" " -f2'
	check_eq "DGRID_TMP_SIZE sizes the sandbox's /tmp" "2048" "$(out tmpenv)"
	DGRID_PIDS=5 dx pidsenv 'for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait; echo done'
	check "DGRID_PIDS limits processes" grep -q 'fork' <(errout pidsenv)
	mkdir -p "$T/rootfs"
	DGRID_ROOTFS=$T/rootfs dx rootfs 'true'
	check "an empty DGRID_ROOTFS fails to start (no /bin/sh there)" grep -q 'execve' "$T/rootfs.stderr"
else
	skip "native environment knobs: no native sandbox"
fi
finish
