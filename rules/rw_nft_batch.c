/* Netlink I/O: the socket, batches of NEW/DEL messages sent in one
 * sendmsg, and the reading of every acknowledgement.
 *
 * Every message carries NLM_F_ACK, so each one is answered by an
 * NLMSG_ERROR with its seq and an error (0 = processed). A 0 does not mean
 * committed: the kernel keeps processing after a failure and then aborts
 * the whole batch. So: any error -> the batch failed and the old state
 * stays; all acks 0 -> committed. Kernels >= 6.10 also answer BATCH_END
 * (only after a successful commit); older ones say nothing for it.
 *
 *   NLMSG_ERROR payload:  struct nlmsgerr { int error; struct nlmsghdr msg; }
 *                         then (NLM_F_ACK_TLVS) attributes:
 *                         NLMSGERR_ATTR_MSG  "text\0"   NLMSGERR_ATTR_OFFS u32
 * With NETLINK_CAP_ACK the echoed message is only its header, which keeps
 * the error replies of a 5 MB batch small enough for the receive buffer. */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>

#include "rules/rw_nft_int.h"

#define RW_NFT_PAGE (2u << 20)
#define RW_NFT_MSG_MAX (UINT16_MAX + 4096u) /* one message, as nft sizes it */
#define RW_NFT_RCVBUF_PER_MSG 1024u
#define RW_NFT_RECV_TIMEOUT_S 5

struct rw_nft_msgdesc {
	char desc[RW_NFT_DESC_LEN];
};

struct rw_nft_batch {
	struct rw_nft *n;
	struct nftnl_batch *nb;
	uint32_t seq_begin;   /* BATCH_BEGIN */
	uint32_t seq_next;    /* next message */
	struct rw_nft_msgdesc *d; /* d[k] describes seq_begin + 1 + k */
	size_t n_d, cap_d;
};

int rw_nft_open(struct rw_nft **out, struct rw_diag *diag)
{
	*out = NULL;
	struct rw_nft *n = calloc(1, sizeof(*n));
	if (!n)
		return RW_ENOMEM;
	n->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!n->nl) {
		rw_diag_err(diag, NULL, 0, "netlink socket: %s", strerror(errno));
		free(n);
		return RW_ENETLINK;
	}
	if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rw_diag_err(diag, NULL, 0, "netlink bind: %s", strerror(errno));
		rw_nft_close(n);
		return RW_ENETLINK;
	}
	int one = 1;
	/* both are best effort: without them errors still arrive, only with
	 * less text and bigger echoes */
	mnl_socket_setsockopt(n->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(n->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	struct timeval tv = { .tv_sec = RW_NFT_RECV_TIMEOUT_S };
	setsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n->portid = mnl_socket_get_portid(n->nl);
	n->seq = (uint32_t)time(NULL);
	*out = n;
	return 0;
}

void rw_nft_close(struct rw_nft *n)
{
	if (!n)
		return;
	if (n->nl)
		mnl_socket_close(n->nl);
	free(n);
}

/* Leftovers of an earlier exchange (acks after ENOBUFS) would otherwise be
 * taken for answers to the next request. */
static void rw_nft_drain(struct rw_nft *n)
{
	char buf[8192];
	while (recv(mnl_socket_get_fd(n->nl), buf, sizeof(buf), MSG_DONTWAIT) > 0 ||
	       errno == ENOBUFS)
		;
}

struct rw_nft_batch *rw_nft_batch_new(struct rw_nft *n)
{
	struct rw_nft_batch *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->n = n;
	b->nb = nftnl_batch_alloc(RW_NFT_PAGE, RW_NFT_MSG_MAX);
	if (!b->nb) {
		free(b);
		return NULL;
	}
	b->seq_begin = n->seq++;
	b->seq_next = n->seq;
	struct nlmsghdr *h = nftnl_batch_begin(nftnl_batch_buffer(b->nb), b->seq_begin);
	h->nlmsg_flags |= NLM_F_ACK;
	if (nftnl_batch_update(b->nb) < 0) {
		rw_nft_batch_free(b);
		return NULL;
	}
	return b;
}

void rw_nft_batch_free(struct rw_nft_batch *b)
{
	if (!b)
		return;
	nftnl_batch_free(b->nb);
	free(b->d);
	free(b);
}

struct nlmsghdr *rw_nft_batch_msg(struct rw_nft_batch *b, uint16_t type, uint16_t flags,
				  const char *desc)
{
	if (b->n_d == b->cap_d) {
		size_t cap = b->cap_d ? b->cap_d * 2 : 64;
		struct rw_nft_msgdesc *v = realloc(b->d, cap * sizeof(*v));
		if (!v)
			return NULL;
		b->d = v;
		b->cap_d = cap;
	}
	snprintf(b->d[b->n_d++].desc, RW_NFT_DESC_LEN, "%s", desc);
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(b->nb), type, NFPROTO_INET,
				     flags | NLM_F_ACK, b->seq_next++);
}

