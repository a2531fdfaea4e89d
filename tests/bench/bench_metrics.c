/* Benchmark (not a test) of what metrics add to the parent's event path
 * and what a scrape costs:
 *
 *   evout_ns    ns per event line queued to the stdout queue alone
 *               (rw_evout_line into /dev/null: what the parent did before)
 *   both_ns     ns per line for rw_evout_line + rw_metrics_event (parse
 *               with jansson, validate, count): the parent's path now
 *   ratio       both_ns / evout_ns
 *   scrape_us   µs per full exposition (rw_metrics_write) with every
 *               listener, reason and operation series of 4 listeners set
 *
 * Lines: the three event shapes a busy appliance sends most (pass end,
 * connection refusal, terminate end) as regwalld writes them. Each figure
 * is the median of RUNS runs (env BENCH_RUNS, default 15) of ITERS lines
 * (env BENCH_ITERS, default 200000); the two event measurements alternate
 * within each run. Last line:
 *   RESULT evout_ns=<n> both_ns=<n> ratio=<x.xx> scrape_us=<n> */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "appliance/rw_evout.h"
#include "appliance/rw_metrics.h"

static const char *const lines[] = {
	"{\"time_ms\":1764806400123,\"time\":\"2026-12-04T00:00:00.123Z\",\"kind\":\"pass\","
	"\"reason\":\"done\",\"listener\":\"https\",\"src\":\"203.0.113.10\",\"src_port\":41000,"
	"\"sni\":\"registry.example.test\",\"ja4\":\"t13d1516h2_8daaf6152771_02713d6af862\","
	"\"bytes_up\":1200,\"bytes_down\":5400,\"duration_ms\":40}",
	"{\"time_ms\":1764806400124,\"time\":\"2026-12-04T00:00:00.124Z\",\"kind\":\"refuse\","
	"\"reason\":\"sni\",\"listener\":\"https\",\"src\":\"203.0.113.140\",\"src_port\":40000,"
	"\"sni\":\"evil.example\",\"bytes_up\":517,\"bytes_down\":0,\"duration_ms\":3}",
	"{\"time_ms\":1764806400125,\"time\":\"2026-12-04T00:00:00.125Z\",\"kind\":\"term\","
	"\"reason\":\"done\",\"listener\":\"term\",\"src\":\"203.0.113.10\",\"src_port\":41001,"
	"\"sni\":\"registry.example.test\",\"identity\":\"ci\",\"bytes_up\":91234,"
	"\"bytes_down\":4400123,\"duration_ms\":812}",
};
#define N_LINES (sizeof(lines) / sizeof(lines[0]))

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[n / 2];
}

int main(void)
{
	int runs = getenv("BENCH_RUNS") ? atoi(getenv("BENCH_RUNS")) : 15;
	long iters = getenv("BENCH_ITERS") ? atol(getenv("BENCH_ITERS")) : 200000;
	if (runs < 1 || runs > 1000 || iters < 1)
		return 2;
	size_t len[N_LINES];
	for (size_t i = 0; i < N_LINES; i++)
		len[i] = strlen(lines[i]);
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct rw_evout eo;
	struct rw_metrics m;
	if (fd < 0 || rw_evout_init(&eo, fd, NULL) || rw_metrics_init(&m))
		return 1;
	const char *names[] = { "https", "https6", "term", "pass" };
	rw_metrics_listeners(&m, names, 4);
	uint64_t *t_eo = calloc((size_t)runs, sizeof(uint64_t));
	uint64_t *t_both = calloc((size_t)runs, sizeof(uint64_t));
	uint64_t *t_scrape = calloc((size_t)runs, sizeof(uint64_t));
	for (int r = 0; r < runs; r++) {
		for (int k = 0; k < 2; k++) {
			bool both = (k + r) % 2 == 1;
			uint64_t t0 = now_ns();
			for (long i = 0; i < iters; i++) {
				size_t j = (size_t)i % N_LINES;
				rw_evout_line(&eo, lines[j], len[j]);
				if (both && rw_metrics_event(&m, lines[j], len[j]))
					return 1;
			}
			uint64_t dt = (now_ns() - t0) / (uint64_t)iters;
			if (both)
				t_both[r] = dt;
			else
				t_eo[r] = dt;
		}
	}
	/* a full registry: every series there can be for 4 listeners */
	for (size_t r = 0; r < 4; r++) {
		for (size_t i = 0; i < m.n_reason; i++)
			m.refusals[r * m.n_reason + i] = 1000 + i;
		for (size_t i = 0; i < m.n_op * 2; i++)
			m.requests[r * m.n_op * 2 + i] = 1000 + i;
	}
	size_t bytes = 0;
	for (int r = 0; r < runs; r++) {
		uint64_t t0 = now_ns();
		struct rw_metrics_out o = { 0 };
		rw_metrics_write(&m, &o);
		t_scrape[r] = (now_ns() - t0) / 1000u;
		bytes = o.len;
		rw_metrics_out_free(&o);
	}
	uint64_t e = median(t_eo, runs), b = median(t_both, runs), s = median(t_scrape, runs);
	printf("lines: %zu shapes, %ld per run, %d runs; exposition %zu bytes\n", N_LINES, iters,
	       runs, bytes);
	printf("RESULT evout_ns=%llu both_ns=%llu ratio=%.2f scrape_us=%llu\n",
	       (unsigned long long)e, (unsigned long long)b, e ? (double)b / (double)e : 0.0,
	       (unsigned long long)s);
	rw_evout_fini(&eo);
	rw_metrics_fini(&m);
	return 0;
}
