/* The push audit chain: writer and verifier round trip, and the verifier
 * naming the line after each kind of tampering (one byte changed, a line
 * deleted, two lines swapped, a line inserted, truncation before the last
 * checkpoint, a bad signature, a wrong public key); the chain continued
 * across a restart (also after a torn last line) and a rotation; worker
 * events that are not audit events, or fail validation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appliance/rw_audit.h"
#include "appliance/rw_audit_verify.h"

static char dir[] = "/tmp/rw-audit-test.XXXXXX";
static char path[256], key[256];

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	snprintf(key, sizeof(key), "%s/audit.key", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* each test starts from no file (the key stays: like a real box) */
static int fresh(void **state)
{
	unlink(path);
	return 0;
}

static void open_writer(struct rw_audit *a, uint32_t cp_lines)
{
	struct rw_audit_cfg cfg = { .path = path, .key_path = key, .cp_lines = cp_lines,
				    .cp_seconds = 3600 };
	struct rw_diag d;
	rw_diag_init(&d);
	int r = rw_audit_open(a, &cfg, &d);
	if (r)
		rw_diag_print(&d, stderr);
	assert_int_equal(r, 0);
}

static void push(struct rw_audit *a, int i)
{
	char ev[512];
	int n = snprintf(ev, sizeof(ev),
			 "{\"time_ms\":1,\"time\":\"2026-12-04T10:00:00.000Z\",\"kind\":\"push\","
			 "\"reason\":\"manifest_put\",\"listener\":\"mtls\",\"src\":\"203.0.113.%d\","
			 "\"src_port\":40000,\"identity\":\"ci\",\"method\":\"PUT\","
			 "\"repository\":\"team/app\",\"operation\":\"manifest_put\",\"reference\":\"v%d\","
			 "\"digest\":\"sha256:%064d\",\"status\":201,\"bytes_up\":%d,\"seq\":99,"
			 "\"prev\":\"forged\"}",
			 i, i, i, 1000 + i);
	assert_int_equal(rw_audit_event(a, ev, (size_t)n, 4242, 3), 1);
}

/* A closed file: open line, n pushes, checkpoints every cp lines, the
 * closing checkpoint. */
static void make_chain(int n, uint32_t cp)
{
	struct rw_audit a;
	open_writer(&a, cp);
	for (int i = 0; i < n; i++)
		push(&a, i);
	rw_audit_close(&a);
}

struct lines {
	char *v[256];
	size_t n;
};

static void read_lines(const char *p, struct lines *l)
{
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	char buf[RW_AUDIT_LINE_MAX];
	l->n = 0;
	while (fgets(buf, sizeof(buf), f)) {
		assert_true(l->n < 256);
		l->v[l->n++] = strdup(buf);
	}
	fclose(f);
}

static void write_lines(const char *p, const struct lines *l)
{
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	for (size_t i = 0; i < l->n; i++)
		fputs(l->v[i], f);
	fclose(f);
}

