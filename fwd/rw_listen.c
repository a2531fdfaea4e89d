#include "fwd/rw_listen.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/rw_err.h"

int rw_listen_sockaddr(const struct rw_endpoint *ep, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (ep->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(ep->port);
		memcpy(&sin->sin_addr, ep->addr, 4);
		*len = sizeof(*sin);
		return 0;
	}
	if (ep->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(ep->port);
		memcpy(&sin6->sin6_addr, ep->addr, 16);
		*len = sizeof(*sin6);
		return 0;
	}
	return RW_EINVAL;
}

void rw_listen_peer(const struct sockaddr_storage *ss, uint8_t *family, uint8_t addr[16],
		    uint16_t *port)
{
	memset(addr, 0, 16);
	*family = 0;
	*port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		*family = AF_INET;
		memcpy(addr, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		*family = AF_INET6;
		memcpy(addr, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
	}
}

int rw_listen_open(const struct rw_endpoint *ep, int backlog, int *fd, const char **step)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *dummy;
	if (!step)
		step = &dummy;
	*fd = -1;
	*step = "address";
	if (rw_listen_sockaddr(ep, &ss, &len))
		return RW_EINVAL;
	*step = "socket";
	int s = socket(ep->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (s < 0)
		return RW_EIO;
	*step = "setsockopt";
	int one = 1;
	int r = setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!r)
		r = setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (!r && ep->family == AF_INET6)
		r = setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (!r) {
		*step = "bind";
		r = bind(s, (struct sockaddr *)&ss, len);
	}
	if (!r) {
		*step = "listen";
		r = listen(s, backlog > 0 ? backlog : 511);
	}
	if (r) {
		int e = errno;
		close(s);
		errno = e;
		return RW_EIO;
	}
	*fd = s;
	return 0;
}

int rw_listen_format(const struct rw_endpoint *ep, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	if ((ep->family != AF_INET && ep->family != AF_INET6) ||
	    !inet_ntop(ep->family, ep->addr, a, sizeof(a)))
		return RW_EINVAL;
	int n = snprintf(buf, len, ep->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
			 (unsigned)ep->port);
	return n < 0 || (size_t)n >= len ? RW_ETOOBIG : 0;
}

uint16_t rw_listen_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	uint8_t fam, addr[16];
	uint16_t port;
	rw_listen_peer(&ss, &fam, addr, &port);
	return port;
}

int rw_listen_accept(int lfd, int *cfd, struct sockaddr_storage *ss)
{
	for (;;) {
		socklen_t len = sizeof(*ss);
		int c = accept4(lfd, (struct sockaddr *)ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c >= 0) {
			*cfd = c;
			return 0;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED: /* the peer gave up while queued: next */
			continue;
		case EAGAIN:
			return RW_EINCOMPLETE;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			return RW_ETOOBIG;
		default:
			return RW_EIO;
		}
	}
}
