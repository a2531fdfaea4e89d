/* struct rw_policy -> bytes (rw_policy_pack.h; the format is in
 * docs/design/policy-pack.md). Fields go out one by one, in the order of
 * the structs in rw_policy.h, as little-endian fixed-width integers and
 * length-prefixed strings: never a struct's memory, whose padding and
 * pointers mean nothing in another process.
 *
 * Only what the model defines is sent: the address bytes of the family
 * (4 for IPv4), an endpoint's address and port only when its family is
 * set, a certificate fingerprint only when has_sha256. The receiver gets
 * zeros for the rest, which is what the loader leaves there. */
#include "rules/rw_policy_pack.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>


/* Address bytes the format carries for a family (none for 0 = unset). */
static size_t pk_alen(uint8_t family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* A growing output buffer with a sticky error: the packers write without
 * checking each call, and the first failure is what rw_policy_pack
 * returns. */
struct rw_pk {
	uint8_t *buf;
	size_t len, cap;
	int err;
};

static void pk_fail(struct rw_pk *w, int err)
{
	if (!w->err)
		w->err = err;
}

static void pk_put(struct rw_pk *w, const void *src, size_t n)
{
	if (w->err || n == 0)
		return;
	if (n > RW_POLICY_PACK_MAX - w->len) {
		pk_fail(w, RW_ETOOBIG); /* the receiver would refuse it */
		return;
	}
	if (n > w->cap - w->len) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap - w->len < n)
			cap *= 2; /* len + n <= 64 MiB: no overflow */
		uint8_t *b = realloc(w->buf, cap);
		if (!b) {
			pk_fail(w, RW_ENOMEM);
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, src, n);
	w->len += n;
}

/* Little-endian, n bytes of v. */
static void pk_le(struct rw_pk *w, uint64_t v, size_t n)
{
	uint8_t b[8];
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	pk_put(w, b, n);
}

static void pk_u8(struct rw_pk *w, uint8_t v)
{
	pk_le(w, v, 1);
}

static void pk_u16(struct rw_pk *w, uint16_t v)
{
	pk_le(w, v, 2);
}

static void pk_u32(struct rw_pk *w, uint32_t v)
{
	pk_le(w, v, 4);
}

static void pk_u64(struct rw_pk *w, uint64_t v)
{
	pk_le(w, v, 8);
}

static void pk_bool(struct rw_pk *w, bool v)
{
	pk_u8(w, v ? 1 : 0);
}

/* A config line: an int, sent as its 32-bit two's complement. */
static void pk_int(struct rw_pk *w, int v)
{
	pk_u32(w, (uint32_t)v);
}

static void pk_enum(struct rw_pk *w, unsigned v, unsigned max)
{
	if (v > max)
		pk_fail(w, RW_ERANGE);
	pk_u8(w, (uint8_t)v);
}

static void pk_count(struct rw_pk *w, size_t n)
{
	if (n > UINT32_MAX)
		pk_fail(w, RW_ETOOBIG);
	pk_u32(w, (uint32_t)n);
}

/* A string that may be NULL: its length, or RW_POLICY_PACK_NULL. */
static void pk_str(struct rw_pk *w, const char *s)
{
	if (!s) {
		pk_u32(w, RW_POLICY_PACK_NULL);
		return;
	}
	size_t n = strlen(s);
	if (n > RW_POLICY_PACK_STR_MAX)
		pk_fail(w, RW_ETOOBIG);
	pk_u32(w, (uint32_t)n);
	pk_put(w, s, n);
}

static void pk_strv(struct rw_pk *w, char *const *v, size_t n)
{
	pk_count(w, n);
	for (size_t i = 0; i < n && !w->err; i++)
		pk_str(w, v[i]);
}