static void free_lines(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

static enum rw_audit_result verify(const char *const *files, size_t n, const uint8_t *pin,
				   struct rw_audit_verify *v)
{
	assert_int_equal(rw_audit_verify_init(v, pin), 0);
	for (size_t i = 0; i < n; i++)
		rw_audit_verify_file(v, files[i]);
	rw_audit_verify_finish(v);
	enum rw_audit_result r = rw_audit_verify_result(v);
	rw_audit_verify_fini(v);
	return r;
}

static enum rw_audit_result verify1(struct rw_audit_verify *v)
{
	const char *f[] = { path };
	return verify(f, 1, NULL, v);
}

static void pubkey(uint8_t out[32])
{
	char pub[300], why[200];
	snprintf(pub, sizeof(pub), "%s.pub", key);
	assert_int_equal(rw_audit_pubkey_load(pub, out, why, sizeof(why)), 0);
}

static void test_round_trip(void **state)
{
	make_chain(10, 4);
	struct rw_audit_verify v;
	uint8_t pk[32];
	pubkey(pk);
	const char *f[] = { path };
	assert_int_equal(verify(f, 1, pk, &v), RW_AUDIT_VERIFIED);
	/* open + 10 pushes + a checkpoint after every 4 lines + the closing one */
	assert_int_equal(v.lines, 14);
	assert_int_equal(v.checkpoints, 3);
	struct lines l;
	read_lines(path, &l);
	assert_int_equal(l.n, 14);
	assert_non_null(strstr(l.v[0], "\"seq\":1,\"prev\":\"0000"));
	assert_non_null(strstr(l.v[0], "\"kind\":\"open\""));
	/* the parent's seq and prev, never the worker's */
	assert_non_null(strstr(l.v[1], "{\"seq\":2,\"prev\":\""));
	assert_null(strstr(l.v[1], "forged"));
	assert_non_null(strstr(l.v[1], "\"kind\":\"push\",\"op\":\"manifest_put\",\"result\":\"done\""));
	assert_non_null(strstr(l.v[1], "\"repository\":\"team/app\",\"reference\":\"v0\""));
	assert_non_null(strstr(l.v[1], "\"digest\":\"sha256:0000"));
	assert_non_null(strstr(l.v[1], "\"worker_pid\":4242,\"worker_generation\":3"));
	assert_non_null(strstr(l.v[4], "\"kind\":\"checkpoint\""));
	assert_non_null(strstr(l.v[13], "\"kind\":\"checkpoint\""));
	free_lines(&l);
}

static void tamper_expect(void (*edit)(struct lines *), enum rw_audit_result want,
			  uint64_t want_line, const char *want_why)
{
	make_chain(10, 4);
	struct lines l;
	read_lines(path, &l);
	edit(&l);
	write_lines(path, &l);
	free_lines(&l);
	struct rw_audit_verify v;
	uint8_t pk[32];
	pubkey(pk);
	const char *f[] = { path };
	enum rw_audit_result r = verify(f, 1, pk, &v);
	if (r != want || (want == RW_AUDIT_BAD && v.fail_line != want_line) ||
	    !strstr(want == RW_AUDIT_BAD ? v.why : "unsigned", want_why))
		fprintf(stderr, "result %d, line %llu: %s\n", (int)r, (unsigned long long)v.fail_line,
			v.why);
	assert_int_equal(r, want);
	if (want == RW_AUDIT_BAD) {
		assert_int_equal(v.fail_line, want_line);
		assert_non_null(strstr(v.why, want_why));
	}
	/* the writer refuses nothing of this on restart: it reads only the tail */
}

/* line 3 (seq 3, a push): one byte of its digest */
static void edit_byte(struct lines *l)
{
	char *d = strstr(l->v[2], "sha256:");
	assert_non_null(d);
	d[10] = d[10] == '1' ? '2' : '1';
}

static void test_byte_changed(void **state)
{
	tamper_expect(edit_byte, RW_AUDIT_BAD, 3, "changed");
}

static void edit_delete(struct lines *l)
{
	free(l->v[2]);
	memmove(&l->v[2], &l->v[3], (l->n - 3) * sizeof(char *));
	l->n--;
}

static void test_line_deleted(void **state)
{
	tamper_expect(edit_delete, RW_AUDIT_BAD, 3, "removed");
}

static void edit_swap(struct lines *l)
{
	char *t = l->v[2];
	l->v[2] = l->v[3];
	l->v[3] = t;
}

static void test_lines_swapped(void **state)
{
	tamper_expect(edit_swap, RW_AUDIT_BAD, 3, "reordered");
}

/* a copy of line 2 again after it */
static void edit_insert(struct lines *l)
{
	memmove(&l->v[3], &l->v[2], (l->n - 2) * sizeof(char *));
	l->v[2] = strdup(l->v[1]);
	l->n++;
}

static void test_line_inserted(void **state)
{
	tamper_expect(edit_insert, RW_AUDIT_BAD, 3, "inserted");
}

/* the last checkpoint and the line before it gone */
static void edit_truncate(struct lines *l)
{
	free(l->v[--l->n]);
	free(l->v[--l->n]);
}

static void test_truncated_before_checkpoint(void **state)
{
	tamper_expect(edit_truncate, RW_AUDIT_UNSIGNED, 0, "unsigned");
	struct rw_audit_verify v;
	verify1(&v);
	/* the tail starts right after the last checkpoint that is left
	 * (line 10: open, 4 pushes, cp, 3 pushes, cp at line 10) */
	assert_int_equal(v.cp_line, 10);
	assert_int_equal(v.tail_line, 11);
	assert_int_equal(v.tail_lines, 2);
}

/* Cut back to an earlier checkpoint: the file alone verifies (the limit
 * docs/design/audit.md states); with the last checkpoint kept elsewhere
 * (--checkpoint) it fails, and so does a checkpoint rewritten at that seq. */
static void test_truncated_to_checkpoint(void **state)
{
	make_chain(10, 4);
	struct lines l;
	read_lines(path, &l);
	assert_int_equal(l.n, 14);
	char kept[1024];
	snprintf(kept, sizeof(kept), "%s", l.v[13]); /* the SIEM's copy */
	char *older = strdup(l.v[9]);                /* the checkpoint at line 10 */
	free(l.v[13]);
	free(l.v[12]);
	free(l.v[11]);
	free(l.v[10]);
	l.n = 10;
	write_lines(path, &l);
	struct rw_audit_verify v;
	assert_int_equal(verify1(&v), RW_AUDIT_VERIFIED);
	char why[200];
	assert_int_equal(rw_audit_verify_init(&v, NULL), 0);
	assert_int_equal(rw_audit_verify_expect(&v, kept, strlen(kept), why, sizeof(why)), 0);
	rw_audit_verify_file(&v, path);
	rw_audit_verify_finish(&v);
	assert_int_equal(rw_audit_verify_result(&v), RW_AUDIT_BAD);
	assert_int_equal(v.fail_line, 10);
	assert_non_null(strstr(v.why, "before the checkpoint given"));
	rw_audit_verify_fini(&v);
	/* the given line must be a checkpoint */
	assert_int_equal(rw_audit_verify_init(&v, NULL), 0);
	assert_int_not_equal(rw_audit_verify_expect(&v, l.v[1], strlen(l.v[1]), why, sizeof(why)), 0);
	/* a file with another line at that seq (here: the given one is line
	 * 10's with its time changed, as a re-signed rewrite would differ) */
	char *t = strstr(older, "\"time\":\"") + 8;
	t[0] = t[0] == '1' ? '2' : '1';
	assert_int_equal(rw_audit_verify_expect(&v, older, strlen(older), why, sizeof(why)), 0);
	rw_audit_verify_file(&v, path);
	rw_audit_verify_finish(&v);
	assert_int_equal(rw_audit_verify_result(&v), RW_AUDIT_BAD);
	assert_int_equal(v.fail_line, 10);
	assert_non_null(strstr(v.why, "rewritten"));
	rw_audit_verify_fini(&v);
	free(older);
	free_lines(&l);
}

/* cut in the middle of the last line */
static void edit_torn(struct lines *l)
{
	char *s = l->v[l->n - 1];
	s[strlen(s) / 2] = '\0';
}

static void test_torn(void **state)
{
	tamper_expect(edit_torn, RW_AUDIT_BAD, 14, "torn");
}

/* the checkpoint at line 5: one hex digit of its signature */
static void edit_sig(struct lines *l)
{
	char *s = strstr(l->v[4], "\"sig\":\"");
	assert_non_null(s);
	s[8] = s[8] == 'a' ? 'b' : 'a';
}

static void test_bad_signature(void **state)
{
	tamper_expect(edit_sig, RW_AUDIT_BAD, 5, "bad checkpoint signature");
}

/* a checkpoint rewritten in another form (a space): refused as such */
static void edit_cp_form(struct lines *l)
{
	char *s = l->v[4];
	char *n = malloc(strlen(s) + 2);
	n[0] = '{';
	n[1] = ' ';
	strcpy(n + 2, s + 1);
	free(s);
	l->v[4] = n;
}

static void test_checkpoint_form(void **state)
{
	tamper_expect(edit_cp_form, RW_AUDIT_BAD, 5, "one form");
}

static void test_wrong_pubkey(void **state)
{
	make_chain(3, 100);
	uint8_t other[32];
	memset(other, 7, sizeof(other));
	struct rw_audit_verify v;
	const char *f[] = { path };
	assert_int_equal(verify(f, 1, other, &v), RW_AUDIT_BAD);
	assert_int_equal(v.fail_line, 5); /* open, 3 pushes, the checkpoint */
	assert_non_null(strstr(v.why, "not the given public key"));
	/* unpinned, the key announced by the open line is used */
	assert_int_equal(verify(f, 1, NULL, &v), RW_AUDIT_VERIFIED);
}

static void test_restart_continues(void **state)
{
	make_chain(3, 100);
	make_chain(2, 100);
	struct rw_audit_verify v;
	uint8_t pk[32];
	pubkey(pk);
	const char *f[] = { path };
	assert_int_equal(verify(f, 1, pk, &v), RW_AUDIT_VERIFIED);
	assert_int_equal(v.lines, 5 + 4);
	assert_int_equal(v.seq, 9);
	/* a crash mid-line: the torn bytes are cut and recorded, the chain goes on */
	FILE *fp = fopen(path, "a");
	fputs("{\"seq\":10,\"prev\":\"ab", fp);
	fclose(fp);
	make_chain(1, 100);
	assert_int_equal(verify(f, 1, pk, &v), RW_AUDIT_VERIFIED);
	struct lines l;
	read_lines(path, &l);
	assert_non_null(strstr(l.v[9], "\"reason\":\"start\""));
	assert_non_null(strstr(l.v[9], "\"torn_bytes\":20,\"torn_sha256\":\""));
	free_lines(&l);
	/* a file whose last line is not ours is refused, untouched */
	fp = fopen(path, "a");
	fputs("hello\n", fp);
	fclose(fp);
	struct rw_audit a;
	struct rw_audit_cfg cfg = { .path = path, .key_path = key };
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_not_equal(rw_audit_open(&a, &cfg, &d), 0);
	assert_non_null(strstr(d.msg[0].text, "not an audit line"));
}

static void test_rotation(void **state)
{
	struct rw_audit a;
	open_writer(&a, 100);
	push(&a, 1);
	push(&a, 2);
	char old[300];
	snprintf(old, sizeof(old), "%s.1", path);
	assert_int_equal(rename(path, old), 0);
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_audit_reopen(&a, &d), 0);
	push(&a, 3);
	rw_audit_close(&a);
	struct rw_audit_verify v;
	uint8_t pk[32];
	pubkey(pk);
	const char *both[] = { old, path };
	assert_int_equal(verify(both, 2, pk, &v), RW_AUDIT_VERIFIED);
	assert_int_equal(v.lines, 4 + 3);
	/* the new file alone: starts mid-chain (seq 5), still verifies */
	const char *cur[] = { path };
	assert_int_equal(verify(cur, 1, pk, &v), RW_AUDIT_VERIFIED);
	assert_int_equal(v.first_seq, 5);
	/* out of order: the old file after the new one */
	const char *rev[] = { path, old };
	assert_int_equal(verify(rev, 2, pk, &v), RW_AUDIT_BAD);
	assert_string_equal(v.fail_file, old);
	assert_int_equal(v.fail_line, 1);
	/* the old file's last line changed: blamed across the file boundary */
	struct lines l;
	read_lines(old, &l);
	char *s = strstr(l.v[3], "\"time\":\"");
	s[9] = s[9] == '1' ? '2' : '1';
	write_lines(old, &l);
	free_lines(&l);
	assert_int_equal(verify(both, 2, pk, &v), RW_AUDIT_BAD);
	assert_string_equal(v.fail_file, old);
	assert_int_equal(v.fail_line, 4);
	unlink(old);
}

