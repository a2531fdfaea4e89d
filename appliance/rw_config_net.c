/* Section builders: registry, networks, listeners (what the nftables table
 * and the listeners of fwd/ are made from). */
#include "appliance/rw_config_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rules/rw_cidr.h"
#include "rules/rw_cidrset.h"

/* An endpoint setting; reports and returns nonzero when bad. */
/* Would a connection to upstream arrive at this listener? The same
 * address, or a wildcard listener and a loopback upstream, on one port.
 * (An upstream on another local address of a wildcard listener is not
 * caught: the config does not know the host's addresses.) */
static bool rw_cfg_is_self(const struct rw_endpoint *listen, const struct rw_endpoint *up)
{
	static const uint8_t any[16], lo6[16] = { [15] = 1 };
	if (!up->family || listen->family != up->family || listen->port != up->port)
		return false;
	size_t n = up->family == AF_INET ? 4 : 16;
	if (memcmp(listen->addr, up->addr, n) == 0)
		return true;
	bool loop = up->family == AF_INET ? up->addr[0] == 127 : memcmp(up->addr, lo6, 16) == 0;
	return memcmp(listen->addr, any, n) == 0 && loop;
}

static int rw_cfg_endpoint(struct rw_cfg_ctx *ctx, const config_setting_t *s,
			   struct rw_endpoint *out)
{
	const char *v = config_setting_get_string(s);
	char why[192];
	int r = rw_cfg_parse_endpoint(v, out);
	if (r && rw_cidr_mapped_msg(v, why, sizeof(why)))
		rw_cfg_err(ctx, s, "\"%s\": %s", v, why);
	else if (r == RW_ERANGE)
		rw_cfg_err(ctx, s, "\"%s\": port must be 1..65535", v);
	else if (r)
		rw_cfg_err(ctx, s,
			   "\"%s\": expected address:port or [v6-address]:port "
			   "(numeric address, no host names)",
			   v);
	return r;
}

/* server_names = [ ... ] of the registry or a listener. */
static void rw_cfg_server_names(struct rw_cfg_ctx *ctx, const config_setting_t *grp,
				char ***names, size_t *n_names)
{
	const config_setting_t *list;
	int n = rw_cfg_get_strings(grp, "server_names", &list);
	if (n <= 0)
		return;
	*names = rw_cfg_calloc(ctx, (size_t)n, sizeof(char *));
	if (!*names)
		return;
	*n_names = (size_t)n;
	for (int i = 0; i < n; i++) {
		const char *v = rw_cfg_elem_str(list, i);
		char *d = rw_cfg_strdup(ctx, v);
		if (!d)
			return;
		(*names)[i] = d;
		if (rw_cfg_server_name_norm(d))
			rw_cfg_err(ctx, rw_cfg_elem(list, i),
				   "\"%s\": not a valid DNS name (a \"*.\" wildcard is allowed "
				   "only as the first label)",
				   v);
	}
}

/* registry.other_addresses = [ "2001:db8:3::10", ... ]: plain addresses
 * of the registry host (no prefix, no port), each once, none the
 * upstream's own, none unspecified or loopback (neither is forwarded). */
static void rw_cfg_other_addresses(struct rw_cfg_ctx *ctx, const config_setting_t *g,
				   struct rw_registry *r)
{
	const config_setting_t *list;
	int n = rw_cfg_get_strings(g, "other_addresses", &list);
	if (n <= 0)
		return;
	r->other = rw_cfg_calloc(ctx, (size_t)n, sizeof(*r->other));
	if (!r->other)
		return;
	for (int i = 0; i < n; i++) {
		const char *v = rw_cfg_elem_str(list, i);
		const config_setting_t *e = rw_cfg_elem(list, i);
		struct rw_endpoint a = { .port = r->upstream.port };
		if (inet_pton(AF_INET, v, a.addr) == 1)
			a.family = AF_INET;
		else if (inet_pton(AF_INET6, v, a.addr) == 1)
			a.family = AF_INET6;
		else {
			rw_cfg_err(ctx, e, "\"%s\": not an IPv4 or IPv6 address (no prefix, no port)",
				   v);
			continue;
		}
		static const uint8_t any[16];
		static const uint8_t v6lo[16] = { [15] = 1 };
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
		size_t alen = a.family == AF_INET ? 4 : 16;
		if (a.family == AF_INET6 && memcmp(a.addr, mapped, sizeof(mapped)) == 0) {
			/* a forwarded IPv4 packet is never matched as ip6 */
			rw_cfg_err(ctx, e, "\"%s\": an IPv4-mapped address; give the IPv4 address", v);
			continue;
		}
		if (memcmp(a.addr, any, alen) == 0 || (a.family == AF_INET && a.addr[0] == 127) ||
		    (a.family == AF_INET6 && memcmp(a.addr, v6lo, 16) == 0)) {
			rw_cfg_err(ctx, e, "\"%s\": not a registry host's address (unspecified or loopback)",
				   v);
			continue;
		}
		bool dup = r->upstream.family == a.family && memcmp(r->upstream.addr, a.addr, alen) == 0;
		for (size_t k = 0; k < r->n_other && !dup; k++)
			dup = r->other[k].family == a.family && memcmp(r->other[k].addr, a.addr, alen) == 0;
		if (dup) {
			rw_cfg_err(ctx, e, "\"%s\": given twice (or the upstream's own address)", v);
			continue;
		}
		r->other[r->n_other++] = a;
	}
}

