/* The blocked log without a kernel (appliance/rw_blocked*.c): NFLOG
 * records from tests/data/nflog and worker refusal lines are fed in by
 * hand, and the file is read back. Flood control (burst per source and
 * reason, the table bound with its aggregate), the accounting identity
 * (attempts = lines + summarised + lost), sequence gaps as kernel losses,
 * refusals validated, rotation and the pcap file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appliance/rw_blocked.h"
#include "appliance/rw_blocked_read.h"
#include "inspect/rw_nflog.h"

#define T0 1796380000000ull

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/rw-test-blocked.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char path[128], pcap[128];

static void policy(struct rw_policy *p, uint32_t burst, uint32_t sources)
{
	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "%s/blocked.jsonl", dir);
	snprintf(pcap, sizeof(pcap), "%s/blocked.pcap", dir);
	p->log.nflog_group = 7;
	p->log.blocked = path;
	p->log.blocked_pcap = pcap;
	p->log.blocked_burst = burst;
	p->log.blocked_interval_ms = 10000;
	p->log.blocked_sources = sources;
	p->log.blocked_max_lines = 1000;
	p->log.blocked_keep = 2;
	static struct rw_listener l;
	memset(&l, 0, sizeof(l));
	snprintf(l.name, sizeof(l.name), "https");
	l.listen.family = AF_INET;
	l.listen.port = 443;
	p->listeners = &l;
	p->n_listeners = 1;
}

static void wait_idle(struct rw_blocked *b)
{
	for (int i = 0; i < 500 && !rw_blocked_out_idle(&b->out); i++)
		usleep(2000);
	usleep(5000); /* the writer updates its counters after the queue */
}

/* Lines of the file by kind; sum of summary counts; lost. */
struct tally {
	unsigned drop, refuse, summary, loss, bad;
	uint64_t summarised, kernel_lost;
};

static struct tally read_back(const char *file)
{
	struct tally t = { 0 };
	FILE *f = fopen(file, "r");
	char line[4096];
	while (f && fgets(line, sizeof(line), f)) {
		struct rw_blocked_rec r;
		if (rw_blocked_read_line(line, strcspn(line, "\n"), &r)) {
			t.bad++;
			continue;
		}
		if (!strcmp(r.kind, "drop"))
			t.drop++;
		else if (!strcmp(r.kind, "refuse"))
			t.refuse++;
		else if (!strcmp(r.kind, "summary")) {
			t.summary++;
			t.summarised += (uint64_t)json_integer_value(json_object_get(r.obj, "count"));
		} else if (!strcmp(r.kind, "loss")) {
			t.loss++;
			t.kernel_lost += (uint64_t)json_integer_value(
				json_object_get(r.obj, "kernel_overflow"));
		}
		rw_blocked_rec_clear(&r);
	}
	if (f)
		fclose(f);
	return t;
}

static void refusal(struct rw_blocked *b, const char *src, const char *reason, uint64_t t)
{
	char line[512];
	snprintf(line, sizeof(line),
		 "{\"time_ms\":%llu,\"kind\":\"refuse\",\"reason\":\"%s\",\"listener\":\"https\","
		 "\"src\":\"%s\",\"src_port\":40000,\"sni\":\"evil.example.test\"}",
		 (unsigned long long)t, reason, src);
	assert_true(rw_blocked_on_event(b, line, strlen(line), t));
}

static void test_reason_tokens(void **state)
{
	char l[32], esc[256];
	assert_string_equal(rw_blocked_reason("regwall https not_allowed", l, sizeof(l), esc,
					      sizeof(esc)), "not_allowed");
	assert_string_equal(l, "https");
	assert_string_equal(rw_blocked_reason("regwall - banned", l, sizeof(l), esc, sizeof(esc)),
			    "banned");
	assert_string_equal(l, "");
	assert_string_equal(rw_blocked_reason("regwall - direct_to_registry", l, sizeof(l), esc,
					      sizeof(esc)), "direct_to_registry");
	assert_string_equal(rw_blocked_reason("regwall https6 rate_limited", l, sizeof(l), esc,
					      sizeof(esc)), "rate_limited");
	/* someone else's rule on our group: kept, escaped */
	assert_string_equal(rw_blocked_reason("ssh drop \"x\"\x1b", l, sizeof(l), esc, sizeof(esc)),
			    "other");
	assert_string_equal(esc, "ssh\\x20drop\\x20\"x\"\\x1b");
	assert_string_equal(rw_blocked_reason("regwall https invented", l, sizeof(l), esc,
					      sizeof(esc)), "other");
	assert_string_equal(l, "");
}