static void test_events_filtered(void **state)
{
	struct rw_audit a;
	open_writer(&a, 100);
	const char *pass = "{\"kind\":\"pass\",\"reason\":\"done\"}";
	const char *pull_refused = "{\"kind\":\"refuse\",\"reason\":\"no_role\",\"method\":\"GET\","
				   "\"operation\":\"manifest_get\",\"repository\":\"a/b\"}";
	const char *push_refused = "{\"kind\":\"refuse\",\"reason\":\"push_requires_vpn\","
				   "\"method\":\"PUT\",\"operation\":\"manifest_put\","
				   "\"repository\":\"a/b\",\"reference\":\"latest\",\"identity\":\"ci\"}";
	const char *bad_repo = "{\"kind\":\"push\",\"reason\":\"manifest_put\","
			       "\"repository\":\"A/../etc\"}";
	const char *bad_type = "{\"kind\":\"delete\",\"reason\":\"blob_delete\",\"status\":\"x\"}";
	const char *failed = "{\"kind\":\"refuse\",\"reason\":\"upstream_timeout\",\"method\":\"PATCH\","
			     "\"operation\":\"upload_chunk\",\"repository\":\"a/b\",\"status\":504}";
	const char *deleted = "{\"kind\":\"delete\",\"reason\":\"manifest_delete\",\"status\":202,"
			      "\"repository\":\"a/b\",\"reference\":\"old\"}";
	assert_int_equal(rw_audit_event(&a, pass, strlen(pass), 1, 1), 0);
	assert_int_equal(rw_audit_event(&a, pull_refused, strlen(pull_refused), 1, 1), 0);
	assert_int_equal(rw_audit_event(&a, "not json", 8, 1, 1), 0);
	assert_int_equal(rw_audit_event(&a, push_refused, strlen(push_refused), 1, 1), 1);
	assert_int_equal(rw_audit_event(&a, bad_repo, strlen(bad_repo), 1, 1), 1);
	assert_int_equal(rw_audit_event(&a, bad_type, strlen(bad_type), 1, 1), 1);
	assert_int_equal(rw_audit_event(&a, deleted, strlen(deleted), 1, 1), 1);
	assert_int_equal(rw_audit_event(&a, failed, strlen(failed), 1, 1), 1);
	assert_int_equal(a.events_unparsed, 1);
	assert_int_equal(a.events_invalid, 2);
	rw_audit_close(&a);
	struct lines l;
	read_lines(path, &l);
	assert_int_equal(l.n, 7);
	assert_non_null(strstr(l.v[1], "\"kind\":\"refuse\",\"op\":\"manifest_put\","
					"\"result\":\"refused\",\"reason\":\"push_requires_vpn\""));
	assert_non_null(strstr(l.v[2], "\"kind\":\"invalid\",\"claimed_kind\":\"push\","
					"\"why\":\"repository\""));
	assert_null(strstr(l.v[2], "etc"));
	assert_non_null(strstr(l.v[3], "\"why\":\"status\""));
	assert_non_null(strstr(l.v[4], "\"kind\":\"delete\",\"op\":\"manifest_delete\""));
	assert_non_null(strstr(l.v[5], "\"op\":\"upload_chunk\",\"result\":\"failed\","
					"\"reason\":\"upstream_timeout\",\"status\":504"));
	free_lines(&l);
	struct rw_audit_verify v;
	assert_int_equal(verify1(&v), RW_AUDIT_VERIFIED);
}

