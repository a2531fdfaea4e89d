/* The worker <-> parent channel (see rw_chan.h). */
#include "fwd/rw_chan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/rw_err.h"

/* A NET_ADD / NET_DEL body: a well-formed prefix (family, length, host
 * bits and unused bytes zero). Whether it fits the worker's policy is the
 * worker's question (fwd/rw_fwd.c). */
static int rw_chan_net_ok(const uint8_t *b, size_t len)
{
	struct rw_chan_net m;
	if (len != sizeof(m))
		return 0;
	memcpy(&m, b, sizeof(m));
	if (m.family != AF_INET && m.family != AF_INET6)
		return 0;
	unsigned bytes = m.family == AF_INET ? 4 : 16;
	if (m.prefix > bytes * 8 || m.seq == 0)
		return 0;
	for (size_t i = 0; i < sizeof(m.zero); i++)
		if (m.zero[i])
			return 0;
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = 0; /* bits of byte i inside the prefix */
		if (i < bytes)
			keep = m.prefix >= (i + 1) * 8 ? 8 : m.prefix > i * 8 ? m.prefix - i * 8 : 0;
		uint8_t mask = (uint8_t)(keep ? 0xffu << (8 - keep) : 0);
		if (m.addr[i] & (uint8_t)~mask)
			return 0;
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
		/* a JSON object on one line: starts with '{', no NUL or LF */
		if (hdr->len < 2 || buf[sizeof(*hdr)] != '{' ||
		    memchr(buf + sizeof(*hdr), '\0', hdr->len) ||
		    memchr(buf + sizeof(*hdr), '\n', hdr->len))
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

int rw_chan_send(int fd, uint16_t type, uint32_t gen, const void *body, size_t len)
{
	if (len > RW_CHAN_BODY_MAX)
		return RW_ETOOBIG;
	struct rw_chan_hdr h = { .type = type, .flags = 0, .len = (uint32_t)len, .gen = gen };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)body, len } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
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

void rw_chan_sink_init(struct rw_chan_sink *s, int fd, uint32_t gen)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->gen = gen;
	if (fd >= 0) {
		int sz = RW_CHAN_SNDBUF;
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
}

void rw_chan_event_emit(void *ctx, const struct rw_fwd_event *ev)
{
	struct rw_chan_sink *s = ctx;
	/* the JSON line straight into the message (compact: no '\n' inside) */
	char *line = rw_event_json_line(ev);
	size_t n = line ? strlen(line) : 0;
	if (n == 0 || s->fd < 0 || rw_chan_send(s->fd, RW_CHAN_EVENT, s->gen, line, n) != 0)
		s->stats.events_dropped++;
	else
		s->stats.events_sent++;
	free(line);
}

void rw_chan_sink_stats(struct rw_chan_sink *s, uint64_t conns)
{
	if (s->fd < 0)
		return;
	s->stats.conns = conns;
	s->stats.loop_turns++;
	(void)rw_chan_send(s->fd, RW_CHAN_STATS, s->gen, &s->stats, sizeof(s->stats));
}