/* A fixed-size name: one length byte; the NUL must be inside the array. */
static void pk_name(struct rw_pk *w, const char *name, size_t cap)
{
	size_t n = strnlen(name, cap);
	if (n >= cap || n > UINT8_MAX)
		pk_fail(w, RW_ERANGE);
	pk_u8(w, (uint8_t)n);
	pk_put(w, name, n);
}

static void pk_cidr(struct rw_pk *w, const struct rw_cidr *c)
{
	if (c->family != 0 && c->family != AF_INET && c->family != AF_INET6)
		pk_fail(w, RW_ERANGE);
	pk_u8(w, c->family);
	pk_u8(w, c->prefix);
	pk_put(w, c->addr, pk_alen(c->family));
}

static void pk_cidrs(struct rw_pk *w, const struct rw_cidr *v, size_t n)
{
	pk_count(w, n);
	for (size_t i = 0; i < n && !w->err; i++)
		pk_cidr(w, &v[i]);
}

static void pk_endpoint(struct rw_pk *w, const struct rw_endpoint *e)
{
	if (e->family != 0 && e->family != AF_INET && e->family != AF_INET6)
		pk_fail(w, RW_ERANGE);
	pk_u8(w, e->family);
	if (e->family == 0)
		return; /* unset: the rest is zero by the model */
	pk_put(w, e->addr, pk_alen(e->family));
	pk_u16(w, e->port);
}

static void pk_roles(struct rw_pk *w, const struct rw_role *v, size_t n)
{
	pk_count(w, n);
	for (size_t i = 0; i < n && !w->err; i++) {
		pk_enum(w, (unsigned)v[i].op, RW_ROLE_DELETE);
		pk_str(w, v[i].glob);
	}
}

/* other addresses stay out: the table's only (rw_policy.h) */
static void pk_registry(struct rw_pk *w, const struct rw_registry *r)
{
	pk_endpoint(w, &r->upstream);
	pk_bool(w, r->upstream_tls);
	pk_str(w, r->upstream_ca);
	pk_strv(w, r->server_names, r->n_server_names);
}

static void pk_network(struct rw_pk *w, const struct rw_network *n)
{
	pk_name(w, n->name, sizeof(n->name));
	pk_cidrs(w, n->cidrs, n->n_cidrs);
	pk_int(w, n->line);
}

static void pk_listener(struct rw_pk *w, const struct rw_listener *l)
{
	pk_name(w, l->name, sizeof(l->name));
	pk_endpoint(w, &l->listen);
	pk_u32(w, l->endpoint_index);
	pk_u32(w, l->n_endpoints);
	pk_enum(w, (unsigned)l->mode, RW_MODE_PASSTHROUGH);
	pk_str(w, l->cert);
	pk_str(w, l->key);
	pk_str(w, l->client_ca);
	pk_str(w, l->crl);
	pk_enum(w, (unsigned)l->client_cert, RW_CCERT_REQUIRED);
	pk_strv(w, l->server_names, l->n_server_names);
	pk_bool(w, l->allow_ech);
	pk_bool(w, l->no_tickets);
	pk_count(w, l->n_allow_nets);
	for (size_t i = 0; i < l->n_allow_nets && !w->err; i++) {
		if (l->allow_nets[i] > UINT32_MAX)
			pk_fail(w, RW_ERANGE);
		pk_u32(w, (uint32_t)l->allow_nets[i]);
	}
	pk_bool(w, l->allow_vpn);
	pk_bool(w, l->transparent);
	pk_int(w, l->line);
	pk_int(w, l->cert_line);
	pk_int(w, l->key_line);
}

static void pk_identity(struct rw_pk *w, const struct rw_identity *id)
{
	pk_name(w, id->name, sizeof(id->name));
	pk_str(w, id->cert_subject);
	pk_str(w, id->cert_san);
	pk_bool(w, id->has_sha256);
	if (id->has_sha256)
		pk_put(w, id->cert_sha256, sizeof(id->cert_sha256));
	pk_roles(w, id->roles, id->n_roles);
	pk_int(w, id->line);
}