static void test_key_mode(void **state)
{
	char k2[300];
	snprintf(k2, sizeof(k2), "%s/loose.key", dir);
	struct rw_audit a;
	struct rw_audit_cfg cfg = { .path = path, .key_path = k2 };
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_audit_open(&a, &cfg, &d), 0); /* created 0600 */
	rw_audit_close(&a);
	struct stat st;
	assert_int_equal(stat(k2, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	chmod(k2, 0644);
	rw_diag_init(&d);
	assert_int_not_equal(rw_audit_open(&a, &cfg, &d), 0);
	assert_non_null(strstr(d.msg[0].text, "chmod 600"));
	/* a key in a directory that does not exist: a clear refusal */
	cfg.key_path = "/nonexistent-rw-dir/audit.key";
	rw_diag_init(&d);
	assert_int_not_equal(rw_audit_open(&a, &cfg, &d), 0);
	assert_non_null(strstr(d.msg[0].text, "cannot create"));
}

static void test_parse_line_bounds(void **state)
{
	struct rw_audit_rec r;
	char why[160];
	assert_int_not_equal(rw_audit_parse_line("", 0, &r, why, sizeof(why)), 0);
	assert_int_not_equal(rw_audit_parse_line("[1]", 3, &r, why, sizeof(why)), 0);
	const char *dup = "{\"seq\":1,\"seq\":2}";
	assert_int_not_equal(rw_audit_parse_line(dup, strlen(dup), &r, why, sizeof(why)), 0);
	const char *neg = "{\"seq\":-1,\"prev\":\"00\"}";
	assert_int_not_equal(rw_audit_parse_line(neg, strlen(neg), &r, why, sizeof(why)), 0);
	/* a line over the cap is refused without being parsed */
	struct rw_audit_verify v;
	assert_int_equal(rw_audit_verify_init(&v, NULL), 0);
	rw_audit_verify_begin(&v, "big");
	char *big = malloc(RW_AUDIT_LINE_MAX * 2);
	memset(big, 'x', RW_AUDIT_LINE_MAX * 2);
	big[RW_AUDIT_LINE_MAX * 2 - 1] = '\n';
	rw_audit_verify_feed(&v, big, RW_AUDIT_LINE_MAX * 2);
	rw_audit_verify_end(&v);
	free(big);
	assert_int_equal(rw_audit_verify_result(&v), RW_AUDIT_BAD);
	assert_int_equal(v.fail_line, 1);
	assert_non_null(strstr(v.why, "longer than"));
	rw_audit_verify_fini(&v);
}

/* A line with no end (/dev/zero, a huge file without '\n') fails as soon
 * as it passes the cap: the verifier does not read on to the end first. */
static void test_overlong_stops_reading(void **state)
{
	struct rw_audit_verify v;
	assert_int_equal(rw_audit_verify_init(&v, NULL), 0);
	rw_audit_verify_begin(&v, "zero");
	char chunk[4096];
	memset(chunk, 0, sizeof(chunk));
	for (int i = 0; i < 8 && !v.failed; i++)
		rw_audit_verify_feed(&v, chunk, sizeof(chunk));
	assert_true(v.failed); /* before any end of file */
	assert_non_null(strstr(v.why, "longer than"));
	assert_int_equal(v.fail_line, 1);
	rw_audit_verify_fini(&v);
	/* and a whole endless file returns */
	assert_int_equal(rw_audit_verify_init(&v, NULL), 0);
	rw_audit_verify_file(&v, "/dev/zero");
	assert_int_equal(rw_audit_verify_result(&v), RW_AUDIT_BAD);
	rw_audit_verify_fini(&v);
}

/* A key another user owns is refused even at 0600: that user can read it
 * (and sign checkpoints) or swap it for one of their own. */
static void test_key_owner(void **state)
{
	char k2[300];
	snprintf(k2, sizeof(k2), "%s/other.key", dir);
	struct rw_audit a;
	struct rw_audit_cfg cfg = { .path = path, .key_path = k2 };
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_audit_open(&a, &cfg, &d), 0);
	rw_audit_close(&a);
	unlink(path);
	assert_int_equal(chown(k2, geteuid() + 1, (gid_t)-1), 0); /* the tests run as root */
	rw_diag_init(&d);
	assert_int_not_equal(rw_audit_open(&a, &cfg, &d), 0);
	assert_true(d.n > 0);
	assert_non_null(strstr(d.msg[0].text, "owned by"));
}

