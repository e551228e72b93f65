#!/usr/bin/env bash
# The "process" executor (no sandbox): what it still guarantees.
. "$(dirname "$0")/lib.sh"
EXECUTOR=process
. "$(dirname "$0")/sandbox.sh"

export CANARY="dgridcanary$$x$RANDOM"
dx env 'env | sort; pwd'
unset CANARY
got=$(out env)
check "the environment is scrubbed" bash -c "! grep -q dgridcanary <<<'$got'"
check_eq "only PATH, HOME, LANG, PWD" "HOME LANG PATH PWD" \
	"$(grep = <<<"$got" | cut -d= -f1 | sort | tr '\n' ' ' | sed 's/ $//')"
check "the working directory is a fresh private directory" grep -q '^/tmp/dgrid-task\.' <<<"$got"
dir=$(tail -1 <<<"$got")
check "it is removed afterwards" test ! -e "$dir"

echo secret >"$T/fd3"
dx fd 'ls /proc/self/fd | tr "\n" " "' 3<"$T/fd3"
check_eq "no inherited descriptors" "0 1 2 3 " "$(out fd)"   # 3 is ls's own directory

m="1000.$$$RANDOM"
start=$(date +%s%N)
dx timeout --timeout 2 "trap '' TERM; sleep $m & sleep $m & wait"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check_eq "the timeout fires" "true" "$(jf timeout timed_out)"
check "... in about 2 s (${ms} ms)" test "$ms" -lt 4000
sleep 0.1
if pgrep -f "sleep $m" >/dev/null; then fail "the whole process group is killed"; else ok "the whole process group is killed"; fi

dx yes 'yes'
check_eq "output is capped and the task killed" "10240 true true" \
	"$(out yes | wc -c) $(jf yes output_limit) $(jf yes stdout_truncated)"

dx code 'echo out; echo err >&2; exit 5'
check_eq "stdout, stderr and the status" "out err 5" \
	"$(out code | tr -d '\n') $(errout code | tr -d '\n') $(jf code exit_code)"

dx utf8 'printf "a\377b\303\251c"'
check_eq "invalid UTF-8 becomes U+FFFD" "a�béc" "$(out utf8)"

dx core 'ulimit -c; ulimit -n'
check_eq "rlimits apply (core 0, 256 files)" "0
256" "$(out core)"
finish
