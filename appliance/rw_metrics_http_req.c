/* The scrape request (untrusted bytes) and the answers: pure, no I/O;
 * fuzzed by tests/fuzz/fuzz_metrics_http.c. */
#include "appliance/rw_metrics_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool rw_mh_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The end of the line that starts at off: *eol is the index of its '\n',
 * *end the index of its first byte after the content ('\r' or '\n').
 * false when no '\n' before lim. */
static bool rw_mh_line(const char *b, size_t off, size_t lim, size_t *end, size_t *eol)
{
	const char *nl = memchr(b + off, '\n', lim - off);
	if (!nl)
		return false;
	*eol = (size_t)(nl - b);
	*end = *eol > off && b[*eol - 1] == '\r' ? *eol - 1 : *eol;
	return true;
}

/* "METHOD SP TARGET SP HTTP/1.x" in b[0, end). */
static unsigned rw_mh_request_line(const char *b, size_t end)
{
	size_t i = 0;
	while (i < end && i < 16 && rw_mh_tchar((unsigned char)b[i]))
		i++;
	size_t mlen = i;
	if (mlen == 0 || i >= end || b[i] != ' ')
		return 400;
	size_t t0 = ++i;
	while (i < end && (unsigned char)b[i] > 0x20 && (unsigned char)b[i] < 0x7f)
		i++;
	size_t tlen = i - t0;
	if (tlen == 0 || i >= end || b[i] != ' ')
		return 400;
	i++;
	/* "HTTP/" DIGIT "." DIGIT, nothing after */
	if (end - i != 8 || memcmp(b + i, "HTTP/", 5) != 0 || b[i + 6] != '.' ||
	    b[i + 5] < '0' || b[i + 5] > '9' || b[i + 7] < '0' || b[i + 7] > '9')
		return 400;
	if (b[i + 5] != '1')
		return 505;
	const char *t = b + t0;
	bool ours = (tlen == 8 && memcmp(t, "/metrics", 8) == 0) ||
		    (tlen > 8 && memcmp(t, "/metrics?", 9) == 0);
	if (!ours)
		return 404;
	return mlen == 3 && memcmp(b, "GET", 3) == 0 ? 200 : 405;
}

/* field-name ":" field-value in b[off, end). */
static bool rw_mh_header(const char *b, size_t off, size_t end)
{
	size_t i = off;
	while (i < end && rw_mh_tchar((unsigned char)b[i]))
		i++;
	if (i == off || i >= end || b[i] != ':')
		return false; /* no name, obs-fold, space before the colon */
	for (i++; i < end; i++) {
		unsigned char c = (unsigned char)b[i];
		if (c != '\t' && (c < 0x20 || c == 0x7f))
			return false;
	}
	return true;
}

int rw_metrics_http_parse(const char *buf, size_t len, struct rw_metrics_http_req *out)
{
	size_t lim = len < RW_METRICS_HTTP_REQ_MAX ? len : RW_METRICS_HTTP_REQ_MAX;
	size_t end, eol;
	*out = (struct rw_metrics_http_req){ 0 };
	if (!buf || !rw_mh_line(buf, 0, lim, &end, &eol))
		goto short_read;
	unsigned status = rw_mh_request_line(buf, end);
	size_t off = eol + 1;
	for (;;) {
		if (off >= lim || !rw_mh_line(buf, off, lim, &end, &eol))
			goto short_read;
		if (end == off) { /* the empty line */
			out->head_len = eol + 1;
			break;
		}
		if (status != 400 && !rw_mh_header(buf, off, end))
			status = 400;
		off = eol + 1;
	}
	out->status = status;
	return 0;
short_read:
	if (len < RW_METRICS_HTTP_REQ_MAX)
		return RW_EINCOMPLETE;
	out->status = 431;
	out->head_len = lim;
	return 0;
}

static const char *rw_mh_reason(unsigned status)
{
	switch (status) {
	case 200: return "OK";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 505: return "HTTP Version Not Supported";
	default: return "Bad Request";
	}
}

int rw_metrics_http_answer(unsigned status, const struct rw_metrics *m, char **out,
			   size_t *out_len)
{
	struct rw_metrics_out body = { 0 };
	if (status == 200 && m)
		rw_metrics_write(m, &body);
	if (body.oom) {
		rw_metrics_out_free(&body);
		status = 500;
	}
	char msg[64];
	const char *text = body.p;
	size_t text_len = body.len;
	if (status != 200) {
		snprintf(msg, sizeof(msg), "%s\n", rw_mh_reason(status));
		text = msg;
		text_len = strlen(msg);
	}
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %u %s\r\n"
			 "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
			 "Content-Length: %zu\r\n"
			 "%s"
			 "Cache-Control: no-store\r\n"
			 "Connection: close\r\n\r\n",
			 status, rw_mh_reason(status), text_len,
			 status == 405 ? "Allow: GET\r\n" : "");
	char *p = n > 0 ? malloc((size_t)n + text_len + 1) : NULL;
	if (!p) {
		rw_metrics_out_free(&body);
		return RW_ENOMEM;
	}
	memcpy(p, head, (size_t)n);
	if (text_len)
		memcpy(p + n, text, text_len);
	p[(size_t)n + text_len] = '\0';
	*out = p;
	*out_len = (size_t)n + text_len;
	rw_metrics_out_free(&body);
	return 0;
}