static size_t count_in(const char *p, const char *needle)
{
	struct lines l;
	read_lines(p, &l);
	size_t n = 0;
	for (size_t i = 0; i < l.n; i++)
		if (strstr(l.v[i], needle))
			n++;
	free_lines(&l);
	return n;
}

/* Events a worker could not send (its channel full: a client flooding
 * refused requests can cause that) may have been pushes: the chain says
 * so with a "lost" line, once per increase of the workers' drop count. */
static void test_worker_drops_recorded(void **state)
{
	struct rw_audit a;
	open_writer(&a, 100);
	rw_audit_workers_dropped(&a, 0);
	push(&a, 1);
	rw_audit_workers_dropped(&a, 5);
	rw_audit_workers_dropped(&a, 5); /* no news: no line */
	push(&a, 2);
	rw_audit_workers_dropped(&a, 7);
	rw_audit_close(&a);
	assert_int_equal(count_in(path, "\"kind\":\"lost\""), 2);
	assert_int_equal(count_in(path, "\"worker_events_dropped\":5"), 1);
	assert_int_equal(count_in(path, "\"worker_events_dropped\":2"), 1);
	struct rw_audit_verify v;
	assert_int_equal(verify1(&v), RW_AUDIT_VERIFIED);
}

/* A new key gets a new .pub: one left from an old key would be what an
 * auditor copies off the box, and every later verify would fail. */
