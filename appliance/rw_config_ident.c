/* Section builders: who may do what. Identities (client certificates),
 * the WireGuard endpoint and its peers, and the roles both carry. */
#include "appliance/rw_config_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>
#include <sys/socket.h>

#include "inspect/rw_cert.h"
#include "inspect/rw_cert_dn.h"
#include "appliance/rw_units.h"
#include "rules/rw_cidr.h"

#define RW_CFG_NAME_HINT "expected [a-z][a-z0-9_-], at most 31 characters"

void rw_cfg_build_roles(struct rw_cfg_ctx *ctx, const config_setting_t *grp,
			struct rw_role **roles, size_t *n_roles)
{
	const config_setting_t *list;
	int n = rw_cfg_get_strings(grp, "roles", &list);
	if (n <= 0)
		return;
	*roles = rw_cfg_calloc(ctx, (size_t)n, sizeof(**roles));
	if (!*roles)
		return;
	*n_roles = (size_t)n;
	for (int i = 0; i < n; i++) {
		const char *v = rw_cfg_elem_str(list, i), *glob;
		enum rw_op_class op;
		if (rw_cfg_parse_role(v, &op, &glob)) {
			rw_cfg_err(ctx, rw_cfg_elem(list, i),
				   "\"%s\": expected pull:, push: or delete: and a repository "
				   "glob of [a-z0-9._/*-]",
				   v);
			continue;
		}
		(*roles)[i].op = op;
		(*roles)[i].glob = rw_cfg_strdup(ctx, glob);
	}
}

static void rw_cfg_identity(struct rw_cfg_ctx *ctx, const config_setting_t *g, size_t i)
{
	struct rw_policy *p = ctx->pol;
	struct rw_identity *id = &p->identities[i];
	const char *name = rw_cfg_get_str(g, "name"), *v;

	id->line = rw_cfg_line(g);
	if (name) {
		snprintf(id->name, sizeof(id->name), "%s", name);
		if (rw_cfg_check_name(name))
			rw_cfg_err(ctx, rw_cfg_member(g, "name"), "\"%s\": invalid name (%s)", name,
				   RW_CFG_NAME_HINT);
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->identities[j].name, name) == 0)
				rw_cfg_err(ctx, rw_cfg_member(g, "name"),
					   "\"%s\": duplicate identity name (first on line %d)", name,
					   p->identities[j].line);
	}
	/* a bare name ("ci-bot") is compared as a whole DN and never matches */
	if ((v = rw_cfg_get_str(g, "cert_subject")) && (v[0] == '=' || !strchr(v, '='))) {
		rw_cfg_err(ctx, rw_cfg_member(g, "cert_subject"),
			   "\"%s\": not a distinguished name; write RFC 2253 text such as "
			   "\"CN=%s\"",
			   v, v[0] == '=' ? "ci-bot" : v);
	} else if (v) {
		/* OpenSSL's default print ("C = DE, O = X, CN = y") and the
		 * slash form become the RFC 2253 text the certificate shows;
		 * what can never match is refused (rw_cert_dn.h) */
		char dn[RW_CERT_DN_MAX], why[400];
		int r = rw_cert_dn_normalize(v, dn, sizeof(dn), why, sizeof(why));
		if (r == RW_ETOOBIG)
			rw_cfg_err(ctx, rw_cfg_member(g, "cert_subject"),
				   "longer than %d bytes as RFC 2253 text", RW_CERT_DN_MAX - 1);
		else if (r)
			rw_cfg_err(ctx, rw_cfg_member(g, "cert_subject"), "\"%s\": %s", v, why);
		else
			id->cert_subject = rw_cfg_strdup(ctx, dn);
	}
	if ((v = rw_cfg_get_str(g, "cert_san"))) {
		static const char *const kinds[] = { "DNS:", "URI:", "email:", "IP:" };
		bool ok = false;
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			ok = ok || (strncmp(v, kinds[k], strlen(kinds[k])) == 0 &&
				    v[strlen(kinds[k])] != '\0');
		unsigned char ip[16];
		if (!ok)
			rw_cfg_err(ctx, rw_cfg_member(g, "cert_san"),
				   "\"%s\": expected DNS:, URI:, email: or IP: and a value", v);
		else if (strncmp(v, "IP:", 3) == 0 && inet_pton(AF_INET, v + 3, ip) != 1 &&
			 inet_pton(AF_INET6, v + 3, ip) != 1)
			/* such an identity would silently never match */
			rw_cfg_err(ctx, rw_cfg_member(g, "cert_san"),
				   "\"%s\": not an IPv4 or IPv6 address", v);
		id->cert_san = rw_cfg_strdup(ctx, v);
	}
	if ((v = rw_cfg_get_str(g, "cert_sha256"))) {
		if (rw_cfg_parse_sha256(v, id->cert_sha256))
			rw_cfg_err(ctx, rw_cfg_member(g, "cert_sha256"),
				   "expected 64 hex digits, optionally as colon-separated pairs");
		else
			id->has_sha256 = true;
	}
	if (!rw_cfg_member(g, "cert_subject") && !rw_cfg_member(g, "cert_san") &&
	    !rw_cfg_member(g, "cert_sha256"))
		rw_cfg_err(ctx, g, "an identity needs cert_subject, cert_san or cert_sha256");
	const config_setting_t *list;
	if (rw_cfg_get_strings(g, "roles", &list) == 0)
		rw_cfg_err(ctx, list, "no roles: the identity could do nothing");
	rw_cfg_build_roles(ctx, g, &id->roles, &id->n_roles);
}

