/* The passthrough handshake watch: between the checked ClientHello and the
 * splice, the registry's first handshake message is read in userspace.
 *
 *   SERVER_HELLO: write the client's checked flight to the registry, then
 *                 read the registry until its ServerHello is parsed
 *                 (inspect/rw_tls_server_hello). A ServerHello or an alert:
 *                 splice, with everything read so far as the heads. A
 *                 HelloRetryRequest (the first one; a second is refused):
 *   RETRY:        write the registry's bytes (HRR, maybe a CCS) to the
 *                 client, read its next flight: a CCS and, if it offered
 *                 0-RTT, early-data records, then a second ClientHello,
 *                 which must pass the listener's rules like the first and
 *                 carry the same server name and ALPN list. Back to
 *                 SERVER_HELLO with that flight.
 *
 * Why: after an HRR the registry acts on the second hello (RFC 8446
 * §4.1.4); splicing it unchecked would let a client pass on an allowed
 * name and then ask for another. Servers should refuse a changed hello
 * (§4.1.2), regwall does not depend on it. Bounds: the two raw buffers
 * (RW_PASS_HELLO_RAW_MAX, RW_PASS_SERVER_RAW_MAX) and limits.hello_timeout
 * for each wait. Each side is read only when it is due to speak, so a
 * client cannot slip a second hello past while the registry is silent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fwd/rw_fwd_int.h"
#include "fwd/rw_pass.h"
#include "fwd/rw_pass_int.h"

const char *rw_pass_check_retry(const struct rw_tls_hello *first, const struct rw_tls_hello *second)
{
	if (first->sni_len != second->sni_len || strcmp(first->sni, second->sni) != 0)
		return "hrr_sni";
	if (first->has_alpn != second->has_alpn || first->n_alpn_total != second->n_alpn_total ||
	    first->n_alpn != second->n_alpn)
		return "hrr_alpn";
	for (size_t i = 0; i < first->n_alpn; i++)
		if (first->alpn_len[i] != second->alpn_len[i] ||
		    memcmp(first->alpn[i], second->alpn[i], first->alpn_len[i]) != 0)
			return "hrr_alpn";
	return NULL;
}

static void rw_pass_hs_refuse_tls(struct rw_pass_conn *c, const char *prefix, enum rw_tls_refuse r)
{
	char reason[48];
	snprintf(reason, sizeof(reason), "%s%s", prefix, rw_tls_refuse_str(r));
	rw_pass_refuse(c, reason, false);
}

/* Write the pending flight to fd. 1: all written; 0: wait for EPOLLOUT
 * (registered); -1: the connection was closed. */
static int rw_pass_hs_flush(struct rw_pass_conn *c, int fd, bool *reg, unsigned *mask,
			    rw_loop_fd_fn *fn, uint64_t *count)
{
	struct rw_pass_hs *hs = c->hs;
	while (hs->out_off < hs->out_len) {
		ssize_t n = send(fd, hs->out + hs->out_off, hs->out_len - hs->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (rw_pass_interest(c, fd, reg, mask, RW_LOOP_WRITE, fn)) {
				rw_pass_close(c, "refuse", "overload", true);
				return -1;
			}
			return 0;
		}
		if (n <= 0) {
			rw_pass_close(c, "refuse", fd == c->ufd ? "server_eof" : "hello_eof", true);
			return -1;
		}
		hs->out_off += (size_t)n;
		*count += (uint64_t)n;
	}
	hs->out = NULL;
	hs->out_len = hs->out_off = 0;
	return 1;
}

/* Drop the flight just written to the registry from the client buffer:
 * what the client sent after it stays, at the front. */
static void rw_pass_hs_sent_flight(struct rw_pass_hello *h)
{
	memmove(h->buf, h->buf + h->flight, h->len - h->flight);
	h->len -= h->flight;
	h->flight = h->skip = h->fed = 0;
	h->prefix_done = false;
}

