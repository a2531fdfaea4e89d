/* The worker <-> parent channel (see rw_chan.h). */
#include "fwd/rw_chan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/rw_err.h"

/* A well-formed prefix: family, length, host bits and unused bytes zero,
 * and the six padding bytes zero. */
static int rw_chan_prefix_ok(uint8_t family, uint8_t prefix, const uint8_t zero[6],
			     const uint8_t addr[16])
{
	if (family != AF_INET && family != AF_INET6)
		return 0;
	unsigned bytes = family == AF_INET ? 4 : 16;
	if (prefix > bytes * 8)
		return 0;
	for (size_t i = 0; i < 6; i++)
		if (zero[i])
			return 0;
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = 0; /* bits of byte i inside the prefix */
		if (i < bytes)
			keep = prefix >= (i + 1) * 8 ? 8 : prefix > i * 8 ? prefix - i * 8 : 0;
		uint8_t mask = (uint8_t)(keep ? 0xffu << (8 - keep) : 0);
		if (addr[i] & (uint8_t)~mask)
			return 0;
	}
	return 1;
}

/* A NET_ADD / NET_DEL body: a well-formed prefix and a sequence number.
 * Whether it fits the worker's policy is the worker's question
 * (fwd/rw_fwd.c). */
static int rw_chan_net_ok(const uint8_t *b, size_t len)
{
	struct rw_chan_net m;
	if (len != sizeof(m))
		return 0;
	memcpy(&m, b, sizeof(m));
	return m.seq != 0 && rw_chan_prefix_ok(m.family, m.prefix, m.zero, m.addr);
}

/* A BAN_ADD / BAN_DEL body: a well-formed prefix of /1 or longer (what
 * `ban add` takes: a /0 would reset every connection), an expiry on an
 * addition and none on a deletion. */
static int rw_chan_ban_ok(uint16_t type, const uint8_t *b, size_t len)
{
	struct rw_chan_ban m;
	if (len != sizeof(m))
		return 0;
	memcpy(&m, b, sizeof(m));
	if ((type == RW_CHAN_BAN_ADD) != (m.expires_ms != 0) || m.prefix == 0)
		return 0;
	return rw_chan_prefix_ok(m.family, m.prefix, m.zero, m.addr);
}

/* An EVENT body: lines of at least two bytes, each starting with '{'
 * and ended by '\n', no NUL anywhere (the parent hands each line on as a
 * string of its own). */
static int rw_chan_events_ok(const uint8_t *b, size_t len)
{
	if (len < 3 || b[len - 1] != '\n' || memchr(b, '\0', len))
		return 0;
	for (size_t at = 0; at < len;) {
		const uint8_t *nl = memchr(b + at, '\n', len - at);
		size_t n = (size_t)(nl - (b + at)); /* nl exists: the body ends in one */
		if (n < 2 || b[at] != '{')
			return 0;
		at += n + 1;
	}
	return 1;
}

int rw_chan_parse(const uint8_t *buf, size_t n, struct rw_chan_hdr *hdr, const uint8_t **body)
{
	if (!buf || n < sizeof(*hdr))
		return RW_EPROTO;
	memcpy(hdr, buf, sizeof(*hdr));
	if (hdr->flags != 0 || hdr->len > RW_CHAN_BODY_MAX || hdr->len != n - sizeof(*hdr))
		return RW_EPROTO;
	switch (hdr->type) {
	case RW_CHAN_STOP:
	case RW_CHAN_READY:
		if (hdr->len != 0)
			return RW_EPROTO;
		break;
	case RW_CHAN_EVENT:
		if (!rw_chan_events_ok(buf + sizeof(*hdr), hdr->len))
			return RW_EPROTO;
		break;
	case RW_CHAN_STATS:
		if (hdr->len != sizeof(struct rw_chan_stats))
			return RW_EPROTO;
		break;
	case RW_CHAN_NET_ADD:
	case RW_CHAN_NET_DEL:
		if (!rw_chan_net_ok(buf + sizeof(*hdr), hdr->len))
			return RW_EPROTO;
		break;
	case RW_CHAN_BAN_ADD:
	case RW_CHAN_BAN_DEL:
		if (!rw_chan_ban_ok(hdr->type, buf + sizeof(*hdr), hdr->len))
			return RW_EPROTO;
		break;
	case RW_CHAN_BOOT: {
		struct rw_chan_boot b;
		if (hdr->len != sizeof(b))
			return RW_EPROTO;
		memcpy(&b, buf + sizeof(*hdr), sizeof(b));
		if (b.bundle_len == 0 || b.has_limit > 1)
			return RW_EPROTO;
		break;
	}
	case RW_CHAN_LISTEN: {
		struct rw_chan_listen l;
		if (hdr->len != sizeof(l))
			return RW_EPROTO;
		memcpy(&l, buf + sizeof(*hdr), sizeof(l));
		if (l.zero != 0)
			return RW_EPROTO;
		break;
	}
	case RW_CHAN_LOG:
		/* printable text only: it goes into the parent's log as is */
		if (hdr->len == 0 || hdr->len > RW_CHAN_LOG_MAX)
			return RW_EPROTO;
		for (uint32_t i = 0; i < hdr->len; i++) {
			uint8_t c = buf[sizeof(*hdr) + i];
			if (c < 0x20 || c == 0x7f)
				return RW_EPROTO;
		}
		break;
	default:
		return RW_EPROTO;
	}
	*body = buf + sizeof(*hdr);
	return 0;
}

