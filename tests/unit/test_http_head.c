/* rw_http_parse_head: accepted heads, every refusal rule, limits, and the
 * prefix-stability property the data path relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/rw_http.h"

static struct rw_http_req req;

static enum rw_inspect_result parse_str(const char *s)
{
	return rw_http_parse_head((const uint8_t *)s, strlen(s), &req);
}

static bool span_eq(struct rw_http_span s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static void test_basic_get(void **state)
{
	(void)state;
	const char *s = "GET /v2/team/app/manifests/v1 HTTP/1.1\r\n"
			"Host: registry.example.test:5000\r\n"
			"User-Agent: skopeo/1.9.3\r\n"
			"Accept:\tapplication/json \t\r\n"
			"\r\n"
			"NEXT";
	assert_int_equal(parse_str(s), RW_INSPECT_OK);
	assert_int_equal(req.method, RW_HTTP_GET);
	assert_true(span_eq(req.method_tok, "GET"));
	assert_true(span_eq(req.target, "/v2/team/app/manifests/v1"));
	assert_int_equal(req.version_minor, 1);
	assert_true(span_eq(req.host, "registry.example.test:5000"));
	assert_int_equal(req.framing, RW_HTTP_BODY_NONE);
	assert_true(req.keep_alive);
	assert_false(req.expect_continue);
	assert_int_equal(req.n_fields, 3);
	assert_true(span_eq(req.fields[2].name, "Accept"));
	assert_true(span_eq(req.fields[2].value, "application/json")); /* OWS trimmed */
	assert_int_equal(req.head_len, strlen(s) - 4);
	const struct rw_http_field *f = rw_http_field_get(&req, "user-agent");
	assert_non_null(f);
	assert_true(span_eq(f->value, "skopeo/1.9.3"));
	assert_null(rw_http_field_get(&req, "cookie"));
}

static void test_methods(void **state)
{
	(void)state;
	static const struct {
		const char *tok;
		enum rw_http_method m;
	} ms[] = { { "GET", RW_HTTP_GET },     { "HEAD", RW_HTTP_HEAD },   { "POST", RW_HTTP_POST },
		   { "PUT", RW_HTTP_PUT },     { "PATCH", RW_HTTP_PATCH }, { "DELETE", RW_HTTP_DELETE } };
	char buf[128];
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		snprintf(buf, sizeof(buf), "%s /v2/ HTTP/1.1\r\nHost: a\r\n\r\n", ms[i].tok);
		assert_int_equal(parse_str(buf), RW_INSPECT_OK);
		assert_int_equal(req.method, ms[i].m);
		assert_string_equal(rw_http_method_str(req.method), ms[i].tok);
	}
}

static void test_connection_semantics(void **state)
{
	(void)state;
	assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
			 RW_INSPECT_OK);
	assert_false(req.keep_alive);
	assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, X-Foo\r\n\r\n"),
			 RW_INSPECT_OK);
	assert_true(req.keep_alive);
	assert_int_equal(parse_str("GET / HTTP/1.0\r\nHost: a\r\n\r\n"), RW_INSPECT_OK);
	assert_int_equal(req.version_minor, 0);
	assert_false(req.keep_alive);
	assert_int_equal(parse_str("GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"),
			 RW_INSPECT_OK);
	assert_true(req.keep_alive);
	/* close wins over keep-alive, also across two Connection lines */
	assert_int_equal(parse_str("GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n"
				   "Connection: close\r\n\r\n"),
			 RW_INSPECT_OK);
	assert_false(req.keep_alive);
}

static void test_body_fields(void **state)
{
	(void)state;
	assert_int_equal(parse_str("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 578\r\n\r\n"),
			 RW_INSPECT_OK);
	assert_int_equal(req.framing, RW_HTTP_BODY_LENGTH);
	assert_int_equal(req.content_length, 578);
	assert_int_equal(parse_str("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"),
			 RW_INSPECT_OK);
	assert_int_equal(req.framing, RW_HTTP_BODY_LENGTH);
	assert_int_equal(req.content_length, 0);
	assert_int_equal(parse_str("PUT /x HTTP/1.1\r\nHost: a\r\n"
				   "Content-Length: 9223372036854775807\r\n\r\n"),
			 RW_INSPECT_OK);
	assert_true(req.content_length == UINT64_C(9223372036854775807));
	assert_int_equal(parse_str("PATCH /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"),
			 RW_INSPECT_OK);
	assert_int_equal(req.framing, RW_HTTP_BODY_CHUNKED);
	assert_int_equal(parse_str("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
				   "Expect: 100-continue\r\n\r\n"),
			 RW_INSPECT_OK);
	assert_true(req.expect_continue);
}

