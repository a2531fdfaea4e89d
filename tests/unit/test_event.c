/* Decision events as JSON lines (fwd/rw_event.c): the fields a security
 * team reads, present when set and absent when not, one object per line. */
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

#include <jansson.h>

#include "fwd/rw_event.h"

static json_t *write_one(const struct rw_fwd_event *ev)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(rw_event_json_write(f, ev), 0);
	fclose(f);
	/* exactly one line */
	assert_true(len > 2);
	assert_int_equal(buf[len - 1], '\n');
	assert_null(memchr(buf, '\n', len - 1));
	json_error_t err;
	json_t *o = json_loadb(buf, len, 0, &err);
	free(buf);
	assert_non_null(o);
	return o;
}

static void test_refusal_with_unmatched_cert(void **state)
{
	struct rw_fwd_event ev = {
		.time_ms = 1795897925123ull,
		.kind = "refuse",
		.reason = "no_role",
		.listener = "tls4",
		.src_family = AF_INET,
		.src_port = 40000,
		.sni = "registry.example.test",
		.identity = "net:office",
		.cert_subject = "CN=ip-san-client,O=Example \"Org\"",
		.method = "POST",
		.repository = "team-a/app",
		.operation = "upload_start",
	};
	assert_int_equal(inet_pton(AF_INET, "203.0.113.10", ev.src_addr), 1);
	json_t *o = write_one(&ev);
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "refuse");
	assert_string_equal(json_string_value(json_object_get(o, "src")), "203.0.113.10");
	assert_int_equal(json_integer_value(json_object_get(o, "src_port")), 40000);
	assert_string_equal(json_string_value(json_object_get(o, "identity")), "net:office");
	/* quotes survive: the writer escapes, the reader gets the DN back */
	assert_string_equal(json_string_value(json_object_get(o, "cert_subject")),
			    "CN=ip-san-client,O=Example \"Org\"");
	assert_string_equal(json_string_value(json_object_get(o, "repository")), "team-a/app");
	assert_null(json_object_get(o, "digest"));
	json_decref(o);
}

static void test_unset_fields_absent(void **state)
{
	struct rw_fwd_event ev = { .kind = "refuse", .reason = "sni", .listener = "pass" };
	json_t *o = write_one(&ev);
	assert_null(json_object_get(o, "cert_subject"));
	assert_null(json_object_get(o, "identity"));
	assert_null(json_object_get(o, "src"));
	assert_string_equal(json_string_value(json_object_get(o, "reason")), "sni");
	json_decref(o);
}

/* An allowed cross-repository mount: target, source, digest and the
 * registry's status, so the read of another repository leaves a trace. */
static void test_mount_event(void **state)
{
	struct rw_fwd_event ev = {
		.kind = "push",
		.reason = "upload_mount",
		.listener = "tls4",
		.identity = "ci-bot",
		.method = "POST",
		.repository = "team-a/x",
		.operation = "upload_mount",
		.digest = "sha256:4f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8",
		.from = "team-a/src",
		.status = 201,
	};
	json_t *o = write_one(&ev);
	assert_string_equal(json_string_value(json_object_get(o, "repository")), "team-a/x");
	assert_string_equal(json_string_value(json_object_get(o, "from")), "team-a/src");
	assert_string_equal(json_string_value(json_object_get(o, "digest")), ev.digest);
	assert_int_equal(json_integer_value(json_object_get(o, "status")), 201);
	assert_string_equal(json_string_value(json_object_get(o, "operation")), "upload_mount");
	json_decref(o);
	/* whatever bytes a name holds, the line stays one valid JSON object
	 * that gives them back (the classifier's grammar allows none of
	 * these; the writer does not rely on it) */
	ev.from = "a\"b\\c\nd\x01e";
	ev.repository = "\xff\xfe";
	o = write_one(&ev);
	assert_string_equal(json_string_value(json_object_get(o, "from")), "a\"b\\c\nd\x01e");
	assert_string_equal(json_string_value(json_object_get(o, "repository")), "<invalid-utf8>");
	json_decref(o);
	/* no status, no from: both absent */
	ev.from = NULL;
	ev.status = 0;
	o = write_one(&ev);
	assert_null(json_object_get(o, "from"));
	assert_null(json_object_get(o, "status"));
	json_decref(o);
}

