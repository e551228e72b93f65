/*
 * http.h - the worker's status web server (libmicrohttpd).
 *
 * Lifecycle: dg_http_start() binds "ADDR:PORT" (e.g. "127.0.0.1:8000",
 * "[::1]:0", "0.0.0.0:8080"; port 0 picks a free port, dg_http_port() tells
 * which) or "auto": the first free port of 127.0.0.1:8000-8099, so that
 * several workers on one host each get a page. It serves from a small pool
 * of internal threads until dg_http_stop(), which waits for them and frees
 * everything.
 *
 * Connections are bounded: at most DG_HTTP_MAX_CONNECTIONS at once (more
 * wait in the kernel's listen queue, costing the worker no descriptor),
 * each closed after DG_HTTP_IDLE_SECONDS without traffic. The page must
 * never take from the worker the descriptors it needs for Git and tasks.
 *
 * Threading: the worker's loop calls dg_http_publish() after each turn; it
 * copies the snapshot under a mutex. The server threads copy it again under
 * the same mutex and answer only from their own copy, so they never touch
 * libgit2 or the loop's memory (nodestatus.h). dg_http_publish and
 * dg_http_set_health may be called from any one thread while serving.
 *
 * Endpoints (GET and HEAD only, anything else is 405; unknown paths 404):
 *   /             the node's live page (HTML, escaped, reloads every 5 s)
 *   /api/status   the snapshot as JSON
 *   /health       200 "ok" when the loop turned within 3 x loop interval
 *                 and the last successful fetch is within the fetch max
 *                 age; 503 with the reason otherwise (also before the
 *                 first publish)
 *   /metrics      Prometheus text format 0.0.4 (counters, gauges and the
 *                 push latency histogram)
 * The repository URL is passed through dg_redact again before it is shown;
 * no token reaches a response.
 */
#ifndef DG_HTTP_H
#define DG_HTTP_H

#include "common.h"
#include "nodestatus.h"

#define DG_HTTP_AUTO "auto"
#define DG_HTTP_AUTO_HOST "127.0.0.1"
#define DG_HTTP_AUTO_FIRST_PORT 8000
#define DG_HTTP_AUTO_LAST_PORT 8099
#define DG_HTTP_THREADS 4
#define DG_HTTP_MAX_CONNECTIONS 64
#define DG_HTTP_IDLE_SECONDS 10
#define DG_HTTP_LOOP_INTERVAL_MS 60000      /* /health: 3 x this without a tick is a stall */
#define DG_HTTP_FETCH_MAX_AGE_MS 300000     /* /health: no successful fetch for this long */

struct dg_http;

/*
 * Starts serving. addr_port "auto" or NULL: the first free port of
 * DG_HTTP_AUTO_HOST:DG_HTTP_AUTO_FIRST_PORT-DG_HTTP_AUTO_LAST_PORT; title
 * (may be NULL: "dgrid worker") heads the page. Returns 0; DG_EINVALID when
 * an address given explicitly cannot be used (malformed, already in use,
 * not this host's, privileged); DG_ERROR otherwise, which includes "auto"
 * finding no free port (message set in every case).
 */
int dg_http_start(struct dg_http **out, const char *addr_port, const char *title);

/* Is addr_port the automatic choice ("auto" or NULL)? */
bool dg_http_is_auto(const char *addr_port);

/* Replaces the served snapshot with a copy of *snap. */
void dg_http_publish(struct dg_http *h, const struct dg_node_status *snap);

/* Thresholds of /health in milliseconds; 0 keeps the current value. */
void dg_http_set_health(struct dg_http *h, unsigned loop_interval_ms, unsigned fetch_max_age_ms);

/* The bound port (the chosen one when started with port 0). */
unsigned dg_http_port(const struct dg_http *h);

/* Where it listens, as "127.0.0.1:8001" or "[::1]:8080" ("*:PORT" for all). */
const char *dg_http_address(const struct dg_http *h);

/* Stops the threads, closes the socket and frees h (NULL is fine). */
void dg_http_stop(struct dg_http *h);

#endif
