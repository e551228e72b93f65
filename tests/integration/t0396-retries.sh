#!/usr/bin/env bash
# Retries (doc/tasks.md): a task that fails twice and then succeeds, with
# "retries": 3, ends success after 3 runs with the doubling delays seen;
# one that always fails, with "retries": 1, ends failed after 2 runs with
# both results kept. A real worker over a real git daemon, protocol 3.
. "$(dirname "$0")/lib.sh"

daemon_grid '{"protocol": 3, "retry_delay_max": 3}'
# flaky: fails on runs 1 and 2, succeeds on run 3; each run notes its start time
printf '{"task_id": "flaky", "timeout_seconds": 30, "retries": 3, "retry_delay_seconds": 2,
  "script": "n=$(( $(cat %s/flaky.n 2>/dev/null || echo 0) + 1 )); echo $n > %s/flaky.n; date +%%s >> %s/flaky.times; echo run $n; [ $n -ge 3 ]"}\n' \
	"$T" "$T" "$T" >"$T/work/tasks/queue/flaky.json"
printf '{"task_id": "broken", "timeout_seconds": 30, "retries": 1, "retry_delay_seconds": 1,
  "script": "echo x >> %s/broken.runs; exit 4"}\n' "$T" >"$T/work/tasks/queue/broken.json"
printf '{"task_id": "plain", "timeout_seconds": 30, "script": "echo x >> %s/plain.runs; exit 5"}\n' \
	"$T" >"$T/work/tasks/queue/plain.json"
commit_push "$T/work" "three tasks"

DGRID_CACHE=$T/cache PULL_INTERVAL=1 timeout 120 "$DGRID" worker --repo "$URL" --node-id w1 \
	--executor process --exit-when-idle --http off >"$T/w1.log" 2>&1
check_eq "the worker waited for the retries, then exited" 0 "$?"

check_eq "flaky ran 3 times" 3 "$(wc -l <"$T/flaky.times")"
check_eq "broken ran 2 times (1 retry)" 2 "$(wc -l <"$T/broken.runs")"
check_eq "plain, without retries, ran once" 1 "$(wc -l <"$T/plain.runs")"
read -r t1 t2 t3 < <(tr '\n' ' ' <"$T/flaky.times")
note "flaky's runs started at +0, +$((t2 - t1)), +$((t3 - t1)) s"
check "the first retry waited its 2 s" test $((t2 - t1)) -ge 2
check "the second waited 4 s, capped by retry_delay_max 3" test $((t3 - t2)) -ge 3

results() {   # results ID: "status run will_retry" of each result, in run order
	git -C "$T/srv/grid.git" ls-tree -r --name-only main -- tasks/completed tasks/failed | grep "/$1\.w1\." |
	while read -r f; do
		git -C "$T/srv/grid.git" show "main:$f" |
			python3 -c 'import json,sys; r=json.load(sys.stdin); print(r.get("run"), r["status"], r.get("will_retry"), r["attempt"])'
	done | sort -n
}
results flaky >"$T/flaky.results"
sed 's/^/# /' "$T/flaky.results"
check_eq "flaky keeps all 3 results: two failed that said a retry follows, then the success" \
	"1 failed True 1|2 failed True 2|3 success False 3" "$(paste -sd'|' "$T/flaky.results")"
results broken >"$T/broken.results"
check_eq "broken keeps both results; the last says no retry follows" \
	"1 failed True 1|2 failed False 2" "$(paste -sd'|' "$T/broken.results")"
check_eq "plain's result carries no run count" "None failed None 1" "$(results plain)"
check_eq "nothing left queued or running" 0 \
	"$(( $(count_all "$T/srv/grid.git" tasks/queue) + $(count_all "$T/srv/grid.git" tasks/in_progress) ))"
check "the history says when each retry was queued" bash -c \
	"git -C '$T/srv/grid.git' log --format=%s main | grep -q 'retry flaky in 2s' &&
	 git -C '$T/srv/grid.git' log --format=%s main | grep -q 'retry flaky in 3s'"

# validate's refusals
mkdir -p "$T/bad"
printf '{"task_id": "r1", "script": "true", "retries": 101}\n' >"$T/bad/r1.json"
printf '{"task_id": "r2", "script": "true", "retries": 1, "retried": 2}\n' >"$T/bad/r2.json"
printf '{"task_id": "r3", "script": "true", "retry_delay_seconds": "soon"}\n' >"$T/bad/r3.json"
"$DGRID" validate "$T/bad" >"$T/bad.out" 2>&1
check "retries above 100 refused" grep -q "r1.json: retries 101 is out of range 0..100" "$T/bad.out"
check "retried above retries refused" grep -q "r2.json: retried 2 is more than retries 1" "$T/bad.out"
check "a delay of the wrong type refused" grep -q "r3.json: .*expected integer for retry_delay_seconds, got string" "$T/bad.out"
finish
