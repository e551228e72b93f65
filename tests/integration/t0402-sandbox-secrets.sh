#!/usr/bin/env bash
# Host secrets do not reach the task: the worker's environment, files under
# $HOME and ~/.cache, inherited descriptors; the environment is allow-listed
# and no host process is visible.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sandbox.sh"
need_native

canary="dgridcanary$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
home_file="$HOME/.dgrid-canary-$$"
cache_file="$HOME/.cache/dgrid-canary-$$"
mkdir -p "$HOME/.cache"
echo "$canary" >"$home_file"
echo "$canary" >"$cache_file"
echo "$canary" >"$T/canary-fd"
trap 'rm -f "$home_file" "$cache_file"; _cleanup' EXIT

# The script never names the canary: it dumps what it can find.
export CANARY="$canary" GITHUB_TOKEN="$canary" DGRID_TOKEN="$canary"
dx leak --output-cap 4m 'env; cat /root/.dgrid-canary* /root/.cache/dgrid-canary* 2>&1
ls -la /root /home 2>&1
cat <&3 2>&1; cat /proc/self/fd/3 2>&1; ls -l /proc/self/fd
for p in /proc/[0-9]*; do cat $p/environ $p/cmdline 2>&1 | tr "\0" " "; echo; done
grep -rs dgridcanary /tmp /etc /root /home 2>/dev/null
cat /proc/1/environ 2>&1' 3<"$T/canary-fd"
unset CANARY GITHUB_TOKEN DGRID_TOKEN
check "the leak task ran" grep -q PATH= <(out leak)
check "the canary appears in no task output" \
	bash -c "! grep -q '$canary' '$T/leak.json'"

check_eq "descriptor 3 (the canary file) is not inherited" "" \
	"$(out leak | grep canary-fd)"

dx env 'env | sort'
check_eq "the environment is exactly PATH, HOME, LANG (+ PWD from sh)" \
"HOME=/tmp
LANG=C.UTF-8
PATH=/usr/local/bin:/usr/bin:/bin
PWD=/tmp" "$(out env)"

dx ps 'ps -e -o pid=,user=,comm='
check_eq "only the task's processes are visible" "2 task     sh
3 task     ps" "$(out ps | sed 's/  */ /; s/^ *//')"

dx procs 'ls -d /proc/[0-9]* | wc -l; cat /proc/1/environ 2>&1 | head -c 100; echo'
check "PID 1 (the reaper, a copy of the worker) is hidden" \
	grep -q 'No such file' <(out procs)

dx who 'id; hostname'
check_eq "identity is uid 1000 in its own UTS namespace" \
"uid=1000(task) gid=1000(task) groups=1000(task)
dgrid" "$(out who)"
finish
