#!/usr/bin/env bash
# make install into a staging root: the binary (the one already built, not a
# rebuild), the man page and the examples; the installed binary runs, the
# man page renders and names every command, flag and environment variable
# the binary's own help texts mention, and the installed demo finds its
# examples under share/dgrid/examples.
. "$(dirname "$0")/lib.sh"

root=$T/root
# BUILD must be the directory $DGRID lives in, or make would build another
build=$(cd "$(dirname "$DGRID")" && pwd)
rel=${build#"$DGRID_SRC"/}
make -s -C "$DGRID_SRC" install DESTDIR="$root" PREFIX=/usr BUILD="$rel" >"$T/install.log" 2>&1
rc=$?
check_eq "make install DESTDIR PREFIX=/usr exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/install.log"
check "installed binary is executable" test -x "$root/usr/bin/dgrid"
check "installed binary is the built one" cmp -s "$DGRID" "$root/usr/bin/dgrid"
check "installed man page" test -s "$root/usr/share/man/man1/dgrid.1"
check "installed examples" test -s "$root/usr/share/dgrid/examples/hello.json"
"$root/usr/bin/dgrid" --help >/dev/null
check "installed binary: --help" [ $? -eq 0 ]
"$root/usr/bin/dgrid" version | grep -q '^dgrid [0-9]'
check "installed binary: version" [ $? -eq 0 ]

man_txt=$T/man.txt
MANWIDTH=100 MANPAGER=cat man -l "$root/usr/share/man/man1/dgrid.1" 2>"$T/man.err" | col -b >"$man_txt"
check "man -l renders the page" test -s "$man_txt"
check "... without warnings" test ! -s "$T/man.err"
groff -man -ww -z "$root/usr/share/man/man1/dgrid.1" 2>"$T/groff.err"
check "groff -ww finds nothing to warn about" test ! -s "$T/groff.err"

# every command of 'dgrid --help' is in the page, with every --flag of its help
commands=$("$DGRID" --help | awk '/^commands:/ {on = 1; next} on && !NF {exit} on {print $1}')
check "dgrid --help lists commands" test -n "$commands"
missing=""
for c in $commands; do
	grep -q "dgrid $c" "$man_txt" || missing="$missing $c"
	for f in $("$DGRID" "$c" --help 2>&1 | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		grep -qe "$f" "$man_txt" || missing="$missing $c:$f"
	done
done
check_eq "the man page names every command and flag" "" "$missing"

# every environment variable the sources read is documented
missing=""
for v in $(grep -rhoE 'getenv\("[A-Z_]+"\)|env\("[A-Z_]+"\)' "$DGRID_SRC/src" |
	   grep -oE '"[A-Z_]+"' | tr -d '"' | sort -u); do
	case $v in HOME | XDG_CACHE_HOME) continue ;; esac
	grep -q "$v" "$man_txt" || missing="$missing $v"
done
check_eq "the man page names every environment variable" "" "$missing"

# the installed binary's demo finds share/dgrid/examples by itself
(cd "$T" && timeout 180 "$root/usr/bin/dgrid" demo --dir "$T/demo" --workers 2 >"$T/demo.out" 2>&1)
check_eq "installed dgrid demo runs with the installed examples" 0 $?
check "... and said where they came from" grep -q "share/dgrid/examples" "$T/demo.out"

finish
