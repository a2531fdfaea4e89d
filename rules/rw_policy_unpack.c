/* Bytes -> struct rw_policy (rw_policy_pack.h; docs/design/policy-pack.md):
 * the policy's structure, in the order rw_policy_pack.c writes it; the
 * values are read and checked by rw_policy_unpack_read.c.
 *
 * The bytes are untrusted: every read goes through the bounded cursor,
 * every count is compared with the bytes left before its array is
 * allocated, and each value is checked as it is read, so the first bad
 * byte ends the walk. Arrays are calloc'ed with their final count and the
 * count stored at once, so rw_policy_free releases a policy abandoned
 * half-way (its unfilled entries are zeros).
 *
 * Canonical form: every value has one encoding (bools 0/1, NULL only as
 * RW_POLICY_PACK_NULL, nothing after the policy), so a policy that
 * unpacks packs back to the same bytes. */
#include "rules/rw_policy_pack.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "rules/rw_policy_unpack_int.h"

static void up_at(struct rw_up *u, const char *what, size_t i)
{
	snprintf(u->where, sizeof(u->where), "%s[%zu]", what, i);
}

static int up_registry(struct rw_up *u, struct rw_registry *reg)
{
	snprintf(u->where, sizeof(u->where), "registry");
	int r;
	if ((r = rw_up_endpoint(u, "upstream", 0, &reg->upstream)) ||
	    (r = rw_up_bool(u, "upstream_tls", &reg->upstream_tls)) ||
	    (r = rw_up_str(u, "upstream_ca", -1, true, &reg->upstream_ca)))
		return r;
	return rw_up_strv(u, "server_names", &reg->server_names, &reg->n_server_names);
}

static int up_network(struct rw_up *u, struct rw_network *n)
{
	int r;
	if ((r = rw_up_name(u, "name", n->name, sizeof(n->name))) ||
	    (r = rw_up_cidrs(u, "cidrs", true, &n->cidrs, &n->n_cidrs)))
		return r;
	return rw_up_int(u, "line", &n->line);
}

/* allow_from: indexes into the networks already read (fwd/rw_decide.c
 * indexes p->networks with them). The loader refuses a network named
 * twice, so more entries than networks cannot be honest; repeats within
 * that bound are harmless and not looked for. */
static int up_allow_nets(struct rw_up *u, struct rw_listener *l, size_t n_networks)
{
	void *arr;
	int r = rw_up_array(u, "allow_nets", PK_INDEX, sizeof(size_t), &l->n_allow_nets, &arr);
	l->allow_nets = arr;
	if (!r && l->n_allow_nets > n_networks)
		return rw_up_fail(u, RW_ERANGE, "allow_nets", -1, "%zu entries for %zu networks",
				  l->n_allow_nets, n_networks);
	for (size_t i = 0; !r && i < l->n_allow_nets; i++) {
		uint64_t x;
		u->at = u->c.off;
		if ((r = rw_up_le(u, "allow_nets", (long)i, 4, &x)))
			break;
		if (x >= n_networks)
			return rw_up_fail(u, RW_ERANGE, "allow_nets", (long)i,
					  "network %llu of %zu", (unsigned long long)x, n_networks);
		l->allow_nets[i] = (size_t)x;
	}
	return r;
}

static int up_listener_tls(struct rw_up *u, struct rw_listener *l)
{
	unsigned mode = 0, cc = 0;
	int r;
	if ((r = rw_up_enum(u, "mode", -1, RW_MODE_PASSTHROUGH, &mode)))
		return r;
	l->mode = (enum rw_listener_mode)mode;
	if ((r = rw_up_str(u, "cert", -1, true, &l->cert)) ||
	    (r = rw_up_str(u, "key", -1, true, &l->key)) ||
	    (r = rw_up_str(u, "client_ca", -1, true, &l->client_ca)) ||
	    (r = rw_up_str(u, "crl", -1, true, &l->crl)) ||
	    (r = rw_up_enum(u, "client_cert", -1, RW_CCERT_REQUIRED, &cc)))
		return r;
	l->client_cert = (enum rw_client_cert)cc;
	return 0;
}

static int up_listener(struct rw_up *u, struct rw_listener *l, size_t n_networks)
{
	uint32_t idx, n_ep;
	int r;
	if ((r = rw_up_name(u, "name", l->name, sizeof(l->name))) ||
	    (r = rw_up_endpoint(u, "listen", RW_UP_PORT0, &l->listen)) ||
	    (r = rw_up_u32(u, "endpoint_index", &idx)) || (r = rw_up_u32(u, "n_endpoints", &n_ep)))
		return r;
	/* n_endpoints 0 means 1 (rw_policy.h) */
	if (idx >= (n_ep ? n_ep : 1))
		return rw_up_fail(u, RW_ERANGE, "endpoint_index", -1, "%u of %u endpoints", idx,
				  n_ep);
	l->endpoint_index = idx;
	l->n_endpoints = n_ep;
	if ((r = up_listener_tls(u, l)) ||
	    (r = rw_up_strv(u, "server_names", &l->server_names, &l->n_server_names)) ||
	    (r = rw_up_bool(u, "allow_ech", &l->allow_ech)) ||
	    (r = rw_up_bool(u, "no_tickets", &l->no_tickets)) ||
	    (r = up_allow_nets(u, l, n_networks)) ||
	    (r = rw_up_bool(u, "allow_vpn", &l->allow_vpn)) ||
	    (r = rw_up_bool(u, "transparent", &l->transparent)) ||
	    (r = rw_up_int(u, "line", &l->line)) || (r = rw_up_int(u, "cert_line", &l->cert_line)))
		return r;
	return rw_up_int(u, "key_line", &l->key_line);
}