static void test_pub_follows_new_key(void **state)
{
	char k2[300], pub2[310], why[200];
	snprintf(k2, sizeof(k2), "%s/renew.key", dir);
	snprintf(pub2, sizeof(pub2), "%s.pub", k2);
	struct rw_audit a;
	struct rw_audit_cfg cfg = { .path = path, .key_path = k2 };
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_audit_open(&a, &cfg, &d), 0);
	rw_audit_close(&a);
	unlink(k2); /* the .pub stays */
	unlink(path);
	rw_diag_init(&d);
	assert_int_equal(rw_audit_open(&a, &cfg, &d), 0);
	uint8_t raw[32];
	assert_int_equal(rw_audit_pubkey_load(pub2, raw, why, sizeof(why)), 0);
	assert_memory_equal(raw, a.pub, 32);
	rw_audit_close(&a);
}

/* A certificate subject is the client's text (UTF-8 kept by rw_cert):
 * C1 controls (U+0085 NEL, U+009B CSI), line separators and bidi
 * overrides reach no reader of the file raw; the push is still recorded
 * in full (refusing the field would hide the push's details). */
static void test_unsafe_unicode_escaped(void **state)
{
	struct rw_audit a;
	open_writer(&a, 100);
	const char *ev = "{\"kind\":\"push\",\"reason\":\"manifest_put\",\"repository\":\"a/b\","
			 "\"cert_subject\":\"CN=x\\u0085y\\u009b2J\\u2028z\\u202eq\\u00e9\"}";
	assert_int_equal(rw_audit_event(&a, ev, strlen(ev), 1, 1), 1);
	rw_audit_close(&a);
	struct lines l;
	read_lines(path, &l);
	assert_true(l.n >= 2);
	const char *line = l.v[1];
	assert_non_null(strstr(line, "\"kind\":\"push\""));
	assert_non_null(strstr(line, "\"repository\":\"a/b\""));
	assert_null(strstr(line, "\xc2\x85"));
	assert_null(strstr(line, "\xc2\x9b"));
	assert_null(strstr(line, "\xe2\x80\xa8"));
	assert_null(strstr(line, "\xe2\x80\xae"));
	assert_non_null(strstr(line, "CN=x\\u0085y\\u009b2J\\u2028z\\u202eq\xc3\xa9"));
	free_lines(&l);
	struct rw_audit_verify v;
	assert_int_equal(verify1(&v), RW_AUDIT_VERIFIED);
}