static void test_flood_burst_and_summary(void **state)
{
	struct rw_policy p;
	policy(&p, 3, 64);
	struct rw_blocked b;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_blocked_open_nocap(&b, &p, &d), 0);
	rw_blocked_tick(&b, T0, false); /* the interval starts */
	for (int i = 0; i < 10; i++)
		refusal(&b, "203.0.113.5", "sni", T0 + (uint64_t)i);
	refusal(&b, "203.0.113.6", "sni", T0 + 20);
	refusal(&b, "203.0.113.5", "no_sni", T0 + 21);
	wait_idle(&b);
	struct tally t = read_back(path);
	assert_int_equal(t.refuse, 3 + 1 + 1); /* burst 3 of 10, then the others */
	assert_int_equal(t.summary, 0);        /* not before the interval's end */
	struct rw_blocked_stats st;
	rw_blocked_stats(&b, &st);
	assert_int_equal(st.pending[RW_BLOCKED_REFUSE], 7);
	rw_blocked_tick(&b, T0 + 5000, false); /* not due */
	wait_idle(&b);
	assert_int_equal(read_back(path).summary, 0);
	rw_blocked_tick(&b, T0 + 10000, false);
	wait_idle(&b);
	t = read_back(path);
	assert_int_equal(t.summary, 1);
	assert_int_equal(t.summarised, 7);
	rw_blocked_stats(&b, &st);
	assert_int_equal(st.lines[RW_BLOCKED_REFUSE] + st.summarised[RW_BLOCKED_REFUSE], 12);
	assert_int_equal(st.pending[RW_BLOCKED_REFUSE], 0);
	/* a new interval: the source gets lines again */
	refusal(&b, "203.0.113.5", "sni", T0 + 10001);
	wait_idle(&b);
	assert_int_equal(read_back(path).refuse, 6);
	rw_blocked_close(&b);
}

static void test_table_full_aggregate(void **state)
{
	struct rw_policy p;
	policy(&p, 1, 16);
	struct rw_blocked b;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_blocked_open_nocap(&b, &p, &d), 0);
	rw_blocked_tick(&b, T0, false);
	char src[32];
	for (int i = 0; i < 40; i++) {
		snprintf(src, sizeof(src), "198.51.100.%d", i + 1);
		refusal(&b, src, "sni", T0);
	}
	rw_blocked_tick(&b, T0 + 10000, false);
	wait_idle(&b);
	struct tally t = read_back(path);
	/* 16 pairs fit: one line each; the other 24 sources, one aggregate */
	assert_int_equal(t.refuse, 16);
	assert_int_equal(t.summary, 1);
	assert_int_equal(t.summarised, 24);
	rw_blocked_close(&b);
}