static int up_identity(struct rw_up *u, struct rw_identity *id)
{
	int r;
	if ((r = rw_up_name(u, "name", id->name, sizeof(id->name))) ||
	    (r = rw_up_str(u, "cert_subject", -1, true, &id->cert_subject)) ||
	    (r = rw_up_str(u, "cert_san", -1, true, &id->cert_san)) ||
	    (r = rw_up_bool(u, "has_sha256", &id->has_sha256)))
		return r;
	u->at = u->c.off;
	if (id->has_sha256 && rw_cur_copy(&u->c, id->cert_sha256, sizeof(id->cert_sha256)))
		return rw_up_fail(u, RW_EINCOMPLETE, "cert_sha256", -1,
				  "the message ends inside it");
	if ((r = rw_up_roles(u, &id->roles, &id->n_roles)))
		return r;
	return rw_up_int(u, "line", &id->line);
}

static int up_peer(struct rw_up *u, struct rw_peer *pe)
{
	int r;
	if ((r = rw_up_name(u, "name", pe->name, sizeof(pe->name))))
		return r;
	u->at = u->c.off;
	if (rw_cur_copy(&u->c, pe->public_key, sizeof(pe->public_key)))
		return rw_up_fail(u, RW_EINCOMPLETE, "public_key", -1,
				  "the message ends inside it");
	if ((r = rw_up_cidrs(u, "addresses", false, &pe->addresses, &pe->n_addresses)) ||
	    (r = rw_up_endpoint(u, "endpoint", RW_UP_UNSET, &pe->endpoint)) ||
	    (r = rw_up_roles(u, &pe->roles, &pe->n_roles)))
		return r;
	return rw_up_int(u, "line", &pe->line);
}

static int up_vpn(struct rw_up *u, struct rw_vpn *v)
{
	snprintf(u->where, sizeof(u->where), "vpn");
	int r;
	if ((r = rw_up_bool(u, "enabled", &v->enabled)) ||
	    (r = rw_up_name(u, "interface", v->interface, sizeof(v->interface))) ||
	    (r = rw_up_u16(u, "listen_port", &v->listen_port)) ||
	    /* the interface address keeps its host bits; unset without a vpn */
	    (r = rw_up_cidr(u, "address", -1, RW_UP_HOST_BITS | (v->enabled ? 0 : RW_UP_UNSET),
			    &v->address)) ||
	    (r = rw_up_str(u, "private_key_file", -1, true, &v->private_key_file)))
		return r;
	void *arr;
	r = rw_up_array(u, "peers", PK_PEER, sizeof(struct rw_peer), &v->n_peers, &arr);
	v->peers = arr;
	for (size_t i = 0; !r && i < v->n_peers; i++) {
		up_at(u, "vpn.peers", i);
		r = up_peer(u, &v->peers[i]);
	}
	return r;
}

/* The numbers the loader range-checked; any value is safe for the data
 * path, which clamps or treats 0 as "none" (docs/design/policy-pack.md). */
#define UP_FIELD(type, f) { #f, offsetof(type, f) }
static const struct up_field {
	const char *name;
	size_t off;
} up_opts_u64[] = {
	UP_FIELD(struct rw_policy_opts, push_ops_per_minute),
	UP_FIELD(struct rw_policy_opts, push_bytes_per_second),
	UP_FIELD(struct rw_policy_opts, push_burst_ops),
	UP_FIELD(struct rw_policy_opts, push_burst_bytes),
	UP_FIELD(struct rw_policy_opts, conn_per_source.count),
	UP_FIELD(struct rw_policy_opts, conn_per_source.per_ms),
	UP_FIELD(struct rw_policy_opts, conn_per_source.burst),
	UP_FIELD(struct rw_policy_opts, ban_after),
	UP_FIELD(struct rw_policy_opts, ban_for_ms),
}, up_limits_u32[] = {
	UP_FIELD(struct rw_limits, hello_timeout_ms),
	UP_FIELD(struct rw_limits, handshake_timeout_ms),
	UP_FIELD(struct rw_limits, header_timeout_ms),
	UP_FIELD(struct rw_limits, idle_timeout_ms),
	UP_FIELD(struct rw_limits, connect_timeout_ms),
	UP_FIELD(struct rw_limits, response_timeout_ms),
	UP_FIELD(struct rw_limits, max_connections),
	UP_FIELD(struct rw_limits, max_per_source),
	UP_FIELD(struct rw_limits, drain_timeout_ms),
};

