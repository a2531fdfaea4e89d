#include "appliance/rw_nflog_cap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

#define RW_NFLOG_CAP_BUF (128u << 10) /* > nlbufsiz below: no MSG_TRUNC */
#define RW_NFLOG_CAP_NLBUFSIZ (64u << 10)

void rw_nflog_cap_init(struct rw_nflog_cap *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* One NFULNL_MSG_CONFIG request for the group, with its attributes added
 * by the caller; returns the header for that. */
static struct nlmsghdr *rw_nflog_cfg_hdr(char *buf, uint16_t group, uint8_t family, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = htons(group);
	return nlh;
}

/* Send one config message and wait for its acknowledgement (the socket is
 * still blocking here). Returns 0 or the kernel's negative errno. */
static int rw_nflog_cfg_talk(struct rw_nflog_cap *c, struct nlmsghdr *nlh)
{
	if (send(c->fd, nlh, nlh->nlmsg_len, 0) != (ssize_t)nlh->nlmsg_len)
		return -errno;
	for (;;) {
		ssize_t n = recv(c->fd, c->buf, c->buf_size, 0);
		if (n < 0)
			return -errno;
		const struct nlmsghdr *r = (const struct nlmsghdr *)c->buf;
		int left = (int)n;
		for (; mnl_nlmsg_ok(r, left); r = mnl_nlmsg_next(r, &left)) {
			if (r->nlmsg_seq != nlh->nlmsg_seq || r->nlmsg_type != NLMSG_ERROR)
				continue; /* a record already: the bind took effect */
			if (r->nlmsg_len < mnl_nlmsg_size(sizeof(struct nlmsgerr)))
				return -EPROTO;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(r);
			return e->error;
		}
	}
}

int rw_nflog_cap_open(struct rw_nflog_cap *c, uint16_t group, struct rw_diag *diag)
{
	rw_nflog_cap_init(c);
	c->group = group;
	c->buf_size = RW_NFLOG_CAP_BUF;
	c->buf = malloc(c->buf_size);
	if (!c->buf)
		return RW_ENOMEM;
	c->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (c->fd < 0) {
		rw_diag_err(diag, NULL, 0, "nflog: socket: %s", strerror(errno));
		rw_nflog_cap_close(c);
		return RW_EIO;
	}
	/* Beyond rmem_max (root may): a burst of drops must fit while the
	 * loop is busy elsewhere. Failing that, the plain option. */
	int rb = (int)RW_NFLOG_CAP_RCVBUF;
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof(rb)))
		(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t sl = sizeof(sa);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(c->fd, (struct sockaddr *)&sa, &sl)) {
		rw_diag_err(diag, NULL, 0, "nflog: bind: %s", strerror(errno));
		rw_nflog_cap_close(c);
		return RW_EIO;
	}
	c->portid = sa.nl_pid;

	char m[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	int err;
	const char *what = "bind";
	uint32_t seq = 1;
	nlh = rw_nflog_cfg_hdr(m, group, AF_UNSPEC, seq++);
	mnl_attr_put_u8(nlh, NFULA_CFG_CMD, NFULNL_CFG_CMD_BIND);
	if ((err = rw_nflog_cfg_talk(c, nlh)))
		goto fail;
	what = "copy mode";
	nlh = rw_nflog_cfg_hdr(m, group, AF_UNSPEC, seq++);
	struct nfulnl_msg_config_mode mode = { .copy_range = htonl(RW_NFLOG_CAP_COPY),
					       .copy_mode = NFULNL_COPY_PACKET };
	mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
	if ((err = rw_nflog_cfg_talk(c, nlh)))
		goto fail;
	/* sequence numbers: a gap is an exact count of what was lost */
	what = "flags";
	nlh = rw_nflog_cfg_hdr(m, group, AF_UNSPEC, seq++);
	mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, htons(NFULNL_CFG_F_SEQ));
	mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(RW_NFLOG_CAP_FLUSH_CS));
	mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(RW_NFLOG_CAP_QTHRESH));
	mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl(RW_NFLOG_CAP_NLBUFSIZ));
	if ((err = rw_nflog_cfg_talk(c, nlh)))
		goto fail;
	int fl = fcntl(c->fd, F_GETFL);
	if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK)) {
		err = -errno;
		what = "non-blocking";
		goto fail;
	}
	return 0;
fail:
	rw_diag_err(diag, NULL, 0, "nflog group %u: %s: %s%s", (unsigned)group, what,
		    strerror(-err),
		    err == -EBUSY || err == -EPERM
			    ? " (another reader owns the group, or no CAP_NET_ADMIN)"
			    : "");
	rw_nflog_cap_close(c);
	return err == -EPERM ? RW_EPERM : RW_EIO;
}

int rw_nflog_cap_read(struct rw_nflog_cap *c, unsigned max_datagrams, rw_nflog_cap_fn *fn,
		      void *ctx)
{
	for (unsigned i = 0; i < max_datagrams; i++) {
		struct iovec iov = { c->buf, c->buf_size };
		struct sockaddr_nl from;
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from),
				     .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* the socket overflowed: the kernel dropped whole
				 * datagrams; the sequence gap says how many records */
				c->enobufs++;
				continue;
			}
			return RW_EIO;
		}
		/* only the kernel may speak on this socket */
		if (mh.msg_namelen != sizeof(from) || from.nl_pid != 0)
			continue;
		if (mh.msg_flags & MSG_TRUNC)
			c->truncated++; /* the records at its end are lost, seq says */
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)c->buf;
		int left = (int)n;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET))
				continue;
			size_t len = nlh->nlmsg_len - MNL_NLMSG_HDRLEN;
			c->records++;
			fn(ctx, (const uint8_t *)mnl_nlmsg_get_payload(nlh), len);
		}
	}
	return 0;
}

void rw_nflog_cap_close(struct rw_nflog_cap *c)
{
	if (c->fd >= 0)
		close(c->fd); /* the kernel drops the instance with its socket */
	free(c->buf);
	c->buf = NULL;
	c->fd = -1;
}