/* Same SAN selector, compared as fwd/ matches them: URIs by their bytes,
 * DNS names, e-mail addresses and the kind prefix without case. */
static bool rw_cfg_san_same(const char *a, const char *b)
{
	if (strncasecmp(a, "URI:", 4) == 0)
		return strncasecmp(b, "URI:", 4) == 0 && strcmp(a + 4, b + 4) == 0;
	return strcasecmp(a, b) == 0;
}

/* Would every certificate that b's selectors accept also match a's? True
 * when each selector a has, b has with the same value. */
static bool rw_cfg_ident_covers(const struct rw_identity *a, const struct rw_identity *b)
{
	if (!a->cert_subject && !a->cert_san && !a->has_sha256)
		return false; /* reported already */
	if (a->cert_subject &&
	    (!b->cert_subject || !rw_cert_dn_equal(a->cert_subject, b->cert_subject)))
		return false;
	if (a->cert_san && (!b->cert_san || !rw_cfg_san_same(a->cert_san, b->cert_san)))
		return false;
	if (a->has_sha256 && (!b->has_sha256 || memcmp(a->cert_sha256, b->cert_sha256,
						       sizeof(a->cert_sha256)) != 0))
		return false;
	return true;
}

/* The first identity that matches a certificate wins (fwd/), so a later
 * one whose selectors an earlier one's already match is never used. */
static void rw_cfg_ident_shadowed(struct rw_cfg_ctx *ctx, const config_setting_t *ls)
{
	const struct rw_policy *p = ctx->pol;
	for (size_t j = 1; j < p->n_identities; j++) {
		for (size_t i = 0; i < j; i++) {
			if (!rw_cfg_ident_covers(&p->identities[i], &p->identities[j]))
				continue;
			rw_cfg_err(ctx, config_setting_get_elem(ls, (unsigned)j),
				   "identity '%s' (line %d) is never used: identity '%s' (line %d) "
				   "matches every certificate it would and comes first (the first "
				   "match wins); put it before '%s' or merge their roles",
				   p->identities[j].name, p->identities[j].line,
				   p->identities[i].name, p->identities[i].line,
				   p->identities[i].name);
			break;
		}
	}
}

void rw_cfg_build_identities(struct rw_cfg_ctx *ctx, const config_setting_t *root)
{
	const config_setting_t *ls = rw_cfg_member(root, "identities");
	struct rw_policy *p = ctx->pol;
	if (!ls || config_setting_type(ls) != CONFIG_TYPE_LIST)
		return;
	int n = config_setting_length(ls);
	if (n == 0)
		return;
	p->identities = rw_cfg_calloc(ctx, (size_t)n, sizeof(*p->identities));
	if (!p->identities)
		return;
	p->n_identities = (size_t)n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(ls, (unsigned)i);
		if (config_setting_type(g) == CONFIG_TYPE_GROUP)
			rw_cfg_identity(ctx, g, (size_t)i);
	}
	rw_cfg_ident_shadowed(ctx, ls);
}

/* Does the tunnel address a (of peer pi) collide with any address already
 * accepted (peers 0..pi, that peer's first ai addresses)? */