void rw_cfg_build_registry(struct rw_cfg_ctx *ctx, const config_setting_t *root)
{
	const config_setting_t *g = rw_cfg_member(root, "registry"), *s;
	struct rw_registry *r = &ctx->pol->registry;
	if (!g || config_setting_type(g) != CONFIG_TYPE_GROUP)
		return;
	if (rw_cfg_get_str(g, "upstream") &&
	    rw_cfg_endpoint(ctx, (s = rw_cfg_member(g, "upstream")), &r->upstream) == 0) {
		static const uint8_t any[16];
		/* connecting to 0.0.0.0 or :: reaches this host, never a registry */
		if (memcmp(r->upstream.addr, any, r->upstream.family == AF_INET ? 4 : 16) == 0)
			rw_cfg_err(ctx, s,
				   "\"%s\": the unspecified address is not a registry; give the "
				   "registry's own address",
				   config_setting_get_string(s));
	}
	rw_cfg_get_bool(g, "upstream_tls", &r->upstream_tls);
	if (rw_cfg_get_str(g, "upstream_ca")) {
		s = rw_cfg_member(g, "upstream_ca");
		if (!r->upstream_tls)
			rw_cfg_err(ctx, s, "only with upstream_tls = true");
		else
			rw_cfg_file(ctx, s, &r->upstream_ca);
	}
	rw_cfg_server_names(ctx, g, &r->server_names, &r->n_server_names);
	rw_cfg_other_addresses(ctx, g, r);
}

/* One CIDR element of a network; 0 and *out filled when good. */
static int rw_cfg_net_cidr(struct rw_cfg_ctx *ctx, const config_setting_t *e,
			   struct rw_cidr *out)
{
	const char *v = config_setting_get_string(e);
	char why[192];
	int r = rw_cidr_parse(v, out, 0);
	if (r == 0)
		return 0;
	if (rw_cidr_mapped_msg(v, why, sizeof(why))) {
		rw_cfg_err(ctx, e, "\"%s\": %s", v, why);
	} else if (rw_cidr_parse(v, out, 1) == 0) {
		/* the interval set would hold the network, not the address the
		 * admin typed: make them say which they mean */
		uint8_t start[16], end[16];
		int ovf;
		char fixed[64];
		rw_cidr_range(out, start, end, &ovf);
		memcpy(out->addr, start, sizeof(out->addr));
		rw_cidr_format(out, fixed, sizeof(fixed));
		rw_cfg_err(ctx, e, "\"%s\": host bits set (did you mean %s?)", v, fixed);
	} else if (r == RW_ERANGE) {
		rw_cfg_err(ctx, e, "\"%s\": prefix length out of range", v);
	} else {
		rw_cfg_err(ctx, e, "\"%s\": not an IPv4 or IPv6 CIDR", v);
	}
	return r;
}

static int rw_cfg_cidr_idx_cmp(const void *x, const void *y, void *arg)
{
	const struct rw_cidr *v = arg;
	uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
	const struct rw_cidr *a = &v[i], *b = &v[j];
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int r = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (r)
		return r;
	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1; /* wider first */
	return i < j ? -1 : (i > j);
}

