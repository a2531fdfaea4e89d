/* The nftables event monitor: who changed table inet regwall, and how.
 *
 * Event messages (NFNLGRP_NFTABLES), one transaction of one process:
 *
 *   nlmsghdr { len, type = NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_*, flags,
 *              seq, pid = netlink portid of the process that sent it }
 *   nfgenmsg { family (NFPROTO_INET for us), version, res_id }
 *   attributes; the table name is attribute 1 for every object type
 *   (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE,
 *   NFTA_SET_ELEM_LIST_TABLE, NFTA_OBJ_TABLE, NFTA_FLOWTABLE_TABLE); the
 *   object name is NFTA_CHAIN_NAME (3), NFTA_RULE_CHAIN (2),
 *   NFTA_SET_NAME (2), NFTA_SET_ELEM_LIST_SET (2); element changes list
 *   their elements nested in NFTA_SET_ELEM_LIST_ELEMENTS (3).
 *   ... then NFT_MSG_NEWGEN { NFTA_GEN_ID, NFTA_GEN_PROC_PID,
 *   NFTA_GEN_PROC_NAME } closes the transaction.
 *
 * The kernel sends these bytes, but a kernel bug or an unexpected version
 * must not crash the daemon that keeps the firewall up: every length is
 * checked by libmnl's walkers (habit 3: attributes into tb[] first, each
 * validated before it is read), and a malformed message stops the walk. */
#include "rules/rw_nft_monitor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>

#include "rules/rw_nft_int.h"

#define RW_NFT_MON_BUF 65536u      /* a coalesced event datagram fits */
#define RW_NFT_MON_RCVBUF (4u << 20)
#define RW_NFT_MON_READS 256       /* datagrams per call: a flood cannot hold the loop */
#define RW_NFT_MON_ATTRS 16
#define RW_NFT_MON_ITEMS 8

struct rw_nft_mon {
	struct mnl_socket *nl;
	uint32_t own;
	char *buf;
};

/* Aggregated changes of one read, turned into rep->what at the end. */
struct rw_nft_mon_acc {
	struct {
		char text[80];
		unsigned count;
	} item[RW_NFT_MON_ITEMS];
	unsigned n, more;
	unsigned txn_changes; /* changes since the last NEWGEN */
};

int rw_nft_mon_volatile_set(const char *name)
{
	return strcmp(name, "ban_v4") == 0 || strcmp(name, "ban_v6") == 0 ||
	       strcmp(name, "banp_v4") == 0 || strcmp(name, "banp_v6") == 0 ||
	       strncmp(name, "meter_", 6) == 0 || strncmp(name, "banmeter_", 9) == 0;
}

static void rw_nft_mon_note(struct rw_nft_mon_acc *acc, const char *text, unsigned count)
{
	for (unsigned i = 0; i < acc->n; i++)
		if (strcmp(acc->item[i].text, text) == 0) {
			acc->item[i].count += count;
			return;
		}
	if (acc->n == RW_NFT_MON_ITEMS) {
		if (strncmp(text, "table ", 6) != 0) {
			acc->more += count;
			return;
		}
		/* the table's own fate outranks any one rule or set */
		acc->more += acc->item[--acc->n].count;
	}
	snprintf(acc->item[acc->n].text, sizeof(acc->item[acc->n].text), "%s", text);
	acc->item[acc->n++].count = count;
}

static int rw_nft_mon_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t t = mnl_attr_get_type(a);
	if (t < RW_NFT_MON_ATTRS)
		tb[t] = a; /* validated by type where it is read */
	return MNL_CB_OK;
}