/* Without --pubkey the keys come from the file's own open lines, so
 * lines appended with a new key and signed by it verify: the verifier
 * must at least say that the signing key changed, and where. */
static void test_key_change_reported(void **state)
{
	make_chain(3, 100);
	char k2[300];
	snprintf(k2, sizeof(k2), "%s/intruder.key", dir);
	struct rw_audit a;
	struct rw_audit_cfg cfg = { .path = path, .key_path = k2, .cp_lines = 100,
				    .cp_seconds = 3600 };
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_audit_open(&a, &cfg, &d), 0);
	push(&a, 9);
	rw_audit_close(&a);
	struct lines l;
	read_lines(path, &l);
	size_t n = l.n;
	free_lines(&l);
	struct rw_audit_verify v;
	assert_int_equal(verify1(&v), RW_AUDIT_VERIFIED);
	assert_int_equal(v.key_changes, 1);
	assert_int_equal(v.key_change_line, n); /* the intruder's checkpoint */
	/* one key throughout: nothing to say */
	unlink(path);
	make_chain(3, 2);
	assert_int_equal(verify1(&v), RW_AUDIT_VERIFIED);
	assert_int_equal(v.key_changes, 0);
}

/* log.audit_key naming a FIFO is refused at once; opening it for reading
 * used to wait for a writer, so regwalld hung at start. */
