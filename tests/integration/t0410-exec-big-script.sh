#!/usr/bin/env bash
# A script far above the 128 KiB limit of one exec argument (MAX_ARG_STRLEN)
# but within a policy's script_max runs under native and process, and its
# text never shows in any process's command line.
. "$(dirname "$0")/lib.sh"

field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

cd "$T"
printf '{"script_max": 1048576, "file_max": 2097152}\n' >policy.json
# ~600 KiB of comment, then what the task reports: its own command line's
# size, the largest command line it can see, its descriptors, $0 and a
# line number (of an error) counted from the script's first line.
python3 - <<'PY'
import json
lines = ["echo first-line-$0"]
lines += ["# " + "dgrid-big-comment-" * 5 + str(i) for i in range(6600)]
lines += [
    'wc -c </proc/$$/cmdline',
    'for f in /proc/[0-9]*/cmdline; do wc -c <"$f"; done 2>/dev/null | sort -n | tail -1',
    'ls /proc/self/fd | tr "\\n" " "; echo',
    'nosuch_dgrid_cmd 2>&1 | cut -d: -f2 | tr -d " "',
    'echo done',
]
script = "\n".join(lines) + "\n"
assert 600 * 1024 <= len(script) <= 700 * 1024, len(script)
json.dump({"task_id": "big", "script": script, "timeout_seconds": 60}, open("big.json", "w"))
open("error-line", "w").write(str(lines.index([l for l in lines if "nosuch" in l][0]) + 1))
PY
error_line=$(cat error-line)

for ex in native process; do
	if [ $ex = native ] && ! "$DGRID" exec --executor native 'exit 0' >/dev/null 2>&1; then
		skip "native: no sandbox here"
		continue
	fi
	"$DGRID" run --executor $ex --policy policy.json big.json >big.out 2>big.err
	check_eq "$ex: the 600 KiB script succeeds" "0 success" "$? $(field big.out status 2>/dev/null)"
	field big.out stdout >big.stdout 2>/dev/null
	check_eq "$ex: it ran to its end" "done" "$(sed -n 6p big.stdout)"
	check_eq "$ex: \$0 is still sh" "first-line-sh" "$(sed -n 1p big.stdout)"
	check "$ex: the shell's command line is short (not the script)" \
		test "$(sed -n 2p big.stdout)" -lt 100
	check "$ex: no visible process has the script in its command line" \
		test "$(sed -n 3p big.stdout)" -lt 100000
	check_eq "$ex: the script's descriptor is not inherited (3 is ls's own)" \
		"0 1 2 3 " "$(sed -n 4p big.stdout)"
	check_eq "$ex: line numbers count from the script's first line" \
		"$error_line" "$(sed -n 5p big.stdout)"
	check "$ex: the script text is not echoed anywhere" \
		bash -c "! grep -q dgrid-big-comment big.stdout big.err"
done
finish
