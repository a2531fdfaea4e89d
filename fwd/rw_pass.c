/* Passthrough connections; the state machine is drawn in rw_pass.h. */
#include "fwd/rw_pass.h"
#include "fwd/rw_pass_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fwd/rw_fwd_int.h"
#include "fwd/rw_listen.h"
#include "fwd/rw_names.h"
#include "base/rw_err.h"

/* TLS alert descriptions sent on a refusal (RFC 8446 §6). */
#define RW_PASS_ALERT_INTERNAL_ERROR 80u
#define RW_PASS_ALERT_UNRECOGNIZED_NAME 112u
/* Client bytes read and dropped after an alert so the close is a FIN: a
 * close with unread bytes sends an RST, which discards the alert if it is
 * still unsent or unacknowledged. Past this the RST is accepted. */
#define RW_PASS_ALERT_DRAIN_MAX 65536u

static void rw_pass_on_timer(struct rw_loop *l, void *arg);

const char *rw_pass_check_hello(const struct rw_tls_hello *h, char *const *names,
				size_t n_names, bool allow_ech)
{
	if (h->sni_len == 0)
		return "no_sni";
	/* ECH before the name: with real ECH the visible name is only the
	 * outer public name, so "sni" would mislabel it. */
	if ((h->ech || h->esni) && !allow_ech)
		return "ech";
	if (!rw_names_match(names, n_names, h->sni))
		return "sni";
	return NULL;
}

/* ---- registration: before the relay, a socket with nothing to wait for
 * is kept out of epoll entirely, so a level-triggered HUP/ERR on it cannot
 * spin the loop while the other side is still busy; in the relay it keeps
 * an empty mask until an error or hangup parks it (rw_pass_relay_want). ---- */

int rw_pass_interest(struct rw_pass_conn *c, int fd, bool *reg, unsigned *cur, unsigned mask,
		     rw_loop_fd_fn *fn)
{
	return rw_loop_fd_want(&c->w->loop, fd, reg, cur, mask, fn, c);
}

static void rw_pass_emit(struct rw_pass_conn *c, const char *kind, const char *reason)
{
	struct rw_fwd_worker *w = c->w;
	struct rw_fwd_event ev = {
		.time_ms = rw_fwd_wall_ms(),
		.kind = kind,
		.reason = reason,
		.listener = c->lis->cfg->name,
		.src_family = c->src_family,
		.src_port = c->src_port,
		.sni = c->sni_refused[0] ? c->sni_refused
		       : c->have_hello && c->sni[0] ? c->sni
						   : NULL,
		.ja4 = c->have_hello ? c->ja4 : NULL,
		.bytes_up = c->up.bytes + c->hs_up,
		.bytes_down = c->down.bytes + c->hs_down,
		.duration_ms = rw_loop_clock_ms() - c->t_start,
	};
	memcpy(ev.src_addr, c->src_addr, sizeof(ev.src_addr));
	rw_event_emit(&w->ev, &ev);
}

/* The one way out: every path that ends a connection comes here. kind
 * NULL means no event (shutdown). rst: abort both sockets. */
void rw_pass_close(struct rw_pass_conn *c, const char *kind, const char *reason, bool rst)
{
	struct rw_fwd_worker *w = c->w;
	if (kind)
		rw_pass_emit(c, kind, reason);
	rw_splice_dir_release(&c->up, &w->pipes);
	rw_splice_dir_release(&c->down, &w->pipes);
	/* both sockets are ours alone and closed now: the close takes them
	 * out of epoll, the loop only forgets them */
	if (c->creg)
		rw_loop_fd_forget(&w->loop, c->cfd);
	if (c->ufd >= 0) {
		if (c->ureg)
			rw_loop_fd_forget(&w->loop, c->ufd);
		if (rst)
			rw_fwd_linger0(c->ufd);
		close(c->ufd);
	}
	if (rst)
		rw_fwd_linger0(c->cfd);
	close(c->cfd);
	rw_loop_timer_cancel(&w->loop, &c->timer);
	free(c->hello);
	free(c->hs);
	rw_conn_release(&w->conns, c->slot, &c->key);
	free(c);
}

uint16_t rw_pass_alert_version(uint16_t legacy_version)
{
	if ((legacy_version >> 8) != 3)
		return 0x0303;
	return legacy_version > 0x0303 ? 0x0303 : legacy_version;
}

/* A fatal alert record, best-effort (no wait: the socket is closed next):
 *
 *   u8  content_type = 21 (alert)
 *   u16 version      = c->alert_version
 *   u16 length       = 2
 *   u8  level        = 2 (fatal)
 *   u8  description
 *
 * then FIN after it, and the client's unread bytes drained (bounded) so
 * the close does not turn into an RST. */
