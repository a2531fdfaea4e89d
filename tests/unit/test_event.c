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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusal_with_unmatched_cert),
		cmocka_unit_test(test_unset_fields_absent),
		cmocka_unit_test(test_mount_event),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
