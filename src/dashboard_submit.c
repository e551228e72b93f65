/*
 * dashboard_submit.c - submit.html, the dashboard's "Submit a task" page
 * (doc/dashboard.md). A static form: its script checks the fields against
 * the grid's limits (the "policy" of status.json, embedded in the page as
 * written in the same run) and writes the task file. For a repository on
 * github.com it links to GitHub's "create new file" page pre-filled with
 * tasks/queue/ID.json, so the submission is a commit or pull request
 * under the user's own account; for other hosts it shows the git commands.
 * No token, no server: the page talks to nobody.
 */
#include "dashboard_render.h"
#include "html.h"
#include "jsonio.h"
#include "tasksched.h"

#include <ctype.h>
#include <jansson.h>

/* The page's one script (its SHA-256 goes into the page's CSP). ES5. */
#define SUBMIT_SCRIPT "<script>(function(){" \
	"var f=document.getElementById('submit-form'),P=JSON.parse(f.getAttribute('data-policy'))," \
	"gh=f.getAttribute('data-github'),br=f.getAttribute('data-branch'),idre=/^[A-Za-z0-9_-]+$/;" \
	"function v(i){return document.getElementById(i).value;}" \
	"function n8(s){return unescape(encodeURIComponent(s)).length;}" \
	"function list(s){return s.split(',').map(function(x){return x.trim();})" \
	".filter(function(x){return x.length>0;});}" \
	"function whole(s,name,lo,hi,e){if(!/^[0-9]+$/.test(s)){e.push(name+': a whole number');return null;}" \
	"var n=parseInt(s,10);if(n<lo||n>hi){e.push(name+': '+n+' is outside '+lo+'..'+hi);return null;}return n;}" \
	"function build(){var e=[],t={},id=v('f-id').trim(),sc=v('f-script'),s,r={},n,d;" \
	"if(!id)e.push('task id: required');else if(!idre.test(id))" \
	"e.push('task id: only letters, digits, _ and - are allowed');" \
	"else if(id.length>P.id_max)e.push('task id: at most '+P.id_max+' characters');t.task_id=id;" \
	"if(!sc.length)e.push('script: required');else if(n8(sc)>P.script_max)" \
	"e.push('script: '+n8(sc)+' bytes, limit '+P.script_max);t.script=sc;" \
	"s=v('f-timeout').trim();if(s!==''){n=whole(s,'timeout',P.timeout_min,P.timeout_max,e);" \
	"if(n!==null)t.timeout_seconds=n;}" \
	"s=v('f-priority');if(s!=='5')t.priority=parseInt(s,10);" \
	"s=v('f-not-before').trim();if(s!==''){if(!/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$/.test(s)" \
	"||isNaN(Date.parse(s)))e.push('not before: a UTC time like 2026-12-01T00:00:00Z');else t.not_before=s;}" \
	"s=list(v('f-labels'));if(s.length){if(s.length>" DG_STR(DG_LABELS_MAX) ")e.push('labels: at most " \
	DG_STR(DG_LABELS_MAX) "');s.forEach(function(l){if(l.length>" DG_STR(DG_LABEL_MAX) "||!/^[!-~]+$/.test(l))" \
	"e.push('label '+l+': printable ASCII, no space or comma, at most " DG_STR(DG_LABEL_MAX) " characters');});" \
	"r.labels=s;}" \
	"s=v('f-arch').trim();if(s!==''){if(s.length>32)e.push('arch: at most 32 characters');r.arch=s;}" \
	"s=v('f-cpus').trim();if(s!==''){n=whole(s,'min cpus',1,65536,e);if(n!==null)r.min_cpus=n;}" \
	"s=v('f-memory').trim();if(s!==''){n=whole(s,'min memory',1,1099511627776,e);if(n!==null)r.min_memory_mb=n;}" \
	"if(Object.keys(r).length)t.requires=r;" \
	"s=v('f-retries').trim();if(s!==''&&s!=='0'){n=whole(s,'retries',0," DG_STR(DG_RETRIES_MAX) ",e);" \
	"if(n!==null)t.retries=n;}" \
	"s=v('f-retry-delay').trim();if(s!==''){n=whole(s,'retry delay',0,86400,e);if(n!==null)t.retry_delay_seconds=n;}" \
	"d=list(v('f-deps'));if(d.length){if(d.length>" DG_STR(DG_DEPS_MAX) ")e.push('depends on: at most " \
	DG_STR(DG_DEPS_MAX) " tasks');d.forEach(function(x,i){if(!idre.test(x)||x.length>200)" \
	"e.push('depends on '+x+': not a task id');else if(x===id)e.push('depends on: the task itself');" \
	"else if(d.indexOf(x)!==i)e.push('depends on: '+x+' twice');});t.depends_on=d;}" \
	"var txt=JSON.stringify(t,null,2)+'\\n';if(n8(txt)>P.file_max)" \
	"e.push('the task file is '+n8(txt)+' bytes, limit '+P.file_max);return{e:e,txt:txt,id:id};}" \
	"document.getElementById('f-make').addEventListener('click',function(){" \
	"var b=build(),el=document.getElementById('errors'),out=document.getElementById('result'),a,p;" \
	"el.textContent='';document.getElementById('task-file').textContent='';" \
	"if(b.e.length){b.e.forEach(function(m){var li=document.createElement('li');li.textContent=m;" \
	"el.appendChild(li);});out.hidden=true;return;}" \
	"p='tasks/queue/'+b.id+'.json';document.getElementById('task-path').textContent=p;" \
	"document.getElementById('task-file').textContent=b.txt;" \
	"document.getElementById('git-commands').textContent='mkdir -p tasks/queue\\ncat > '+p+" \
	"\" <<'DGRID_TASK'\\n\"+b.txt+'DGRID_TASK\\ngit add '+p+' && git commit -m \"submit '+b.id+'\" && git push\\n';" \
	"a=document.getElementById('github-link');if(gh){a.href='https://github.com/'+gh+'/new/'+" \
	"encodeURIComponent(br)+'?filename='+encodeURIComponent(p)+'&value='+encodeURIComponent(b.txt);" \
	"a.hidden=false;}else a.hidden=true;out.hidden=false;});" \
	"})();</script>"

