# sandbox.sh - helpers for the t04xx sandbox tests (sourced after lib.sh).
#
#   dx NAME [dgrid exec options...] SCRIPT   runs through $EXECUTOR (native
#                                            unless set), JSON in $T/NAME.json
#   jf NAME FIELD                            prints one field (true/false for bools)
#   out NAME / errout NAME                   the task's stdout / stderr
#   need_native                              skips the whole file without a sandbox

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
EXECUTOR=${EXECUTOR:-native}

dx() {
	local name=$1; shift
	"$DGRID" exec --executor "$EXECUTOR" "$@" >"$T/$name.json" 2>"$T/$name.stderr"
}

jf() {
	"$PY" -c 'import json,sys
d=json.load(open(sys.argv[1])); v=d[sys.argv[2]]
print(("true" if v else "false") if isinstance(v,bool) else v, end="")' "$T/$1.json" "$2" 2>/dev/null
}

out() { jf "$1" stdout; }
errout() { jf "$1" stderr; }

need_native() {
	if ! "$DGRID" exec --executor native 'exit 0' >/dev/null 2>"$T/probe.err"; then
		skip "native sandbox suite: $(head -c 200 "$T/probe.err")"
		finish
		exit 0
	fi
}

# A follow-up task still runs: the host survived whatever came before.
host_still_works() {
	dx follow 'echo alive'
	check_eq "$1: a follow-up task runs" "alive" "$(out follow | tr -d '\n')"
}