int rw_nft_batch_msg_done(struct rw_nft_batch *b)
{
	return nftnl_batch_update(b->nb) < 0 ? RW_ENOMEM : 0;
}

int rw_nft_batch_elems(struct rw_nft_batch *b, uint16_t type, const char *set, uint32_t set_id,
		       const struct rw_cidr *v, size_t n, int with_marker)
{
	for (size_t off = 0; off < n; off += RW_NFT_CHUNK) {
		size_t k = n - off < RW_NFT_CHUNK ? n - off : RW_NFT_CHUNK;
		struct nftnl_set *s = nftnl_set_alloc();
		if (!s)
			return RW_ENOMEM;
		nftnl_set_set_str(s, NFTNL_SET_TABLE, RW_NFT_TABLE);
		nftnl_set_set_str(s, NFTNL_SET_NAME, set);
		if (set_id)
			nftnl_set_set_u32(s, NFTNL_SET_ID, set_id);
		char desc[RW_NFT_DESC_LEN];
		snprintf(desc, sizeof(desc), "set %s %s %zu-%zu", set,
			 type == NFT_MSG_DELSETELEM ? "delete prefixes" : "prefixes", off + 1,
			 off + k);
		int rc = 0;
		if (rw_nft_elems_interval(s, v + off, k, with_marker && off == 0) < 0)
			rc = RW_ENOMEM;
		struct nlmsghdr *h = rc ? NULL : rw_nft_batch_msg(b, type, NLM_F_CREATE, desc);
		if (h) {
			nftnl_set_elems_nlmsg_build_payload(h, s);
			rc = rw_nft_batch_msg_done(b);
		} else
			rc = RW_ENOMEM;
		nftnl_set_free(s);
		if (rc)
			return rc;
	}
	return 0;
}

struct rw_nft_acks {
	struct rw_nft_batch *b;
	struct rw_diag *diag;
	size_t n_ok, n_err;
	int end_acked;
	int first_errno;
};

static int rw_nft_extack_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);
	if (type == NLMSGERR_ATTR_MSG) {
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_OK; /* skip a malformed text, keep the rest */
		tb[type] = a;
	}
	return MNL_CB_OK;
}

static const char *rw_nft_seq_desc(const struct rw_nft_batch *b, uint32_t seq)
{
	if (seq == b->seq_begin)
		return "batch commit";
	if (seq == b->seq_next)
		return "batch end";
	uint32_t k = seq - b->seq_begin - 1;
	if (seq - b->seq_begin >= 1 && k < b->n_d)
		return b->d[k].desc;
	return "unknown message";
}

static int rw_nft_ack_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rw_nft_acks *a = data;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nlmsgerr)) {
		a->n_err++;
		if (!a->first_errno)
			a->first_errno = EPROTO;
		rw_diag_err(a->diag, NULL, 0, "netlink: truncated acknowledgement");
		return MNL_CB_OK;
	}
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	if (e->error == 0) {
		if (nlh->nlmsg_seq == a->b->seq_next)
			a->end_acked = 1;
		else if (nlh->nlmsg_seq != a->b->seq_begin)
			a->n_ok++;
		return MNL_CB_OK;
	}
	a->n_err++;
	int err = -e->error;
	if (!a->first_errno)
		a->first_errno = err;
	const char *ext = "";
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		size_t off = sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
		const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { 0 };
		if (off <= mnl_nlmsg_get_payload_len(nlh) &&
		    mnl_attr_parse(nlh, (unsigned)off, rw_nft_extack_attr, tb) >= 0 &&
		    tb[NLMSGERR_ATTR_MSG])
			ext = mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]);
	}
	rw_diag_err(a->diag, NULL, 0, "nftables: %s: %s%s%s", rw_nft_seq_desc(a->b, nlh->nlmsg_seq),
		    strerror(err), *ext ? ": " : "", ext);
	return MNL_CB_OK;
}