static void rw_pass_hs_retry_begin(struct rw_pass_conn *c)
{
	struct rw_pass_hs *hs = c->hs;
	struct rw_pass_hello *h = c->hello;
	struct rw_fwd_worker *w = c->w;

	c->state = RW_PASS_RETRY;
	hs->out = hs->buf;
	hs->out_len = hs->len;
	hs->out_off = 0;
	rw_tls_hello_init(&h->parser, NULL);
	rw_tls_hello_defer_ja4(&h->parser);
	if (rw_pass_interest(c, c->ufd, &c->ureg, &c->umask, 0, NULL) ||
	    rw_loop_timer_arm(&w->loop, &c->timer, w->o.hello_timeout_ms)) {
		rw_pass_close(c, "refuse", "overload", true);
		return;
	}
	rw_pass_hs_step(c);
}

/* The registry's bytes so far, from the start of its flight. */
static void rw_pass_hs_server_parse(struct rw_pass_conn *c)
{
	struct rw_pass_hs *hs = c->hs;
	enum rw_tls_refuse why;

	if (!hs->prefix_done) {
		switch (rw_tls_flight_prefix(hs->buf, hs->len, false, &hs->skip, &why)) {
		case RW_INSPECT_MORE:
			goto more;
		case RW_INSPECT_REFUSE:
			/* an alert is the registry refusing the hello: the client
			 * gets it, and nothing the client sends can be a hello the
			 * registry reads */
			if (why == RW_TLS_REFUSE_ALERT)
				rw_pass_start_relay(c);
			else
				rw_pass_hs_refuse_tls(c, "server_tls_", why);
			return;
		case RW_INSPECT_OK:
			hs->prefix_done = true;
			hs->fed = hs->skip;
			break;
		}
	}
	enum rw_inspect_result r = rw_tls_sh_feed(&hs->sh, hs->buf + hs->fed, hs->len - hs->fed);
	hs->fed = hs->len;
	if (r == RW_INSPECT_MORE)
		goto more;
	if (r == RW_INSPECT_REFUSE) {
		rw_pass_hs_refuse_tls(c, "server_tls_", hs->sh.refuse);
		return;
	}
	if (!hs->sh.sh.hrr) {
		rw_pass_start_relay(c);
		return;
	}
	/* RFC 8446 §4.1.4: one HRR per connection; a second one would ask
	 * for a third hello */
	if (++hs->n_hrr > 1) {
		rw_pass_refuse(c, "hrr_twice", false);
		return;
	}
	rw_pass_hs_retry_begin(c);
	return;
more:
	if (hs->len == sizeof(hs->buf))
		rw_pass_refuse(c, "server_tls_hello_too_large", false);
}

static void rw_pass_hs_server_read(struct rw_pass_conn *c)
{
	struct rw_pass_hs *hs = c->hs;
	ssize_t n = recv(c->ufd, hs->buf + hs->len, sizeof(hs->buf) - hs->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		rw_pass_close(c, "refuse", "server_eof", n < 0);
		return;
	}
	hs->len += (size_t)n;
	rw_pass_hs_server_parse(c);
}

/* The client's second flight, buffered from its start in c->hello.
 * Returns true while it waits for more bytes; false once the connection
 * moved on or was closed (then c must not be touched). */
static bool rw_pass_hs_client_parse(struct rw_pass_conn *c)
{
	struct rw_pass_hello *h = c->hello;
	struct rw_pass_hs *hs = c->hs;
	struct rw_fwd_worker *w = c->w;
	enum rw_tls_refuse why;

	if (h->len == 0)
		return true;
	if (!h->prefix_done) {
		switch (rw_tls_flight_prefix(h->buf, h->len, hs->first.early_data, &h->skip, &why)) {
		case RW_INSPECT_MORE:
			goto more;
		case RW_INSPECT_REFUSE:
			rw_pass_hs_refuse_tls(c, "tls_", why);
			return false;
		case RW_INSPECT_OK:
			h->prefix_done = true;
			h->fed = h->skip;
			break;
		}
	}
	enum rw_inspect_result r = rw_tls_hello_feed(&h->parser, h->buf + h->fed, h->len - h->fed);
	h->fed = h->len;
	if (r == RW_INSPECT_MORE)
		goto more;
	if (r == RW_INSPECT_REFUSE) {
		rw_pass_note_refused_name(c, &h->parser);
		rw_pass_hs_refuse_tls(c, "tls_", h->parser.refuse);
		return false;
	}
	const struct rw_tls_hello *second = &h->parser.hello;
	const char *why_s = rw_pass_check_retry(&hs->first, second);
	if (!why_s)
		why_s = rw_pass_decide(c, second);
	if (why_s) {
		/* the event names the hello that was refused: the second */
		memcpy(c->sni, second->sni, sizeof(c->sni));
		rw_pass_refuse(c, why_s, strcmp(why_s, "sni") == 0 || strcmp(why_s, "no_sni") == 0);
		return false;
	}
	/* the flight up to the second hello's end goes to the registry; its
	 * answer is read afresh (a CCS may lead it) */
	h->flight = h->skip + h->parser.consumed;
	hs->len = hs->skip = hs->fed = 0;
	hs->prefix_done = false;
	rw_tls_sh_init(&hs->sh);
	hs->out = h->buf;
	hs->out_len = h->flight;
	hs->out_off = 0;
	c->state = RW_PASS_SERVER_HELLO;
	if (rw_pass_interest(c, c->cfd, &c->creg, &c->cmask, 0, NULL) ||
	    rw_loop_timer_arm(&w->loop, &c->timer, w->o.hello_timeout_ms)) {
		rw_pass_close(c, "refuse", "overload", true);
		return false;
	}
	rw_pass_hs_step(c);
	return false;
more:
	if (h->len == sizeof(h->buf)) {
		rw_pass_refuse(c, "tls_hello_too_large", false);
		return false;
	}
	return true;
}

