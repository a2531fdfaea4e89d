/* Transparent listeners: where the client meant to go.
 *
 * nftables redirects connections for registry.upstream to a transparent
 * listener (rules/rw_nft_compile.c, chain intercept); the kernel's
 * connection tracking keeps the destination the client dialled, which
 * SO_ORIGINAL_DST (IPv4) / IP6T_SO_ORIGINAL_DST (IPv6) read back from the
 * accepted socket. A worker serves only connections that were meant for
 * the configured upstream: never "wherever the client asked" (that would
 * make regwall an open proxy to any address the redirect could be bent
 * to), and not a direct connection to the listener's own address, which
 * is not the transparent path (docs/design/transparent.md). */
#ifndef RW_ORIG_DST_H
#define RW_ORIG_DST_H

#include "rules/rw_policy.h"

/* The original destination of accepted TCP socket fd (family AF_INET or
 * AF_INET6, the socket's own). 0; RW_EIO (errno: ENOENT when conntrack
 * knows no such connection). */
int rw_orig_dst(int fd, int family, struct rw_endpoint *out);

/* NULL when fd's original destination is upstream; else the refusal
 * reason: "not_redirected" (conntrack knows no original destination, or
 * it is the socket's own local address: the client connected to the
 * listener directly), "not_upstream" (redirected from another
 * destination), "orig_dst_unknown" (it could not be read at all, e.g.
 * conntrack not loaded). */
const char *rw_orig_dst_check(int fd, int family, const struct rw_endpoint *upstream);

#endif
