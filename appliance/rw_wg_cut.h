/* Cutting a removed VPN peer's connections at once. Removing its key
 * from WireGuard stops new packets, but the workers would still hold its
 * proxied connections (and a push in flight would wait, not fail). The
 * parent destroys every TCP socket in its network namespace whose remote
 * address is inside the peer's tunnel addresses, with the sock_diag
 * SOCK_DESTROY request (`ss -K` does the same): the worker's next read
 * or write fails with ECONNABORTED and it closes the flow, upstream side
 * included. Needs CAP_NET_ADMIN and CONFIG_INET_DIAG_DESTROY. */
#ifndef RW_WG_CUT_H
#define RW_WG_CUT_H

#include <stddef.h>

#include "rules/rw_policy.h"

/* *cut: sockets destroyed. RW_EPERM / RW_ENETLINK when the kernel will
 * not (no INET_DIAG_DESTROY). */
int rw_wg_cut_from(const struct rw_cidr *addrs, size_t n, unsigned *cut);

#endif
