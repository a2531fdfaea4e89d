/* Terminate-mode connections; the state machine is drawn in rw_term.h.
 *
 * Shape: every readiness event or timer runs one "pump" that moves bytes
 * in a fixed order until nothing moves (client -> head parser -> upstream
 * -> response framer -> client), then registers exactly the events the
 * blocked calls asked for. OpenSSL may want the opposite event of the call
 * made, so interest is computed from the I/O results, never from the
 * state alone. */
#include "fwd/rw_term.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/err.h>

#include "fwd/rw_fwd_int.h"
#include "fwd/rw_limit.h"
#include "fwd/rw_listen.h"
#include "fwd/rw_oci_reply.h"
#include "fwd/rw_term_io.h"
#include "base/rw_err.h"

/* Pump rounds per event: bounded so one busy connection cannot starve
 * the loop (level-triggered epoll calls back if more is pending). */
#define RW_TERM_PUMP_ROUNDS 32

/* Once draining begins, how long a session that has not sent a byte of
 * its first request (or is still in the handshake) is kept: clients send
 * the request right after the handshake, so this only has to cover the
 * round trip and a busy client. */
#define RW_TERM_DRAIN_GRACE_MS 1000

/* How long a connection closed while the client may still be sending is
 * read and its input dropped (rw_term_linger): long enough for a client
 * to read the answer and stop, short enough not to hold a slot. */
#define RW_TERM_LINGER_MS 2000
/* Reads of 16 KiB per readiness event while lingering. */
#define RW_TERM_LINGER_READS 16

/* ---- per-connection I/O state ---- */

/* The ~180 KiB of buffers and parse results a connection needs for a
 * request come from mmap when the request's first byte arrives, and go
 * back when the exchange is over and nothing is pipelined: an idle
 * keep-alive session holds no buffer memory, and a burst of connections
 * leaves no heap behind. Fresh pages start zero (every offset is 0 without
 * a write) and only those a request touches become resident. A few
 * released regions are kept per worker so that busy request traffic does
 * not pay mmap, munmap and fresh-page faults each time; their counters are
 * reset on reuse, the rest of a region is never read before written. */