/* Warn about every prefix that another one in the list already covers,
 * naming both, before the merge hides one of them. Sorted by start address
 * with wider prefixes first, a prefix overlaps an earlier one iff the last
 * uncovered prefix contains its start (prefixes never partly overlap), so
 * this is O(n log n): networks of 100,000 prefixes are ordinary. Sorting 4-
 * byte indices instead of the prefixes keeps the peak memory small. */
static void rw_cfg_net_overlaps(struct rw_cfg_ctx *ctx, const config_setting_t *list,
				const char *name, const struct rw_cidr *v, const int *from,
				size_t k)
{
	if (k < 2 || k > UINT32_MAX)
		return;
	uint32_t *ord = rw_cfg_calloc(ctx, k, sizeof(*ord));
	if (!ord)
		return;
	for (size_t i = 0; i < k; i++)
		ord[i] = (uint32_t)i;
	qsort_r(ord, k, sizeof(*ord), rw_cfg_cidr_idx_cmp, (void *)v);
	uint32_t cover = ord[0];
	for (size_t i = 1; i < k; i++) {
		uint32_t cur = ord[i];
		if (!rw_cidr_contains(&v[cover], v[cur].family, v[cur].addr)) {
			cover = cur;
			continue;
		}
		/* report on the later of the two lines, naming the earlier */
		uint32_t late = from[cur] > from[cover] ? cur : cover;
		uint32_t early = late == cover ? cur : cover;
		char te[64], tl[64];
		rw_cidr_format(&v[early], te, sizeof(te));
		rw_cidr_format(&v[late], tl, sizeof(tl));
		rw_cfg_warn(ctx, rw_cfg_elem(list, from[late]), "\"%s\" overlaps \"%s\" (%s[%d]); merged",
			    tl, te, name, from[early]);
	}
	free(ord);
}

static void rw_cfg_network(struct rw_cfg_ctx *ctx, const config_setting_t *s,
			   struct rw_network *net)
{
	const char *name = config_setting_name(s);
	net->line = rw_cfg_line(s);
	snprintf(net->name, sizeof(net->name), "%s", name);
	if (rw_cfg_check_name(name))
		rw_cfg_err(ctx, s, "invalid network name (expected [a-z][a-z0-9_-], at most %d characters)",
			   RW_NAME_MAX - 1);
	else if (strcmp(name, "vpn") == 0)
		rw_cfg_err(ctx, s, "the name 'vpn' is reserved for VPN peers in allow_from");

	const config_setting_t *list;
	int n = rw_cfg_get_strings(config_setting_parent(s), name, &list);
	if (n < 0)
		return;
	if (n == 0 || config_setting_type(list) == CONFIG_TYPE_STRING) {
		if (n == 0)
			rw_cfg_err(ctx, s, "a network needs at least one CIDR");
		return;
	}
	net->cidrs = rw_cfg_calloc(ctx, (size_t)n, sizeof(*net->cidrs));
	int *from = rw_cfg_calloc(ctx, (size_t)n, sizeof(int));
	if (!net->cidrs || !from) {
		free(from);
		return;
	}
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = rw_cfg_elem(list, i);
		if (rw_cfg_net_cidr(ctx, e, &net->cidrs[k]) == 0)
			from[k++] = i;
	}
	rw_cfg_net_overlaps(ctx, list, name, net->cidrs, from, k);
	free(from);
	rw_cidrset_merge(net->cidrs, &k);
	net->n_cidrs = k;
}

void rw_cfg_build_networks(struct rw_cfg_ctx *ctx, const config_setting_t *root)
{
	const config_setting_t *g = rw_cfg_member(root, "networks");
	struct rw_policy *p = ctx->pol;
	if (!g || config_setting_type(g) != CONFIG_TYPE_GROUP)
		return;
	int n = config_setting_length(g);
	if (n == 0)
		return;
	p->networks = rw_cfg_calloc(ctx, (size_t)n, sizeof(*p->networks));
	if (!p->networks)
		return;
	p->n_networks = (size_t)n;
	/* libconfig itself refuses a name twice in one group */
	for (int i = 0; i < n; i++)
		rw_cfg_network(ctx, config_setting_get_elem(g, (unsigned)i), &p->networks[i]);
}