/* Every strict prefix of an acceptable head is MORE, never a verdict. */
static void test_prefixes_are_more(void **state)
{
	(void)state;
	const char *s = "PATCH /v2/a/blobs/uploads/u?_state=x%3D HTTP/1.1\r\n"
			"Host: 127.0.0.1:5080\r\nTransfer-Encoding: chunked\r\n"
			"Connection: close\r\n\r\n";
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(rw_http_parse_head((const uint8_t *)s, i, &req), RW_INSPECT_MORE);
	assert_int_equal(rw_http_parse_head((const uint8_t *)s, n, &req), RW_INSPECT_OK);
	assert_int_equal(req.head_len, n);
}

struct bad {
	const char *name;
	const char *head;
	size_t len; /* 0: strlen */
	enum rw_http_refuse reason;
	int status;
};

#define H "Host: a\r\n"
static const struct bad bads[] = {
	{ "CL with TE", "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0, RW_HTTP_REFUSE_CL_AND_TE, 400 },
	{ "TE with CL", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 0, RW_HTTP_REFUSE_CL_AND_TE, 400 },
	{ "dup CL equal", "POST / HTTP/1.1\r\n" H "Content-Length: 1\r\nContent-Length: 1\r\n\r\n", 0, RW_HTTP_REFUSE_CL_DUPLICATE, 400 },
	{ "dup CL differ", "POST / HTTP/1.1\r\n" H "Content-Length: 1\r\nContent-Length: 2\r\n\r\n", 0, RW_HTTP_REFUSE_CL_DUPLICATE, 400 },
	{ "CL list", "POST / HTTP/1.1\r\n" H "Content-Length: 1, 1\r\n\r\n", 0, RW_HTTP_REFUSE_CL_INVALID, 400 },
	{ "CL empty", "POST / HTTP/1.1\r\n" H "Content-Length: \r\n\r\n", 0, RW_HTTP_REFUSE_CL_INVALID, 400 },
	{ "CL plus", "POST / HTTP/1.1\r\n" H "Content-Length: +1\r\n\r\n", 0, RW_HTTP_REFUSE_CL_INVALID, 400 },
	{ "CL minus", "POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n", 0, RW_HTTP_REFUSE_CL_INVALID, 400 },
	{ "CL hex", "POST / HTTP/1.1\r\n" H "Content-Length: 0x10\r\n\r\n", 0, RW_HTTP_REFUSE_CL_INVALID, 400 },
	{ "CL inner space", "POST / HTTP/1.1\r\n" H "Content-Length: 1 0\r\n\r\n", 0, RW_HTTP_REFUSE_CL_INVALID, 400 },
	{ "CL 2^63", "POST / HTTP/1.1\r\n" H "Content-Length: 9223372036854775808\r\n\r\n", 0, RW_HTTP_REFUSE_CL_TOO_LARGE, 413 },
	{ "CL 2^64+", "POST / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999\r\n\r\n", 0, RW_HTTP_REFUSE_CL_TOO_LARGE, 413 },
	{ "TE gzip", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", 0, RW_HTTP_REFUSE_TE_NOT_CHUNKED_FINAL, 400 },
	{ "TE chunked, gzip", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n", 0, RW_HTTP_REFUSE_TE_NOT_CHUNKED_FINAL, 400 },
	{ "TE chunked, chunked", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n", 0, RW_HTTP_REFUSE_TE_NOT_CHUNKED_FINAL, 400 },
	{ "TE gzip, chunked", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n", 0, RW_HTTP_REFUSE_TE_UNSUPPORTED, 501 },
	{ "TE unknown", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: xchunked\r\n\r\n", 0, RW_HTTP_REFUSE_TE_UNKNOWN, 501 },
	{ "TE identity", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n\r\n", 0, RW_HTTP_REFUSE_TE_UNKNOWN, 501 },
	{ "TE param", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked;q=1\r\n\r\n", 0, RW_HTTP_REFUSE_TE_NOT_CHUNKED_FINAL, 400 },
	{ "TE empty element", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: ,chunked\r\n\r\n", 0, RW_HTTP_REFUSE_TE_NOT_CHUNKED_FINAL, 400 },
	{ "TE empty", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: \r\n\r\n", 0, RW_HTTP_REFUSE_TE_NOT_CHUNKED_FINAL, 400 },
	{ "TE twice", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 0, RW_HTTP_REFUSE_TE_DUPLICATE, 400 },
	{ "TE in 1.0", "POST / HTTP/1.0\r\n" H "Transfer-Encoding: chunked\r\n\r\n", 0, RW_HTTP_REFUSE_TE_HTTP10, 400 },
	{ "obs-fold SP", "GET / HTTP/1.1\r\n" H "X: a\r\n b\r\n\r\n", 0, RW_HTTP_REFUSE_OBS_FOLD, 400 },
	{ "obs-fold HT", "GET / HTTP/1.1\r\n" H "X: a\r\n\tb\r\n\r\n", 0, RW_HTTP_REFUSE_OBS_FOLD, 400 },
	{ "fold first line", "GET / HTTP/1.1\r\n " H "\r\n", 0, RW_HTTP_REFUSE_OBS_FOLD, 400 },
	{ "bare LF line", "GET / HTTP/1.1\n" H "\r\n", 0, RW_HTTP_REFUSE_BARE_LF, 400 },
	{ "bare LF field", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 0, RW_HTTP_REFUSE_BARE_LF, 400 },
	{ "bare LF end", "GET / HTTP/1.1\r\n" H "\n", 0, RW_HTTP_REFUSE_BARE_LF, 400 },
	{ "bare CR field", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 0, RW_HTTP_REFUSE_BARE_CR, 400 },
	{ "bare CR line", "GET / HTTP/1.1\rX\r\n" H "\r\n", 0, RW_HTTP_REFUSE_BARE_CR, 400 },
	{ "bare CR end", "GET / HTTP/1.1\r\n" H "\rX", 0, RW_HTTP_REFUSE_BARE_CR, 400 },
	{ "NUL value", "GET / HTTP/1.1\r\n" H "X: a\0b\r\n\r\n", 35, RW_HTTP_REFUSE_CTL_CHAR, 400 },
	{ "NUL name", "GET / HTTP/1.1\r\n" H "X\0: b\r\n\r\n", 34, RW_HTTP_REFUSE_CTL_CHAR, 400 },
	{ "ctl value", "GET / HTTP/1.1\r\n" H "X: a\x01" "b\r\n\r\n", 0, RW_HTTP_REFUSE_CTL_CHAR, 400 },
	{ "DEL value", "GET / HTTP/1.1\r\n" H "X: a\x7f\r\n\r\n", 0, RW_HTTP_REFUSE_CTL_CHAR, 400 },
	{ "ESC value", "GET / HTTP/1.1\r\n" H "X: \x1b[31m\r\n\r\n", 0, RW_HTTP_REFUSE_CTL_CHAR, 400 },
	{ "space before colon", "GET / HTTP/1.1\r\n" H "X : b\r\n\r\n", 0, RW_HTTP_REFUSE_SPACE_BEFORE_COLON, 400 },
	{ "tab before colon", "GET / HTTP/1.1\r\n" H "Host\t: b\r\n\r\n", 0, RW_HTTP_REFUSE_SPACE_BEFORE_COLON, 400 },
	{ "empty name", "GET / HTTP/1.1\r\n" H ": b\r\n\r\n", 0, RW_HTTP_REFUSE_EMPTY_NAME, 400 },
	{ "name paren", "GET / HTTP/1.1\r\n" H "X(y): b\r\n\r\n", 0, RW_HTTP_REFUSE_NAME_CHAR, 400 },
	{ "name utf8", "GET / HTTP/1.1\r\n" H "X\xc3\xa9: b\r\n\r\n", 0, RW_HTTP_REFUSE_NAME_CHAR, 400 },
	{ "no colon", "GET / HTTP/1.1\r\n" H "Xyz\r\n\r\n", 0, RW_HTTP_REFUSE_NO_COLON, 400 },
	{ "method char", "G(T / HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_METHOD_CHAR, 400 },
	{ "method ctl", "\x16\x03\x01\x00", 0, RW_HTTP_REFUSE_CTL_CHAR, 400 },
	{ "method lowercase", "get / HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_METHOD_UNSUPPORTED, 501 },
	{ "method unknown", "FOO / HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_METHOD_UNSUPPORTED, 501 },
	{ "OPTIONS", "OPTIONS * HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_METHOD_UNSUPPORTED, 501 },
	{ "CONNECT", "CONNECT a:443 HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_METHOD_UNSUPPORTED, 501 },
	{ "TRACE", "TRACE / HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_METHOD_UNSUPPORTED, 501 },
	{ "h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, RW_HTTP_REFUSE_H2_PREFACE, 505 },
	{ "h2 preface prefix", "PRI ", 0, RW_HTTP_REFUSE_H2_PREFACE, 505 },
	{ "absolute-form", "GET http://evil/v2/ HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_TARGET_FORM, 400 },
	{ "asterisk-form", "GET * HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_TARGET_FORM, 400 },
	{ "authority-form", "GET evil:443 HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_TARGET_FORM, 400 },
	{ "target hash", "GET /v2/#x HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_TARGET_CHAR, 400 },
	{ "target backslash", "GET /v2\\x HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_TARGET_CHAR, 400 },
	{ "target tab", "GET /a\tb HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_CTL_CHAR, 400 },
	{ "target hi-bit", "GET /a\xff HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_TARGET_CHAR, 400 },
	{ "target bad pct", "GET /a%zz HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_TARGET_CHAR, 400 },
	{ "target short pct", "GET /a% HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_TARGET_CHAR, 400 },
	{ "double space", "GET  / HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_LINE_SYNTAX, 400 },
	{ "space after target", "GET /  HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_LINE_SYNTAX, 400 },
	{ "trailing space", "GET / HTTP/1.1 \r\n" H "\r\n", 0, RW_HTTP_REFUSE_LINE_SYNTAX, 400 },
	{ "leading space", " GET / HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_LINE_SYNTAX, 400 },
	{ "no target", "GET\r\n", 0, RW_HTTP_REFUSE_LINE_SYNTAX, 400 },
	{ "http/0.9", "GET /\r\n", 0, RW_HTTP_REFUSE_HTTP09, 400 },
	{ "http/1.2", "GET / HTTP/1.2\r\n" H "\r\n", 0, RW_HTTP_REFUSE_VERSION_UNSUPPORTED, 505 },
	{ "http/2.0", "GET / HTTP/2.0\r\n" H "\r\n", 0, RW_HTTP_REFUSE_VERSION_UNSUPPORTED, 505 },
	{ "http/0.9 version", "GET / HTTP/0.9\r\n" H "\r\n", 0, RW_HTTP_REFUSE_VERSION_UNSUPPORTED, 505 },
	{ "http/1.10", "GET / HTTP/1.10\r\n" H "\r\n", 0, RW_HTTP_REFUSE_VERSION_SYNTAX, 400 },
	{ "http lowercase", "GET / http/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_VERSION_SYNTAX, 400 },
	{ "http/1", "GET / HTTP/1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_VERSION_SYNTAX, 400 },
	{ "leading CRLF", "\r\nGET / HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_LEADING_EMPTY_LINE, 400 },
	{ "leading LF", "\nGET / HTTP/1.1\r\n" H "\r\n", 0, RW_HTTP_REFUSE_LEADING_EMPTY_LINE, 400 },
	{ "no Host", "GET / HTTP/1.1\r\n\r\n", 0, RW_HTTP_REFUSE_HOST_MISSING, 400 },
	{ "no Host 1.0", "GET / HTTP/1.0\r\n\r\n", 0, RW_HTTP_REFUSE_HOST_MISSING, 400 },
	{ "dup Host", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 0, RW_HTTP_REFUSE_HOST_DUPLICATE, 400 },
	{ "empty Host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", 0, RW_HTTP_REFUSE_HOST_INVALID, 400 },
	{ "Host userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 0, RW_HTTP_REFUSE_HOST_INVALID, 400 },
	{ "Host path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 0, RW_HTTP_REFUSE_HOST_INVALID, 400 },
	{ "Upgrade", "GET / HTTP/1.1\r\n" H "Upgrade: h2c\r\nConnection: Upgrade\r\n\r\n", 0, RW_HTTP_REFUSE_UPGRADE, 400 },
	{ "X-HTTP-Method-Override", "POST / HTTP/1.1\r\n" H "X-HTTP-Method-Override: DELETE\r\n\r\n", 0, RW_HTTP_REFUSE_METHOD_OVERRIDE, 400 },
	{ "X-HTTP-Method", "POST / HTTP/1.1\r\n" H "x-http-method: PUT\r\n\r\n", 0, RW_HTTP_REFUSE_METHOD_OVERRIDE, 400 },
	{ "X-Method-Override", "POST / HTTP/1.1\r\n" H "X-Method-Override: PUT\r\n\r\n", 0, RW_HTTP_REFUSE_METHOD_OVERRIDE, 400 },
	{ "Expect other", "POST / HTTP/1.1\r\n" H "Expect: 200-ok\r\n\r\n", 0, RW_HTTP_REFUSE_EXPECT_UNSUPPORTED, 417 },
	{ "Connection empty elem", "GET / HTTP/1.1\r\n" H "Connection: close,,x\r\n\r\n", 0, RW_HTTP_REFUSE_CONNECTION_INVALID, 400 },
	{ "Connection bad token", "GET / HTTP/1.1\r\n" H "Connection: clo se\r\n\r\n", 0, RW_HTTP_REFUSE_CONNECTION_INVALID, 400 },
};
#undef H

static void test_refusals(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		size_t len = b->len ? b->len : strlen(b->head);
		enum rw_inspect_result r = rw_http_parse_head((const uint8_t *)b->head, len, &req);
		if (r != RW_INSPECT_REFUSE || req.refuse != b->reason || req.status != b->status)
			fail_msg("%s: got result %d reason '%s' status %d, want '%s' %d", b->name, r,
				 rw_http_refuse_str(req.refuse), req.status,
				 rw_http_refuse_str(b->reason), b->status);
		assert_true(req.refuse_at <= len);
		assert_int_equal(rw_http_refuse_status(req.refuse), req.status);
		/* Stability: once refused, a longer stream gives the same verdict. */
		static const char tail[] = "X-Pad: 1\r\nHost: b\r\n\r\nGET / HTTP/1.1\r\n\r\n";
		char longer[512];
		assert_true(len + sizeof(tail) < sizeof(longer));
		memcpy(longer, b->head, len);
		memcpy(longer + len, tail, sizeof(tail) - 1);
		assert_int_equal(rw_http_parse_head((const uint8_t *)longer, len + sizeof(tail) - 1, &req),
				 RW_INSPECT_REFUSE);
		assert_int_equal(req.refuse, b->reason);
	}
}

/* Early refusal: garbage is refused at its first byte, without waiting for
 * a line end (a TLS ClientHello on the plain port). */
static void test_refuse_early(void **state)
{
	(void)state;
	static const uint8_t hello[] = { 0x16, 0x03, 0x01 };
	assert_int_equal(rw_http_parse_head(hello, 1, &req), RW_INSPECT_REFUSE);
	assert_int_equal(req.refuse_at, 0);
	assert_int_equal(rw_http_parse_head((const uint8_t *)"GET /v2/ HTTP/1.1\r\nHo st", 24, &req),
			 RW_INSPECT_REFUSE);
	assert_int_equal(req.refuse, RW_HTTP_REFUSE_SPACE_BEFORE_COLON);
	assert_int_equal(req.refuse_at, 21);
}

static char *filler(size_t n, char c)
{
	char *p = malloc(n + 1);
	assert_non_null(p);
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

static void test_request_line_limit(void **state)
{
	(void)state;
	/* "GET /" + pad + " HTTP/1.1\r\n" is exactly the limit: accepted. */
	size_t fixed = strlen("GET /") + strlen(" HTTP/1.1\r\n");
	char *pad = filler(RW_HTTP_MAX_LINE - fixed, 'a');
	size_t cap = RW_HTTP_MAX_LINE + 64;
	char *buf = malloc(cap);
	assert_non_null(buf);
	snprintf(buf, cap, "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", pad);
	assert_int_equal(parse_str(buf), RW_INSPECT_OK);
	assert_int_equal(req.target.len, RW_HTTP_MAX_LINE - fixed + 1);
	free(pad);
	/* one byte more: 414, and already while the line is incomplete */
	pad = filler(RW_HTTP_MAX_LINE - fixed + 1, 'a');
	snprintf(buf, cap, "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", pad);
	assert_int_equal(parse_str(buf), RW_INSPECT_REFUSE);
	assert_int_equal(req.refuse, RW_HTTP_REFUSE_LINE_TOO_LONG);
	assert_int_equal(req.status, 414);
	assert_int_equal(req.refuse_at, RW_HTTP_MAX_LINE);
	assert_int_equal(rw_http_parse_head((const uint8_t *)buf, RW_HTTP_MAX_LINE - 1, &req),
			 RW_INSPECT_MORE);
	/* all 8192 bytes seen and still no LF: it cannot fit any more */
	assert_int_equal(rw_http_parse_head((const uint8_t *)buf, RW_HTTP_MAX_LINE, &req),
			 RW_INSPECT_REFUSE);
	assert_int_equal(req.status, 414);
	free(pad);
	free(buf);
}

static void test_field_block_limit(void **state)
{
	(void)state;
	const char *line = "GET / HTTP/1.1\r\n";
	const char *host = "Host: a\r\n";
	size_t cap = strlen(line) + RW_HTTP_MAX_FIELDS + 64;
	char *buf = malloc(cap);
	assert_non_null(buf);
	/* Host + one X field + final CRLF == 32 KiB exactly: accepted. */
	size_t xlen = RW_HTTP_MAX_FIELDS - strlen(host) - 2 - strlen("X: \r\n");
	char *pad = filler(xlen, 'v');
	snprintf(buf, cap, "%s%sX: %s\r\n\r\n", line, host, pad);
	assert_int_equal(parse_str(buf), RW_INSPECT_OK);
	assert_int_equal(req.head_len, strlen(line) + RW_HTTP_MAX_FIELDS);
	free(pad);
	pad = filler(xlen + 1, 'v');
	snprintf(buf, cap, "%s%sX: %s\r\n\r\n", line, host, pad);
	assert_int_equal(parse_str(buf), RW_INSPECT_REFUSE);
	assert_int_equal(req.refuse, RW_HTTP_REFUSE_FIELDS_TOO_LONG);
	assert_int_equal(req.status, 431);
	/* and without the end ever arriving */
	assert_int_equal(rw_http_parse_head((const uint8_t *)buf, strlen(line) + RW_HTTP_MAX_FIELDS + 1,
					    &req),
			 RW_INSPECT_REFUSE);
	assert_int_equal(req.status, 431);
	free(pad);
	free(buf);
}

static void test_field_count_limit(void **state)
{
	(void)state;
	size_t cap = 64 + (RW_HTTP_MAX_HEADERS + 1) * 16;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (int extra = 0; extra <= 1; extra++) {
		size_t off = (size_t)snprintf(buf, cap, "GET / HTTP/1.1\r\nHost: a\r\n");
		for (int i = 1; i < RW_HTTP_MAX_HEADERS + extra; i++)
			off += (size_t)snprintf(buf + off, cap - off, "X-%d: v\r\n", i);
		snprintf(buf + off, cap - off, "\r\n");
		if (!extra) {
			assert_int_equal(parse_str(buf), RW_INSPECT_OK);
			assert_int_equal(req.n_fields, RW_HTTP_MAX_HEADERS);
		} else {
			assert_int_equal(parse_str(buf), RW_INSPECT_REFUSE);
			assert_int_equal(req.refuse, RW_HTTP_REFUSE_TOO_MANY_FIELDS);
			assert_int_equal(req.status, 431);
		}
	}
	free(buf);
}

static void test_refuse_strings(void **state)
{
	(void)state;
	for (int i = 0; i < RW_HTTP_REFUSE_MAX_; i++) {
		const char *s = rw_http_refuse_str((enum rw_http_refuse)i);
		assert_non_null(s);
		assert_string_not_equal(s, "unknown refusal");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(s, rw_http_refuse_str((enum rw_http_refuse)j));
		int st = rw_http_refuse_status((enum rw_http_refuse)i);
		assert_true(st == 400 || st == 413 || st == 414 || st == 417 || st == 431 ||
			    st == 501 || st == 505);
	}
	assert_string_equal(rw_http_refuse_str(RW_HTTP_REFUSE_MAX_), "unknown refusal");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_get),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_connection_semantics),
		cmocka_unit_test(test_body_fields),
		cmocka_unit_test(test_prefixes_are_more),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_refuse_early),
		cmocka_unit_test(test_request_line_limit),
		cmocka_unit_test(test_field_block_limit),
		cmocka_unit_test(test_field_count_limit),
		cmocka_unit_test(test_refuse_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