int rw_chan_send_fds(int fd, uint16_t type, uint32_t gen, const void *body, size_t len,
		     const int *fds, size_t n_fds)
{
	if (len > RW_CHAN_BODY_MAX || n_fds > RW_CHAN_FDS_MAX)
		return RW_ETOOBIG;
	struct rw_chan_hdr h = { .type = type, .flags = 0, .len = (uint32_t)len, .gen = gen };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)body, len } };
	union {
		char buf[CMSG_SPACE(RW_CHAN_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} c;
	memset(&c, 0, sizeof(c));
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	if (n_fds) {
		m.msg_control = c.buf;
		m.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, n_fds * sizeof(int));
	}
	for (;;) {
		ssize_t r = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r == (ssize_t)(sizeof(h) + len))
			return 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
			return RW_EINCOMPLETE;
		return RW_EIO;
	}
}

int rw_chan_send(int fd, uint16_t type, uint32_t gen, const void *body, size_t len)
{
	return rw_chan_send_fds(fd, type, gen, body, len, NULL, 0);
}

/* Every descriptor in the control data goes to fds[] or, past max_fds
 * (or after a cut), is closed: a malformed message leaks nothing. */
static int rw_chan_take_fds(struct msghdr *m, int *fds, size_t max_fds, size_t *n_fds)
{
	int bad = (m->msg_flags & MSG_CTRUNC) != 0;
	*n_fds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;
			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(f));
			if (*n_fds < max_fds)
				fds[(*n_fds)++] = f;
			else {
				close(f);
				bad = 1;
			}
		}
	}
	if (bad) {
		for (size_t i = 0; i < *n_fds; i++)
			close(fds[i]);
		*n_fds = 0;
		return RW_EPROTO;
	}
	return 0;
}

int rw_chan_recv(int fd, uint8_t *buf, int timeout_ms, struct rw_chan_hdr *hdr,
		 const uint8_t **body, int *fds, size_t max_fds, size_t *n_fds)
{
	*n_fds = 0;
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	for (;;) {
		int pr = poll(&pf, 1, timeout_ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return RW_EIO;
		if (pr == 0)
			return RW_ETIMEDOUT;
		break;
	}
	union {
		char buf[CMSG_SPACE(RW_CHAN_FDS_MAX * sizeof(int)) + CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	struct iovec iov = { buf, RW_CHAN_MSG_MAX };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			    .msg_controllen = sizeof(c.buf) };
	ssize_t r;
	do
		r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? RW_ETIMEDOUT : RW_EIO;
	if (r == 0)
		return RW_EIO;
	int rc = rw_chan_take_fds(&m, fds, max_fds, n_fds);
	if (!rc && ((m.msg_flags & MSG_TRUNC) || rw_chan_parse(buf, (size_t)r, hdr, body)))
		rc = RW_EPROTO;
	if (rc) {
		for (size_t i = 0; i < *n_fds; i++)
			close(fds[i]);
		*n_fds = 0;
	}
	return rc;
}

static void rw_chan_sink_soon(struct rw_loop *l, void *arg)
{
	(void)l;
	rw_chan_sink_flush(arg);
}

void rw_chan_sink_init(struct rw_chan_sink *s, int fd, uint32_t gen)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->gen = gen;
	rw_timer_init(&s->soon, rw_chan_sink_soon, s);
	if (fd >= 0) {
		int sz = RW_CHAN_SNDBUF;
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
}

void rw_chan_sink_flush(struct rw_chan_sink *s)
{
	if (!s->lines)
		return;
	if (s->fd >= 0 && rw_chan_send(s->fd, RW_CHAN_EVENT, s->gen, s->buf, s->len) == 0)
		s->stats.events_sent += s->lines;
	else
		s->stats.events_dropped += s->lines;
	s->len = 0;
	s->lines = 0;
}

void rw_chan_sink_attach(struct rw_chan_sink *s, struct rw_loop *loop)
{
	s->loop = loop;
}

void rw_chan_sink_detach(struct rw_chan_sink *s)
{
	if (s->loop && rw_timer_armed(&s->soon))
		rw_loop_timer_cancel(s->loop, &s->soon);
	s->loop = NULL;
	rw_chan_sink_flush(s);
}

void rw_chan_event_emit(void *ctx, const struct rw_fwd_event *ev)
{
	struct rw_chan_sink *s = ctx;
	/* the compact JSON line (no '\n' inside) into the gathered body */
	char *line = rw_event_json_line(ev);
	size_t n = line ? strlen(line) : 0;
	if (n < 2 || n + 1 > sizeof(s->buf) || s->fd < 0) {
		s->stats.events_dropped++;
		free(line);
		return;
	}
	if (s->len + n + 1 > sizeof(s->buf))
		rw_chan_sink_flush(s);
	memcpy(s->buf + s->len, line, n);
	s->buf[s->len + n] = '\n';
	s->len += n + 1;
	s->lines++;
	free(line);
	if (!s->loop)
		rw_chan_sink_flush(s);
	else if (!rw_timer_armed(&s->soon) && rw_loop_timer_arm(s->loop, &s->soon, RW_CHAN_EVENT_HOLD_MS))
		rw_chan_sink_flush(s); /* no timer: never hold an event back */
}

void rw_chan_sink_stats(struct rw_chan_sink *s, uint64_t conns)
{
	if (s->fd < 0)
		return;
	rw_chan_sink_flush(s);
	s->stats.conns = conns;
	s->stats.loop_turns++;
	(void)rw_chan_send(s->fd, RW_CHAN_STATS, s->gen, &s->stats, sizeof(s->stats));
}
