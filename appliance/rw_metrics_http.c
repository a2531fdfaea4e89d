#include "appliance/rw_metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rules/rw_cidr.h"

/* ---- the server ---- */

struct rw_metrics_http_client {
	struct rw_metrics_http *h;
	struct rw_metrics_http_client *prev, *next;
	int fd;
	bool reg;
	unsigned mask;
	char buf[RW_METRICS_HTTP_REQ_MAX];
	size_t len;
	char *out;
	size_t out_len, out_off;
	/* the answer is out and our side shut: read and drop what the client
	 * still sends until it closes (closing with unread bytes would send
	 * a reset, which can destroy the answer in the client's queue) */
	bool done;
	struct rw_timer timer;
};

void rw_metrics_http_init(struct rw_metrics_http *h, struct rw_loop *loop,
			  const struct rw_metrics *m, const struct rw_policy *pol)
{
	*h = (struct rw_metrics_http){ .loop = loop, .m = m, .pol = pol, .lfd = -1,
				       .timeout_ms = RW_METRICS_HTTP_TIMEOUT_MS };
}

static void rw_mh_close(struct rw_metrics_http_client *c)
{
	struct rw_metrics_http *h = c->h;
	rw_loop_fd_want(h->loop, c->fd, &c->reg, &c->mask, 0, NULL, c);
	rw_loop_timer_cancel(h->loop, &c->timer);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		h->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	h->n_clients--;
	free(c->out);
	free(c);
}

static void rw_mh_timeout(struct rw_loop *l, void *arg)
{
	(void)l;
	struct rw_metrics_http_client *c = arg;
	if (!c->done) /* one that got its answer and lingers is no refusal */
		c->h->timeouts++;
	rw_mh_close(c);
}

static void rw_mh_io(struct rw_loop *l, int fd, unsigned events, void *arg);

/* 1 = answered in full, 0 = more to write, -1 = gone */
static int rw_mh_flush(struct rw_metrics_http_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			c->out_off += (size_t)w;
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		return -1;
	}
	return 1;
}

static int rw_mh_read(struct rw_metrics_http_client *c)
{
	struct rw_metrics_http *h = c->h;
	bool eof = false;
	for (;;) {
		if (c->len == sizeof(c->buf))
			break; /* the parser answers 431 */
		ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
		if (r == 0) {
			/* a half-close after the request (nc -N) still gets
			 * its answer; before a whole request, nothing to do */
			eof = true;
			break;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			return -1;
		}
		c->len += (size_t)r;
	}
	struct rw_metrics_http_req req;
	if (rw_metrics_http_parse(c->buf, c->len, &req) == RW_EINCOMPLETE)
		return eof ? -1 : 0;
	if (req.status == 200)
		h->scrapes++;
	else
		h->bad_requests++;
	if (rw_metrics_http_answer(req.status, h->m, &c->out, &c->out_len))
		return -1;
	return 0;
}

/* After the answer: drop input until end of file. -1 = close now. */
static int rw_mh_discard(struct rw_metrics_http_client *c)
{
	char sink[4096];
	for (;;) {
		ssize_t r = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (r > 0)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		return -1;
	}
}

static void rw_mh_io(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	(void)l;
	(void)fd;
	struct rw_metrics_http_client *c = arg;
	if (c->done) {
		if (rw_mh_discard(c))
			rw_mh_close(c);
		return;
	}
	if (!c->out && (events & (RW_LOOP_READ | RW_LOOP_ERROR)) && rw_mh_read(c)) {
		rw_mh_close(c);
		return;
	}
	if (c->out) {
		int f = rw_mh_flush(c);
		if (f < 0) {
			rw_mh_close(c);
			return;
		}
		if (f > 0) {
			/* all written: end of file to the client, then wait for
			 * its close (bounded by the client's timeout) */
			free(c->out);
			c->out = NULL;
			c->done = true;
			shutdown(c->fd, SHUT_WR);
			if (rw_mh_discard(c) ||
			    rw_loop_fd_want(c->h->loop, c->fd, &c->reg, &c->mask, RW_LOOP_READ, rw_mh_io,
					    c))
				rw_mh_close(c);
			return;
		}
	}
	unsigned want = c->out ? RW_LOOP_WRITE : RW_LOOP_READ;
	if (rw_loop_fd_want(c->h->loop, c->fd, &c->reg, &c->mask, want, rw_mh_io, c))
		rw_mh_close(c);
}

bool rw_metrics_http_allowed(const struct rw_policy *pol, int family, const uint8_t *addr)
{
	for (size_t i = 0; pol && i < pol->n_metrics_allow; i++)
		if (rw_cidr_contains(&pol->metrics_allow[i], family, addr))
			return true;
	return false;
}

