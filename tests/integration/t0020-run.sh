#!/usr/bin/env bash
# dgrid run: one task file, run here as a worker would, result JSON on stdout.
. "$(dirname "$0")/lib.sh"

field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

cd "$T"
printf '{"task_id": "ok", "script": "echo hello; echo err >&2", "timeout_seconds": 10, "owner": "me"}\n' >ok.json
printf '{"task_id": "bad", "script": "exit 3", "timeout_seconds": 10}\n' >bad.json
printf '{"task_id": "slow", "script": "sleep 30", "timeout_seconds": 1}\n' >slow.json
printf '{"task_id": "other", "script": "true"}\n' >wrongname.json
printf '{"timeout_min": 1}\n' >policy.json

for ex in native process; do
	"$DGRID" run --executor $ex ok.json >ok.out 2>ok.err
	check_eq "$ex: a succeeding task exits 0" 0 $?
	check_eq "$ex: status success" success "$(field ok.out status)"
	check_eq "$ex: stdout captured" "hello" "$(field ok.out stdout | head -1)"
	check_eq "$ex: stderr captured" "err" "$(field ok.out stderr | head -1)"
	check_eq "$ex: seed fields first" "task_id node_id exit_code stdout stderr timestamp status" \
		"$(python3 -c 'import json; print(" ".join(list(json.load(open("ok.out")))[:7]))')"
	check_eq "$ex: executor named" "$ex" "$(field ok.out executor)"

	"$DGRID" run --executor $ex bad.json >bad.out 2>/dev/null
	check_eq "$ex: a failing task exits 1" 1 $?
	check_eq "$ex: status failed, exit code 3" "failed 3" "$(field bad.out status) $(field bad.out exit_code)"

	start=$(date +%s)
	"$DGRID" run --executor $ex --policy policy.json slow.json >slow.out 2>/dev/null
	check_eq "$ex: a task past its timeout is a timeout" timeout "$(field slow.out status)"
	check "$ex: and is stopped at its timeout" test $(( $(date +%s) - start )) -lt 10
done

"$DGRID" run --executor process slow.json >slow2.out 2>/dev/null
check "without the policy, timeout_seconds 1 is rejected" grep -q 'below the minimum 10' slow2.out
"$DGRID" run --executor process wrongname.json >wrong.out 2>/dev/null
check_eq "a file whose name does not match is rejected" rejected "$(field wrong.out status)"
check "with the reason" grep -q "does not match task_id 'other'" wrong.out
"$DGRID" run --executor nosuch ok.json >/dev/null 2>err.out
check_eq "an unknown executor is a usage error" 2 $?
"$DGRID" run >/dev/null 2>&1
check_eq "no file is a usage error" 2 $?
finish