static size_t rw_nft_iov_total(const struct iovec *iov, int n)
{
	size_t t = 0;
	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* The buffers only ever grow; FORCE needs CAP_NET_ADMIN, which we have
 * if we can touch nftables at all, and falls back to the capped call. */
static void rw_nft_grow_buf(int fd, int opt_force, int opt, size_t want)
{
	int cur = 0;
	socklen_t l = sizeof(cur);
	if (want > INT32_MAX / 2)
		want = INT32_MAX / 2;
	if (getsockopt(fd, SOL_SOCKET, opt, &cur, &l) == 0 && (size_t)cur >= want)
		return;
	int v = (int)want;
	if (setsockopt(fd, SOL_SOCKET, opt_force, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
}

int rw_nft_batch_send(struct rw_nft_batch *b, struct rw_diag *diag, int *first_errno)
{
	struct rw_nft *n = b->n;
	int fd = mnl_socket_get_fd(n->nl);
	*first_errno = 0;
	struct nlmsghdr *h = nftnl_batch_end(nftnl_batch_buffer(b->nb), b->seq_next);
	h->nlmsg_flags |= NLM_F_ACK;
	if (nftnl_batch_update(b->nb) < 0)
		return RW_ENOMEM;
	n->seq = b->seq_next + 1;

	int niov = nftnl_batch_iovec_len(b->nb);
	struct iovec *iov = calloc((size_t)niov, sizeof(*iov));
	if (!iov)
		return RW_ENOMEM;
	nftnl_batch_iovec(b->nb, iov, (uint32_t)niov);
	size_t total = rw_nft_iov_total(iov, niov);
	rw_nft_grow_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, total + 65536);
	rw_nft_grow_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF,
			(b->n_d + 2) * RW_NFT_RCVBUF_PER_MSG + 65536);
	rw_nft_drain(n);

	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct msghdr msg = { .msg_name = &snl, .msg_namelen = sizeof(snl), .msg_iov = iov,
			      .msg_iovlen = (size_t)niov };
	ssize_t sent = sendmsg(fd, &msg, 0);
	free(iov);
	if (sent < 0 || (size_t)sent != total) {
		rw_diag_err(diag, NULL, 0, "nftables: sending batch of %zu bytes: %s", total,
			    sent < 0 ? strerror(errno) : "short write");
		return errno == EPERM ? RW_EPERM : RW_ENETLINK;
	}

	/* The kernel handled the whole batch inside sendmsg(): every reply is
	 * queued already, so read until the queue is empty. */
	struct rw_nft_acks a = { .b = b, .diag = diag };
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = rw_nft_ack_cb };
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	if (!buf)
		return RW_ENOMEM;
	int lost = 0;
	for (;;) {
		ssize_t r = recv(fd, buf, MNL_SOCKET_BUFFER_SIZE, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				lost = 1;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			rw_diag_err(diag, NULL, 0, "nftables: reading acks: %s", strerror(errno));
			free(buf);
			return RW_ENETLINK;
		}
		/* a reply we could not parse: outcome not known */
		if (mnl_cb_run2(buf, (size_t)r, 0, n->portid, NULL, &a, ctl, NLMSG_MIN_TYPE) < 0)
			lost = 1;
	}
	free(buf);
	*first_errno = a.first_errno;
	if (a.n_err)
		return RW_EKERNEL;
	if (lost || (a.n_ok < b->n_d && !a.end_acked)) {
		rw_diag_err(diag, NULL, 0,
			    "nftables: %zu of %zu acknowledgements lost; state unknown, re-read it",
			    b->n_d - a.n_ok, b->n_d);
		return RW_EUNKNOWN;
	}
	return 0;
}

int rw_nft_request(struct rw_nft *n, struct nlmsghdr *req,
		   int (*cb)(const struct nlmsghdr *nlh, void *arg), void *arg, int *nl_errno)
{
	*nl_errno = 0;
	rw_nft_drain(n);
	req->nlmsg_seq = n->seq++;
	if (mnl_socket_sendto(n->nl, req, req->nlmsg_len) < 0) {
		*nl_errno = errno;
		return errno == EPERM ? RW_EPERM : RW_ENETLINK;
	}
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	if (!buf)
		return RW_ENOMEM;
	int ret;
	do {
		ssize_t r = mnl_socket_recvfrom(n->nl, buf, MNL_SOCKET_BUFFER_SIZE);
		if (r < 0) {
			if (errno == EINTR) {
				ret = 1;
				continue;
			}
			*nl_errno = errno;
			ret = RW_ENETLINK;
			break;
		}
		errno = 0;
		ret = mnl_cb_run(buf, (size_t)r, req->nlmsg_seq, n->portid, cb, arg);
		if (ret < 0) {
			/* an NLMSG_ERROR from the kernel, or a callback that
			 * refused a malformed reply (errno EPROTO) */
			*nl_errno = errno ? errno : EPROTO;
			ret = *nl_errno == EPERM ? RW_EPERM : RW_EKERNEL;
		}
	} while (ret > 0);
	free(buf);
	return ret;
}