static const char *rw_nft_mon_str(const struct nlattr *a)
{
	if (!a || mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
		return NULL;
	return mnl_attr_get_str(a);
}

static unsigned rw_nft_mon_count_nested(const struct nlattr *a)
{
	unsigned n = 0;
	const struct nlattr *e;
	if (!a || mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
		return 0;
	mnl_attr_for_each_nested(e, a)
		n++;
	return n;
}

/* NEWGEN: remember who, if the transaction touched our table. */
static void rw_nft_mon_gen(const struct nlattr **tb, struct rw_nft_mon_acc *acc,
			   struct rw_nft_mon_report *rep)
{
	if (acc->txn_changes == 0)
		return;
	acc->txn_changes = 0;
	const char *name = rw_nft_mon_str(tb[NFTA_GEN_PROC_NAME]);
	const struct nlattr *pid = tb[NFTA_GEN_PROC_PID];
	if (pid && mnl_attr_validate(pid, MNL_TYPE_U32) < 0)
		pid = NULL;
	if (pid)
		snprintf(rep->who, sizeof(rep->who), "%.40s (pid %u)", name ? name : "?",
			 ntohl(mnl_attr_get_u32(pid)));
	else
		snprintf(rep->who, sizeof(rep->who), "%.40s", name ? name : "?");
}

/* One event message. Returns -1 when it is malformed. */
static int rw_nft_mon_one(const struct nlmsghdr *nlh, uint32_t own, struct rw_nft_mon_acc *acc,
			  struct rw_nft_mon_report *rep)
{
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
		return 0; /* NLMSG_NOOP/DONE or another subsystem: not for us */
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg))
		return -1;
	if (own && nlh->nlmsg_pid == own) {
		rep->own++;
		return 0;
	}
	const struct nlattr *tb[RW_NFT_MON_ATTRS] = { 0 };
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), rw_nft_mon_attr_cb, tb) < 0)
		return -1;
	unsigned type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	if (type == NFT_MSG_NEWGEN) {
		rw_nft_mon_gen(tb, acc, rep);
		return 0;
	}
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	const char *table = rw_nft_mon_str(tb[1]);
	if (g->nfgen_family != NFPROTO_INET || !table || strcmp(table, RW_NFT_TABLE) != 0)
		return 0;
	const char *obj = NULL;
	char text[80];
	unsigned count = 1;
	switch (type) {
	case NFT_MSG_NEWTABLE:
		snprintf(text, sizeof(text), "table changed");
		break;
	case NFT_MSG_DELTABLE:
		snprintf(text, sizeof(text), "table deleted");
		break;
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_DELCHAIN:
		obj = rw_nft_mon_str(tb[NFTA_CHAIN_NAME]);
		snprintf(text, sizeof(text), "chain %.32s %s", obj ? obj : "?",
			 type == NFT_MSG_NEWCHAIN ? "added or changed" : "deleted");
		break;
	case NFT_MSG_NEWRULE:
	case NFT_MSG_DELRULE:
		obj = rw_nft_mon_str(tb[NFTA_RULE_CHAIN]);
		snprintf(text, sizeof(text), "rules %s chain %.32s",
			 type == NFT_MSG_NEWRULE ? "added to" : "deleted from", obj ? obj : "?");
		break;
	case NFT_MSG_NEWSET:
	case NFT_MSG_DELSET:
		obj = rw_nft_mon_str(tb[NFTA_SET_NAME]);
		snprintf(text, sizeof(text), "set %.32s %s", obj ? obj : "?",
			 type == NFT_MSG_NEWSET ? "added" : "deleted");
		break;
	case NFT_MSG_NEWSETELEM:
	case NFT_MSG_DELSETELEM:
		obj = rw_nft_mon_str(tb[NFTA_SET_ELEM_LIST_SET]);
		if (obj && rw_nft_mon_volatile_set(obj)) {
			rep->ignored++;
			return 0;
		}
		count = rw_nft_mon_count_nested(tb[NFTA_SET_ELEM_LIST_ELEMENTS]);
		if (count == 0)
			count = 1;
		snprintf(text, sizeof(text), "elements %s set %.32s",
			 type == NFT_MSG_NEWSETELEM ? "added to" : "deleted from", obj ? obj : "?");
		break;
	default:
		/* objects, flowtables, message types newer than this code:
		 * anything in our table that we did not put there */
		snprintf(text, sizeof(text), "nftables message %u", type);
		break;
	}
	rw_nft_mon_note(acc, text, count);
	acc->txn_changes++;
	rep->changes++;
	return 0;
}

/* "table deleted" first: a flush lists every rule and set before it. */
static void rw_nft_mon_format(const struct rw_nft_mon_acc *acc, struct rw_nft_mon_report *rep)
{
	size_t off = strlen(rep->what);
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < acc->n && off < sizeof(rep->what); i++) {
			int is_table = strncmp(acc->item[i].text, "table ", 6) == 0;
			if (is_table != (pass == 0))
				continue;
			int k;
			if (acc->item[i].count > 1)
				k = snprintf(rep->what + off, sizeof(rep->what) - off, "%s%s (%u)",
					     off ? "; " : "", acc->item[i].text, acc->item[i].count);
			else
				k = snprintf(rep->what + off, sizeof(rep->what) - off, "%s%s",
					     off ? "; " : "", acc->item[i].text);
			if (k < 0)
				break;
			off += (size_t)k;
		}
	if (acc->more && off < sizeof(rep->what))
		snprintf(rep->what + off, sizeof(rep->what) - off, "; %u more", acc->more);
}