static void rw_cfg_listener_files(struct rw_cfg_ctx *ctx, const config_setting_t *g,
				  struct rw_listener *l)
{
	static const char *const names[] = { "cert", "key", "client_ca", "crl", "client_cert" };
	char **dst[] = { &l->cert, &l->key, &l->client_ca, &l->crl };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const config_setting_t *s = rw_cfg_member(g, names[i]);
		if (!s || !rw_cfg_get_str(g, names[i]))
			continue;
		if (l->mode == RW_MODE_PASSTHROUGH)
			rw_cfg_err(ctx, s, "only for terminate mode (passthrough never sees "
					   "the TLS keys or client certificates)");
		else if (i < 4)
			rw_cfg_file(ctx, s, dst[i]);
		if (i == 0)
			l->cert_line = rw_cfg_line(s);
		else if (i == 1)
			l->key_line = rw_cfg_line(s);
	}
}

static void rw_cfg_listener_tls(struct rw_cfg_ctx *ctx, const config_setting_t *g,
				struct rw_listener *l)
{
	const char *cc = rw_cfg_get_str(g, "client_cert");
	if (cc && l->mode == RW_MODE_TERMINATE) {
		if (strcmp(cc, "none") == 0)
			l->client_cert = RW_CCERT_NONE;
		else if (strcmp(cc, "optional") == 0)
			l->client_cert = RW_CCERT_OPTIONAL;
		else if (strcmp(cc, "required") == 0)
			l->client_cert = RW_CCERT_REQUIRED;
		else
			rw_cfg_err(ctx, rw_cfg_member(g, "client_cert"),
				   "\"%s\": expected \"none\", \"optional\" or \"required\"", cc);
	}
	if (l->mode != RW_MODE_TERMINATE) {
		if (l->mode == RW_MODE_PASSTHROUGH && rw_cfg_member(g, "tls_tickets"))
			rw_cfg_err(ctx, rw_cfg_member(g, "tls_tickets"),
				   "only for terminate mode (passthrough never sees the TLS session)");
		return;
	}
	if (!rw_cfg_member(g, "cert"))
		rw_cfg_err(ctx, g, "terminate mode requires 'cert'");
	if (!rw_cfg_member(g, "key"))
		rw_cfg_err(ctx, g, "terminate mode requires 'key'");
	bool has_ca = rw_cfg_member(g, "client_ca") != NULL;
	if (l->client_cert != RW_CCERT_NONE && !has_ca)
		rw_cfg_err(ctx, rw_cfg_member(g, "client_cert"), "\"%s\" requires client_ca", cc);
	if (rw_cfg_member(g, "crl") && !has_ca)
		rw_cfg_err(ctx, rw_cfg_member(g, "crl"), "a crl requires client_ca");
	bool tickets = true;
	if (rw_cfg_get_bool(g, "tls_tickets", &tickets))
		l->no_tickets = !tickets;
}

static void rw_cfg_allow_from(struct rw_cfg_ctx *ctx, const config_setting_t *g,
			      struct rw_listener *l)
{
	const struct rw_policy *p = ctx->pol;
	const config_setting_t *list;
	int n = rw_cfg_get_strings(g, "allow_from", &list);
	if (n < 0)
		return;
	if (n == 0) {
		rw_cfg_err(ctx, rw_cfg_member(g, "allow_from"),
			   "empty: the listener would admit nobody; name a network or \"vpn\"");
		return;
	}
	l->allow_nets = rw_cfg_calloc(ctx, (size_t)n, sizeof(size_t));
	if (!l->allow_nets)
		return;
	for (int i = 0; i < n; i++) {
		const char *v = rw_cfg_elem_str(list, i);
		const config_setting_t *e = rw_cfg_elem(list, i);
		bool dup = false;
		for (int j = 0; j < i; j++)
			dup = dup || strcmp(rw_cfg_elem_str(list, j), v) == 0;
		if (dup) {
			rw_cfg_err(ctx, e, "\"%s\" is listed twice", v);
			continue;
		}
		if (strcmp(v, "vpn") == 0) {
			if (!p->vpn.enabled)
				rw_cfg_err(ctx, e, "\"vpn\" needs a vpn section");
			l->allow_vpn = true;
			continue;
		}
		long idx = rw_policy_network_index(p, v);
		if (idx < 0) {
			/* a typo of a defined name: say which one was meant */
			const char *near = NULL;
			unsigned best = 3;
			for (size_t k = 0; k < p->n_networks; k++) {
				unsigned d = rw_cfg_edit_distance(v, p->networks[k].name, best);
				if (d < best) {
					best = d;
					near = p->networks[k].name;
				}
			}
			if (near)
				rw_cfg_err(ctx, e, "\"%s\": no such network; did you mean \"%s\"?", v,
					   near);
			else
				rw_cfg_err(ctx, e, "\"%s\": no such network (define it in networks)", v);
		} else
			l->allow_nets[l->n_allow_nets++] = (size_t)idx;
	}
}

