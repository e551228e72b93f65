/*
 * dashboard_render.h - the views of a counted dashboard
 * (dashboard_model.h): index.html (dashboard_html.c), status.json
 * (dashboard_json.c) and the submission form submit.html
 * (dashboard_submit.c). Each appends to out and cannot fail; neither
 * touches a file, that is dashboard.c's job.
 *
 * Every string from the repository is passed through dg_redact before it
 * is shown, and in HTML escaped as well (html.h); numbers and the
 * dashboard's own words are written as they are. Queue, running tasks and
 * results are listed up to the caps in d->opts (every node is listed), so
 * the output does not grow with the number of results.
 */
#ifndef DG_DASHBOARD_RENDER_H
#define DG_DASHBOARD_RENDER_H

#include "dashboard_model.h"
#include "strbuf.h"

void dash_render_html(struct dg_strbuf *out, const struct dash *d);
void dash_render_json(struct dg_strbuf *out, const struct dash *d);
void dash_render_submit(struct dg_strbuf *out, const struct dash *d);

/* The limits a submission is checked against: status.json's "policy" and submit.html's. */
json_t *dash_policy_json(const struct dg_policy *pol);

#endif