static void rw_pass_hs_client_read(struct rw_pass_conn *c)
{
	struct rw_pass_hello *h = c->hello;
	ssize_t n = recv(c->cfd, h->buf + h->len, sizeof(h->buf) - h->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		rw_pass_close(c, "refuse", "hello_eof", n < 0);
		return;
	}
	h->len += (size_t)n;
	(void)rw_pass_hs_client_parse(c);
}

void rw_pass_hs_start(struct rw_pass_conn *c)
{
	struct rw_fwd_worker *w = c->w;
	c->hs = malloc(sizeof(*c->hs));
	if (!c->hs) {
		rw_pass_close(c, "refuse", "overload", true);
		return;
	}
	struct rw_pass_hs *hs = c->hs;
	hs->len = hs->skip = hs->fed = 0;
	hs->prefix_done = false;
	hs->n_hrr = 0;
	rw_tls_sh_init(&hs->sh);
	hs->first = c->hello->parser.hello;
	hs->out = c->hello->buf;
	hs->out_len = c->hello->flight;
	hs->out_off = 0;
	c->state = RW_PASS_SERVER_HELLO;
	/* the registry answers a hello as fast as a client sends one */
	if (rw_loop_timer_arm(&w->loop, &c->timer, w->o.hello_timeout_ms)) {
		rw_pass_close(c, "refuse", "overload", true);
		return;
	}
	rw_pass_hs_step(c);
}

void rw_pass_hs_step(struct rw_pass_conn *c)
{
	struct rw_pass_hs *hs = c->hs;
	int r;

	if (c->state == RW_PASS_SERVER_HELLO) {
		if (hs->out) {
			r = rw_pass_hs_flush(c, c->ufd, &c->ureg, &c->umask, rw_pass_on_upstream,
					     &c->hs_up);
			if (r <= 0)
				return;
			rw_pass_hs_sent_flight(c->hello);
			/* the registry cannot have answered a flight sent just
			 * now: wait for EPOLLIN instead of a recv that says
			 * EAGAIN */
			if (rw_pass_interest(c, c->ufd, &c->ureg, &c->umask, RW_LOOP_READ,
					     rw_pass_on_upstream))
				rw_pass_close(c, "refuse", "overload", true);
			return;
		}
		rw_pass_hs_server_read(c);
		return;
	}
	/* RETRY */
	if (hs->out) {
		r = rw_pass_hs_flush(c, c->cfd, &c->creg, &c->cmask, rw_pass_on_client, &c->hs_down);
		if (r <= 0)
			return;
		if (rw_pass_interest(c, c->cfd, &c->creg, &c->cmask, RW_LOOP_READ,
				     rw_pass_on_client)) {
			rw_pass_close(c, "refuse", "overload", true);
			return;
		}
		/* the client may have sent its flight already (even before the
		 * HRR: it was held in the buffer) */
		if (!rw_pass_hs_client_parse(c))
			return;
	}
	rw_pass_hs_client_read(c);
}