static void test_bad_refusals(void **state)
{
	struct rw_policy p;
	policy(&p, 10, 64);
	struct rw_blocked b;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_blocked_open_nocap(&b, &p, &d), 0);
	static const char *bad[] = {
		"{\"kind\":\"refuse\",\"reason\":\"a b\"}",
		"{\"kind\":\"refuse\",\"reason\":\"sni\",\"src\":\"not-an-ip\"}",
		"{\"kind\":\"refuse\",\"reason\":\"sni\",\"src_port\":70000}",
		"{\"kind\":\"refuse\",\"reason\":\"sni\",\"sni\":5}",
		"{\"kind\":\"refuse\",\"reason\":\"sni\",\"listener\":\"x\\u0000y\"}",
		"{\"kind\":\"refuse\",\"reason\":\"sni\",\"sni\":\"a\\u0000b\"}",
		"{\"kind\":\"refuse\"}",
		"{\"kind\":\"refuse\",\"kind\":\"refuse\",\"reason\":\"sni\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		rw_blocked_on_event(&b, bad[i], strlen(bad[i]), T0);
	/* not refusals at all: ignored, no parse */
	const char *pass = "{\"kind\":\"pass\",\"reason\":\"done\"}";
	assert_false(rw_blocked_on_event(&b, pass, strlen(pass), T0));
	const char *junk = "\"refuse\" {{{";
	assert_true(rw_blocked_on_event(&b, junk, strlen(junk), T0)); /* counted bad */
	struct rw_blocked_stats st;
	rw_blocked_stats(&b, &st);
	assert_int_equal(st.bad_events, sizeof(bad) / sizeof(bad[0]) + 1);
	assert_int_equal(st.refusals, 0);
	wait_idle(&b);
	assert_int_equal(read_back(path).refuse, 0);
	rw_blocked_close(&b);
}

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
	char p[256];
	snprintf(p, sizeof(p), "tests/data/nflog/%s", name);
	FILE *f = fopen(p, "rb");
	assert_non_null(f);
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

/* The record with a SEQ TLV appended (as the kernel adds it with
 * NFULNL_CFG_F_SEQ). */
static size_t with_seq(const uint8_t *rec, size_t n, uint32_t seq, uint8_t *out)
{
	memcpy(out, rec, n);
	while (n % 4)
		out[n++] = 0;
	uint16_t len = 8, type = RW_NFULA_SEQ;
	memcpy(out + n, &len, 2);
	memcpy(out + n + 2, &type, 2);
	uint32_t be = htonl(seq);
	memcpy(out + n + 4, &be, 4);
	return n + 8;
}

static void test_nflog_lines_and_seq_gaps(void **state)
{
	struct rw_policy p;
	policy(&p, 2, 64);
	struct rw_blocked b;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_blocked_open_nocap(&b, &p, &d), 0);
	rw_blocked_tick(&b, T0, false);
	uint8_t rec[2048], r2[2100];
	size_t n = load("01-v4-tcp-syn.bin", rec, sizeof(rec));
	/* seq 0, 1, then 5: 2, 3, 4 never arrived */
	uint32_t seqs[] = { 0, 1, 5, 6 };
	for (size_t i = 0; i < 4; i++) {
		size_t m = with_seq(rec, n, seqs[i], r2);
		rw_blocked_on_nflog(&b, r2, m, T0 + i);
	}
	uint8_t junk[8] = { 2, 1, 0, 7, 0, 0, 0, 0 }; /* version 1: undecodable */
	rw_blocked_on_nflog(&b, junk, sizeof(junk), T0 + 9);
	rw_blocked_tick(&b, T0 + 10000, false);
	wait_idle(&b);
	struct tally t = read_back(path);
	assert_int_equal(t.drop, 2 + 1); /* burst 2 + the undecodable one */
	assert_int_equal(t.summarised, 2);
	assert_int_equal(t.loss, 1);
	assert_int_equal(t.kernel_lost, 3);
	/* identity: records + lost = lines + summarised + lost */
	struct rw_blocked_stats st;
	rw_blocked_stats(&b, &st);
	assert_int_equal(st.records, 5);
	assert_int_equal(st.undecodable, 1);
	assert_int_equal(st.lines[0] + st.summarised[0], st.records);
	assert_int_equal(st.lost[0][RW_BLOCKED_LOST_KERNEL], 3);
	assert_int_equal(st.loss_lines, 1);
	/* the line's fields */
	FILE *f = fopen(path, "r");
	char line[2048];
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_non_null(strstr(line, "\"kind\":\"drop\",\"reason\":\"not_allowed\""));
	assert_non_null(strstr(line, "\"src\":\"203.0.113.10\",\"sport\":43220"));
	assert_non_null(strstr(line, "\"dst\":\"203.0.113.1\",\"dport\":443"));
	assert_non_null(strstr(line, "\"tcp_flags\":\"S\""));
	/* the pcap: our header, then a 16-byte record header per line with
	 * the record itself (2 with records; the undecodable too) */
	struct stat sb;
	assert_int_equal(stat(pcap, &sb), 0);
	assert_int_equal(sb.st_size, 24 + 2 * (16 + (off_t)with_seq(rec, n, 0, r2)) + 16 + 8);
	rw_blocked_close(&b);
}

