#!/usr/bin/env bash
# t0512-submit-page: headless Chromium fills the dashboard's "Submit a task"
# form (submit.html) through the DevTools protocol (tests/tools/cdp.py):
# valid input yields exactly the task file - which dgrid validate accepts -
# and a correct pre-filled GitHub "create new file" URL; invalid input shows
# each reason and produces nothing; without a GitHub repository the page
# gives the git commands instead.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dashlib.sh"
export DGRID_CACHE=$T/cache

need_chrome
CDP=$DGRID_SRC/tests/tools/cdp.py

make_dash_repo "$T/grid.git"
printf '{"timeout_max": 600, "script_max": 2000}\n' >"$T/policy.json"
git clone -q "$T/grid.git" "$T/w" 2>/dev/null
git -C "$T/w" config user.name t && git -C "$T/w" config user.email t@localhost
cp "$T/policy.json" "$T/w/dgrid.json"
git -C "$T/w" add dgrid.json && git -C "$T/w" commit -qm policy && git -C "$T/w" push -q origin HEAD:main
check "dashboard with a GitHub public URL" "$DGRID" dashboard --repo "$T/grid.git" --out "$T/gh" \
	--public-url https://github.com/example-org/grid.git
check "submit.html is written" test -s "$T/gh/submit.html"
check "the dashboard links to it" grep -q 'href="submit.html"' "$T/gh/index.html"
check_eq "status.json carries the policy the page checks against" "600 2000" \
	"$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["policy"]; print(p["timeout_max"], p["script_max"])' "$T/gh/status.json")"

# a user fills the form and presses the button
cat >"$T/fill.js" <<'JS'
(function(values) {
	Object.keys(values).forEach(function(k) {
		var e = document.getElementById(k);
		e.value = values[k];
		e.dispatchEvent(new Event('input', {bubbles: true}));
	});
	document.getElementById('f-make').click();
	var errs = [];
	document.querySelectorAll('#errors li').forEach(function(li) { errs.push(li.textContent); });
	var a = document.getElementById('github-link');
	return {file: document.getElementById('task-file').textContent, errors: errs,
		shown: !document.getElementById('result').hidden, href: a.hidden ? null : a.href,
		path: document.getElementById('task-path').textContent,
		git: document.getElementById('git-commands').textContent};
})(VALUES)
JS
fill() {   # fill PAGE JSON-VALUES OUT: fills and submits the form, writes what the page shows
	sed "s|VALUES|$2|" "$T/fill.js" >"$T/fill-now.js"
	python3 "$CDP" "$CHROME" "file://$1" "$T/fill-now.js" >"$3" 2>"$T/cdp.err"
}
fill "$T/gh/submit.html" '{"f-id": "job-7", "f-script": "echo héllo \\"world\\" \&\& sleep 1", "f-timeout": "120", "f-priority": "8", "f-not-before": "2026-12-24T18:00:00Z", "f-labels": "gpu, cuda12", "f-cpus": "2", "f-retries": "2", "f-deps": "build, fetch"}' "$T/valid.json"
check "the browser ran the form" test -s "$T/valid.json"
cat "$T/cdp.err" | sed 's/^/# cdp: /'
python3 - "$T/valid.json" "$T" <<'PY' >"$T/valid.check" 2>&1
import json, sys, urllib.parse
got = json.load(open(sys.argv[1]))
want = {"task_id": "job-7", "script": 'echo héllo "world" && sleep 1', "timeout_seconds": 120,
        "priority": 8, "not_before": "2026-12-24T18:00:00Z",
        "requires": {"labels": ["gpu", "cuda12"], "min_cpus": 2}, "retries": 2,
        "depends_on": ["build", "fetch"]}
text = json.dumps(want, indent=2, ensure_ascii=False) + "\n"
ok = True
def expect(what, a, b):
    global ok
    if a != b:
        ok = False
        print("MISMATCH", what, repr(a), repr(b))
expect("no errors", got["errors"], [])
expect("shown", got["shown"], True)
expect("file", got["file"], text)
expect("path", got["path"], "tasks/queue/job-7.json")
q = lambda s: urllib.parse.quote(s, safe="!~*'()")
expect("href", got["href"], "https://github.com/example-org/grid/new/main?filename=" +
       q("tasks/queue/job-7.json") + "&value=" + q(text))
open(sys.argv[2] + "/job-7.json", "w").write(got["file"])
print("ok" if ok else "bad")
PY
sed 's/^/# /' "$T/valid.check"
check "valid input yields the exact file and the pre-filled GitHub URL" grep -qx ok "$T/valid.check"
check "dgrid validate accepts the file the page wrote" "$DGRID" validate --policy "$T/policy.json" "$T/job-7.json"

fill "$T/gh/submit.html" "{\"f-id\": \"bad id!\", \"f-script\": \"$(head -c 2100 /dev/zero | tr '\0' x)\", \"f-timeout\": \"5\", \"f-not-before\": \"tomorrow\", \"f-deps\": \"a, a\"}" "$T/invalid.json"
python3 - "$T/invalid.json" <<'PY' >"$T/invalid.check" 2>&1
import json, sys
got = json.load(open(sys.argv[1]))
print("\n".join(got["errors"]))
want = ["task id: only letters, digits, _ and - are allowed", "script: 2100 bytes, limit 2000",
        "timeout: 5 is outside 10..600", "not before: a UTC time like", "depends on: a twice"]
missing = [w for w in want if not any(e.startswith(w) for e in got["errors"])]
print("missing:", missing)
print("ok" if not missing and not got["shown"] and got["file"] == "" and got["href"] is None else "bad")
PY
sed 's/^/# /' "$T/invalid.check"
check "invalid input shows each reason and produces nothing" grep -qx ok "$T/invalid.check"

check "dashboard of a repository elsewhere" "$DGRID" dashboard --repo "$T/grid.git" --out "$T/plain"
fill "$T/plain/submit.html" '{"f-id": "job-8", "f-script": "true"}' "$T/plain.json"
check_eq "no GitHub link; git commands instead" "None True" \
	"$(python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); print(g["href"], "git add tasks/queue/job-8.json" in g["git"])' "$T/plain.json")"
check "the page holds no token and loads nothing from elsewhere" bash -c \
	"! grep -qiE 'token|https?://[^\"]*\\.(js|css)' '$T/gh/submit.html' || ! grep -qE '<script[^>]+src=' '$T/gh/submit.html'"
check "one script, pinned by the page's CSP" bash -c \
	"[ \$(grep -o '<script' '$T/gh/submit.html' | wc -l) = 1 ] && grep -q \"script-src 'sha256-\" '$T/gh/submit.html'"
finish