static bool rw_mh_peer_allowed(const struct rw_metrics_http *h, const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		return rw_metrics_http_allowed(h->pol, AF_INET, (const uint8_t *)&s4->sin_addr);
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		return rw_metrics_http_allowed(h->pol, AF_INET6, s6->sin6_addr.s6_addr);
	}
	return false;
}

static void rw_mh_accept(struct rw_loop *l, int lfd, unsigned events, void *arg)
{
	(void)events;
	struct rw_metrics_http *h = arg;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		if (!rw_mh_peer_allowed(h, &ss)) {
			h->refused_addr++;
			close(fd);
			continue;
		}
		struct rw_metrics_http_client *c = NULL;
		if (h->n_clients < RW_METRICS_HTTP_CLIENTS && (size_t)fd < l->setsize)
			c = calloc(1, sizeof(*c));
		if (!c) {
			h->refused_busy++;
			close(fd);
			continue;
		}
		c->h = h;
		c->fd = fd;
		c->next = h->head;
		if (h->head)
			h->head->prev = c;
		h->head = c;
		h->n_clients++;
		rw_timer_init(&c->timer, rw_mh_timeout, c);
		if (rw_loop_timer_arm(l, &c->timer, h->timeout_ms) ||
		    rw_loop_fd_want(l, fd, &c->reg, &c->mask, RW_LOOP_READ, rw_mh_io, c))
			rw_mh_close(c);
	}
}

static bool rw_mh_ep_eq(const struct rw_endpoint *a, const struct rw_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static int rw_mh_open(const struct rw_endpoint *ep, int *out, struct rw_diag *diag)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	if (ep->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(ep->port);
		memcpy(&s4->sin_addr, ep->addr, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(ep->port);
		memcpy(&s6->sin6_addr, ep->addr, 16);
		sl = sizeof(*s6);
	}
	char a[INET6_ADDRSTRLEN] = "?";
	inet_ntop(ep->family, ep->addr, a, sizeof(a));
	int fd = socket(ep->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    /* a v6 socket takes no IPv4-mapped clients: metrics.allow matches
	     * the address as the client sent it */
	    (ep->family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 16)) {
		rw_diag_err(diag, NULL, 0, "metrics.listen %s%s%s:%u: cannot listen: %s",
			    ep->family == AF_INET6 ? "[" : "", a, ep->family == AF_INET6 ? "]" : "",
			    ep->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return RW_EIO;
	}
	*out = fd;
	return 0;
}

static void rw_mh_unlisten(struct rw_metrics_http *h)
{
	if (h->lfd < 0)
		return;
	rw_loop_fd_del(h->loop, h->lfd);
	close(h->lfd);
	h->lfd = -1;
	memset(&h->ep, 0, sizeof(h->ep));
}

int rw_metrics_http_sync(struct rw_metrics_http *h, struct rw_diag *diag)
{
	const struct rw_endpoint *want = &h->pol->metrics;
	if (!want->family) {
		rw_mh_unlisten(h);
		return 0;
	}
	if (h->lfd >= 0 && rw_mh_ep_eq(&h->ep, want))
		return 0;
	if (rw_mh_ep_eq(&h->failed, want))
		return RW_EIO; /* said once already */
	int fd;
	int r = rw_mh_open(want, &fd, diag);
	if (r) {
		h->failed = *want;
		return r;
	}
	r = rw_loop_fd_add(h->loop, fd, RW_LOOP_READ, rw_mh_accept, h);
	if (r) {
		close(fd);
		rw_diag_err(diag, NULL, 0, "metrics.listen: %s", rw_strerror(r));
		return r;
	}
	rw_mh_unlisten(h);
	h->lfd = fd;
	h->ep = *want;
	memset(&h->failed, 0, sizeof(h->failed));
	return 0;
}

void rw_metrics_http_fini(struct rw_metrics_http *h)
{
	while (h->head)
		rw_mh_close(h->head);
	rw_mh_unlisten(h);
}

void rw_metrics_http_source(void *ctx, struct rw_metrics_out *o)
{
	const struct rw_metrics_http *h = ctx;
	rw_metrics_family(o, "regwall_metrics_scrapes_total", RW_METRICS_COUNTER,
			  "GET /metrics requests answered (this one included).");
	rw_metrics_sample(o, "regwall_metrics_scrapes_total", NULL, 0, h->scrapes);
	rw_metrics_family(o, "regwall_metrics_refused_total", RW_METRICS_COUNTER,
			  "Metrics endpoint clients refused: address not in metrics.allow, no "
			  "free slot, a request other than GET /metrics, too slow.");
	static const char *const why[] = { "address", "busy", "request", "timeout" };
	uint64_t v[] = { h->refused_addr, h->refused_busy, h->bad_requests, h->timeouts };
	for (int i = 0; i < 4; i++) {
		struct rw_metrics_label l[] = { { "why", why[i] } };
		rw_metrics_sample(o, "regwall_metrics_refused_total", l, 1, v[i]);
	}
}