static void test_rotate_and_foreign_pcap(void **state)
{
	struct rw_policy p;
	policy(&p, 5, 64);
	/* a file at the pcap path that is not ours: never written, never
	 * truncated */
	char other[128];
	snprintf(other, sizeof(other), "%s/blocked.pcap", dir);
	FILE *f = fopen(other, "w");
	fputs("someone else's notes\n", f);
	fclose(f);
	struct rw_blocked b;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_blocked_open_nocap(&b, &p, &d), 0);
	assert_true(d.n > 0); /* said why */
	refusal(&b, "203.0.113.7", "sni", T0);
	wait_idle(&b);
	rw_blocked_rotate(&b);
	wait_idle(&b);
	refusal(&b, "203.0.113.8", "sni", T0);
	wait_idle(&b);
	char p1[160];
	snprintf(p1, sizeof(p1), "%s.1", path);
	assert_int_equal(read_back(p1).refuse, 1);
	assert_int_equal(read_back(path).refuse, 1);
	/* the foreign file was moved aside by the rotation (renamed, its bytes
	 * intact) only if it was ours: it was not, so it is where it was */
	f = fopen(other, "r");
	char buf[64] = { 0 };
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "someone else's notes\n");
	rw_blocked_close(&b);
}

static void test_rotate_by_size(void **state)
{
	struct rw_policy p;
	policy(&p, 100, 64);
	p.log.blocked_rotate_bytes = 1000; /* about 5 lines */
	p.log.blocked_pcap = NULL;
	struct rw_blocked b;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_blocked_open_nocap(&b, &p, &d), 0);
	for (int i = 0; i < 30; i++)
		refusal(&b, "203.0.113.7", "sni", T0 + (uint64_t)i);
	wait_idle(&b);
	char p1[160], p2[160], p3[160];
	snprintf(p1, sizeof(p1), "%s.1", path);
	snprintf(p2, sizeof(p2), "%s.2", path);
	snprintf(p3, sizeof(p3), "%s.3", path);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size <= 1000);
	assert_int_equal(stat(p1, &sb), 0);
	assert_true(sb.st_size <= 1000 && sb.st_size > 0);
	assert_int_equal(stat(p2, &sb), 0);
	assert_int_not_equal(stat(p3, &sb), 0); /* keep = 2: the oldest went */
	struct rw_blocked_stats st;
	rw_blocked_stats(&b, &st);
	assert_int_equal(st.lines[RW_BLOCKED_REFUSE], 30);
	assert_true(st.rotations >= 5);
	rw_blocked_close(&b);
}

static void test_write_error_counted(void **state)
{
	struct rw_policy p;
	policy(&p, 5, 64);
	char file[160];
	snprintf(file, sizeof(file), "%s/plainfile", dir);
	FILE *f = fopen(file, "w");
	fclose(f);
	static char bad[200];
	snprintf(bad, sizeof(bad), "%s/plainfile/blocked.jsonl", dir); /* parent is a file */
	p.log.blocked = bad;
	p.log.blocked_pcap = NULL;
	struct rw_blocked b;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_blocked_open_nocap(&b, &p, &d), 0);
	for (int i = 0; i < 8; i++)
		refusal(&b, "203.0.113.9", "sni", T0);
	rw_blocked_tick(&b, T0 + 20000, true);
	wait_idle(&b);
	struct rw_blocked_stats st;
	rw_blocked_stats(&b, &st);
	/* 5 lines and a summary of 3, none written: all 8 counted lost */
	assert_int_equal(st.lost[RW_BLOCKED_REFUSE][RW_BLOCKED_LOST_WRITE], 8);
	assert_int_equal(st.lines[RW_BLOCKED_REFUSE], 0);
	rw_blocked_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_tokens),
		cmocka_unit_test_setup_teardown(test_flood_burst_and_summary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_full_aggregate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nflog_lines_and_seq_gaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotate_and_foreign_pcap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotate_by_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error_counted, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
