/*
 * http_demo - runs the worker's web server (http.h) on a synthetic,
 * hostile snapshot so the tests can drive it without a worker.
 *
 * Prints "port=N" once listening, then every 100 ms advances the snapshot
 * (loop_tick, last_fetch_ok, counters, elapsed times) and publishes it.
 * Exits 0 on SIGTERM/SIGINT or after --seconds.
 *
 * usage: http_demo [--listen ADDR:PORT] [--seconds N] [--freeze-after MS]
 *                  [--loop-interval-ms MS] [--fetch-max-age-ms MS]
 *   --freeze-after MS   stop advancing loop_tick (and last_fetch_ok) after
 *                       MS milliseconds, like a stuck loop; /health turns 503
 *   --fetch-age-ms MS   report the last successful fetch as MS ms old
 */
#include "common.h"
#include "error.h"
#include "http.h"
#include "log.h"

#include <getopt.h>
#include <signal.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig DG_UNUSED)
{
	stop = 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fill(struct dg_node_status *s, int64_t t0)
{
	static const char *const names[] = { "job-1", "<script>alert(1)</script>", "it's \"quoted\"" };
	static const char *const statuses[] = { "success", "failed", "timeout" };

	memset(s, 0, sizeof(*s));
	snprintf(s->node_id, sizeof(s->node_id), "demo-\"node\"<b>");
	snprintf(s->state, sizeof(s->state), "busy");
	snprintf(s->executor, sizeof(s->executor), "process");
	snprintf(s->isolation, sizeof(s->isolation), "namespaces+seccomp+cgroup");
	snprintf(s->version, sizeof(s->version), "0.1.0");
	/* deliberately unredacted: the server must mask it itself */
	snprintf(s->repo, sizeof(s->repo), "https://x-access-token:demo-not-a-real-token@example.com/grid.git");
	s->slots = 4;
	s->started_at = t0;
	s->spool_backlog = 2;
	s->running_nr = 3;
	for (size_t i = 0; i < s->running_nr; i++) {
		snprintf(s->running[i].task_id, sizeof(s->running[i].task_id), "%s", names[i]);
		s->running[i].started_at = t0 - 5000 * (int64_t)i;
		s->running[i].timeout_seconds = 60;
		s->running[i].attempt = 1;
	}
	s->results_nr = 3;
	for (size_t i = 0; i < s->results_nr; i++) {
		struct dg_status_result *r = &s->results[i];
		snprintf(r->task_id, sizeof(r->task_id), "done-%zu", i);
		snprintf(r->status, sizeof(r->status), "%s", statuses[i]);
		r->exit_code = (int)i;
		r->finished_at = t0 - 1000 * (int64_t)i;
		r->duration_ms = 1234 * (i + 1);
	}
	snprintf(s->results[0].first_line, sizeof(s->results[0].first_line), "<script>alert(1)</script>");
	snprintf(s->results[1].first_line, sizeof(s->results[1].first_line), "caf\xC3\xA9 \"&\" 'x'");
	snprintf(s->results[2].first_line, sizeof(s->results[2].first_line), "bad \xff byte");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "seconds", required_argument, NULL, 's' },
		{ "freeze-after", required_argument, NULL, 'f' },
		{ "loop-interval-ms", required_argument, NULL, 'i' },
		{ "fetch-max-age-ms", required_argument, NULL, 'a' },
		{ "fetch-age-ms", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	static const unsigned bounds[DG_STATUS_LATENCY_NR] = DG_STATUS_LATENCY_BUCKETS;
	const char *listen = "127.0.0.1:0";
	long seconds = 60, freeze_after = -1, fetch_age = 0;
	unsigned loop_ms = 0, fetch_ms = 0;
	struct dg_node_status *s = dg_xcalloc(1, sizeof(*s));
	struct dg_http *h = NULL;
	struct sigaction sa;
	int64_t t0 = now_ms();
	uint64_t ticks = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': listen = optarg; break;
		case 's': seconds = strtol(optarg, NULL, 10); break;
		case 'f': freeze_after = strtol(optarg, NULL, 10); break;
		case 'i': loop_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'a': fetch_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'g': fetch_age = strtol(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: http_demo [--listen ADDR:PORT] [--seconds N] "
				"[--freeze-after MS] [--loop-interval-ms MS] [--fetch-max-age-ms MS] "
				"[--fetch-age-ms MS]\n");
			return 2;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (dg_http_start(&h, listen, "dgrid <demo> worker") < 0) {
		fprintf(stderr, "http_demo: %s\n", dg_error_last());
		free(s);
		return 1;
	}
	dg_http_set_health(h, loop_ms, fetch_ms);
	fill(s, t0);
	printf("port=%u\n", dg_http_port(h));
	fflush(stdout);
	while (!stop && now_ms() - t0 < seconds * 1000) {
		int64_t t = now_ms();
		struct timespec nap = { 0, 100 * 1000000L };

		if (freeze_after < 0 || t - t0 < freeze_after) {
			s->loop_tick = t;
			s->last_fetch_ok = t - fetch_age;
			ticks++;
		}
		s->last_heartbeat = t - 1000;
		s->last_push = t - 2000;
		s->tasks_claimed = ticks;
		s->tasks_completed = ticks / 2;
		s->tasks_failed = ticks / 5;
		s->tasks_rejected = ticks / 10;
		s->tasks_timed_out = ticks / 20;
		s->pushes = ticks;
		s->pushes_rejected = ticks / 7;
		s->txn_retries = ticks / 7;
		/* the first 1000 pushes, latencies cycling through 5..5000 ms */
		s->push_latency_count = ticks < 1000 ? ticks : 1000;
		s->push_latency_sum_seconds = 0;
		memset(s->push_latency_buckets, 0, sizeof(s->push_latency_buckets));
		for (uint64_t k = 0; k < s->push_latency_count; k++) {
			static const unsigned lat[] = { 5, 30, 120, 700, 5000 };
			unsigned ms = lat[k % 5];
			s->push_latency_sum_seconds += ms / 1000.0;
			for (int b = 0; b < DG_STATUS_LATENCY_NR; b++)
				if (ms <= bounds[b])
					s->push_latency_buckets[b]++;
		}
		dg_http_publish(h, s);
		nanosleep(&nap, NULL);
	}
	dg_http_stop(h);
	free(s);
	return 0;
}
