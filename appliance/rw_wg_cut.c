/* SOCK_DESTROY of TCP sockets by remote address (see rw_wg_cut.h). */
#include "appliance/rw_wg_cut.h"

#include <errno.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "base/rw_err.h"
#include "rules/rw_cidr.h"

#ifndef SOCK_DESTROY
#define SOCK_DESTROY 21
#endif

struct rw_cut_list {
	struct inet_diag_sockid ids[4096];
	size_t n;
};

static int rw_cut_dump_one(int family, const struct rw_cidr *addrs, size_t n,
			   struct rw_cut_list *out)
{
	uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	if (!nl)
		return RW_ENETLINK;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return RW_ENETLINK;
	}
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	struct inet_diag_req_v2 *r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
	r->sdiag_family = (uint8_t)family;
	r->sdiag_protocol = IPPROTO_TCP;
	r->idiag_states = ~0u;
	int rc = mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? RW_ENETLINK : 0;
	while (!rc) {
		ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (len <= 0) {
			rc = RW_ENETLINK;
			break;
		}
		int left = (int)len, done = 0;
		const struct nlmsghdr *m = (const void *)buf;
		while (left >= (int)sizeof(*m) && m->nlmsg_len >= sizeof(*m) &&
		       m->nlmsg_len <= (unsigned)left) {
			if (m->nlmsg_type == NLMSG_DONE || m->nlmsg_type == NLMSG_ERROR) {
				done = 1;
				break;
			}
			if (mnl_nlmsg_get_payload_len(m) >= sizeof(struct inet_diag_msg)) {
				const struct inet_diag_msg *d = mnl_nlmsg_get_payload(m);
				for (size_t i = 0; i < n; i++)
					if (addrs[i].family == d->idiag_family &&
					    rw_cidr_contains(&addrs[i], d->idiag_family, d->id.idiag_dst) &&
					    out->n < sizeof(out->ids) / sizeof(out->ids[0])) {
						out->ids[out->n++] = d->id;
						break;
					}
			}
			m = mnl_nlmsg_next(m, &left);
		}
		if (done)
			break;
	}
	mnl_socket_close(nl);
	return rc;
}

int rw_wg_cut_from(const struct rw_cidr *addrs, size_t n, unsigned *cut)
{
	static struct rw_cut_list found; /* parent only, one call at a time */
	uint8_t buf[512];
	int fams[2] = { AF_INET, AF_INET6 }, rc = 0;
	*cut = 0;
	for (int f = 0; f < 2 && !rc; f++) {
		found.n = 0;
		rc = rw_cut_dump_one(fams[f], addrs, n, &found);
		if (rc || !found.n)
			continue;
		struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
		if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
			if (nl)
				mnl_socket_close(nl);
			return RW_ENETLINK;
		}
		for (size_t i = 0; i < found.n; i++) {
			struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
			nlh->nlmsg_type = SOCK_DESTROY;
			nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
			nlh->nlmsg_seq = (uint32_t)i + 1;
			struct inet_diag_req_v2 *r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
			r->sdiag_family = (uint8_t)fams[f];
			r->sdiag_protocol = IPPROTO_TCP;
			r->idiag_states = ~0u;
			r->id = found.ids[i];
			if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
				continue;
			ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
			const struct nlmsghdr *a = (const void *)buf;
			if (len >= (ssize_t)(sizeof(*a) + sizeof(struct nlmsgerr)) &&
			    a->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(a);
				if (e->error == 0)
					(*cut)++;
				else if (e->error == -EOPNOTSUPP || e->error == -EPERM)
					rc = e->error == -EPERM ? RW_EPERM : RW_ENETLINK;
				/* ENOENT: it closed meanwhile */
			}
		}
		mnl_socket_close(nl);
	}
	return rc;
}