static void test_key_fifo(void **state)
{
	char k2[300];
	snprintf(k2, sizeof(k2), "%s/fifo.key", dir);
	assert_int_equal(mkfifo(k2, 0600), 0);
	struct rw_audit a;
	struct rw_audit_cfg cfg = { .path = path, .key_path = k2 };
	struct rw_diag d;
	rw_diag_init(&d);
	alarm(5); /* a hang is a failure, not a stuck test run */
	assert_int_not_equal(rw_audit_open(&a, &cfg, &d), 0);
	alarm(0);
	assert_non_null(strstr(d.msg[0].text, "regular file"));
	unlink(k2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_round_trip, fresh),
		cmocka_unit_test_setup(test_byte_changed, fresh),
		cmocka_unit_test_setup(test_line_deleted, fresh),
		cmocka_unit_test_setup(test_lines_swapped, fresh),
		cmocka_unit_test_setup(test_line_inserted, fresh),
		cmocka_unit_test_setup(test_truncated_before_checkpoint, fresh),
		cmocka_unit_test_setup(test_truncated_to_checkpoint, fresh),
		cmocka_unit_test_setup(test_torn, fresh),
		cmocka_unit_test_setup(test_bad_signature, fresh),
		cmocka_unit_test_setup(test_checkpoint_form, fresh),
		cmocka_unit_test_setup(test_wrong_pubkey, fresh),
		cmocka_unit_test_setup(test_restart_continues, fresh),
		cmocka_unit_test_setup(test_rotation, fresh),
		cmocka_unit_test_setup(test_events_filtered, fresh),
		cmocka_unit_test_setup(test_key_mode, fresh),
		cmocka_unit_test(test_parse_line_bounds),
		cmocka_unit_test(test_overlong_stops_reading),
		cmocka_unit_test_setup(test_key_owner, fresh),
		cmocka_unit_test_setup(test_worker_drops_recorded, fresh),
		cmocka_unit_test_setup(test_pub_follows_new_key, fresh),
		cmocka_unit_test_setup(test_unsafe_unicode_escaped, fresh),
		cmocka_unit_test_setup(test_key_change_reported, fresh),
		cmocka_unit_test_setup(test_key_fifo, fresh),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