#define DG_STR_(x) #x
#define DG_STR(x) DG_STR_(x)

json_t *dash_policy_json(const struct dg_policy *pol)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}",
			 "id_max", (json_int_t)pol->id_max, "script_max", (json_int_t)pol->script_max,
			 "timeout_min", (json_int_t)pol->timeout_min, "timeout_max", (json_int_t)pol->timeout_max,
			 "file_max", (json_int_t)pol->file_max);
}

/*
 * "OWNER/REPO" of a github.com URL (https://github.com/o/r(.git),
 * git@github.com:o/r.git, ssh://git@github.com/o/r), else "".
 */
static void github_repo(char *out, size_t outsz, const char *url)
{
	static const char *const prefixes[] = {
		"https://github.com/", "http://github.com/", "git@github.com:", "ssh://git@github.com/",
	};
	const char *rest = NULL;
	size_t n, slashes = 0;

	out[0] = '\0';
	for (size_t i = 0; url && i < DG_ARRAY_SIZE(prefixes) && !rest; i++) {
		if (!strncmp(url, prefixes[i], strlen(prefixes[i])))
			rest = url + strlen(prefixes[i]);
	}
	if (!rest)
		return;
	n = strlen(rest);
	if (n > 4 && !strcmp(rest + n - 4, ".git"))
		n -= 4;
	while (n && rest[n - 1] == '/')
		n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)rest[i];

		if (c == '/')
			slashes++;
		else if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return;
	}
	if (slashes == 1 && n < outsz && rest[0] != '/' && rest[n - 1] != '/')
		snprintf(out, outsz, "%.*s", (int)n, rest);
}

static void field(struct dg_strbuf *sb, const char *id, const char *label, const char *attrs,
		  const char *help)
{
	dg_strbuf_addf(sb, "<p><label for=\"%s\">%s</label><br><input id=\"%s\" %s>"
		       "<br><small>%s</small></p>\n", id, label, id, attrs, help);
}

