/* Benchmark (not a test): the audit chain's writer, one fdatasync per line
 * against one per event-loop turn (64 events a turn, what the parent reads
 * from one worker's channel per turn), side by side on the same disk, and
 * the verifier's speed on the file written.
 *   BENCH_DIR (default /var/tmp: a real disk, /tmp may be tmpfs)
 *   BENCH_LINES (default 2000)
 * Last line: RESULT per_line_lines_s=.. per_turn_lines_s=.. ratio=..
 *            verify_lines_s=.. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "appliance/rw_audit.h"
#include "appliance/rw_audit_verify.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char ev[] =
	"{\"kind\":\"push\",\"reason\":\"upload_complete\",\"listener\":\"tls4\",\"src\":\"203.0.113.7\","
	"\"src_port\":40000,\"identity\":\"ci-bot\",\"method\":\"PUT\",\"repository\":\"team-a/app\","
	"\"operation\":\"upload_complete\",\"digest\":\"sha256:"
	"4f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8\",\"status\":201,"
	"\"bytes_up\":31337}";

/* lines per second; batch 0: no loop (a sync per line) */
static double run(const char *path, const char *key, unsigned n, unsigned batch)
{
	struct rw_audit a;
	struct rw_audit_cfg cfg = { .path = path, .key_path = key, .cp_lines = 100,
				    .cp_seconds = 3600 };
	struct rw_diag d;
	rw_diag_init(&d);
	unlink(path);
	if (rw_audit_open(&a, &cfg, &d)) {
		rw_diag_print(&d, stderr);
		exit(1);
	}
	struct rw_loop loop;
	if (batch) {
		if (rw_loop_init(&loop, 64))
			exit(1);
		rw_audit_attach(&a, &loop);
	}
	double t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		if (rw_audit_event(&a, ev, sizeof(ev) - 1, 100, 1) != 1)
			exit(1);
		if (batch && (i + 1) % batch == 0)
			rw_loop_run_once(&loop, 0); /* the turn ends: its sync */
	}
	if (batch)
		rw_loop_run_once(&loop, 0);
	double t = now_s() - t0;
	if (batch) {
		rw_audit_detach(&a);
		rw_loop_fini(&loop);
	}
	rw_audit_close(&a);
	return n / t;
}

int main(void)
{
	const char *dir = getenv("BENCH_DIR") ? getenv("BENCH_DIR") : "/var/tmp";
	unsigned n = getenv("BENCH_LINES") ? (unsigned)atoi(getenv("BENCH_LINES")) : 2000;
	char path[512], key[512], pub[520];
	snprintf(path, sizeof(path), "%s/rw-bench-audit.%d.jsonl", dir, (int)getpid());
	snprintf(key, sizeof(key), "%s/rw-bench-audit.%d.key", dir, (int)getpid());
	snprintf(pub, sizeof(pub), "%s.pub", key);
	double per_line = run(path, key, n, 0);
	double per_turn = run(path, key, n, 64);
	/* the verifier on a bigger file written per turn */
	run(path, key, n * 10, 64);
	struct rw_audit_verify v;
	if (rw_audit_verify_init(&v, NULL))
		return 1;
	double t0 = now_s();
	rw_audit_verify_file(&v, path);
	rw_audit_verify_finish(&v);
	double tv = now_s() - t0;
	int ok = rw_audit_verify_result(&v) == RW_AUDIT_VERIFIED;
	uint64_t lines = v.lines;
	rw_audit_verify_fini(&v);
	unlink(path);
	unlink(key);
	unlink(pub);
	if (!ok) {
		fprintf(stderr, "bench_audit: the written file does not verify\n");
		return 1;
	}
	printf("audit writer, %u lines in %s: fdatasync per line %.0f lines/s, per loop turn "
	       "(64 events) %.0f lines/s; verify %llu lines at %.0f lines/s\n",
	       n, dir, per_line, per_turn, (unsigned long long)lines, lines / tv);
	printf("RESULT per_line_lines_s=%.0f per_turn_lines_s=%.0f ratio=%.1f verify_lines_s=%.0f\n",
	       per_line, per_turn, per_turn / per_line, lines / tv);
	return 0;
}
