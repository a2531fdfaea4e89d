/* rw_oci_reply: every synthesised refusal must frame cleanly with our own
 * response parser (as a client would), carry the registry headers, and
 * have a body that jansson reads back as {"errors":[{code, message}]}. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "fwd/rw_oci_reply.h"
#include "base/rw_err.h"
#include "inspect/rw_httpresp.h"

static char buf[4096];
static struct rw_httpresp R;

/* Build, parse back, and return the decoded body (NULL for HEAD). */
static json_t *roundtrip(const struct rw_oci_reply *r, enum rw_http_method m)
{
	size_t len = 0;
	assert_int_equal(rw_oci_reply_build(r, buf, sizeof(buf), &len), 0);
	assert_int_equal(strlen(buf), len);
	assert_int_equal(rw_httpresp_parse_head((const uint8_t *)buf, len, m, &R), RW_INSPECT_OK);
	assert_int_equal(R.status, r->status);
	assert_int_equal(R.version_minor, 1);
	assert_true(R.has_content_length);
	assert_int_equal(R.content_type.len, strlen("application/json"));
	assert_memory_equal(R.content_type.ptr, "application/json", R.content_type.len);
	const struct rw_http_field *f = rw_httpresp_field(&R, "Docker-Distribution-API-Version");
	assert_non_null(f);
	assert_int_equal(f->value.len, 12);
	assert_memory_equal(f->value.ptr, "registry/2.0", 12);
	assert_int_equal(R.keep_alive, !r->close);
	if (m == RW_HTTP_HEAD) {
		assert_int_equal(R.body, RW_HTTPRESP_BODY_NONE);
		assert_int_equal(R.head_len, len);
		return NULL;
	}
	assert_int_equal(R.body, RW_HTTPRESP_BODY_LENGTH);
	assert_int_equal(R.head_len + R.content_length, len);
	json_error_t err;
	json_t *j = json_loadb(buf + R.head_len, (size_t)R.content_length, 0, &err);
	if (!j)
		fail_msg("body not JSON: %s: %s", err.text, buf + R.head_len);
	return j;
}

static void expect_error(json_t *j, const char *code, const char *message)
{
	json_t *errs = json_object_get(j, "errors");
	assert_true(json_is_array(errs));
	assert_int_equal(json_array_size(errs), 1);
	json_t *e = json_array_get(errs, 0);
	assert_string_equal(json_string_value(json_object_get(e, "code")), code);
	assert_string_equal(json_string_value(json_object_get(e, "message")), message);
	json_decref(j);
}

static void test_denied(void **state)
{
	(void)state;
	struct rw_oci_reply r = { .status = 403, .code = "DENIED",
				  .message = "push to team-a/app requires the VPN" };
	expect_error(roundtrip(&r, RW_HTTP_PUT), "DENIED", "push to team-a/app requires the VPN");
	assert_non_null(strstr(buf, "HTTP/1.1 403 Forbidden\r\n"));
	assert_null(rw_httpresp_field(&R, "Retry-After"));
	assert_null(rw_httpresp_field(&R, "Connection"));
	/* exact bytes of the simplest case, so a format change shows */
	struct rw_oci_reply u = { .status = 400, .code = "NAME_INVALID", .message = "x", .close = true };
	size_t len;
	assert_int_equal(rw_oci_reply_build(&u, buf, sizeof(buf), &len), 0);
	assert_string_equal(buf, "HTTP/1.1 400 Bad Request\r\n"
				 "Content-Type: application/json\r\n"
				 "Docker-Distribution-API-Version: registry/2.0\r\n"
				 "Content-Length: 50\r\n"
				 "Connection: close\r\n"
				 "\r\n"
				 "{\"errors\":[{\"code\":\"NAME_INVALID\",\"message\":\"x\"}]}");
}

static void test_escaping(void **state)
{
	(void)state;
	struct rw_oci_reply r = { .status = 403, .code = "DENIED",
				  .message = "a \"quoted\" \\ back\nline\ttab\x01 ctl \xc3\xa9 utf8 \xff" };
	expect_error(roundtrip(&r, RW_HTTP_GET), "DENIED",
		     "a \"quoted\" \\ back\nline\ttab\x01 ctl ?? utf8 ?");
	/* NULL message is an empty one */
	struct rw_oci_reply e = { .status = 403, .code = "DENIED" };
	expect_error(roundtrip(&e, RW_HTTP_GET), "DENIED", "");
}

static void test_429_retry_after(void **state)
{
	(void)state;
	struct rw_oci_reply r = { .status = 429, .code = "TOOMANYREQUESTS",
				  .message = "push rate for peer:alice exceeded",
				  .retry_after_s = rw_oci_reply_retry_s(2001) };
	expect_error(roundtrip(&r, RW_HTTP_POST), "TOOMANYREQUESTS", "push rate for peer:alice exceeded");
	assert_true(R.has_retry_after && R.retry_after_is_seconds);
	assert_int_equal(R.retry_after_s, 3);
	assert_non_null(strstr(buf, "HTTP/1.1 429 Too Many Requests\r\n"));
	/* a 429 without a wait still tells the client when to retry */
	r.retry_after_s = 0;
	json_decref(roundtrip(&r, RW_HTTP_POST));
	assert_int_equal(R.retry_after_s, 1);
	assert_int_equal(rw_oci_reply_retry_s(0), 1);
	assert_int_equal(rw_oci_reply_retry_s(1000), 1);
	assert_int_equal(rw_oci_reply_retry_s(1001), 2);
}