static struct rw_term_io_state *rw_term_io_alloc(struct rw_fwd_worker *w)
{
	if (w->n_io_pool > 0) {
		struct rw_term_io_state *io = w->io_pool[--w->n_io_pool];
		io->cin.off = io->cin.len = 0;
		io->uin.off = io->uin.len = 0;
		io->hout_len = io->hout_off = 0;
		io->reply_len = io->reply_off = 0;
		return io;
	}
	void *p = mmap(NULL, sizeof(struct rw_term_io_state), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void rw_term_io_free(struct rw_fwd_worker *w, struct rw_term_io_state *io)
{
	if (!io)
		return;
	if (w && w->n_io_pool < RW_FWD_IO_POOL)
		w->io_pool[w->n_io_pool++] = io;
	else
		munmap(io, sizeof(*io));
}

void rw_term_io_pool_free(struct rw_fwd_worker *w)
{
	while (w->n_io_pool > 0)
		munmap(w->io_pool[--w->n_io_pool], sizeof(struct rw_term_io_state));
}

static void rw_term_on_client(struct rw_loop *l, int fd, unsigned events, void *arg);
static void rw_term_on_upstream(struct rw_loop *l, int fd, unsigned events, void *arg);
static void rw_term_on_timer(struct rw_loop *l, void *arg);
static void rw_term_on_pace(struct rw_loop *l, void *arg);
static void rw_term_pump(struct rw_term_conn *c);

/* ---- listener TLS state ---- */

int rw_term_listener_new(const struct rw_listener *cfg, char *const *names, size_t n_names,
			 const uint8_t *ticket_secret, const struct rw_pem_set *pem,
			 struct rw_term_listener **out, char *err, size_t errlen)
{
	*out = NULL;
	uint8_t keys[RW_TLSCTX_TICKET_KEYS_LEN];
	if (ticket_secret) {
		int rc = rw_tlsctx_ticket_keys(ticket_secret, cfg->name, keys);
		if (rc)
			return rc;
	}
	struct rw_term_listener *tl = calloc(1, sizeof(*tl));
	if (!tl)
		return RW_ENOMEM;
	tl->sni.names = names;
	tl->sni.n_names = n_names;
	int rc = rw_tlsctx_server_new(cfg, &tl->sni, ticket_secret ? keys : NULL, pem, &tl->ctx,
				      err, errlen);
	OPENSSL_cleanse(keys, sizeof(keys));
	if (rc) {
		free(tl);
		return rc;
	}
	*out = tl;
	return 0;
}

void rw_term_listener_free(struct rw_term_listener *tl)
{
	if (!tl)
		return;
	SSL_CTX_free(tl->ctx);
	free(tl);
}

/* ---- registration ---- */

static int rw_term_interest(struct rw_term_conn *c, int fd, bool *reg, unsigned *cur,
			    unsigned mask, rw_loop_fd_fn *fn)
{
	return rw_loop_fd_want(&c->w->loop, fd, reg, cur, mask, fn, c);
}

/* ---- events ---- */

/* The method as sent, when it is one we know; NULL otherwise. A head
 * refused at its request line ("PRI * HTTP/2.0", "OPTIONS", bad bytes)
 * leaves req->method at its zero value, RW_HTTP_GET: logging that would
 * put a method the client never sent in the event. Called right after
 * the parse: method_tok points into the client buffer, which later reads
 * reuse. */
static const char *rw_term_method(const struct rw_http_req *req)
{
	const char *m = rw_http_method_str(req->method);
	size_t n = strlen(m);
	if (req->method_tok.len != n || memcmp(req->method_tok.ptr, m, n) != 0)
		return NULL;
	return m;
}

static void rw_term_emit(struct rw_term_conn *c, const char *kind, const char *reason,
			 bool with_request)
{
	struct rw_fwd_event ev = {
		.time_ms = rw_fwd_wall_ms(),
		.kind = kind,
		.reason = reason,
		.listener = c->lis->cfg->name,
		.src_family = c->src_family,
		.src_port = c->src_port,
		.sni = c->sni[0] ? c->sni : NULL,
		.identity = c->who.name[0] ? c->who.name : NULL,
		.cert_subject = c->cert_dn,
		.bytes_up = c->bytes_up,
		.bytes_down = c->bytes_down,
		.duration_ms = rw_loop_clock_ms() - c->t_start,
	};
	memcpy(ev.src_addr, c->src_addr, sizeof(ev.src_addr));
	if (c->state == RW_TERM_HANDSHAKE && c->ssl) {
		/* a refused handshake: the name asked for, the certificate
		 * that failed (both escaped by rw_tlsctx) */
		if (!ev.sni)
			ev.sni = rw_tlsctx_sni(c->ssl) ? rw_tlsctx_sni(c->ssl)
						       : rw_tlsctx_sni_asked(c->ssl);
		const char *subj, *iss;
		if (rw_tlsctx_refused_cert(c->ssl, &subj, &iss)) {
			ev.cert_subject = subj;
			ev.cert_issuer = iss;
		}
	}
	if (with_request && c->io) {
		const struct rw_oci_req *o = &c->io->oci;
		ev.method = c->method;
		ev.operation = rw_oci_op_str(o->op);
		ev.repository = o->repo[0] ? o->repo : NULL;
		ev.reference = o->reference[0] ? o->reference : NULL;
		/* the registry's Docker-Content-Digest, else the one asked for
		 * (?digest=, ?mount=) */
		ev.digest = c->resp_digest[0] ? c->resp_digest : o->digest[0] ? o->digest : NULL;
		ev.from = o->from[0] ? o->from : NULL;
		ev.status = c->resp_status;
		ev.bytes_up = c->body_bytes;
		ev.bytes_down = c->resp_bytes;
	}
	rw_event_emit(&c->w->ev, &ev);
}

/* ---- the one way out ---- */

static void rw_term_unregister_up(struct rw_term_conn *c)
{
	if (c->up.fd >= 0)
		rw_term_interest(c, c->up.fd, &c->ureg, &c->umask, 0, NULL);
	c->uwant = 0;
}

static void rw_term_close_up(struct rw_term_conn *c, bool rst)
{
	/* closed just below: the close takes it out of epoll (the loop
	 * forgets it without an epoll_ctl) */
	if (c->up.fd >= 0 && c->ureg)
		rw_loop_fd_forget(&c->w->loop, c->up.fd);
	c->ureg = false;
	c->umask = 0;
	c->uwant = 0;
	if (rst && c->up.fd >= 0)
		rw_fwd_linger0(c->up.fd);
	rw_upstream_close(&c->up);
}

static void rw_term_close(struct rw_term_conn *c, const char *kind, const char *reason, bool rst)
{
	struct rw_fwd_worker *w = c->w;
	if (kind)
		rw_term_emit(c, kind, reason, false);
	rw_term_close_up(c, rst);
	if (c->creg) /* closed below, ours alone: see rw_term_close_up */
		rw_loop_fd_forget(&w->loop, c->cfd);
	c->creg = false;
	c->cmask = 0;
	if (c->ssl) {
		if (!rst && c->state != RW_TERM_HANDSHAKE && !c->lingering) {
			ERR_clear_error();
			(void)SSL_shutdown(c->ssl); /* best effort close_notify */
		}
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	if (rst)
		rw_fwd_linger0(c->cfd);
	close(c->cfd);
	rw_loop_timer_cancel(&w->loop, &c->timer);
	rw_loop_timer_cancel(&w->loop, &c->pace_timer);
	rw_term_io_free(c->w, c->io);
	c->io = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->term_conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	rw_conn_release(&w->conns, c->slot, &c->key);
	free(c->cert_dn);
	free(c);
}

void rw_term_close_all(struct rw_fwd_worker *w)
{
	while (w->term_conns)
		rw_term_close(w->term_conns, NULL, NULL, true);
}


static int rw_term_arm(struct rw_term_conn *c);

/* No request decided yet on this connection's current exchange: in the
 * handshake, or reading a request head (none of it, or part of it). */
static bool rw_term_waiting(const struct rw_term_conn *c)
{
	return c->state == RW_TERM_HANDSHAKE || c->state == RW_TERM_HEAD;
}

void rw_term_drain(struct rw_fwd_worker *w)
{
	uint64_t grace_end = rw_loop_now_ms(&w->loop) + RW_TERM_DRAIN_GRACE_MS;
	struct rw_term_conn *c = w->term_conns, *next;
	for (; c; c = next) {
		next = c->next;
		/* A request already decided finishes (Connection: close). */
		if (!rw_term_waiting(c))
			continue;
		/* Idle between requests with nothing pipelined or in the
		 * socket: close now. */
		if (c->state == RW_TERM_HEAD && c->requests > 0 && !c->head_start &&
		    (!c->io || c->io->cin.off == c->io->cin.len) && SSL_pending(c->ssl) == 0) {
			char peek;
			ssize_t r = recv(c->cfd, &peek, 1, MSG_PEEK | MSG_DONTWAIT);
			if (r == 0 || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) {
				rw_term_close(c, "term", "drain", false);
				continue;
			}
		}
		/* Handshaking, silent, or part of a head sent: a real client
		 * sends its whole request right after the handshake, so what
		 * is not complete within the grace is closed (rw_term_deadline,
		 * rw_term_on_timer). Kept for the old worker's drain time (or
		 * the header timeout) instead, a request would be decided
		 * under the old policy long after the change took effect. */
		c->drain_by = grace_end;
		if (rw_term_arm(c))
			rw_term_close(c, "term", "client_error", true);
	}
}

/* ---- accept ---- */

void rw_term_accept(struct rw_fwd_worker *w, struct rw_fwd_listener *lis,
		    struct rw_term_listener *tl, int cfd, const struct sockaddr_storage *ss)
{
	struct rw_term_conn *c = calloc(1, sizeof(*c));
	struct rw_src_key key;
	uint8_t fam, addr[16];
	uint16_t port;
	long slot = rw_fwd_admit(w, lis, cfd, ss, c, c ? &c->key : &key, c ? &c->src_family : &fam,
				 c ? c->src_addr : addr, c ? &c->src_port : &port);
	if (slot < 0) {
		free(c);
		return;
	}
	c->w = w;
	c->lis = lis;
	c->slot = (size_t)slot;
	c->cfd = cfd;
	c->state = RW_TERM_HANDSHAKE;
	c->t_start = rw_loop_now_ms(&w->loop);
	c->last_io = c->t_start;
	rw_upstream_init(&c->up);
	rw_timer_init(&c->timer, rw_term_on_timer, c);
	rw_timer_init(&c->pace_timer, rw_term_on_pace, c);
	c->next = w->term_conns;
	if (c->next)
		c->next->prev = c;
	w->term_conns = c;
	int one = 1;
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->ssl = SSL_new(tl->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, cfd) != 1) {
		rw_term_close(c, "refuse", "overload", true);
		return;
	}
	SSL_set_accept_state(c->ssl);
	if (rw_loop_timer_arm(&w->loop, &c->timer, w->o.handshake_timeout_ms)) {
		rw_term_close(c, "refuse", "overload", true);
		return;
	}
	rw_term_pump(c);
}

/* ---- handshake ---- */

/* 1 = progress (handshake done), 0 = waiting, -1 = connection closed. */
static int rw_term_handshake(struct rw_term_conn *c)
{
	unsigned want;
	int rc = rw_term_io_handshake(c->ssl, &want);
	if (rc == RW_EINCOMPLETE) {
		c->cwant |= want;
		return 0;
	}
	enum rw_client_cert mode = c->lis->cfg->client_cert;
	if (rc) {
		const char *why = rw_tlsctx_refusal(c->ssl);
		if (!why)
			why = rw_tlsctx_verify_reason(c->ssl, mode);
		rw_term_close(c, "refuse", why ? why : "tls_handshake", false);
		return -1;
	}
	/* the name sent in this ClientHello (a resumed session's own name
	 * equals it: rw_tlsctx refuses a ticket for another name) */
	const char *name = rw_tlsctx_sni(c->ssl);
	snprintf(c->sni, sizeof(c->sni), "%s", name ? name : "");
	const char *bad = rw_tlsctx_peer_ok(c->ssl, mode);
	if (bad) {
		rw_term_close(c, "refuse", bad, false);
		return -1;
	}
	X509 *peer = mode == RW_CCERT_NONE ? NULL : SSL_get0_peer_certificate(c->ssl);
	free(c->cert_dn); /* a handshake happens once; defensive */
	rw_term_identify_ix(c->w->p, &c->w->peer_ix, peer, c->src_family, c->src_addr, &c->who,
			    &c->cert_dn);
	c->who_live_seq = c->w->o.live_seq;
	/* c->io comes with the first request byte (rw_term_client_read) */
	c->state = RW_TERM_HEAD;
	c->last_io = rw_loop_now_ms(&c->w->loop);
	c->head_start = 0;
	return 1;
}

/* ---- buffers ---- */

static void rw_term_buf_compact(struct rw_term_buf *b)
{
	if (b->off == b->len) {
		/* no store when already empty: an idle session's buffer page
		 * stays an untouched zero page (see rw_term_io_alloc) */
		if (b->off)
			b->off = b->len = 0;
	} else if (b->off > 0 && b->len == sizeof(b->data)) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
}

/* ---- refusals ---- */

/* "http_" + the refusal text as a log token ("Content-Length with
 * Transfer-Encoding" -> "http_content_length_with_transfer_encoding"). */
void rw_term_http_reason(enum rw_http_refuse r, char *out, size_t cap)
{
	const char *t = rw_http_refuse_str(r);
	size_t n = (size_t)snprintf(out, cap, "http_");
	for (; t && *t && n + 1 < cap; t++) {
		char ch = *t;
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
			ch = '_';
		if (ch == '_' && out[n - 1] == '_')
			continue;
		out[n++] = ch;
	}
	while (n > 5 && out[n - 1] == '_')
		n--;
	out[n] = '\0';
}

static const char *rw_term_code_for(int status)
{
	switch (status) {
	case 401:
		return "UNAUTHORIZED";
	case 403:
	case 421:
		return "DENIED";
	case 429:
		return "TOOMANYREQUESTS";
	case 413:
		return "SIZE_INVALID";
	case 502:
	case 503:
	case 504:
		/* distribution's code for "service unavailable": the registry
		 * behind regwall did not answer; a retry later may work. */
		return "UNAVAILABLE";
	default:
		/* 400, 414, 417, 431, 501, 505: what the client sent is not
		 * supported; any other 5xx regwall answers is the registry
		 * side failing, never the request */
		return status >= 500 && status != 501 && status != 505 ? "UNAVAILABLE"
									 : "UNSUPPORTED";
	}
}

/* Answer the current request ourselves. A request that announced a body
 * we will not read leaves the connection unframeable: close after the
 * reply. The head (already parsed) is consumed here. */
static void rw_term_refuse_req(struct rw_term_conn *c, int status, const char *code,
			       const char *reason, const char *msg, uint64_t retry_after_s,
			       bool must_close)
{
	struct rw_term_io_state *io = c->io;
	bool body = io->req.framing == RW_HTTP_BODY_CHUNKED ||
		    (io->req.framing == RW_HTTP_BODY_LENGTH && io->req.content_length > 0);
	c->close_after = must_close || body || !io->req.keep_alive || c->w->draining;
	/* the body (or, for a malformed head, whatever follows) is not read */
	c->linger = must_close || body;
	struct rw_oci_reply r = {
		.status = status,
		.code = code ? code : rw_term_code_for(status),
		.message = msg,
		.close = c->close_after,
		.head_request = !must_close && io->req.method == RW_HTTP_HEAD,
		.retry_after_s = retry_after_s,
	};
	size_t len = 0;
	if (rw_oci_reply_build(&r, io->reply, sizeof(io->reply), &len)) {
		r.message = "refused";
		if (rw_oci_reply_build(&r, io->reply, sizeof(io->reply), &len))
			len = 0;
	}
	io->reply_len = len;
	io->reply_off = 0;
	c->resp_status = (unsigned)status;
	rw_term_emit(c, "refuse", reason, true);
	if (!must_close)
		io->cin.off += io->req.head_len;
	c->state = RW_TERM_REPLY;
	c->requests++;
}

/* ---- request head ---- */

static void rw_term_start_exchange(struct rw_term_conn *c);

/* 1 progress, 0 nothing to do, -1 closed. */
static int rw_term_head(struct rw_term_conn *c)
{
	struct rw_term_io_state *io = c->io;
	if (!io)
		return 0;
	struct rw_term_buf *b = &io->cin;
	if (b->off == b->len)
		return 0;
	if (!c->head_start)
		c->head_start = rw_loop_now_ms(&c->w->loop);
	enum rw_inspect_result r = rw_http_parse_head(b->data + b->off, b->len - b->off, &io->req);
	if (r == RW_INSPECT_MORE)
		return 0;
	memset(&io->oci, 0, sizeof(io->oci));
	c->method = rw_term_method(&io->req);
	c->meters_upload = false;
	c->resp_digest[0] = '\0';
	c->resp_status = 0;
	c->body_bytes = c->resp_bytes = 0;
	if (r == RW_INSPECT_REFUSE) {
		char reason[64], msg[96];
		rw_term_http_reason(io->req.refuse, reason, sizeof(reason));
		snprintf(msg, sizeof(msg), "malformed request: %s", rw_http_refuse_str(io->req.refuse));
		int status = io->req.status >= 400 && io->req.status <= 599 ? io->req.status : 400;
		rw_term_refuse_req(c, status, NULL, reason, msg, 0, true);
		return 1;
	}
	rw_oci_classify_http(&io->req, &io->oci);
	char msg[400];
	if (!rw_term_host_port_ok(io->req.host)) {
		/* the parser's own refusal token and status for a bad Host */
		rw_term_refuse_req(c, 400, NULL, "http_host_invalid",
				   "malformed request: Host port invalid", 0, false);
		return 1;
	}
	if (!rw_term_host_matches(io->req.host, c->sni)) {
		snprintf(msg, sizeof(msg), "Host does not match the TLS server name %s", c->sni);
		rw_term_refuse_req(c, 421, NULL, "misdirected", msg, 0, false);
		return 1;
	}
	/* The one policy decision (shared with every other caller of
	 * rw_decide): status, code and message go to the client as decided. */
	struct rw_decision d;
	/* A live network change since who was resolved (fwd/rw_fwd.c, NET_ADD
	 * / NET_DEL): network membership (pull rights, the name metered) as
	 * the policy says now; the certificate identity stays. */
	if (c->who_live_seq != c->w->o.live_seq) {
		const struct rw_identity *ident = c->who.identity;
		rw_who_resolve_ix(c->w->p, &c->w->peer_ix, c->src_family, c->src_addr, true, ident,
				  &c->who);
		c->who_live_seq = c->w->o.live_seq;
	}
	if (rw_decide(c->w->p, &c->who, &io->oci, &d) != RW_VERDICT_ALLOW ||
	    rw_decide_body(&io->req, &io->oci, &d) != RW_VERDICT_ALLOW) {
		rw_term_refuse_req(c, d.status, d.code, d.reason, d.message, 0, false);
		return 1;
	}
	c->meters_upload = d.meters_upload;
	if (d.counts_push_op && c->w->o.limit) {
		uint64_t retry = 0;
		int rc = rw_limit_op(c->w->o.limit, c->who.name, rw_loop_clock_ms(), &c->w->p->opts,
				     &retry);
		if (rc) {
			snprintf(msg, sizeof(msg), "push rate limit for %s reached, retry later",
				 c->who.name);
			rw_term_refuse_req(c, 429, NULL, "rate_limited", msg,
					   rw_oci_reply_retry_s(rc == RW_ETOOBIG ? retry : 1000),
					   false);
			return 1;
		}
	}
	char ip[INET6_ADDRSTRLEN] = "";
	inet_ntop(c->src_family, c->src_addr, ip, sizeof(ip));
	if (rw_term_rewrite_head(b->data + b->off, &io->req, ip, io->hout, sizeof(io->hout),
				 &io->hout_len)) {
		rw_term_refuse_req(c, 431, NULL, "http_fields_too_long", "request head too large", 0,
				   true);
		return 1;
	}
	io->hout_off = 0;
	b->off += io->req.head_len;
	c->requests++;
	rw_term_start_exchange(c);
	return 1;
}

/* Can regwall still answer the current request itself (502, 504)? Only
 * while no byte of the registry's final response head has reached the
 * client: what was written so far is nothing, or whole interim heads (a
 * relayed "100 Continue" announces a final response still to come, and
 * ours is one). Interim bytes framed but not yet written are dropped; an
 * interim head written only in part cannot be followed by ours. The one
 * rule for every place that decides it: upstream write and read errors,
 * a malformed response, the response and idle timers. */
static bool rw_term_can_answer(const struct rw_term_conn *c)
{
	return c->resp_bytes == 0 || c->resp_bytes == c->resp_interim;
}

/* The registry failed the current request before its final response
 * head reached the client (rw_term_can_answer): answer status (502 or
 * 504) in its error format and close (the request body, if any, is not
 * framed any more). */
static void rw_term_gateway_fail(struct rw_term_conn *c, int status, const char *reason,
				 const char *msg)
{
	struct rw_term_io_state *io = c->io;
	rw_term_close_up(c, true);
	struct rw_oci_reply r = { .status = status, .code = rw_term_code_for(status),
				  .message = msg, .close = true };
	size_t len = 0;
	if (rw_oci_reply_build(&r, io->reply, sizeof(io->reply), &len))
		len = 0;
	io->reply_len = len;
	io->reply_off = 0;
	c->resp_fwd = 0;
	c->close_after = true;
	c->linger = !c->body_done;
	c->resp_status = (unsigned)status;
	rw_term_emit(c, "refuse", reason, true);
	c->state = RW_TERM_REPLY;
}

static void rw_term_bad_gateway(struct rw_term_conn *c, const char *msg)
{
	rw_term_gateway_fail(c, 502, "upstream_failed", msg);
}

static void rw_term_start_exchange(struct rw_term_conn *c)
{
	struct rw_fwd_worker *w = c->w;
	struct rw_term_io_state *io = c->io;
	rw_http_body_init(&c->body, &io->req);
	c->body_done = io->req.framing == RW_HTTP_BODY_NONE ||
		       (io->req.framing == RW_HTTP_BODY_LENGTH && io->req.content_length == 0);
	c->body_avail = 0;
	c->resp_head_done = c->resp_done = false;
	c->up_reuse = false;
	c->resp_fwd = 0;
	c->resp_status = 0;
	c->resp_interim = 0;
	c->req_sent_at = 0;
	c->linger = false;
	c->close_after = !io->req.keep_alive || w->draining;
	io->uin.off = io->uin.len = 0;
	if (c->up.state == RW_UP_READY) {
		/* A kept-alive registry connection may have been closed while
		 * idle (its fd is not watched then): anything readable now,
		 * EOF or stray bytes, means it cannot carry this request. */
		uint8_t probe;
		ssize_t pk = recv(c->up.fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
		if (pk < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->state = RW_TERM_FORWARD;
			return;
		}
	}
	rw_term_close_up(c, false);
	if (rw_upstream_connect(&c->up, &w->p->registry, w->up_ctx)) {
		rw_term_bad_gateway(c, "registry unreachable");
		return;
	}
	c->state = RW_TERM_CONNECT;
	c->uwant = RW_LOOP_WRITE;
}

/* ---- client side I/O ---- */

/* The whole request is with the registry and its response is not all
 * in: the client is still read, so that one that gives up (close_notify,
 * FIN, reset) frees its registry connection at once instead of at the
 * response or idle timeout. Bytes it sends meanwhile are a pipelined next
 * request and wait in the client buffer; when that is full, reading
 * stops (backpressure) and so does the watch. */
static bool rw_term_awaiting(const struct rw_term_conn *c)
{
	return c->state == RW_TERM_FORWARD && c->body_done && !c->resp_done;
}

static int rw_term_client_read(struct rw_term_conn *c)
{
	struct rw_term_io_state *io = c->io;
	bool in_body = c->state == RW_TERM_FORWARD && !c->body_done;
	bool awaiting = rw_term_awaiting(c);
	if (c->state != RW_TERM_HEAD && !in_body && !awaiting)
		return 0;
	if (!io) {
		/* An idle keep-alive session holds no buffers: they are mapped
		 * when the next request's first byte is there to read. */
		if (SSL_pending(c->ssl) == 0) {
			char peek;
			ssize_t r = recv(c->cfd, &peek, 1, MSG_PEEK | MSG_DONTWAIT);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
				c->cwant |= RW_LOOP_READ;
				return 0;
			}
		}
		io = c->io = rw_term_io_alloc(c->w);
		if (!io) {
			rw_term_close(c, "term", "overload", true);
			return -1;
		}
	}
	struct rw_term_buf *b = &io->cin;
	rw_term_buf_compact(b);
	size_t room = sizeof(b->data) - b->len;
	/* A paced upload is held back where it is written upstream
	 * (rw_term_up_write); reading stops when this buffer is full. */
	if (room == 0)
		return 0;
	unsigned want;
	ssize_t n = rw_term_io_read(c->cfd, c->ssl, b->data + b->len, room, &want);
	if (n == RW_EINCOMPLETE) {
		c->cwant |= want;
		return 0;
	}
	if (n == 0) {
		if (c->state == RW_TERM_HEAD && b->off == b->len)
			rw_term_close(c, "term", "done", false);
		else if (awaiting)
			/* gave up waiting: free the registry's socket too, at once */
			rw_term_close(c, "term", "client_gone", true);
		else
			rw_term_close(c, "term", "client_error", true);
		return -1;
	}
	if (n < 0) {
		rw_term_close(c, "term", "client_error", true);
		return -1;
	}
	b->len += (size_t)n;
	c->last_io = rw_loop_now_ms(&c->w->loop);
	return 1;
}

/* Write to the client: our own reply, or framed response bytes. */
static int rw_term_client_write(struct rw_term_conn *c)
{
	struct rw_term_io_state *io = c->io;
	const uint8_t *p;
	size_t n;
	if (c->state == RW_TERM_REPLY) {
		p = (const uint8_t *)io->reply + io->reply_off;
		n = io->reply_len - io->reply_off;
	} else if (c->state == RW_TERM_FORWARD) {
		p = io->uin.data + io->uin.off;
		n = c->resp_fwd;
	} else {
		return 0;
	}
	if (n == 0)
		return 0;
	unsigned want;
	ssize_t r = rw_term_io_write(c->cfd, c->ssl, p, n, &want);
	if (r == RW_EINCOMPLETE) {
		c->cwant |= want;
		return 0;
	}
	if (r < 0) {
		rw_term_close(c, "term", "client_error", true);
		return -1;
	}
	c->bytes_down += (uint64_t)r;
	c->last_io = rw_loop_now_ms(&c->w->loop);
	if (c->state == RW_TERM_REPLY) {
		io->reply_off += (size_t)r;
	} else {
		io->uin.off += (size_t)r;
		c->resp_fwd -= (size_t)r;
		c->resp_bytes += (uint64_t)r;
	}
	return 1;
}

/* ---- upstream side ---- */

static int rw_term_up_connect(struct rw_term_conn *c)
{
	unsigned want;
	int rc = rw_upstream_progress(&c->up, &want);
	if (rc == RW_EINCOMPLETE) {
		c->uwant |= want;
		return 0;
	}
	if (rc) {
		rw_term_bad_gateway(c, rc == RW_EPROTO ? "registry TLS verification failed"
						       : "registry unreachable");
		return 1;
	}
	c->state = RW_TERM_FORWARD;
	return 1;
}

/* The current request's bytes are paced: its decision said so and byte
 * limits are on. */
static bool rw_term_metered(const struct rw_term_conn *c)
{
	return c->meters_upload && c->w->o.limit && c->w->p->opts.push_bytes_per_second;
}

/* Upload pacing, where the bytes leave for the registry: of the n bytes
 * ready to be written, how many the identity's byte bucket lets pass now
 * (0: none; the pace timer will run the pump again). Charging here and
 * not where the client is read means no framing escapes it: head and
 * body in one TLS record, tiny or huge writes, 100-continue, many
 * connections all end up as bytes written upstream. The head is charged
 * too: it goes to the registry like the body, and without it a client
 * could move data in 40 KiB heads at no byte cost. Tokens taken and not
 * yet written stay with the connection as credit, never lost. */
static size_t rw_term_pace(struct rw_term_conn *c, size_t n)
{
	if (c->paced)
		return 0;
	if (c->pace_credit == 0) {
		uint64_t wait = 0;
		c->pace_credit = rw_limit_bytes(c->w->o.limit, c->who.name, rw_loop_clock_ms(), n,
						&c->w->p->opts, &wait);
		if (c->pace_credit == 0) {
			if (wait == 0)
				wait = 1;
			uint64_t now = rw_loop_now_ms(&c->w->loop);
			c->paced = true;
			c->pace_until = now + wait;
			if (rw_loop_timer_arm(&c->w->loop, &c->pace_timer, wait))
				c->paced = false; /* out of memory: the next event or the idle timeout */
			return 0;
		}
	}
	return n < c->pace_credit ? n : (size_t)c->pace_credit;
}

/* The response timeout runs from the moment the head and the whole body
 * have been written to the registry. */
static void rw_term_mark_sent(struct rw_term_conn *c)
{
	struct rw_term_io_state *io = c->io;
	if (!c->req_sent_at && c->body_done && c->body_avail == 0 && io->hout_off == io->hout_len)
		c->req_sent_at = rw_loop_now_ms(&c->w->loop);
}

static int rw_term_up_write(struct rw_term_conn *c)
{
	struct rw_term_io_state *io = c->io;
	if (c->state != RW_TERM_FORWARD || c->resp_done)
		return 0;
	/* Frame body bytes that arrived since the last call. */
	if (!c->body_done && io->hout_off == io->hout_len) {
		size_t have = io->cin.len - io->cin.off;
		if (have > c->body_avail) {
			size_t consumed = 0, payload = 0;
			enum rw_inspect_result r =
				rw_http_body_feed(&c->body, io->cin.data + io->cin.off + c->body_avail,
						  have - c->body_avail, &consumed, &payload);
			c->body_avail += consumed;
			if (r == RW_INSPECT_OK)
				c->body_done = true;
			else if (r == RW_INSPECT_REFUSE) {
				char reason[64];
				rw_term_http_reason(c->body.refuse, reason, sizeof(reason));
				rw_term_emit(c, "refuse", reason, true);
				rw_term_close(c, NULL, NULL, true);
				return -1;
			}
		}
	}
	const uint8_t *p;
	size_t n;
	bool head = io->hout_off < io->hout_len;
	if (head) {
		p = io->hout + io->hout_off;
		n = io->hout_len - io->hout_off;
	} else {
		p = io->cin.data + io->cin.off;
		n = c->body_avail;
	}
	if (n == 0) {
		rw_term_mark_sent(c);
		return 0;
	}
	bool metered = rw_term_metered(c);
	if (metered) {
		n = rw_term_pace(c, n);
		if (n == 0)
			return 0;
	}
	unsigned want;
	ssize_t r = rw_term_io_write(c->up.fd, c->up.ssl, p, n, &want);
	if (r == RW_EINCOMPLETE) {
		c->uwant |= want;
		return 0;
	}
	if (r < 0) {
		if (rw_term_can_answer(c)) {
			rw_term_bad_gateway(c, "registry connection lost");
			return 1;
		}
		rw_term_close(c, "term", "upstream_error", true);
		return -1;
	}
	if (head) {
		io->hout_off += (size_t)r;
	} else {
		io->cin.off += (size_t)r;
		c->body_avail -= (size_t)r;
	}
	if (metered)
		c->pace_credit -= (uint64_t)r;
	c->body_bytes += (uint64_t)r;
	c->bytes_up += (uint64_t)r;
	c->last_io = rw_loop_now_ms(&c->w->loop);
	rw_term_mark_sent(c);
	return 1;
}

static int rw_term_up_read(struct rw_term_conn *c)
{
	struct rw_term_io_state *io = c->io;
	if (c->state != RW_TERM_FORWARD || c->resp_done || io->hout_off == 0)
		return 0;
	struct rw_term_buf *b = &io->uin;
	rw_term_buf_compact(b);
	size_t room = sizeof(b->data) - b->len;
	if (room == 0)
		return 0;
	unsigned want;
	ssize_t n = rw_term_io_read(c->up.fd, c->up.ssl, b->data + b->len, room, &want);
	if (n == RW_EINCOMPLETE) {
		c->uwant |= want;
		return 0;
	}
	if (n > 0) {
		b->len += (size_t)n;
		c->last_io = rw_loop_now_ms(&c->w->loop);
		return 1;
	}
	/* EOF or error from the registry */
	if (c->resp_head_done && n == 0 && rw_httpresp_body_eof(&c->resp_body) == RW_INSPECT_OK) {
		c->resp_done = true;
		c->close_after = true;
		rw_term_unregister_up(c);
		rw_upstream_close(&c->up);
		return 1;
	}
	if (rw_term_can_answer(c)) {
		rw_term_bad_gateway(c, "registry closed the connection");
		return 1;
	}
	rw_term_close(c, "term", "upstream_error", true);
	return -1;
}

/* A draining worker closes the session after this response: say so in
 * the head (still in uin, not yet relayed, starting at 'at'), so the
 * client does not send its next request into a closing connection. No
 * room in the buffer: the close after the response has to do. */
static void rw_term_resp_close(struct rw_term_conn *c, size_t at)
{
	static const char hdr[] = "Connection: close\r\n";
	const size_t n = sizeof(hdr) - 1;
	struct rw_term_buf *b = &c->io->uin;
	size_t end = at + c->io->resp.head_len; /* just past the blank line */
	c->close_after = true;
	if (end < at + 4 || end > b->len || b->len + n > sizeof(b->data) ||
	    memcmp(b->data + end - 4, "\r\n\r\n", 4) != 0)
		return;
	memmove(b->data + end - 2 + n, b->data + end - 2, b->len - (end - 2));
	memcpy(b->data + end - 2, hdr, n);
	b->len += n;
	c->resp_fwd += n;
}

/* Frame what the registry sent: heads (interim ones too), then the body. */
static int rw_term_resp(struct rw_term_conn *c)
{
	struct rw_term_io_state *io = c->io;
	if (c->state != RW_TERM_FORWARD || c->resp_done)
		return 0;
	struct rw_term_buf *b = &io->uin;
	int progress = 0;
	while (!c->resp_head_done) {
		size_t at = b->off + c->resp_fwd;
		if (at >= b->len)
			return progress;
		enum rw_inspect_result r = rw_httpresp_parse_head(b->data + at, b->len - at,
								  io->req.method, &io->resp);
		if (r == RW_INSPECT_MORE) {
			if (b->len == sizeof(b->data) && b->off == 0 && c->resp_fwd == 0)
				goto bad;
			return progress;
		}
		if (r == RW_INSPECT_REFUSE)
			goto bad;
		c->resp_fwd += io->resp.head_len;
		progress = 1;
		if (io->resp.interim) {
			c->resp_interim += io->resp.head_len;
			continue;
		}
		c->resp_head_done = true;
		c->resp_status = io->resp.status;
		size_t dl = io->resp.digest.len < sizeof(c->resp_digest) ? io->resp.digest.len : 0;
		if (dl)
			memcpy(c->resp_digest, io->resp.digest.ptr, dl);
		c->resp_digest[dl] = '\0';
		rw_httpresp_body_init(&c->resp_body, &io->resp);
		c->up_reuse = io->resp.keep_alive && io->resp.body != RW_HTTPRESP_BODY_CLOSE;
		if (io->resp.body == RW_HTTPRESP_BODY_CLOSE)
			c->close_after = true;
		if (c->w->draining && io->resp.keep_alive)
			rw_term_resp_close(c, at);
	}
	size_t at = b->off + c->resp_fwd;
	if (at < b->len || io->resp.body == RW_HTTPRESP_BODY_NONE ||
	    (io->resp.body == RW_HTTPRESP_BODY_LENGTH && io->resp.content_length == 0)) {
		size_t consumed = 0, payload = 0;
		enum rw_inspect_result r = rw_httpresp_body_feed(&c->resp_body, b->data + at,
								 b->len - at, &consumed, &payload);
		c->resp_fwd += consumed;
		if (consumed)
			progress = 1;
		if (r == RW_INSPECT_OK) {
			c->resp_done = true;
			progress = 1;
			/* Bytes after the end: the registry answered what was
			 * not asked; do not trust that connection again. */
			if (b->off + c->resp_fwd < b->len) {
				c->up_reuse = false;
				b->len = b->off + c->resp_fwd;
			}
		} else if (r == RW_INSPECT_REFUSE) {
			rw_term_close(c, "term", "upstream_error", true);
			return -1;
		}
	}
	return progress;
bad:
	if (rw_term_can_answer(c)) {
		rw_term_bad_gateway(c, "registry sent a malformed response");
		return 1;
	}
	rw_term_close(c, "term", "upstream_error", true);
	return -1;
}

/* The "push" event's reason for an exchange the registry answered, NULL
 * for none: what changed or linked content in a repository. A mount is
 * recorded whatever the registry said (201 linked the blob, 202 opened a
 * session instead: either way the answer told whether the digest exists
 * in "from"), uploads when the registry took them (2xx: distribution 2.8
 * answers a monolithic POST with 202 and a completed upload with 201). */
static const char *rw_term_push_event(enum rw_oci_op op, bool has_digest, unsigned status)
{
	bool ok = status >= 200 && status <= 299;
	switch (op) {
	case RW_OCI_OP_MANIFEST_PUT:
		return status == 201 ? "manifest_put" : NULL;
	case RW_OCI_OP_UPLOAD_MOUNT:
		return status ? "upload_mount" : NULL;
	case RW_OCI_OP_UPLOAD_COMPLETE:
		return ok ? "upload_complete" : NULL;
	case RW_OCI_OP_UPLOAD_START:
		return ok && has_digest ? "upload_start" : NULL;
	default:
		return NULL;
	}
}

/* A manifest (by digest or tag: deleting a tag is a manifest DELETE by
 * tag) or blob deletion the registry accepted (2xx; distribution answers
 * 202): the "delete" event, reason the operation. */
static bool rw_term_delete_event(enum rw_oci_op op, unsigned status)
{
	return (op == RW_OCI_OP_MANIFEST_DELETE || op == RW_OCI_OP_BLOB_DELETE) && status >= 200 &&
	       status <= 299;
}

/* Close after an answer that has been written in full. When the client
 * may still be sending (the rest of a body regwall or the registry
 * answered early, whatever follows a malformed head), a plain close
 * would have the kernel answer those bytes with a reset, and a reset
 * can destroy the answer before the client has read it (curl: "Send
 * failure: Broken pipe" instead of the 502). So: close_notify and FIN,
 * then read and drop the client's input until it closes, for at most
 * RW_TERM_LINGER_MS; then close. */
static void rw_term_close_answered(struct rw_term_conn *c)
{
	bool pending = c->io && c->io->cin.off < c->io->cin.len;
	if (!c->linger && !pending) {
		rw_term_close(c, "term", "done", false);
		return;
	}
	struct rw_fwd_worker *w = c->w;
	rw_term_close_up(c, false);
	ERR_clear_error();
	(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
	shutdown(c->cfd, SHUT_WR);
	rw_loop_timer_cancel(&w->loop, &c->pace_timer);
	c->paced = false;
	rw_term_io_free(w, c->io);
	c->io = NULL;
	c->lingering = true;
	c->linger_by = rw_loop_now_ms(&w->loop) + RW_TERM_LINGER_MS;
	if (rw_term_interest(c, c->cfd, &c->creg, &c->cmask, RW_LOOP_READ, rw_term_on_client) ||
	    rw_term_arm(c))
		rw_term_close(c, "term", "done", false);
}

/* Lingering: drop what the client sends; its EOF (or an error) ends it. */
static void rw_term_linger_read(struct rw_term_conn *c)
{
	static uint8_t sink[16384];
	for (int i = 0; i < RW_TERM_LINGER_READS; i++) {
		ssize_t n = recv(c->cfd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		rw_term_close(c, "term", "done", false);
		return;
	}
}

/* The exchange ends when the whole response has reached the client. */
static int rw_term_finish(struct rw_term_conn *c)
{
	struct rw_term_io_state *io = c->io;
	if (c->state == RW_TERM_REPLY) {
		if (io->reply_off < io->reply_len)
			return 0;
		if (c->close_after || c->w->draining) {
			rw_term_close_answered(c);
			return -1;
		}
		c->state = RW_TERM_HEAD;
		c->head_start = 0;
		if (io->cin.off == io->cin.len) {
			rw_term_io_free(c->w, io);
			c->io = NULL;
		}
		return 1;
	}
	if (c->state != RW_TERM_FORWARD || !c->resp_done || c->resp_fwd > 0)
		return 0;
	const char *push = rw_term_push_event(io->oci.op, io->oci.digest[0] != '\0',
					      c->resp_status);
	if (push)
		rw_term_emit(c, "push", push, true);
	else if (rw_term_delete_event(io->oci.op, c->resp_status))
		rw_term_emit(c, "delete", rw_oci_op_str(io->oci.op), true);
	if (!c->body_done) {
		/* The registry answered before the body ended (an error,
		 * usually): the rest of the body cannot be framed away. */
		rw_term_close_up(c, true);
		c->linger = true;
		rw_term_close_answered(c);
		return -1;
	}
	if (!c->up_reuse || io->uin.off != io->uin.len)
		rw_term_close_up(c, false);
	if (c->close_after || c->w->draining) {
		rw_term_close(c, "term", "done", false);
		return -1;
	}
	io->uin.off = io->uin.len = 0;
	c->state = RW_TERM_HEAD;
	c->head_start = 0;
	if (io->cin.off == io->cin.len) {
		/* nothing pipelined: give the buffers back while the session idles */
		rw_term_io_free(c->w, io);
		c->io = NULL;
	}
	return 1;
}

/* ---- timers ---- */

static const char rw_term_why_drain[] = "drain";
static const char rw_term_why_response[] = "response_timeout";

static uint64_t rw_term_deadline(const struct rw_term_conn *c, const char **why)
{
	const struct rw_fwd_opts *o = &c->w->o;
	uint64_t dl;
	if (c->lingering) {
		*why = "done";
		return c->linger_by;
	}
	switch (c->state) {
	case RW_TERM_HANDSHAKE:
		*why = "handshake_timeout";
		dl = c->t_start + o->handshake_timeout_ms;
		break;
	case RW_TERM_HEAD:
		if (c->head_start) {
			*why = "header_timeout";
			dl = c->head_start + o->header_timeout_ms;
		} else {
			*why = "idle_timeout";
			dl = c->last_io + o->idle_timeout_ms;
		}
		break;
	case RW_TERM_CONNECT:
		*why = "upstream_error";
		return c->last_io + o->connect_timeout_ms;
	default:
		/* The request is with the registry: its answer is due within
		 * the response timeout, whatever the idle timeout says. */
		if (c->state == RW_TERM_FORWARD && c->req_sent_at && !c->resp_head_done) {
			*why = rw_term_why_response;
			return c->req_sent_at + o->response_timeout_ms;
		}
		*why = "idle_timeout";
		/* While the upload waits for byte budget, regwall holds the
		 * client's bytes: the client is not idle, and the idle time
		 * counts from the end of the wait. */
		if (c->paced && c->pace_until > c->last_io)
			return c->pace_until + o->idle_timeout_ms;
		return c->last_io + o->idle_timeout_ms;
	}
	/* draining: the grace of a session that has no request under way */
	if (c->drain_by && rw_term_waiting(c) && c->drain_by < dl) {
		*why = rw_term_why_drain;
		dl = c->drain_by;
	}
	return dl;
}

/* (Re)arm the connection's timer for its current deadline. */
static int rw_term_arm(struct rw_term_conn *c)
{
	const char *why;
	uint64_t dl = rw_term_deadline(c, &why);
	uint64_t now = rw_loop_now_ms(&c->w->loop);
	return rw_loop_timer_arm(&c->w->loop, &c->timer, dl > now ? dl - now : 0);
}

static void rw_term_on_timer(struct rw_loop *l, void *arg)
{
	struct rw_term_conn *c = arg;
	const char *why;
	uint64_t dl = rw_term_deadline(c, &why);
	uint64_t now = rw_loop_now_ms(l);
	if (now >= dl) {
		if (c->lingering) {
			rw_term_close(c, "term", "done", false);
			return;
		}
		if (why == rw_term_why_drain) {
			/* Last look: the first bytes of a request may sit in the
			 * socket with their event not handled yet. Bytes read
			 * start the request, which is then served (with
			 * Connection: close); else the grace is over. */
			if (c->state == RW_TERM_HEAD) {
				int r = rw_term_client_read(c);
				if (r < 0)
					return;
				if (r > 0) {
					rw_term_pump(c);
					return;
				}
			}
			rw_term_close(c, "term", "drain", false);
			return;
		}
		if (c->state == RW_TERM_CONNECT) {
			rw_term_bad_gateway(c, "registry connect timeout");
			rw_term_pump(c);
			return;
		}
		/* The registry is what the request waits for: it sent no
		 * final response head in time, or it stopped taking the
		 * request's bytes (regwall holds some to write). */
		bool up_stalled = c->state == RW_TERM_FORWARD && c->io &&
				  (why == rw_term_why_response ||
				   c->io->hout_off < c->io->hout_len || c->body_avail > 0);
		if (up_stalled && rw_term_can_answer(c)) {
			rw_term_gateway_fail(c, 504, "upstream_timeout",
					     why == rw_term_why_response
						     ? "registry did not answer in time"
						     : "registry stopped reading the request");
			rw_term_pump(c);
			return;
		}
		if (why == rw_term_why_response)
			why = "upstream_error";
		rw_term_close(c, c->state == RW_TERM_HANDSHAKE ? "refuse" : "term", why, false);
		return;
	}
	rw_loop_timer_arm(l, &c->timer, dl - now);
}

static void rw_term_on_pace(struct rw_loop *l, void *arg)
{
	struct rw_term_conn *c = arg;
	c->paced = false;
	/* the wait was ours, not the client's (rw_term_deadline) */
	if (c->pace_until > c->last_io)
		c->last_io = c->pace_until;
	rw_term_pump(c);
}

/* ---- the pump ---- */

static void rw_term_pump(struct rw_term_conn *c)
{
	c->cwant = 0;
	c->uwant = c->state == RW_TERM_CONNECT ? c->uwant : 0;
	bool budget_out = true;
	for (int round = 0; round < RW_TERM_PUMP_ROUNDS; round++) {
		int p = 0, r;
		if (c->state == RW_TERM_HANDSHAKE) {
			r = rw_term_handshake(c);
			if (r < 0)
				return;
			if (r == 0) {
				budget_out = false;
				break;
			}
			continue;
		}
#define RW_TERM_STEP(call)            \
	do {                          \
		r = (call);           \
		if (r < 0)            \
			return;       \
		p |= r;               \
	} while (0)
		if (c->state == RW_TERM_HEAD)
			RW_TERM_STEP(rw_term_head(c));
		RW_TERM_STEP(rw_term_client_read(c));
		if (c->state == RW_TERM_CONNECT)
			RW_TERM_STEP(rw_term_up_connect(c));
		RW_TERM_STEP(rw_term_up_write(c));
		RW_TERM_STEP(rw_term_up_read(c));
		RW_TERM_STEP(rw_term_resp(c));
		RW_TERM_STEP(rw_term_client_write(c));
		RW_TERM_STEP(rw_term_finish(c));
#undef RW_TERM_STEP
		if (!p) {
			budget_out = false;
			break;
		}
	}
	/* Work left that no socket event will announce: the round budget ran
	 * out while bytes were still moving, or OpenSSL holds decrypted
	 * bytes the socket no longer signals. Ask for the client's writable
	 * event, which is pending at once on a healthy socket (and if the
	 * socket is not writable the connection waits on the client anyway),
	 * so the loop calls back after serving other connections. */
	bool reading = c->state == RW_TERM_HEAD || (c->state == RW_TERM_FORWARD && !c->body_done) ||
		       rw_term_awaiting(c);
	if (budget_out || (c->ssl && reading && SSL_pending(c->ssl) > 0 && c->io &&
			   (c->io->cin.off > 0 || c->io->cin.len < sizeof(c->io->cin.data))))
		c->cwant |= RW_LOOP_WRITE;
	if (rw_term_interest(c, c->cfd, &c->creg, &c->cmask, c->cwant, rw_term_on_client) ||
	    (c->up.fd >= 0 &&
	     rw_term_interest(c, c->up.fd, &c->ureg, &c->umask, c->uwant, rw_term_on_upstream))) {
		rw_term_close(c, "term", "client_error", true);
		return;
	}
	if (rw_term_arm(c))
		rw_term_close(c, "term", "client_error", true);
}

static void rw_term_on_client(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	struct rw_term_conn *c = arg;
	if (c->lingering) {
		rw_term_linger_read(c);
		return;
	}
	if ((events & RW_LOOP_ERROR) && !(events & (RW_LOOP_READ | RW_LOOP_WRITE))) {
		rw_term_close(c, c->state == RW_TERM_HANDSHAKE ? "refuse" : "term",
			      c->state == RW_TERM_HANDSHAKE ? "tls_handshake" : "client_error", true);
		return;
	}
	rw_term_pump(c);
}

static void rw_term_on_upstream(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	struct rw_term_conn *c = arg;
	rw_term_pump(c);
}