void dash_render_submit(struct dg_strbuf *sb, const struct dash *d)
{
	const struct dg_policy *pol = &d->grid->policy;
	json_t *policy = dash_policy_json(pol);
	char *policy_text = json_dumps(policy, JSON_COMPACT);
	char gh[256];

	github_repo(gh, sizeof(gh), d->opts->public_url ? d->opts->public_url : d->opts->repo);
	dg_strbuf_addstr(sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
			 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
			 "<meta http-equiv=\"Content-Security-Policy\" content=\"");
	dg_html_csp_for(sb, SUBMIT_SCRIPT);
	dg_strbuf_addstr(sb, "\">\n<title>Submit a task - ");
	dg_html_escape(sb, d->opts->title);
	dg_strbuf_addstr(sb, "</title>\n<style>body{font-family:sans-serif;max-width:52em;margin:1em auto;padding:0 1em}"
			 "input,textarea,select{font:inherit;width:100%;box-sizing:border-box}"
			 "pre{background:#f4f4f4;padding:8px;overflow:auto}#errors{color:#c62828}"
			 "small{color:#555}</style></head><body>\n<h1>Submit a task</h1>\n<p>");
	if (gh[0]) {
		dg_strbuf_addstr(sb, "This page writes the task file; the link then opens GitHub's "
				 "\"create new file\" page for <code>");
		dg_html_escape(sb, gh);
		dg_strbuf_addstr(sb, "</code> with it filled in, so the task becomes a commit or a pull "
				 "request under your own account.");
	} else {
		dg_strbuf_addstr(sb, "This page writes the task file and the git commands that submit it.");
	}
	dg_strbuf_addstr(sb, " Nothing leaves this page by itself; it holds no token. "
			 "<a href=\"index.html\">Back to the dashboard</a>.</p>\n"
			 "<div id=\"submit-form\" data-policy=\"");
	dg_html_escape(sb, policy_text);
	dg_strbuf_addstr(sb, "\" data-github=\"");
	dg_html_escape(sb, gh);
	dg_strbuf_addstr(sb, "\" data-branch=\"");
	dg_html_escape(sb, d->opts->branch && *d->opts->branch ? d->opts->branch : "main");
	dg_strbuf_addstr(sb, "\">\n");
	dg_strbuf_addf(sb, "<p><label for=\"f-id\">Task id</label><br><input id=\"f-id\" maxlength=\"%zu\">"
		       "<br><small>1 to %zu of A-Z a-z 0-9 _ -; the file is tasks/queue/ID.json</small></p>\n",
		       pol->id_max, pol->id_max);
	dg_strbuf_addf(sb, "<p><label for=\"f-script\">Script</label><br><textarea id=\"f-script\" rows=\"6\">"
		       "</textarea><br><small>run with /bin/sh -c; at most %zu bytes</small></p>\n", pol->script_max);
	dg_strbuf_addf(sb, "<p><label for=\"f-timeout\">Timeout (seconds)</label><br><input id=\"f-timeout\" "
		       "inputmode=\"numeric\"><br><small>%u to %u; empty: 30</small></p>\n",
		       pol->timeout_min, pol->timeout_max);
	dg_strbuf_addstr(sb, "<p><label for=\"f-priority\">Priority</label><br><select id=\"f-priority\">");
	for (int p = DG_PRIORITY_MAX; p >= 0; p--)
		dg_strbuf_addf(sb, "<option%s>%d</option>", p == DG_PRIORITY_DEFAULT ? " selected" : "", p);
	dg_strbuf_addstr(sb, "</select><br><small>higher runs first</small></p>\n");
	field(sb, "f-not-before", "Not before", "placeholder=\"2026-12-01T00:00:00Z\"",
	      "stays queued until this UTC time; empty: at once");
	field(sb, "f-labels", "Required labels", "placeholder=\"gpu, cuda12\"",
	      "comma-separated; only nodes started with all of them in DGRID_LABELS run it");
	field(sb, "f-arch", "Required architecture", "placeholder=\"x86_64\"", "empty: any");
	field(sb, "f-cpus", "Minimum processors", "inputmode=\"numeric\"", "empty: any");
	field(sb, "f-memory", "Minimum memory (MB)", "inputmode=\"numeric\"", "empty: any");
	field(sb, "f-retries", "Retries", "inputmode=\"numeric\"",
	      "runs again after failing or timing out, up to this many times; empty: 0");
	field(sb, "f-retry-delay", "Retry delay (seconds)", "inputmode=\"numeric\"",
	      "before the first retry, doubling each time; empty: 10");
	field(sb, "f-deps", "Depends on", "placeholder=\"build, fetch\"",
	      "comma-separated task ids that must succeed first");
	dg_strbuf_addstr(sb, "<p><button type=\"button\" id=\"f-make\">Write the task file</button></p>\n"
			 "<ul id=\"errors\"></ul>\n<div id=\"result\" hidden>\n"
			 "<h2><code id=\"task-path\"></code></h2>\n<pre id=\"task-file\"></pre>\n"
			 "<p><a id=\"github-link\" target=\"_blank\" rel=\"noopener noreferrer\" hidden>"
			 "Create it on GitHub</a></p>\n<p>With git:</p>\n<pre id=\"git-commands\"></pre>\n"
			 "</div></div>\n" SUBMIT_SCRIPT "\n</body></html>\n");
	free(policy_text);
	json_decref(policy);
}