static void rw_cfg_peer_overlap(struct rw_cfg_ctx *ctx, const config_setting_t *e, size_t pi,
				size_t ai)
{
	const struct rw_vpn *vpn = &ctx->pol->vpn;
	const struct rw_cidr *a = &vpn->peers[pi].addresses[ai];
	for (size_t q = 0; q <= pi; q++) {
		const struct rw_peer *o = &vpn->peers[q];
		size_t lim = q == pi ? ai : o->n_addresses;
		for (size_t k = 0; k < lim; k++) {
			const struct rw_cidr *b = &o->addresses[k];
			if (b->family != a->family || (!rw_cidr_contains(a, a->family, b->addr) &&
						       !rw_cidr_contains(b, b->family, a->addr)))
				continue;
			char tb[64];
			rw_cidr_format(b, tb, sizeof(tb));
			/* WireGuard routes each address to one peer only: an
			 * overlap would silently move traffic between peers */
			rw_cfg_err(ctx, e, "overlaps %s of peer '%s' (line %d)", tb, o->name, o->line);
			return;
		}
	}
}

static void rw_cfg_peer_addresses(struct rw_cfg_ctx *ctx, const config_setting_t *g, size_t pi)
{
	struct rw_vpn *vpn = &ctx->pol->vpn;
	struct rw_peer *peer = &vpn->peers[pi];
	const config_setting_t *list;
	int n = rw_cfg_get_strings(g, "address", &list);
	if (n < 0)
		return;
	if (n == 0) {
		rw_cfg_err(ctx, list, "a peer needs at least one address");
		return;
	}
	peer->addresses = rw_cfg_calloc(ctx, (size_t)n, sizeof(*peer->addresses));
	if (!peer->addresses)
		return;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = rw_cfg_elem(list, i);
		const char *v = rw_cfg_elem_str(list, i);
		struct rw_cidr *c = &peer->addresses[peer->n_addresses];
		char net[64], why[192];
		if (rw_cidr_mapped_msg(v, why, sizeof(why))) {
			rw_cfg_err(ctx, e, "\"%s\": %s", v, why);
			continue;
		}
		if (rw_cidr_parse(v, c, 0)) {
			rw_cfg_err(ctx, e, "\"%s\": not a CIDR without host bits", v);
			continue;
		}
		rw_cidr_format(&vpn->address, net, sizeof(net));
		if (vpn->address.family &&
		    (c->family != vpn->address.family || c->prefix < vpn->address.prefix ||
		     !rw_cidr_contains(&vpn->address, c->family, c->addr))) {
			rw_cfg_err(ctx, e, "\"%s\" is outside vpn.address %s", v, net);
			continue;
		}
		if (vpn->address.family && rw_cidr_contains(c, c->family, vpn->address.addr)) {
			rw_cfg_err(ctx, e, "\"%s\" contains the gateway's own address %s", v, net);
			continue;
		}
		peer->n_addresses++;
		rw_cfg_peer_overlap(ctx, e, pi, peer->n_addresses - 1);
	}
}

static void rw_cfg_peer(struct rw_cfg_ctx *ctx, const config_setting_t *g, size_t i)
{
	struct rw_vpn *vpn = &ctx->pol->vpn;
	struct rw_peer *peer = &vpn->peers[i];
	const char *name = rw_cfg_get_str(g, "name"), *v;

	peer->line = rw_cfg_line(g);
	if (name) {
		snprintf(peer->name, sizeof(peer->name), "%s", name);
		if (rw_cfg_check_name(name))
			rw_cfg_err(ctx, rw_cfg_member(g, "name"), "\"%s\": invalid name (%s)", name,
				   RW_CFG_NAME_HINT);
		for (size_t j = 0; j < i; j++)
			if (strcmp(vpn->peers[j].name, name) == 0)
				rw_cfg_err(ctx, rw_cfg_member(g, "name"),
					   "\"%s\": duplicate peer name (first on line %d)", name,
					   vpn->peers[j].line);
	}
	if ((v = rw_cfg_get_str(g, "public_key"))) {
		const config_setting_t *s = rw_cfg_member(g, "public_key");
		static const uint8_t zero[32];
		if (rw_cfg_parse_wg_key(v, peer->public_key)) {
			rw_cfg_err(ctx, s, "expected the base64 of 32 bytes (44 characters ending in '=')");
		} else if (memcmp(peer->public_key, zero, 32) == 0) {
			rw_cfg_err(ctx, s, "an all-zero key is not a public key");
		} else {
			for (size_t j = 0; j < i; j++)
				if (memcmp(vpn->peers[j].public_key, peer->public_key, 32) == 0)
					rw_cfg_err(ctx, s, "same public key as peer '%s' (line %d)",
						   vpn->peers[j].name, vpn->peers[j].line);
		}
	}
	rw_cfg_peer_addresses(ctx, g, i);
	if ((v = rw_cfg_get_str(g, "endpoint"))) {
		char why[192];
		int r = rw_cfg_parse_endpoint(v, &peer->endpoint);
		if (r && rw_cidr_mapped_msg(v, why, sizeof(why)))
			rw_cfg_err(ctx, rw_cfg_member(g, "endpoint"), "\"%s\": %s", v, why);
		else if (r)
			rw_cfg_err(ctx, rw_cfg_member(g, "endpoint"),
				   "\"%s\": expected address:port or [v6-address]:port", v);
	}
	rw_cfg_build_roles(ctx, g, &peer->roles, &peer->n_roles);
}

