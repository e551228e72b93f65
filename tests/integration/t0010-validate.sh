#!/usr/bin/env bash
# dgrid validate: files and directories, exit codes, 'path: reason' lines.
. "$(dirname "$0")/lib.sh"

q=$T/queue
mkdir -p "$q"
printf '{"task_id": "task-001", "script": "echo hi", "timeout_seconds": 30}\n' >"$q/task-001.json"
printf '{"task_id": "task-002", "script": "date", "priority": 3}\n' >"$q/task-002.json"
touch "$q/.gitkeep"
printf 'not a task\n' >"$q/README"

"$DGRID" validate "$q" >"$T/out" 2>"$T/err"
check_eq "all valid: exit 0" 0 $?
check_eq "all valid: no output" "" "$(cat "$T/out")"

"$DGRID" validate -v "$q" >"$T/out"
check_eq "-v prints ok lines, .gitkeep and README ignored" \
	"$q/task-001.json: ok
$q/task-002.json: ok" "$(cat "$T/out")"

printf '{"task_id": "../x", "script": "echo", "timeout_seconds": 30}\n' >"$q/evil.json"
printf '{"task_id": "b", "script": "echo", "timeout_seconds": 30}\n' >"$q/a.json"
printf '{"task_id": "t3", "script": "echo", "timeout_seconds": "30"}\n' >"$q/t3.json"
printf '{"task_id": "t4", "script": "echo", "timeout_seconds": 9}\n' >"$q/t4.json"
printf '{"task_id": "t5",\n "script": "echo"\n' >"$q/t5.json"
printf '[1, 2]\n' >"$q/t6.json"
head -c 70000 /dev/zero | tr '\0' ' ' >"$q/big.json"
mkdir "$q/sub.json"
ln -s task-001.json "$q/link.json"

"$DGRID" validate "$q" >"$T/out" 2>"$T/err"
check_eq "invalid files: exit 1" 1 $?
check_eq "invalid files: one line each" 9 "$(wc -l <"$T/out")"
check "path traversal id reported" grep -qxF "$q/evil.json: task_id '../x' has characters outside [A-Za-z0-9_-]" "$T/out"
check "file name mismatch reported" grep -qxF "$q/a.json: file name 'a.json' does not match task_id 'b'" "$T/out"
check "string timeout reported with position" grep -qxF "$q/t3.json: line 1 column 56: expected integer for timeout_seconds, got string" "$T/out"
check "low timeout reported" grep -qxF "$q/t4.json: timeout_seconds 9 is below the minimum 10" "$T/out"
check "truncated JSON reported with line" grep -qE "^$q/t5.json: line 3 column [0-9]+: " "$T/out"
check "array reported" grep -qxF "$q/t6.json: expected a JSON object, got array" "$T/out"
check "big file reported" grep -qxF "$q/big.json: task file is 70,000 bytes, limit 65,536" "$T/out"
check "subdirectory named .json reported" grep -qxF "$q/sub.json: is a directory, not a regular file" "$T/out"
check "symlink reported" grep -qxF "$q/link.json: is a symbolic link, not a regular file" "$T/out"
check "valid files not printed without -v" test -z "$(grep -F task-001.json: "$T/out")"
check_eq "nothing on stderr" "" "$(cat "$T/err")"

"$DGRID" validate "$q/task-001.json" "$q/task-002.json" >"$T/out"
check_eq "single valid files: exit 0" 0 $?

"$DGRID" validate "$q/task-001.json" "$q/t4.json" >"$T/out"
check_eq "one bad file among files: exit 1" 1 $?
check_eq "only the bad file printed" "$q/t4.json: timeout_seconds 9 is below the minimum 10" "$(cat "$T/out")"

"$DGRID" validate "$T/missing.json" >"$T/out"
check_eq "missing file: exit 1" 1 $?
check "missing file reported" grep -qF "$T/missing.json: No such file or directory" "$T/out"

"$DGRID" validate >/dev/null 2>&1
check_eq "no argument: exit 2" 2 $?
"$DGRID" validate --frobnicate "$q" >/dev/null 2>&1
check_eq "unknown option: exit 2" 2 $?
"$DGRID" validate --help >"$T/out"
check_eq "--help: exit 0" 0 $?
check "--help prints usage" grep -q "usage: dgrid validate" "$T/out"

printf '{"$comment": "lenient grid", "timeout_min": 5}\n' >"$T/dgrid.json"
"$DGRID" validate --policy "$T/dgrid.json" "$q/t4.json" >"$T/out"
check_eq "policy lowers timeout_min: exit 0" 0 $?
printf '{"timeout_min": 5, "colour": "red"}\n' >"$T/bad-policy.json"
"$DGRID" validate --policy "$T/bad-policy.json" "$q/t4.json" >"$T/out" 2>"$T/err"
check_eq "unknown policy key: only a warning, exit 0" 0 $?
check "unknown policy key is named" grep -qF "unknown key 'colour', ignored by dgrid" "$T/err"
printf '{"timeout_min": "5"}\n' >"$T/bad-policy.json"
"$DGRID" validate --policy "$T/bad-policy.json" "$q/t4.json" >"$T/out" 2>"$T/err"
check_eq "bad policy: exit 2" 2 $?
check "bad policy names the key" grep -qF "expected integer for timeout_min" "$T/err"
printf '{"protocol": 7}\n' >"$T/new-policy.json"
"$DGRID" validate --policy "$T/new-policy.json" "$q/t4.json" >"$T/out" 2>"$T/err"
check "a newer protocol is named" grep -qF "the grid requires protocol 7" "$T/err"

finish