static void pk_peer(struct rw_pk *w, const struct rw_peer *pe)
{
	pk_name(w, pe->name, sizeof(pe->name));
	pk_put(w, pe->public_key, sizeof(pe->public_key));
	pk_cidrs(w, pe->addresses, pe->n_addresses);
	pk_endpoint(w, &pe->endpoint);
	pk_roles(w, pe->roles, pe->n_roles);
	pk_int(w, pe->line);
}

static void pk_vpn(struct rw_pk *w, const struct rw_vpn *v)
{
	pk_bool(w, v->enabled);
	pk_name(w, v->interface, sizeof(v->interface));
	pk_u16(w, v->listen_port);
	pk_cidr(w, &v->address);
	pk_str(w, v->private_key_file);
	pk_count(w, v->n_peers);
	for (size_t i = 0; i < v->n_peers && !w->err; i++)
		pk_peer(w, &v->peers[i]);
}

static void pk_opts(struct rw_pk *w, const struct rw_policy_opts *o)
{
	pk_bool(w, o->push_requires_vpn);
	pk_bool(w, o->pull_needs_role);
	pk_u64(w, o->push_ops_per_minute);
	pk_u64(w, o->push_bytes_per_second);
	pk_u64(w, o->push_burst_ops);
	pk_u64(w, o->push_burst_bytes);
	pk_u64(w, o->conn_per_source.count);
	pk_u64(w, o->conn_per_source.per_ms);
	pk_u64(w, o->conn_per_source.burst);
	pk_u64(w, o->ban_after);
	pk_u64(w, o->ban_for_ms);
	pk_u32(w, o->ban_set_size);
}

static void pk_limits(struct rw_pk *w, const struct rw_limits *l)
{
	pk_u32(w, l->hello_timeout_ms);
	pk_u32(w, l->handshake_timeout_ms);
	pk_u32(w, l->header_timeout_ms);
	pk_u32(w, l->idle_timeout_ms);
	pk_u32(w, l->connect_timeout_ms);
	pk_u32(w, l->response_timeout_ms);
	pk_u32(w, l->max_connections);
	pk_u32(w, l->max_per_source);
	pk_u32(w, l->drain_timeout_ms);
}

static void pk_log(struct rw_pk *w, const struct rw_log_cfg *l)
{
	pk_u16(w, l->nflog_group);
	pk_str(w, l->blocked);
	pk_str(w, l->blocked_pcap);
	pk_str(w, l->audit);
}

static void pk_policy(struct rw_pk *w, const struct rw_policy *p)
{
	pk_u32(w, RW_POLICY_PACK_MAGIC);
	pk_u32(w, RW_POLICY_PACK_VERSION);
	pk_str(w, p->source_file);
	pk_registry(w, &p->registry);
	pk_count(w, p->n_networks);
	for (size_t i = 0; i < p->n_networks && !w->err; i++)
		pk_network(w, &p->networks[i]);
	pk_count(w, p->n_listeners);
	for (size_t i = 0; i < p->n_listeners && !w->err; i++)
		pk_listener(w, &p->listeners[i]);
	pk_count(w, p->n_identities);
	for (size_t i = 0; i < p->n_identities && !w->err; i++)
		pk_identity(w, &p->identities[i]);
	pk_vpn(w, &p->vpn);
	pk_opts(w, &p->opts);
	pk_limits(w, &p->limits);
	pk_log(w, &p->log);
	pk_str(w, p->control_socket);
	pk_str(w, p->state_file);
	pk_endpoint(w, &p->metrics);
}

int rw_policy_pack(const struct rw_policy *p, uint8_t **out, size_t *len)
{
	struct rw_pk w = { 0 };
	*out = NULL;
	*len = 0;
	if (!p)
		return RW_EINVAL;
	pk_policy(&w, p);
	if (w.err) {
		free(w.buf);
		return w.err;
	}
	*out = w.buf;
	*len = w.len;
	return 0;
}
