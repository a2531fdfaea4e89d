/* Cross-checks of transparent listeners (the loader's last passes).
 *
 * A transparent listener gets the connections nftables redirects from
 * registry.upstream (rules/rw_nft_compile.c, chain intercept), so what it
 * needs is a fact about the upstream: an address this host routes to, of
 * a family one of the listener's endpoints has. Only one listener can be
 * the target of that one redirect. docs/design/transparent.md. */
#include "appliance/rw_config_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static bool rw_tp_loopback(const struct rw_endpoint *e)
{
	static const uint8_t lo6[16] = { [15] = 1 };
	return e->family == AF_INET ? e->addr[0] == 127 : memcmp(e->addr, lo6, 16) == 0;
}

static const char *rw_tp_fam(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

void rw_cfg_check_transparent(struct rw_cfg_ctx *ctx)
{
	const struct rw_policy *p = ctx->pol;
	const struct rw_endpoint *up = &p->registry.upstream;
	const struct rw_listener *first = NULL;
	char ua[INET6_ADDRSTRLEN] = "?";
	if (up->family)
		inet_ntop(up->family, up->addr, ua, sizeof(ua));
	for (size_t i = 0; i < p->n_listeners; i++) {
		const struct rw_listener *l = &p->listeners[i];
		/* one check per listener name: its endpoints follow it */
		if (!l->transparent || l->endpoint_index != 0)
			continue;
		if (!up->family) /* a missing or bad upstream is reported already */
			continue;
		if (rw_tp_loopback(up)) {
			rw_cfg_err_line(ctx, l->line,
					"listener '%s': transparent needs a registry this host routes "
					"to, but registry.upstream %s is loopback",
					l->name, ua);
			continue;
		}
		size_t n_ep = l->n_endpoints ? l->n_endpoints : 1;
		bool fam = false, routable = false;
		for (size_t k = 0; k < n_ep && i + k < p->n_listeners; k++) {
			const struct rw_endpoint *e = &p->listeners[i + k].listen;
			fam = fam || e->family == up->family;
			routable = routable || (e->family == up->family && !rw_tp_loopback(e));
		}
		if (fam && !routable) {
			/* the dnat to a loopback address would be dropped by the
			 * kernel as martian: a silent black hole, not a listener */
			rw_cfg_err_line(ctx, l->line,
					"listener '%s': transparent: its %s listen address is loopback, "
					"which cannot receive connections redirected from other "
					"interfaces; listen on a wildcard or an interface address",
					l->name, rw_tp_fam(up->family));
			continue;
		}
		if (!fam) {
			rw_cfg_err_line(ctx, l->line,
					"listener '%s': transparent: registry.upstream %s is %s but "
					"listen has no %s address (the redirect keeps the address "
					"family)",
					l->name, ua, rw_tp_fam(up->family), rw_tp_fam(up->family));
			continue;
		}
		if (first) {
			rw_cfg_err_line(ctx, l->line,
					"listener '%s': transparent: listener '%s' (line %d) already "
					"takes the connections to registry.upstream; one transparent "
					"listener only",
					l->name, first->name, first->line);
			continue;
		}
		first = l;
	}
}
