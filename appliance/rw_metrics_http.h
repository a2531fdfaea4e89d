/* The metrics endpoint: a small HTTP/1.x server on the parent's loop
 * (metrics.listen) that answers GET /metrics with the text exposition
 * and nothing else.
 *
 * Only clients whose address is in metrics.allow (default: loopback) are
 * served; others are closed at accept, before a byte is read. Each
 * client gets one request, one answer, then the connection closes. At
 * most RW_METRICS_HTTP_CLIENTS at once (a newcomer past that is closed);
 * a client has RW_METRICS_HTTP_TIMEOUT_MS for request and answer
 * together, so a slow one cannot hold a slot. The request is untrusted
 * input: rw_metrics_http_parse is bounds-checked and fuzzed
 * (tests/fuzz/fuzz_metrics_http.c). */
#ifndef RW_METRICS_HTTP_H
#define RW_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "appliance/rw_metrics.h"
#include "base/rw_err.h"
#include "base/rw_loop.h"
#include "rules/rw_policy.h"

#define RW_METRICS_HTTP_REQ_MAX 4096 /* request line + headers */
#define RW_METRICS_HTTP_CLIENTS 16
#define RW_METRICS_HTTP_TIMEOUT_MS 5000

/* ---- the request parser ----
 *
 *   request-line  = method SP request-target SP "HTTP/1." DIGIT CRLF
 *   header-field  = field-name ":" OWS field-value OWS CRLF   (each)
 *   end           = CRLF
 *
 * Bare LF is accepted as a line end (curl and Prometheus send CRLF).
 * The header fields are checked for shape and otherwise ignored: the
 * answer does not depend on any of them. */
struct rw_metrics_http_req {
	unsigned status; /* the status to answer: 200, 400, 404, 405, 431, 505 */
	size_t head_len; /* bytes of the request head (through the empty line) */
};

/* RW_EINCOMPLETE: no end of head yet and still under the limit (read
 * more). 0: *out says what to answer (status 200 only for GET /metrics
 * or GET /metrics?...). Never reads past buf[len). */
int rw_metrics_http_parse(const char *buf, size_t len, struct rw_metrics_http_req *out);

/* The whole answer for status (body: the exposition for 200, a short
 * text otherwise), malloc'd into *out / *out_len. RW_ENOMEM. */
int rw_metrics_http_answer(unsigned status, const struct rw_metrics *m, char **out,
			   size_t *out_len);

/* ---- the server ---- */

struct rw_metrics_http_client;

struct rw_metrics_http {
	struct rw_loop *loop;
	const struct rw_metrics *m;
	const struct rw_policy *pol; /* metrics.allow is read here at each accept */
	int lfd;                     /* -1: not listening */
	struct rw_endpoint ep;       /* what lfd is bound to */
	struct rw_endpoint failed;   /* the endpoint that last failed to bind (logged once) */
	struct rw_metrics_http_client *head;
	size_t n_clients;
	uint64_t scrapes, refused_addr, refused_busy, bad_requests, timeouts;
	uint32_t timeout_ms; /* RW_METRICS_HTTP_TIMEOUT_MS (tests shorten it) */
};

void rw_metrics_http_init(struct rw_metrics_http *h, struct rw_loop *loop,
			  const struct rw_metrics *m, const struct rw_policy *pol);
/* Listen on pol->metrics (close when it is unset; rebind when it
 * changed). A bind that fails leaves the old socket serving; RW_EIO and
 * a diag naming the endpoint. */
int rw_metrics_http_sync(struct rw_metrics_http *h, struct rw_diag *diag);
void rw_metrics_http_fini(struct rw_metrics_http *h);

/* Is (family, addr) allowed by the policy's metrics.allow? */
bool rw_metrics_http_allowed(const struct rw_policy *pol, int family, const uint8_t *addr);

/* rw_metrics_source_fn: the endpoint's own counters; ctx is the server. */
void rw_metrics_http_source(void *ctx, struct rw_metrics_out *out);

#endif
