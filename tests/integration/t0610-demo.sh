#!/usr/bin/env bash
# dgrid demo end to end: a bare repository, the examples submitted, three
# workers, the final status and the dashboard; every example must end as its
# "expect" field says (read here with git, independently of the demo's own
# check). A second run in the same directory starts a fresh grid.
. "$(dirname "$0")/lib.sh"

unset DGRID_REPO_URL DGRID_REPO_PATH GIT_TOKEN NODE_ID DGRID_EXECUTOR MAX_PARALLEL_TASKS

demo=$T/demo
repo=$demo/repo

# outcome TASK_ID: the status of TASK_ID's result on main, from git alone
outcome() {
	local f
	for f in $(git -C "$repo" ls-tree --name-only main tasks/completed/ tasks/failed/); do
		case $f in
		*/"$1".*.json)
			git -C "$repo" show "main:$f" |
				python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'
			return
			;;
		esac
	done
	echo none
}

check_run() {
	local run=$1 rc ex id want
	timeout 180 "$DGRID" demo --dir "$demo" >"$T/demo-$run.out" 2>&1
	rc=$?
	check_eq "run $run: dgrid demo exits 0" 0 "$rc"
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/demo-$run.out" | tail -40
	for ex in "$DGRID_SRC"/examples/*.json; do
		id=$(basename "$ex" .json)
		want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["expect"])' "$ex")
		check_eq "run $run: $id ended as $want" "$want" "$(outcome "$id")"
	done
	check_eq "run $run: queue and in_progress are empty" "0 0" \
		"$(count_files "$repo" tasks/queue) $(count_files "$repo" tasks/in_progress)"
	check "run $run: dashboard index.html written" test -s "$demo/site/index.html"
	check "run $run: output says where to open the dashboard" \
		grep -q "file://.*/site/index.html" "$T/demo-$run.out"
	check "run $run: output shows the progress counts" \
		grep -qE 'queued [0-9]+ +running [0-9]+ +completed [0-9]+ +failed [0-9]+' "$T/demo-$run.out"
	check "run $run: output shows the final status" grep -q '^completed  *2' "$T/demo-$run.out"
}

check_run 1
first=$(git -C "$repo" rev-list --max-parents=0 main)
check_run 2
second=$(git -C "$repo" rev-list --max-parents=0 main)
if [ -n "$first" ] && [ "$first" != "$second" ]; then
	ok "run 2 started a fresh repository"
else
	fail "run 2 started a fresh repository ($first vs $second)"
fi
check_eq "run 2: exactly one result per example" \
	"$(ls "$DGRID_SRC"/examples/*.json | wc -l)" \
	"$(( $(count_files "$repo" tasks/completed) + $(count_files "$repo" tasks/failed) ))"

# a directory the demo did not make is never wiped
mkdir -p "$T/precious" && echo keep >"$T/precious/file"
"$DGRID" demo --dir "$T/precious" >"$T/precious.out" 2>&1
check_eq "a foreign non-empty --dir is refused" 1 $?
check "... and left alone" test -f "$T/precious/file"
check "... with a message naming it" grep -q "not made by dgrid demo" "$T/precious.out"

"$DGRID" demo --workers 0 >/dev/null 2>&1
check_eq "a bad --workers is a usage error" 2 $?
"$DGRID" demo --help | grep -q -- '--dir DIR'
check "demo --help describes --dir" [ $? -eq 0 ]

finish