static void rw_pass_send_alert(struct rw_pass_conn *c, uint8_t desc)
{
	uint16_t v = c->alert_version ? c->alert_version : 0x0303;
	const uint8_t rec[7] = { 0x15, (uint8_t)(v >> 8), (uint8_t)v, 0x00, 0x02, 0x02, desc };
	if (send(c->cfd, rec, sizeof(rec), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(rec))
		return;
	shutdown(c->cfd, SHUT_WR);
	uint8_t sink[4096];
	for (size_t drained = 0; drained < RW_PASS_ALERT_DRAIN_MAX;) {
		ssize_t n = recv(c->cfd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n <= 0)
			break;
		drained += (size_t)n;
	}
}

void rw_pass_refuse_alert(struct rw_pass_conn *c, const char *reason, uint8_t desc)
{
	if (c->w->o.send_alert)
		rw_pass_send_alert(c, desc);
	rw_pass_close(c, "refuse", reason, false);
}

void rw_pass_refuse(struct rw_pass_conn *c, const char *reason, bool alert)
{
	if (alert)
		rw_pass_refuse_alert(c, reason, RW_PASS_ALERT_UNRECOGNIZED_NAME);
	else
		rw_pass_close(c, "refuse", reason, false);
}

/* The registry could not be reached, as an event reason. Every one of
 * these refusals carries an internal_error alert. */
const char *rw_pass_connect_reason(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return "connect_refused";
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
		return "connect_unreachable";
	case ETIMEDOUT:
		return "connect_timeout";
	default:
		return "connect_failed";
	}
}

static void rw_pass_unreachable(struct rw_pass_conn *c, int err)
{
	rw_pass_refuse_alert(c, rw_pass_connect_reason(err), RW_PASS_ALERT_INTERNAL_ERROR);
}

static void rw_pass_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void rw_pass_hello_read(struct rw_pass_conn *c);

void rw_pass_accept(struct rw_fwd_worker *w, struct rw_fwd_listener *lis, int cfd,
		    const struct sockaddr_storage *ss)
{
	struct rw_pass_conn *c = calloc(1, sizeof(*c));
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
	c->state = RW_PASS_HELLO;
	c->cfd = cfd;
	c->ufd = -1;
	c->t_start = rw_loop_now_ms(&w->loop);
	rw_splice_dir_init(&c->up, -1, -1, NULL, 0);
	rw_splice_dir_init(&c->down, -1, -1, NULL, 0);
	rw_timer_init(&c->timer, rw_pass_on_timer, c);
	rw_pass_nodelay(cfd);
	if (rw_pass_interest(c, cfd, &c->creg, &c->cmask, RW_LOOP_READ, rw_pass_on_client) ||
	    rw_loop_timer_arm(&w->loop, &c->timer, w->o.hello_timeout_ms)) {
		rw_pass_close(c, "refuse", "overload", true);
		return;
	}
	/* A TLS client sends its hello right behind the handshake's last
	 * ACK, so it is usually queued by the time the connection is
	 * accepted: read it now (as HAProxy does) rather than a loop turn
	 * later, when epoll would report it. On EAGAIN the registration
	 * above waits for it. May close c: nothing follows. */
	rw_pass_hello_read(c);
}

void rw_pass_close_all(struct rw_fwd_worker *w)
{
	for (size_t i = 0; i < w->conns.max_conns; i++)
		if (w->conns.slot[i])
			rw_pass_close(w->conns.slot[i], NULL, NULL, true);
}

/* ---- HELLO ---- */

static void rw_pass_connect(struct rw_pass_conn *c);