bool rw_cfg_is_any(const struct rw_endpoint *e)
{
	static const uint8_t zero[16];
	return memcmp(e->addr, zero, e->family == AF_INET ? 4 : 16) == 0;
}

bool rw_cfg_endpoints_overlap(const struct rw_endpoint *a, const struct rw_endpoint *b)
{
	return rw_cfg_is_any(a) || rw_cfg_is_any(b) ||
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

/* dst = a copy of src that owns its strings and arrays */
static void rw_cfg_listener_dup(struct rw_cfg_ctx *ctx, struct rw_listener *dst,
				const struct rw_listener *src)
{
	*dst = *src;
	char **const str[4] = { &dst->cert, &dst->key, &dst->client_ca, &dst->crl };
	for (int k = 0; k < 4; k++)
		if (*str[k])
			*str[k] = rw_cfg_strdup(ctx, *str[k]);
	dst->server_names = NULL;
	dst->n_server_names = 0;
	if (src->n_server_names) {
		dst->server_names = rw_cfg_calloc(ctx, src->n_server_names, sizeof(char *));
		for (size_t k = 0; dst->server_names && k < src->n_server_names; k++)
			dst->server_names[dst->n_server_names++] =
				rw_cfg_strdup(ctx, src->server_names[k]);
	}
	dst->allow_nets = NULL;
	dst->n_allow_nets = 0;
	if (src->n_allow_nets) {
		dst->allow_nets = rw_cfg_calloc(ctx, src->n_allow_nets, sizeof(size_t));
		if (dst->allow_nets) {
			memcpy(dst->allow_nets, src->allow_nets, src->n_allow_nets * sizeof(size_t));
			dst->n_allow_nets = src->n_allow_nets;
		}
	}
}

/* listen = "addr:port" or [ "addr:port", ... ]: entries i..i+n_ep-1 get
 * one endpoint each (the settings copied from entry i), each checked
 * against every endpoint before it, this listener's own included. */
static void rw_cfg_listener_endpoints(struct rw_cfg_ctx *ctx, const config_setting_t *g,
				      size_t i, size_t n_ep)
{
	struct rw_policy *p = ctx->pol;
	const config_setting_t *list;
	int n = rw_cfg_get_strings(g, "listen", &list);
	if (n == 0)
		rw_cfg_err(ctx, list, "empty list: give at least one address:port");
	for (size_t e = 0; e < n_ep; e++) {
		struct rw_listener *l = &p->listeners[i + e];
		if (e)
			rw_cfg_listener_dup(ctx, l, &p->listeners[i]);
		l->endpoint_index = (unsigned)e;
		l->n_endpoints = (unsigned)n_ep;
		memset(&l->listen, 0, sizeof(l->listen));
		const config_setting_t *es = n > 0 ? rw_cfg_elem(list, (int)e) : NULL;
		if (!es || rw_cfg_endpoint(ctx, es, &l->listen)) {
			memset(&l->listen, 0, sizeof(l->listen));
			continue;
		}
		for (size_t j = 0; j < i + e; j++) {
			/* Two addresses of this host may share a port (the kernel
			 * rules match the destination address of a listener bound
			 * to one); a wildcard overlaps every address of its family,
			 * so its rules would decide the other listener's traffic. */
			const struct rw_endpoint *o = &p->listeners[j].listen;
			if (o->family != l->listen.family || o->port != l->listen.port ||
			    !rw_cfg_endpoints_overlap(o, &l->listen))
				continue;
			const char *wild = rw_cfg_is_any(o) || rw_cfg_is_any(&l->listen)
						   ? " on every address (a wildcard listener)" : "";
			if (j < i)
				rw_cfg_err(ctx, es, "port %u already used by listener '%s' (line %d)%s",
					   l->listen.port, p->listeners[j].name, p->listeners[j].line,
					   wild);
			else if (memcmp(o, &l->listen, sizeof(*o)) == 0)
				rw_cfg_err(ctx, es, "\"%s\" is listed twice",
					   config_setting_get_string(es));
			else
				rw_cfg_err(ctx, es,
					   "\"%s\" overlaps \"%s\" of this list (a wildcard covers "
					   "every address of its family on its port)",
					   config_setting_get_string(es),
					   rw_cfg_elem_str(list, (int)(j - i)));
		}
		if (rw_cfg_is_self(&l->listen, &p->registry.upstream))
			rw_cfg_err(ctx, es, "the registry upstream is this listener itself: every "
					    "connection would loop through regwall");
	}
}

static void rw_cfg_listener(struct rw_cfg_ctx *ctx, const config_setting_t *g, size_t i,
			    size_t n_ep)
{
	struct rw_policy *p = ctx->pol;
	struct rw_listener *l = &p->listeners[i];
	const char *name = rw_cfg_get_str(g, "name"), *mode;

	l->line = rw_cfg_line(g);
	if (name) {
		snprintf(l->name, sizeof(l->name), "%s", name);
		if (rw_cfg_check_name(name))
			rw_cfg_err(ctx, rw_cfg_member(g, "name"),
				   "\"%s\": invalid name (expected [a-z][a-z0-9_-], at most %d characters)",
				   name, RW_NAME_MAX - 1);
		for (size_t j = 0; j < i; j++) /* each earlier listener once */
			if (p->listeners[j].endpoint_index == 0 &&
			    strcmp(p->listeners[j].name, name) == 0)
				rw_cfg_err(ctx, rw_cfg_member(g, "name"),
					   "\"%s\": duplicate listener name (first on line %d)", name,
					   p->listeners[j].line);
	}
	mode = rw_cfg_get_str(g, "mode");
	if (!mode || strcmp(mode, "terminate") == 0)
		l->mode = RW_MODE_TERMINATE;
	else if (strcmp(mode, "passthrough") == 0)
		l->mode = RW_MODE_PASSTHROUGH;
	else
		rw_cfg_err(ctx, rw_cfg_member(g, "mode"),
			   "\"%s\": expected \"terminate\" or \"passthrough\"", mode);

	/* with an unknown mode, cert/key checks would only add noise */
	if (!mode || strcmp(mode, "terminate") == 0 || strcmp(mode, "passthrough") == 0) {
		rw_cfg_listener_files(ctx, g, l);
		rw_cfg_listener_tls(ctx, g, l);
	}
	rw_cfg_server_names(ctx, g, &l->server_names, &l->n_server_names);
	if (l->n_server_names == 0 && p->registry.n_server_names == 0)
		rw_cfg_err(ctx, g, "no server names: set server_names here or in registry");
	/* Default on: Chromium and Firefox send a (GREASE) ECH extension on
	 * every connection, and a registry without ECH keys handshakes on the
	 * outer hello, whose name regwall checks (docs/design/config.md). */
	l->allow_ech = true;
	rw_cfg_get_bool(g, "allow_ech", &l->allow_ech);
	rw_cfg_get_bool(g, "transparent", &l->transparent); /* checked by rw_cfg_check_transparent */
	rw_cfg_allow_from(ctx, g, l);
	rw_cfg_listener_endpoints(ctx, g, i, n_ep);
}

void rw_cfg_build_listeners(struct rw_cfg_ctx *ctx, const config_setting_t *root)
{
	const config_setting_t *ls = rw_cfg_member(root, "listeners");
	struct rw_policy *p = ctx->pol;
	if (!ls || config_setting_type(ls) != CONFIG_TYPE_LIST)
		return;
	int n = config_setting_length(ls);
	if (n == 0) {
		rw_cfg_err(ctx, ls, "at least one listener is required");
		return;
	}
	/* one entry per endpoint (struct rw_listener) */
	size_t total = 0;
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(ls, (unsigned)i), *list;
		int k = config_setting_type(g) == CONFIG_TYPE_GROUP
				? rw_cfg_get_strings(g, "listen", &list) : 1;
		total += k > 1 ? (size_t)k : 1;
	}
	p->listeners = rw_cfg_calloc(ctx, total, sizeof(*p->listeners));
	if (!p->listeners)
		return;
	p->n_listeners = total;
	size_t at = 0;
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(ls, (unsigned)i), *list;
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			at++;
			continue;
		}
		int k = rw_cfg_get_strings(g, "listen", &list);
		size_t n_ep = k > 1 ? (size_t)k : 1;
		rw_cfg_listener(ctx, g, at, n_ep);
		at += n_ep;
	}
}
