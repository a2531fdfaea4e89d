/* The original destination of a redirected connection (rw_orig_dst.h). */
#include "fwd/rw_orig_dst.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "base/rw_err.h"
#include "fwd/rw_listen.h"

/* <linux/netfilter_ipv4.h> SO_ORIGINAL_DST and
 * <linux/netfilter_ipv6/ip6_tables.h> IP6T_SO_ORIGINAL_DST, both 80: the
 * uapi headers drag in definitions that clash with glibc's netinet ones. */
#define RW_SO_ORIGINAL_DST 80

int rw_orig_dst(int fd, int family, struct rw_endpoint *out)
{
	struct sockaddr_storage ss;
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	memset(&ss, 0, sizeof(ss));
	memset(out, 0, sizeof(*out));
	int r = family == AF_INET ? getsockopt(fd, IPPROTO_IP, RW_SO_ORIGINAL_DST, &ss, &len)
		: family == AF_INET6 ? getsockopt(fd, IPPROTO_IPV6, RW_SO_ORIGINAL_DST, &ss, &len)
				     : (errno = EAFNOSUPPORT, -1);
	if (r)
		return RW_EIO;
	if (ss.ss_family != family) {
		errno = EAFNOSUPPORT;
		return RW_EIO;
	}
	rw_listen_peer(&ss, &out->family, out->addr, &out->port);
	return 0;
}

static int rw_orig_eq(const struct rw_endpoint *a, const struct rw_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

const char *rw_orig_dst_check(int fd, int family, const struct rw_endpoint *upstream)
{
	struct rw_endpoint orig, local;
	/* ENOENT: conntrack has no entry for it, so nothing redirected it.
	 * Any other failure (conntrack not loaded: ENOPROTOOPT) says nothing
	 * about the client: refused all the same, under its own name, so an
	 * admin is not sent looking for clients that bypass the redirect. */
	if (rw_orig_dst(fd, family, &orig))
		return errno == ENOENT ? "not_redirected" : "orig_dst_unknown";
	if (rw_orig_eq(&orig, upstream))
		return NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == family) {
		rw_listen_peer(&ss, &local.family, local.addr, &local.port);
		if (rw_orig_eq(&orig, &local))
			return "not_redirected";
	}
	return "not_upstream";
}