static void rw_pass_hello_read(struct rw_pass_conn *c)
{
	if (!c->hello) {
		c->hello = malloc(sizeof(*c->hello));
		if (!c->hello) {
			rw_pass_close(c, "refuse", "overload", true);
			return;
		}
		c->hello->len = 0;
		rw_tls_hello_init(&c->hello->parser, NULL);
		/* JA4 is for the event only: computed below, once, on OK */
		rw_tls_hello_defer_ja4(&c->hello->parser);
	}
	struct rw_pass_hello *h = c->hello;
	size_t room = sizeof(h->buf) - h->len;
	if (room == 0) {
		rw_pass_refuse(c, "tls_hello_too_large", false);
		return;
	}
	ssize_t n = recv(c->cfd, h->buf + h->len, room, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		rw_pass_close(c, "refuse", "hello_eof", n < 0);
		return;
	}
	enum rw_inspect_result r = rw_tls_hello_feed(&h->parser, h->buf + h->len, (size_t)n);
	h->len += (size_t)n;
	if (r == RW_INSPECT_MORE) {
		if (h->len == sizeof(h->buf))
			rw_pass_refuse(c, "tls_hello_too_large", false);
		return;
	}
	if (r == RW_INSPECT_REFUSE) {
		char reason[48];
		rw_pass_note_refused_name(c, &h->parser);
		snprintf(reason, sizeof(reason), "tls_%s", rw_tls_refuse_str(h->parser.refuse));
		rw_pass_refuse(c, reason, false);
		return;
	}
	const struct rw_tls_hello *th = &h->parser.hello;
	c->have_hello = true;
	memcpy(c->sni, th->sni, sizeof(c->sni));
	c->alert_version = rw_pass_alert_version(th->legacy_version);
	rw_tls_hello_ja4(&h->parser, c->ja4); /* "" if it cannot be computed */
	const char *why = rw_pass_decide(c, th);
	if (why) {
		rw_pass_refuse(c, why, strcmp(why, "sni") == 0 || strcmp(why, "no_sni") == 0);
		return;
	}
	/* only the hello's own records go to the registry now: what follows
	 * is held until its answer shows whether a second hello is due */
	h->flight = h->parser.consumed;
	rw_pass_connect(c);
}

static bool rw_pass_sni_plain(uint8_t b)
{
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
	       b == '.' || b == '-' || b == '_';
}

size_t rw_pass_sni_text(const uint8_t *name, size_t kept, size_t wire_len, char *out,
			size_t out_size)
{
	static const char hex[] = "0123456789abcdef";
	char note[32];
	int nl = snprintf(note, sizeof(note), " (truncated, %zu bytes)", wire_len);
	if (kept > wire_len)
		kept = wire_len;
	size_t whole = 0;
	for (size_t i = 0; i < kept; i++)
		whole += rw_pass_sni_plain(name[i]) ? 1 : 4;
	/* all of it, or as much as leaves room for the note */
	bool cut = kept < wire_len || whole > out_size - 1;
	size_t room = cut ? out_size - 1 - (size_t)nl : out_size - 1;
	size_t o = 0;
	for (size_t i = 0; i < kept; i++) {
		uint8_t b = name[i];
		if (rw_pass_sni_plain(b)) {
			if (o + 1 > room)
				break;
			out[o++] = (char)b;
		} else {
			if (o + 4 > room)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[b >> 4];
			out[o++] = hex[b & 15];
		}
	}
	if (cut) {
		memcpy(out + o, note, (size_t)nl);
		o += (size_t)nl;
	}
	out[o] = '\0';
	return o;
}

void rw_pass_note_refused_name(struct rw_pass_conn *c, const struct rw_tls_hello_parser *p)
{
	if (p->refused_name_len == 0)
		return;
	size_t kept = p->refused_name_len < sizeof(p->refused_name) ? p->refused_name_len
								    : sizeof(p->refused_name);
	rw_pass_sni_text(p->refused_name, kept, p->refused_name_len, c->sni_refused,
			 sizeof(c->sni_refused));
}

const char *rw_pass_decide(struct rw_pass_conn *c, const struct rw_tls_hello *h)
{
	return rw_pass_check_hello(h, c->lis->names, c->lis->n_names, c->lis->cfg->allow_ech);
}

/* ---- CONNECTING ---- */

