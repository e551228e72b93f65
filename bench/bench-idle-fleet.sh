#!/usr/bin/env bash
# bench-idle-fleet.sh - what a fleet of idle workers costs the git host
# without any budget (issue 11, item 4: "idle workers poll less often as
# more workers are active"). A fleet that starts together races to
# register; the losers are counted by nobody (doc/protocol.md, "No
# registration alone while crowded") and, up to 0.16.5, looked every
# PULL_INTERVAL each for good. Since 0.16.6 they double their wait with
# every quiet look, up to 16 s, while a registered node looks for the grid.
#
# For each N of FLEETS (default "8 16 32"): a fresh bare repository holding
# {"protocol": 3} only, served by `git daemon --verbose` on 127.0.0.1; N
# workers started at once (--slots 1 --executor process --http off,
# PULL_INTERVAL=1, each with its own cache); after SETTLE s (25) the
# daemon's upload-pack requests and the machine's CPU (user and system from
# /proc/stat, in hundredths of a core) are counted over WINDOW s (20); then
# the workers are stopped. The baseline, measured first in the same run: one
# idle worker alone, the same way (it looks every PULL_INTERVAL: the rule
# every unregistered worker of a fleet kept up to 0.16.5). Reported per N:
# the workers registered on main, looks a second in all and per worker,
# the CPU, and the looks per worker against the lone worker's (target:
# well under 1). With BASE_DGRID, each N runs with that binary too, right
# before, and the fleet's looks are also given against it.
# Duration: about (SETTLE + WINDOW + 5) s per fleet and binary: ~3 minutes
# by default, ~5.5 with BASE_DGRID.
set -u
DGRID=${DGRID:?DGRID: the dgrid binary}
BASE_DGRID=${BASE_DGRID:-}
FLEETS=${FLEETS:-8 16 32}
SETTLE=${SETTLE:-25}
WINDOW=${WINDOW:-20}
BENCH=bench-idle-fleet

# every request the daemon serves goes to $T/daemon.log: the looks counted below
DAEMON_VERBOSE=1
. "$(dirname "$0")/lib-daemon.sh"

cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat; }
looks_of() { grep -c "Request upload-pack for '/$1.git'" "$T/daemon.log"; }

# fleet NAME BIN N: prints "registered looks_per_s cpu_percent"
fleet() {
	local name=$1 bin=$2 n=$3 work=$T/work-$1 i a b c0 c1 wpids=()
	git init -q --bare -b main "$T/srv/$name.git"
	git -C "$T/srv/$name.git" config receive.denyNonFastForwards true
	git init -q -b main "$work"
	printf '{"protocol": 3}\n' >"$work/dgrid.json"
	git -C "$work" add -A
	git -C "$work" -c user.name=bench -c user.email=bench@localhost commit -q -m policy
	git -C "$work" push -q "git://127.0.0.1:$port/$name.git" main || return 1
	for i in $(seq 1 "$n"); do
		DGRID_CACHE=$T/cache-$name-w$i PULL_INTERVAL=1 setsid "$bin" worker --repo "git://127.0.0.1:$port/$name.git" \
			--node-id "w$i" --slots 1 --executor process --http off >"$T/$name-w$i.log" 2>&1 &
		wpids+=($!)
		pids+=($!)
	done
	sleep "$SETTLE"
	a=$(looks_of "$name") c0=$(cpu_ticks)
	sleep "$WINDOW"
	b=$(looks_of "$name") c1=$(cpu_ticks)
	for i in "${wpids[@]}"; do kill -- -"$i" 2>/dev/null; done
	for i in "${wpids[@]}"; do wait "$i" 2>/dev/null; done
	echo "$(git -C "$T/srv/$name.git" ls-tree --name-only main nodes/ | wc -l)" \
		"$(awk -v l=$((b - a)) -v w="$WINDOW" 'BEGIN { printf "%.2f", l / w }')" \
		"$(awk -v t=$((c1 - c0)) -v w="$WINDOW" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", 100 * t / hz / w }')"
}

echo "# $BENCH: $("$DGRID" version 2>/dev/null | head -1), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# fleets: $FLEETS idle workers started together, PULL_INTERVAL=1, no budget; looks counted over ${WINDOW} s after ${SETTLE} s"
[ -n "$BASE_DGRID" ] && echo "# baseline: $("$BASE_DGRID" version 2>/dev/null | head -1)"
printf '%7s %-9s %10s %9s %10s %6s %s\n' workers build registered looks/s per-worker cpu% against
read -r reg lone cpu < <(fleet lone "$DGRID" 1) || { echo "$BENCH: the lone worker failed"; exit 1; }
printf '%7s %-9s %10s %9s %10s %6s %s\n' 1 "lone" "$reg" "$lone" "$lone" "$cpu" "(the baseline)"
awk -v l="$lone" 'BEGIN { exit !(l > 0) }' || { echo "$BENCH: the lone worker made no look"; exit 1; }
for n in $FLEETS; do
	base=
	if [ -n "$BASE_DGRID" ]; then
		read -r reg looks cpu < <(fleet "base-$n" "$BASE_DGRID" "$n") || { echo "$BENCH: fleet failed"; exit 1; }
		printf '%7s %-9s %10s %9s %10s %6s %s\n' "$n" BASE "$reg" "$looks" \
			"$(awk -v l="$looks" -v n="$n" 'BEGIN { printf "%.3f", l / n }')" "$cpu" "-"
		base=$looks
	fi
	read -r reg looks cpu < <(fleet "fleet-$n" "$DGRID" "$n") || { echo "$BENCH: fleet failed"; exit 1; }
	against=$(awk -v l="$looks" -v n="$n" -v o="$lone" 'BEGIN { printf "%.2fx the lone worker per worker", l / n / o }')
	[ -n "$base" ] && against="$against; $(awk -v l="$looks" -v b="$base" 'BEGIN { printf "%.2fx BASE_DGRID", (b > 0 ? l / b : 0) }')"
	printf '%7s %-9s %10s %9s %10s %6s %s\n' "$n" this "$reg" "$looks" \
		"$(awk -v l="$looks" -v n="$n" 'BEGIN { printf "%.3f", l / n }')" "$cpu" "$against"
done
echo "# $BENCH done; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