/* Not mnl_nlmsg_ok/next: libmnl 1.0.4 compares (int)nlmsg_len, so a
 * length of 0xfffffff0 passes as negative and the walk jumps out of the
 * buffer (found by fuzz_nft_monitor). Lengths are compared unsigned here. */
static void rw_nft_mon_walk(const void *buf, size_t len, uint32_t own, struct rw_nft_mon_acc *acc,
			    struct rw_nft_mon_report *rep)
{
	const char *p = buf;
	size_t rest = len;
	while (rest >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)p;
		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > rest ||
		    rw_nft_mon_one(nlh, own, acc, rep) < 0) {
			rep->bad++;
			return;
		}
		size_t step = NLMSG_ALIGN((size_t)nlh->nlmsg_len);
		if (step >= rest)
			return;
		p += step;
		rest -= step;
	}
	if (rest > 0)
		rep->bad++; /* trailing bytes that are no whole message */
}

void rw_nft_mon_parse(const void *buf, size_t len, uint32_t own_portid,
		      struct rw_nft_mon_report *rep)
{
	struct rw_nft_mon_acc acc = { 0 };
	rw_nft_mon_walk(buf, len, own_portid, &acc, rep);
	rw_nft_mon_format(&acc, rep);
}

/* Drop, in the kernel, every datagram whose first message came from our
 * own socket: one datagram carries the events of one transaction, and all
 * of them bear its sender's portid (nlmsg_pid). A classic BPF load reads
 * the field big-endian, hence htonl. */
static int rw_nft_mon_filter(int fd, uint32_t own)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct nlmsghdr, nlmsg_pid)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(own), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

int rw_nft_mon_open(struct rw_nft_mon **out, uint32_t own_portid, struct rw_diag *diag)
{
	*out = NULL;
	struct rw_nft_mon *m = calloc(1, sizeof(*m));
	if (!m || !(m->buf = malloc(RW_NFT_MON_BUF))) {
		free(m);
		return RW_ENOMEM;
	}
	m->own = own_portid;
	m->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int group = NFNLGRP_NFTABLES;
	const char *step = "socket";
	int ok = m->nl != NULL;
	if (ok) {
		step = "bind";
		ok = mnl_socket_bind(m->nl, 0, MNL_SOCKET_AUTOPID) == 0;
	}
	if (ok) {
		step = "join NFNLGRP_NFTABLES";
		ok = mnl_socket_setsockopt(m->nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) == 0;
	}
	if (ok && own_portid) {
		step = "attach the own-events filter";
		ok = rw_nft_mon_filter(mnl_socket_get_fd(m->nl), own_portid) == 0;
	}
	if (!ok) {
		rw_diag_err(diag, NULL, 0, "nftables monitor: %s: %s", step, strerror(errno));
		rw_nft_mon_close(m);
		return errno == EPERM ? RW_EPERM : RW_ENETLINK;
	}
	/* A foreign ruleset load (thousands of elements) should not
	 * overflow us; when it does, ENOBUFS says so and the guard
	 * re-checks the table instead. */
	int sz = (int)RW_NFT_MON_RCVBUF;
	int fd = mnl_socket_get_fd(m->nl);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	*out = m;
	return 0;
}

void rw_nft_mon_close(struct rw_nft_mon *m)
{
	if (!m)
		return;
	if (m->nl)
		mnl_socket_close(m->nl);
	free(m->buf);
	free(m);
}

int rw_nft_mon_fd(const struct rw_nft_mon *m)
{
	return m ? mnl_socket_get_fd(m->nl) : -1;
}

int rw_nft_mon_read(struct rw_nft_mon *m, struct rw_nft_mon_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	struct rw_nft_mon_acc acc = { 0 };
	int fd = mnl_socket_get_fd(m->nl), rc = 0;
	for (int i = 0; i < RW_NFT_MON_READS; i++) {
		ssize_t r = recv(fd, m->buf, RW_NFT_MON_BUF, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				rep->lost++;
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				rc = RW_ENETLINK;
			break;
		}
		if (r == 0)
			break;
		rw_nft_mon_walk(m->buf, (size_t)r, m->own, &acc, rep);
	}
	rw_nft_mon_format(&acc, rep);
	return rc;
}

uint32_t rw_nft_portid(const struct rw_nft *n)
{
	return n->portid;
}