static void test_401_head_close(void **state)
{
	(void)state;
	struct rw_oci_reply r = { .status = 401, .code = "UNAUTHORIZED",
				  .message = "client certificate or VPN required",
				  .www_authenticate = "Basic realm=\"regwall\"", .close = true };
	expect_error(roundtrip(&r, RW_HTTP_GET), "UNAUTHORIZED", "client certificate or VPN required");
	const struct rw_http_field *f = rw_httpresp_field(&R, "WWW-Authenticate");
	assert_non_null(f);
	assert_int_equal(f->value.len, strlen("Basic realm=\"regwall\""));
	assert_false(R.keep_alive);
	/* HEAD: the same Content-Length, no body bytes */
	size_t full = R.content_length;
	r.head_request = true;
	assert_null(roundtrip(&r, RW_HTTP_HEAD));
	assert_int_equal(R.content_length, full);
}

static void test_refusals(void **state)
{
	(void)state;
	size_t len = 7;
	struct rw_oci_reply r = { .status = 403, .code = "DENIED", .message = "m" };
	assert_int_equal(rw_oci_reply_build(&r, buf, sizeof(buf), &len), 0);
	size_t need = len;
	/* every too-small buffer is refused; exactly enough works */
	for (size_t cap = 0; cap < need; cap++)
		assert_int_equal(rw_oci_reply_build(&r, buf, cap, &len), RW_ERANGE);
	assert_int_equal(rw_oci_reply_build(&r, buf, need, &len), 0);
	assert_int_equal(len, need);

	struct rw_oci_reply bad = r;
	bad.status = 200;
	assert_int_equal(rw_oci_reply_build(&bad, buf, sizeof(buf), &len), RW_EINVAL);
	bad = r;
	bad.code = "denied";
	assert_int_equal(rw_oci_reply_build(&bad, buf, sizeof(buf), &len), RW_EINVAL);
	bad.code = "DENIED\"}],\"x";
	assert_int_equal(rw_oci_reply_build(&bad, buf, sizeof(buf), &len), RW_EINVAL);
	bad.code = NULL;
	assert_int_equal(rw_oci_reply_build(&bad, buf, sizeof(buf), &len), RW_EINVAL);
	bad = r;
	bad.www_authenticate = "Basic\r\nSet-Cookie: x=1";
	assert_int_equal(rw_oci_reply_build(&bad, buf, sizeof(buf), &len), RW_EINVAL);
	assert_int_equal(rw_oci_reply_build(NULL, buf, sizeof(buf), &len), RW_EINVAL);
	assert_string_equal(rw_oci_reply_reason(499), "Error");
}

/* Every status regwall answers with carries its RFC 9110 / 6585 reason
 * phrase, on the wire too: the framing refusals (every rw_http refusal's
 * status), the policy's 401 and 403, Host != SNI (421), the rate limit
 * (429), a head too large to rewrite (431) and upstream failures (502). */
static void test_reason_phrases(void **state)
{
	(void)state;
	static const struct {
		int status;
		const char *phrase;
	} want[] = {
		{ 400, "Bad Request" },
		{ 401, "Unauthorized" },
		{ 403, "Forbidden" },
		{ 413, "Content Too Large" },
		{ 414, "URI Too Long" },
		{ 417, "Expectation Failed" },
		{ 421, "Misdirected Request" },
		{ 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 501, "Not Implemented" },
		{ 502, "Bad Gateway" },
		{ 505, "HTTP Version Not Supported" },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_string_equal(rw_oci_reply_reason(want[i].status), want[i].phrase);
		struct rw_oci_reply r = { .status = want[i].status, .code = "DENIED", .message = "m" };
		size_t len = 0;
		char line[128];
		assert_int_equal(rw_oci_reply_build(&r, buf, sizeof(buf), &len), 0);
		snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", want[i].status, want[i].phrase);
		assert_memory_equal(buf, line, strlen(line));
	}
	/* a framing refusal status nobody listed above would say "Error" */
	for (int r = RW_HTTP_REFUSE_NONE + 1; r < RW_HTTP_REFUSE_MAX_; r++) {
		int st = rw_http_refuse_status((enum rw_http_refuse)r);
		if (strcmp(rw_oci_reply_reason(st), "Error") == 0)
			fail_msg("no reason phrase for %d (%s)", st,
				 rw_http_refuse_str((enum rw_http_refuse)r));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_denied),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_429_retry_after),
		cmocka_unit_test(test_401_head_close),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_reason_phrases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