/* Every event carries its time twice: time_ms for programs, ISO 8601 UTC
 * with milliseconds for people and log tools. */
static void test_iso_time(void **state)
{
	struct rw_fwd_event ev = { .time_ms = 1796355165123ull, .kind = "refuse", .reason = "sni" };
	json_t *o = write_one(&ev);
	assert_int_equal(json_integer_value(json_object_get(o, "time_ms")), 1796355165123ll);
	assert_string_equal(json_string_value(json_object_get(o, "time")),
			    "2026-12-04T03:32:45.123Z");
	json_decref(o);
	char iso[RW_EVENT_TIME_LEN];
	rw_event_time_iso(0, iso);
	assert_string_equal(iso, "1970-01-01T00:00:00.000Z");
	rw_event_time_iso(951782400007ull, iso); /* a leap day, 7 ms */
	assert_string_equal(iso, "2000-02-29T00:00:00.007Z");
}

/* A refused certificate: subject and issuer, quotes and escapes intact. */
static void test_refused_cert_fields(void **state)
{
	struct rw_fwd_event ev = {
		.kind = "refuse", .reason = "client_cert_untrusted", .listener = "tls4",
		.cert_subject = "CN=mallory\\, inc.,O=\\C3\\BC",
		.cert_issuer = "CN=Some Other CA",
	};
	json_t *o = write_one(&ev);
	assert_string_equal(json_string_value(json_object_get(o, "cert_subject")),
			    "CN=mallory\\, inc.,O=\\C3\\BC");
	assert_string_equal(json_string_value(json_object_get(o, "cert_issuer")), "CN=Some Other CA");
	json_decref(o);
	ev.cert_issuer = NULL;
	o = write_one(&ev);
	assert_null(json_object_get(o, "cert_issuer"));
	json_decref(o);
}

/* Names from the network as printable, bounded strings. */
static void test_escape(void **state)
{
	char out[RW_EVENT_STR_MAX];
	assert_int_equal(rw_event_escape("registry.example.test", 21, out, sizeof(out)), 21);
	assert_string_equal(out, "registry.example.test");
	/* space, control, backslash, DEL, high bytes, NUL: escaped */
	static const char raw[] = "a b\x01\\\x7f\xc3\xbc\0z";
	rw_event_escape(raw, sizeof(raw) - 1, out, sizeof(out));
	assert_string_equal(out, "a\\x20b\\x01\\x5c\\x7f\\xc3\\xbc\\x00z");
	/* too long: cut at an escape boundary, marked, within cap */
	uint8_t big[255];
	memset(big, 0xff, sizeof(big));
	size_t n = rw_event_escape(big, sizeof(big), out, sizeof(out));
	assert_true(n < sizeof(out));
	assert_int_equal(n, strlen(out));
	assert_string_equal(out + n - 3, "...");
	assert_int_equal((n - 3) % 4, 0);
	char small[10];
	n = rw_event_escape("abcdefghijkl", 12, small, sizeof(small));
	assert_string_equal(small, "abcdef...");
	assert_int_equal(n, 9);
	/* exactly fitting: no marker */
	n = rw_event_escape("abcdefghi", 9, small, sizeof(small));
	assert_string_equal(small, "abcdefghi");
	/* the result is always valid JSON text */
	struct rw_fwd_event ev = { .kind = "refuse", .reason = "sni", .sni = out };
	rw_event_escape(raw, sizeof(raw) - 1, out, sizeof(out));
	json_t *o = write_one(&ev);
	assert_string_equal(json_string_value(json_object_get(o, "sni")), out);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusal_with_unmatched_cert),
		cmocka_unit_test(test_unset_fields_absent),
		cmocka_unit_test(test_mount_event),
		cmocka_unit_test(test_iso_time),
		cmocka_unit_test(test_refused_cert_fields),
		cmocka_unit_test(test_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
