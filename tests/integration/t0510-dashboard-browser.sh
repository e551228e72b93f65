#!/usr/bin/env bash
# t0510-dashboard-browser: a real browser (headless Chromium) renders the
# static dashboard (file://) and the worker page served by http_demo.
# Screenshots are kept in $DGRID_SRC/build/artifacts/.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dashlib.sh"
export DGRID_CACHE=$T/cache

need_chrome
ART=$DGRID_SRC/build/artifacts
mkdir -p "$ART"
DEMO=$(dirname "$DGRID")/tests/tools/http_demo

# browser ARGS...: headless Chromium with a fresh profile, loopback only
browser() {
	local prof
	prof=$(mktemp -d "$T/profile.XXXXXX")
	timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$prof" "$@" 2>>"$T/chromium.log"
}

make_dash_repo "$T/grid.git"
site=$T/site
check "dashboard generated" "$DGRID" dashboard --repo "$T/grid.git" --out "$site"
browser --dump-dom "file://$site/index.html" >"$T/dom.html"
check "DOM dumped" test -s "$T/dom.html"
for h in '<h2>Summary</h2>' '<h2>Nodes</h2>' '<h2>Queue (3)</h2>' '<h2>Running (1)</h2>' \
	 '<h2>Recent failures</h2>'; do
	check "DOM heading $h" grep -qF "$h" "$T/dom.html"
done
check "DOM counts" grep -qF 'id="n-failed">4<' "$T/dom.html"
check "DOM liveness words" bash -c "grep -q '>alive<' '$T/dom.html' && grep -q '>stale<' '$T/dom.html' && grep -q '>unknown<' '$T/dom.html'"
check "DOM has exactly one script element (ours)" test "$(grep -o '<script' "$T/dom.html" | wc -l)" -eq 1
check "DOM has no injected img element" bash -c "! grep -q '<img' '$T/dom.html'"
check "hostile text shown as text" grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' "$T/dom.html"
check "relative-time script ran under the CSP" grep -qE ' ago</time>' "$T/dom.html"
check "three SVG charts rendered" test "$(grep -o '<svg ' "$T/dom.html" | wc -l)" -eq 3
rm -f "$ART/dashboard.png"
browser --screenshot="$ART/dashboard.png" --window-size=1280,2000 "file://$site/index.html" >/dev/null
check "dashboard screenshot $ART/dashboard.png" test -s "$ART/dashboard.png"

# the worker page, served by http_demo
if [ -x "$DEMO" ]; then
	"$DEMO" --seconds 60 >"$T/demo.out" 2>&1 &
	track $!
	port=
	for i in $(seq 100); do
		port=$(sed -n 's/^port=//p' "$T/demo.out"); [ -n "$port" ] && break; sleep 0.05
	done
	browser --dump-dom "http://127.0.0.1:$port/" >"$T/wdom.html"
	check "worker page DOM heading" grep -qF 'Running tasks (3)' "$T/wdom.html"
	check "worker page shows slots" grep -qF '3 of 4 busy' "$T/wdom.html"
	check "worker page: one script element" test "$(grep -o '<script' "$T/wdom.html" | wc -l)" -eq 1
	check "worker page: hostile id is text" grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' "$T/wdom.html"
	check "worker page: token hidden" bash -c "! grep -q demo-not-a-real-token '$T/wdom.html'"
	rm -f "$ART/worker.png"
	browser --screenshot="$ART/worker.png" --window-size=1280,2000 "http://127.0.0.1:$port/" >/dev/null
	check "worker screenshot $ART/worker.png" test -s "$ART/worker.png"
else
	fail "http_demo not built"
fi
finish