static void rw_pass_connect(struct rw_pass_conn *c)
{
	struct rw_fwd_worker *w = c->w;
	struct sockaddr_storage ss;
	socklen_t len;
	if (rw_listen_sockaddr(&w->p->registry.upstream, &ss, &len)) {
		rw_pass_unreachable(c, 0);
		return;
	}
	c->ufd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (c->ufd < 0) {
		rw_pass_unreachable(c, 0);
		return;
	}
	rw_pass_nodelay(c->ufd);
	if (connect(c->ufd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
		rw_pass_unreachable(c, errno);
		return;
	}
	/* The client stays registered for reading: a TLS client waits for
	 * the server's answer, so nothing arrives and keeping it costs no
	 * epoll_ctl (taking it out and back in cost two per connection). One
	 * that sends early or hangs up is parked on that event
	 * (rw_pass_on_client) until the relay starts. */
	c->state = RW_PASS_CONNECTING;
	if (rw_pass_interest(c, c->ufd, &c->ureg, &c->umask, RW_LOOP_WRITE, rw_pass_on_upstream) ||
	    rw_loop_timer_arm(&w->loop, &c->timer, w->o.connect_timeout_ms))
		rw_pass_unreachable(c, 0);
}

/* ---- RELAY ---- */

/* Which way an event moves bytes: readable client or writable registry
 * is the client's direction, readable registry or writable client the
 * registry's; an error or hangup, both (the step reports it). */
#define RW_PASS_UP 1u
#define RW_PASS_DOWN 2u

/* The relay's registration of one socket. One that has nothing to wait
 * for (its direction done, the other not writing to it) keeps an empty
 * mask rather than leaving epoll: rw_loop defers the change to the end of
 * the loop turn, so when the connection ends in the same turn (a
 * half-close and the final FIN arriving together, the usual end) the
 * socket costs no epoll_ctl at all. Only an error or hangup can be
 * reported on it meanwhile; that parks it for real (rw_pass_on_client,
 * rw_pass_on_upstream), as a level-triggered one would fire every turn. */
static int rw_pass_relay_want(struct rw_pass_conn *c, int fd, bool *reg, unsigned *cur,
			      unsigned mask, rw_loop_fd_fn *fn)
{
	if (mask == 0 && *reg) {
		*cur = 0;
		return rw_loop_fd_mod(&c->w->loop, fd, 0);
	}
	return rw_pass_interest(c, fd, reg, cur, mask, fn);
}

/* Step the directions an event concerns (not both on every event: the
 * other one would only try a recv that says EAGAIN), then register what
 * each direction waits for. */
static void rw_pass_relay(struct rw_pass_conn *c, unsigned dirs)
{
	struct rw_fwd_worker *w = c->w;
	uint64_t m_up = 0, m_down = 0;
	if (dirs & RW_PASS_UP) {
		c->up.last = (c->r_down & RW_SPLICE_DONE) != 0;
		c->r_up = rw_splice_dir_step(&c->up, &w->pipes, &m_up);
	}
	if ((dirs & RW_PASS_DOWN) && c->r_up >= 0) {
		c->down.last = (c->r_up & RW_SPLICE_DONE) != 0;
		c->r_down = rw_splice_dir_step(&c->down, &w->pipes, &m_down);
	}
	if (c->r_up < 0 || c->r_down < 0) {
		int r = c->r_up < 0 ? c->r_up : c->r_down;
		rw_pass_close(c, "pass", r == RW_EPROTO ? "reset" : "error", true);
		return;
	}
	if (!c->up.head && c->hello) {
		free(c->hello);
		c->hello = NULL;
	}
	if (!c->down.head && c->hs) {
		free(c->hs);
		c->hs = NULL;
	}
	if (m_up || m_down)
		c->last_io = rw_loop_now_ms(&w->loop);
	if ((c->r_up & RW_SPLICE_DONE) && (c->r_down & RW_SPLICE_DONE)) {
		rw_pass_close(c, "pass", "done", false);
		return;
	}
	unsigned cm = ((c->r_up & RW_SPLICE_WANT_READ) ? RW_LOOP_READ : 0) |
		      ((c->r_down & RW_SPLICE_WANT_WRITE) ? RW_LOOP_WRITE : 0);
	unsigned um = ((c->r_down & RW_SPLICE_WANT_READ) ? RW_LOOP_READ : 0) |
		      ((c->r_up & RW_SPLICE_WANT_WRITE) ? RW_LOOP_WRITE : 0);
	if (rw_pass_relay_want(c, c->cfd, &c->creg, &c->cmask, cm, rw_pass_on_client) ||
	    rw_pass_relay_want(c, c->ufd, &c->ureg, &c->umask, um, rw_pass_on_upstream))
		rw_pass_close(c, "pass", "error", true);
}

/* The connect finished. Writable without an error or hangup is success
 * (no SO_ERROR lookup on that path: one syscall less per connection);
 * otherwise SO_ERROR says why it failed. */
static void rw_pass_connected(struct rw_pass_conn *c, unsigned events)
{
	if (events & RW_LOOP_ERROR) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err == 0)
			err = ECONNREFUSED; /* hung up without a reason: refused */
		rw_pass_unreachable(c, err);
		return;
	}
	rw_pass_hs_start(c);
}