void rw_cfg_build_vpn(struct rw_cfg_ctx *ctx, const config_setting_t *root)
{
	const config_setting_t *g = rw_cfg_member(root, "vpn"), *ls;
	struct rw_vpn *vpn = &ctx->pol->vpn;
	const char *v;
	int64_t port;
	if (!g || config_setting_type(g) != CONFIG_TYPE_GROUP)
		return;
	vpn->enabled = true;
	if ((v = rw_cfg_get_str(g, "interface"))) {
		if (rw_cfg_check_ifname(v))
			rw_cfg_err(ctx, rw_cfg_member(g, "interface"),
				   "\"%s\": expected 1..15 characters of [a-zA-Z0-9_.-]", v);
		else
			snprintf(vpn->interface, sizeof(vpn->interface), "%s", v);
	}
	vpn->listen_port = 51820;
	if (rw_cfg_get_int(g, &rw_cfg_sec_vpn, "listen_port", &port))
		vpn->listen_port = (uint16_t)port;
	char why[192];
	if ((v = rw_cfg_get_str(g, "address")) && rw_cidr_mapped_msg(v, why, sizeof(why))) {
		rw_cfg_err(ctx, rw_cfg_member(g, "address"), "\"%s\": %s", v, why);
		memset(&vpn->address, 0, sizeof(vpn->address));
	} else if (v && rw_cidr_parse(v, &vpn->address, 1)) {
		rw_cfg_err(ctx, rw_cfg_member(g, "address"),
			   "\"%s\": expected the interface address with its prefix, e.g. 192.0.2.1/24", v);
		memset(&vpn->address, 0, sizeof(vpn->address));
	}
	if ((v = rw_cfg_get_str(g, "private_key_file"))) {
		/* missing: regwalld creates it (0600) at start, so the path must
		 * not depend on the working directory */
		const config_setting_t *ks = rw_cfg_member(g, "private_key_file");
		if (v[0] == '/' && access(v, F_OK) != 0)
			rw_cfg_abs_path(ctx, ks, 4000, &vpn->private_key_file);
		else
			rw_cfg_file(ctx, ks, &vpn->private_key_file);
	}
	if ((v = rw_cfg_get_str(g, "endpoint"))) {
		if (strlen(v) >= sizeof(vpn->endpoint) || !strchr(v, ':') || strpbrk(v, " \t\n\"\\"))
			rw_cfg_err(ctx, rw_cfg_member(g, "endpoint"),
				   "\"%s\": expected host:port as clients dial it, e.g. vpn.example.com:51820", v);
		else
			snprintf(vpn->endpoint, sizeof(vpn->endpoint), "%s", v);
	}
	vpn->address_reuse_after_ms = 86400000; /* a day */
	/* false: another WireGuard (wg-quick, an admin's) runs the interface
	 * and regwall only filters on its name */
	vpn->manage_interface = true;
	rw_cfg_get_bool(g, "manage_interface", &vpn->manage_interface);
	if ((v = rw_cfg_get_str(g, "address_reuse_after"))) {
		uint64_t ms = 0;
		if (rw_duration_parse_ms(v, &ms) || ms > 3650ull * 86400000)
			rw_cfg_err(ctx, rw_cfg_member(g, "address_reuse_after"),
				   "expected a duration such as \"0s\", \"1h\", \"7d\" (at most 3650d)");
		else
			vpn->address_reuse_after_ms = ms;
	}

	ls = rw_cfg_member(g, "peers");
	if (!ls || config_setting_type(ls) != CONFIG_TYPE_LIST || config_setting_length(ls) == 0)
		return;
	int n = config_setting_length(ls);
	vpn->peers = rw_cfg_calloc(ctx, (size_t)n, sizeof(*vpn->peers));
	if (!vpn->peers)
		return;
	vpn->n_peers = vpn->n_config_peers = (size_t)n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *pg = config_setting_get_elem(ls, (unsigned)i);
		if (config_setting_type(pg) == CONFIG_TYPE_GROUP)
			rw_cfg_peer(ctx, pg, (size_t)i);
	}
}
