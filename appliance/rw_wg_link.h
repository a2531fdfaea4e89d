/* The WireGuard interface's own address and state over rtnetlink (both
 * backends: wireguard-go makes a TUN device, the kernel a wireguard link;
 * either way regwalld gives it vpn.address and brings it up, as wg-quick
 * does with `ip`). The prefix route comes with the address. */
#ifndef RW_WG_LINK_H
#define RW_WG_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "rules/rw_policy.h"

/* RTM_NEWADDR (CREATE|REPLACE) for addr (host bits = the interface's own
 * address, prefix = the tunnel network) on ifindex, into buf (>= 128). */
size_t rw_wg_link_build_addr(void *buf, size_t buf_len, unsigned ifindex, const struct rw_cidr *addr,
			     uint32_t seq);
/* RTM_NEWLINK setting IFF_UP on ifindex, into buf (>= 64). */
size_t rw_wg_link_build_up(void *buf, size_t buf_len, unsigned ifindex, uint32_t seq);

/* Address and up; RW_ENOENT when ifname does not exist. */
int rw_wg_link_setup(const char *ifname, const struct rw_cidr *addr, char *why, size_t why_len);
/* Delete the link (kernel backend at stop); missing is fine. */
int rw_wg_link_delete(const char *ifname);

#endif