void rw_pass_start_relay(struct rw_pass_conn *c)
{
	struct rw_fwd_worker *w = c->w;
	c->state = RW_PASS_RELAY;
	/* heads: empty ones are no heads (NULL), so the buffers are freed at
	 * the first step */
	if (c->hello && c->hello->len)
		rw_splice_dir_init(&c->up, c->cfd, c->ufd, c->hello->buf, c->hello->len);
	else
		rw_splice_dir_init(&c->up, c->cfd, c->ufd, NULL, 0);
	if (c->hs && c->hs->len)
		rw_splice_dir_init(&c->down, c->ufd, c->cfd, c->hs->buf, c->hs->len);
	else
		rw_splice_dir_init(&c->down, c->ufd, c->cfd, NULL, 0);
	c->last_io = rw_loop_now_ms(&w->loop);
	if (rw_loop_timer_arm(&w->loop, &c->timer, w->o.idle_timeout_ms)) {
		rw_pass_close(c, "pass", "error", true);
		return;
	}
	/* a direction with a head sends it now; one without waits until
	 * epoll reports bytes (no speculative recv) */
	c->r_up = c->r_down = RW_SPLICE_WANT_READ;
	rw_pass_relay(c, (c->up.head ? RW_PASS_UP : 0) | (c->down.head ? RW_PASS_DOWN : 0));
}

/* ---- handlers ---- */

void rw_pass_on_client(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	struct rw_pass_conn *c = arg;
	/* a reset also raises RDHUP: that is no orderly end to pass on */
	if ((events & (RW_LOOP_RDHUP | RW_LOOP_ERROR)) == RW_LOOP_RDHUP)
		c->up.fin_seen = true;
	if (c->state == RW_PASS_HELLO)
		rw_pass_hello_read(c);
	else if (c->state == RW_PASS_RETRY)
		rw_pass_hs_step(c);
	else if (c->state == RW_PASS_RELAY && c->cmask == 0)
		/* an error or hangup on a socket the relay waits nothing from */
		rw_pass_interest(c, fd, &c->creg, &c->cmask, 0, NULL);
	else if (c->state == RW_PASS_RELAY)
		rw_pass_relay(c, (events & RW_LOOP_ERROR) ? RW_PASS_UP | RW_PASS_DOWN
			      : ((events & RW_LOOP_READ) ? RW_PASS_UP : 0) |
				((events & RW_LOOP_WRITE) ? RW_PASS_DOWN : 0));
	else
		/* CONNECTING or SERVER_HELLO: bytes or a hangup from the client
		 * before the registry answered. Nothing can be done with them
		 * yet, and a level-triggered event would fire again on every
		 * loop turn: park the socket; the relay registers it again and
		 * its first step reads what is there. */
		rw_pass_interest(c, fd, &c->creg, &c->cmask, 0, NULL);
}

void rw_pass_on_upstream(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	struct rw_pass_conn *c = arg;
	if ((events & (RW_LOOP_RDHUP | RW_LOOP_ERROR)) == RW_LOOP_RDHUP)
		c->down.fin_seen = true;
	if (c->state == RW_PASS_CONNECTING)
		rw_pass_connected(c, events);
	else if (c->state == RW_PASS_SERVER_HELLO)
		rw_pass_hs_step(c);
	else if (c->state == RW_PASS_RELAY && c->umask == 0)
		rw_pass_interest(c, fd, &c->ureg, &c->umask, 0, NULL);
	else if (c->state == RW_PASS_RELAY)
		rw_pass_relay(c, (events & RW_LOOP_ERROR) ? RW_PASS_UP | RW_PASS_DOWN
			      : ((events & RW_LOOP_READ) ? RW_PASS_DOWN : 0) |
				((events & RW_LOOP_WRITE) ? RW_PASS_UP : 0));
}

static void rw_pass_on_timer(struct rw_loop *l, void *arg)
{
	struct rw_pass_conn *c = arg;
	switch (c->state) {
	case RW_PASS_HELLO:
		rw_pass_close(c, "refuse", "hello_timeout", false);
		return;
	case RW_PASS_CONNECTING:
		rw_pass_unreachable(c, ETIMEDOUT);
		return;
	case RW_PASS_SERVER_HELLO:
		rw_pass_close(c, "refuse", "server_hello_timeout", false);
		return;
	case RW_PASS_RETRY:
		rw_pass_close(c, "refuse", "hrr_timeout", false);
		return;
	case RW_PASS_RELAY: {
		/* The deadline moves lazily: bytes only stamp last_io, and
		 * the timer re-arms for what is left when it fires. */
		uint64_t now = rw_loop_now_ms(l);
		uint64_t idle = c->w->o.idle_timeout_ms;
		if (now - c->last_io >= idle) {
			rw_pass_close(c, "pass", "idle_timeout", false);
			return;
		}
		if (rw_loop_timer_arm(l, &c->timer, idle - (now - c->last_io)))
			rw_pass_close(c, "pass", "error", true);
		return;
	}
	}
}
