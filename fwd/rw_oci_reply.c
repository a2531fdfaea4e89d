/* Synthesised registry error responses (see rw_oci_reply.h). The JSON is
 * escaped here rather than built with jansson: the message may hold bytes
 * that are not UTF-8 (jansson refuses those) and refusals under a flood
 * should not allocate. */
#include "fwd/rw_oci_reply.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/rw_err.h"

/* A bounded writer; with buf NULL it only counts (the measuring pass that
 * gives Content-Length before the body is written). */
struct rw_ow {
	char *buf;
	size_t cap, len;
	bool overflow;
};

static void ow_bytes(struct rw_ow *w, const char *s, size_t n)
{
	if (!w->buf) {
		w->len += n;
		return;
	}
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void ow_str(struct rw_ow *w, const char *s)
{
	ow_bytes(w, s, strlen(s));
}

static void ow_u64(struct rw_ow *w, uint64_t v)
{
	char t[24];
	int n = snprintf(t, sizeof(t), "%" PRIu64, v);
	ow_bytes(w, t, (size_t)n);
}

/* JSON string content: quote, backslash and controls escaped; bytes
 * above 0x7e become '?' so the output is ASCII and always valid JSON. */
static void ow_json_escaped(struct rw_ow *w, const char *s)
{
	static const char hexd[] = "0123456789abcdef";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char e[6];
		if (*p == '"' || *p == '\\') {
			e[0] = '\\';
			e[1] = (char)*p;
			ow_bytes(w, e, 2);
		} else if (*p == '\n') {
			ow_bytes(w, "\\n", 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			memcpy(e, "\\u00", 4);
			e[4] = hexd[*p >> 4];
			e[5] = hexd[*p & 15];
			ow_bytes(w, e, 6);
		} else if (*p > 0x7e) {
			ow_bytes(w, "?", 1);
		} else {
			ow_bytes(w, (const char *)p, 1);
		}
	}
}

static void ow_body(struct rw_ow *w, const struct rw_oci_reply *r)
{
	ow_str(w, "{\"errors\":[{\"code\":\"");
	ow_str(w, r->code);
	ow_str(w, "\",\"message\":\"");
	ow_json_escaped(w, r->message ? r->message : "");
	ow_str(w, "\"}]}");
}

static bool code_valid(const char *c)
{
	if (!c || !*c || strlen(c) > 64)
		return false;
	for (; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || *c == '_'))
			return false;
	return true;
}

static bool header_value_valid(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return false;
	return true;
}

/* RFC 9110 §15 phrases (429 and 431: RFC 6585). The phrase means nothing
 * to a client, but people read it in logs and curl -v: "421 Error" reads
 * as a bug. "Error" stays for a status not listed. */
const char *rw_oci_reply_reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

uint64_t rw_oci_reply_retry_s(uint64_t wait_ms)
{
	uint64_t s = wait_ms / 1000 + (wait_ms % 1000 != 0);
	return s ? s : 1;
}

int rw_oci_reply_build(const struct rw_oci_reply *r, char *buf, size_t cap, size_t *len)
{
	if (!r || !buf || !len || r->status < 400 || r->status > 599 || !code_valid(r->code))
		return RW_EINVAL;
	if (r->www_authenticate && !header_value_valid(r->www_authenticate))
		return RW_EINVAL;
	*len = 0;
	struct rw_ow m = { NULL, 0, 0, false };
	ow_body(&m, r);

	struct rw_ow w = { buf, cap, 0, false };
	ow_str(&w, "HTTP/1.1 ");
	ow_u64(&w, (uint64_t)r->status);
	ow_str(&w, " ");
	ow_str(&w, rw_oci_reply_reason(r->status));
	ow_str(&w, "\r\nContent-Type: application/json\r\n"
		   "Docker-Distribution-API-Version: registry/2.0\r\nContent-Length: ");
	ow_u64(&w, (uint64_t)m.len);
	ow_str(&w, "\r\n");
	if (r->retry_after_s > 0 || r->status == 429) {
		ow_str(&w, "Retry-After: ");
		ow_u64(&w, r->retry_after_s ? r->retry_after_s : 1);
		ow_str(&w, "\r\n");
	}
	if (r->www_authenticate) {
		ow_str(&w, "WWW-Authenticate: ");
		ow_str(&w, r->www_authenticate);
		ow_str(&w, "\r\n");
	}
	if (r->close)
		ow_str(&w, "Connection: close\r\n");
	ow_str(&w, "\r\n");
	if (!r->head_request)
		ow_body(&w, r);
	if (w.overflow)
		return RW_ERANGE;
	if (w.len < cap)
		buf[w.len] = '\0';
	*len = w.len;
	return 0;
}
