/* The WireGuard interface's address and up state (see rw_wg_link.h). */
#include "appliance/rw_wg_link.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include "appliance/rw_wg_nl.h"
#include "base/rw_err.h"

size_t rw_wg_link_build_addr(void *buf, size_t buf_len, unsigned ifindex, const struct rw_cidr *addr,
			     uint32_t seq)
{
	if (buf_len < 128)
		return 0;
	memset(buf, 0, 128);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	/* REPLACE: a restart finds the address it set before, not an error */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	nlh->nlmsg_seq = seq;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = addr->family;
	ifa->ifa_prefixlen = addr->prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	size_t alen = addr->family == AF_INET ? 4 : 16;
	mnl_attr_put(nlh, IFA_LOCAL, alen, addr->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, addr->addr);
	return nlh->nlmsg_len;
}

size_t rw_wg_link_build_up(void *buf, size_t buf_len, unsigned ifindex, uint32_t seq)
{
	if (buf_len < 64)
		return 0;
	memset(buf, 0, 64);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)ifindex;
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	return nlh->nlmsg_len;
}

int rw_wg_link_setup(const char *ifname, const struct rw_cidr *addr, char *why, size_t why_len)
{
	uint8_t buf[128];
	int kerr = 0;
	unsigned idx = if_nametoindex(ifname);
	if (!idx) {
		snprintf(why, why_len, "interface %s: %s", ifname, strerror(errno));
		return RW_ENOENT;
	}
	uint32_t seq = (uint32_t)time(NULL);
	size_t l = rw_wg_link_build_addr(buf, sizeof(buf), idx, addr, seq);
	int rc = rw_wg_nl_talk_ack(NETLINK_ROUTE, buf, l, &kerr);
	if (rc) {
		snprintf(why, why_len, "address on %s: %s", ifname, kerr ? strerror(kerr) : rw_strerror(rc));
		return rc;
	}
	l = rw_wg_link_build_up(buf, sizeof(buf), idx, seq + 1);
	rc = rw_wg_nl_talk_ack(NETLINK_ROUTE, buf, l, &kerr);
	if (rc)
		snprintf(why, why_len, "bring %s up: %s", ifname, kerr ? strerror(kerr) : rw_strerror(rc));
	return rc;
}

int rw_wg_link_delete(const char *ifname)
{
	uint8_t buf[64] = { 0 };
	int kerr = 0;
	unsigned idx = if_nametoindex(ifname);
	if (!idx)
		return 0;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_DELLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_index = (int)idx;
	int rc = rw_wg_nl_talk_ack(NETLINK_ROUTE, buf, nlh->nlmsg_len, &kerr);
	return rc == RW_EKERNEL && kerr == ENODEV ? 0 : rc;
}