static int up_opts(struct rw_up *u, struct rw_policy_opts *o, struct rw_limits *l)
{
	snprintf(u->where, sizeof(u->where), "opts");
	int r;
	if ((r = rw_up_bool(u, "push_requires_vpn", &o->push_requires_vpn)) ||
	    (r = rw_up_bool(u, "pull_needs_role", &o->pull_needs_role)))
		return r;
	for (size_t i = 0; !r && i < sizeof(up_opts_u64) / sizeof(up_opts_u64[0]); i++)
		r = rw_up_u64(u, up_opts_u64[i].name, (uint64_t *)((char *)o + up_opts_u64[i].off));
	if (r || (r = rw_up_u32(u, "ban_set_size", &o->ban_set_size)))
		return r;
	snprintf(u->where, sizeof(u->where), "limits");
	for (size_t i = 0; !r && i < sizeof(up_limits_u32) / sizeof(up_limits_u32[0]); i++)
		r = rw_up_u32(u, up_limits_u32[i].name,
			      (uint32_t *)((char *)l + up_limits_u32[i].off));
	return r;
}

static int up_tail(struct rw_up *u, struct rw_policy *p)
{
	snprintf(u->where, sizeof(u->where), "log");
	int r;
	if ((r = rw_up_u16(u, "nflog_group", &p->log.nflog_group)) ||
	    (r = rw_up_str(u, "blocked", -1, true, &p->log.blocked)) ||
	    (r = rw_up_str(u, "blocked_pcap", -1, true, &p->log.blocked_pcap)) ||
	    (r = rw_up_str(u, "audit", -1, true, &p->log.audit)))
		return r;
	u->where[0] = '\0';
	if ((r = rw_up_str(u, "control_socket", -1, true, &p->control_socket)) ||
	    (r = rw_up_str(u, "state_file", -1, true, &p->state_file)))
		return r;
	return rw_up_endpoint(u, "metrics", RW_UP_UNSET, &p->metrics);
}

static int up_header(struct rw_up *u)
{
	uint32_t magic, version;
	int r;
	if ((r = rw_up_u32(u, "magic", &magic)))
		return r;
	if (magic != RW_POLICY_PACK_MAGIC)
		return rw_up_fail(u, RW_EPROTO, "magic", -1, "0x%08x is not a packed policy",
				  magic);
	if ((r = rw_up_u32(u, "version", &version)))
		return r;
	if (version != RW_POLICY_PACK_VERSION)
		return rw_up_fail(u, RW_EPROTO, "version", -1, "version %u (this build reads %u)",
				  version, RW_POLICY_PACK_VERSION);
	return 0;
}

/* Networks before listeners: allow_nets indexes are checked against them. */
static int up_policy(struct rw_up *u, struct rw_policy *p)
{
	void *arr;
	int r;
	if ((r = up_header(u)) || (r = rw_up_str(u, "source_file", -1, true, &p->source_file)) ||
	    (r = up_registry(u, &p->registry)))
		return r;
	u->where[0] = '\0';
	r = rw_up_array(u, "networks", PK_NETWORK, sizeof(struct rw_network), &p->n_networks, &arr);
	p->networks = arr;
	for (size_t i = 0; !r && i < p->n_networks; i++) {
		up_at(u, "networks", i);
		r = up_network(u, &p->networks[i]);
	}
	u->where[0] = '\0';
	if (!r)
		r = rw_up_array(u, "listeners", PK_LISTENER, sizeof(struct rw_listener),
				&p->n_listeners, &arr);
	if (!r)
		p->listeners = arr;
	for (size_t i = 0; !r && i < p->n_listeners; i++) {
		up_at(u, "listeners", i);
		r = up_listener(u, &p->listeners[i], p->n_networks);
	}
	u->where[0] = '\0';
	if (!r)
		r = rw_up_array(u, "identities", PK_IDENTITY, sizeof(struct rw_identity),
				&p->n_identities, &arr);
	if (!r)
		p->identities = arr;
	for (size_t i = 0; !r && i < p->n_identities; i++) {
		up_at(u, "identities", i);
		r = up_identity(u, &p->identities[i]);
	}
	if (r || (r = up_vpn(u, &p->vpn)) || (r = up_opts(u, &p->opts, &p->limits)))
		return r;
	return up_tail(u, p);
}

int rw_policy_unpack(const uint8_t *buf, size_t len, struct rw_policy *p, struct rw_diag *diag)
{
	struct rw_up u = { .diag = diag };
	memset(p, 0, sizeof(*p));
	if (len > RW_POLICY_PACK_MAX)
		return rw_up_fail(&u, RW_ETOOBIG, "message", -1, "%zu bytes (at most %u)", len,
				  RW_POLICY_PACK_MAX);
	rw_cur_init(&u.c, buf, len);
	int r = up_policy(&u, p);
	if (!r && rw_cur_left(&u.c)) {
		u.at = u.c.off;
		u.where[0] = '\0';
		r = rw_up_fail(&u, RW_EPROTO, "message", -1, "bytes after the policy: %zu",
			       rw_cur_left(&u.c));
	}
	if (r)
		rw_policy_free(p);
	return r;
}
