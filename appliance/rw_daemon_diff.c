/* What a reload changed (rw_daemon_diff.h). Pure: two policies in, JSON
 * out; unit-tested in tests/unit/test_daemon_diff.c. */
#include "appliance/rw_daemon_diff.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static int rw_diff_str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static int rw_diff_ep_eq(const struct rw_endpoint *a, const struct rw_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static int rw_diff_cidr_eq(const struct rw_cidr *a, const struct rw_cidr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static int rw_diff_names_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

static int rw_diff_roles_eq(const struct rw_role *a, size_t na, const struct rw_role *b,
			    size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (a[i].op != b[i].op || !rw_diff_str_eq(a[i].glob, b[i].glob))
			return 0;
	return 1;
}

/* allow_from holds indexes into each policy's own networks: compare names */
static int rw_diff_allow_eq(const struct rw_policy *po, const struct rw_listener *a,
			    const struct rw_policy *pn, const struct rw_listener *b)
{
	if (a->n_allow_nets != b->n_allow_nets || a->allow_vpn != b->allow_vpn)
		return 0;
	for (size_t i = 0; i < a->n_allow_nets; i++)
		if (strcmp(po->networks[a->allow_nets[i]].name, pn->networks[b->allow_nets[i]].name))
			return 0;
	return 1;
}

static json_t *rw_diff_listener_what(const struct rw_policy *po, const struct rw_listener *a,
				     const struct rw_policy *pn, const struct rw_listener *b)
{
	json_t *w = json_array();
	/* a and b are the first entries of their listeners; the endpoints of
	 * a listen list follow them */
	unsigned na = a->n_endpoints ? a->n_endpoints : 1, nb = b->n_endpoints ? b->n_endpoints : 1;
	int same = na == nb;
	for (unsigned k = 0; k < na && same; k++)
		same = rw_diff_ep_eq(&a[k].listen, &b[k].listen);
	if (!same)
		json_array_append_new(w, json_string("listen"));
	if (a->mode != b->mode)
		json_array_append_new(w, json_string("mode"));
	if (!rw_diff_str_eq(a->cert, b->cert) || !rw_diff_str_eq(a->key, b->key))
		json_array_append_new(w, json_string("cert/key"));
	if (!rw_diff_str_eq(a->client_ca, b->client_ca) || !rw_diff_str_eq(a->crl, b->crl) ||
	    a->client_cert != b->client_cert)
		json_array_append_new(w, json_string("client certificates"));
	if (!rw_diff_names_eq(a->server_names, a->n_server_names, b->server_names,
			      b->n_server_names))
		json_array_append_new(w, json_string("server_names"));
	if (a->allow_ech != b->allow_ech || a->no_tickets != b->no_tickets)
		json_array_append_new(w, json_string("tls options"));
	if (!rw_diff_allow_eq(po, a, pn, b))
		json_array_append_new(w, json_string("allow_from"));
	if (a->transparent != b->transparent)
		json_array_append_new(w, json_string("transparent"));
	return w;
}

/* Prefixes only in a / only in b. Both lists are sorted (v4 first, then
 * by address) and disjoint, so one merge pass; the same start with another
 * length is one removed and one added. */
static void rw_diff_prefixes(const struct rw_cidr *a, size_t na, const struct rw_cidr *b,
			     size_t nb, size_t *only_a, size_t *only_b)
{
	size_t i = 0, j = 0;
	*only_a = *only_b = 0;
	while (i < na && j < nb) {
		int c = a[i].family != b[j].family ? (a[i].family == AF_INET ? -1 : 1)
						   : memcmp(a[i].addr, b[j].addr, sizeof(a[i].addr));
		if (c == 0) {
			if (a[i].prefix != b[j].prefix) {
				(*only_a)++;
				(*only_b)++;
			}
			i++;
			j++;
		} else if (c < 0) {
			(*only_a)++;
			i++;
		} else {
			(*only_b)++;
			j++;
		}
	}
	*only_a += na - i;
	*only_b += nb - j;
}

static int rw_diff_identity_eq(const struct rw_identity *a, const struct rw_identity *b)
{
	return rw_diff_str_eq(a->cert_subject, b->cert_subject) &&
	       rw_diff_str_eq(a->cert_san, b->cert_san) && a->has_sha256 == b->has_sha256 &&
	       memcmp(a->cert_sha256, b->cert_sha256, sizeof(a->cert_sha256)) == 0 &&
	       rw_diff_roles_eq(a->roles, a->n_roles, b->roles, b->n_roles);
}

static int rw_diff_peer_eq(const struct rw_peer *a, const struct rw_peer *b)
{
	if (memcmp(a->public_key, b->public_key, sizeof(a->public_key)) != 0 ||
	    !rw_diff_ep_eq(&a->endpoint, &b->endpoint) || a->n_addresses != b->n_addresses ||
	    !rw_diff_roles_eq(a->roles, a->n_roles, b->roles, b->n_roles))
		return 0;
	for (size_t i = 0; i < a->n_addresses; i++)
		if (!rw_diff_cidr_eq(&a->addresses[i], &b->addresses[i]))
			return 0;
	return 1;
}

static int rw_diff_opts_eq(const struct rw_policy_opts *a, const struct rw_policy_opts *b)
{
	return a->push_requires_vpn == b->push_requires_vpn &&
	       a->pull_needs_role == b->pull_needs_role &&
	       a->push_ops_per_minute == b->push_ops_per_minute &&
	       a->push_bytes_per_second == b->push_bytes_per_second &&
	       a->push_burst_ops == b->push_burst_ops &&
	       a->push_burst_bytes == b->push_burst_bytes &&
	       a->conn_per_source.count == b->conn_per_source.count &&
	       a->conn_per_source.per_ms == b->conn_per_source.per_ms &&
	       a->conn_per_source.burst == b->conn_per_source.burst &&
	       a->ban_after == b->ban_after && a->ban_for_ms == b->ban_for_ms &&
	       a->ban_set_size == b->ban_set_size;
}

static int rw_diff_limits_eq(const struct rw_limits *a, const struct rw_limits *b)
{
	return a->hello_timeout_ms == b->hello_timeout_ms &&
	       a->handshake_timeout_ms == b->handshake_timeout_ms &&
	       a->header_timeout_ms == b->header_timeout_ms &&
	       a->idle_timeout_ms == b->idle_timeout_ms &&
	       a->connect_timeout_ms == b->connect_timeout_ms &&
	       a->max_connections == b->max_connections && a->max_per_source == b->max_per_source &&
	       a->drain_timeout_ms == b->drain_timeout_ms;
}

static int rw_diff_other_eq(const struct rw_registry *a, const struct rw_registry *b)
{
	if (a->n_other != b->n_other)
		return 0;
	for (size_t i = 0; i < a->n_other; i++)
		if (!rw_diff_ep_eq(&a->other[i], &b->other[i]))
			return 0;
	return 1;
}

static int rw_diff_registry_eq(const struct rw_registry *a, const struct rw_registry *b)
{
	return rw_diff_ep_eq(&a->upstream, &b->upstream) && a->upstream_tls == b->upstream_tls &&
	       rw_diff_str_eq(a->upstream_ca, b->upstream_ca) &&
	       rw_diff_names_eq(a->server_names, a->n_server_names, b->server_names,
				b->n_server_names) &&
	       rw_diff_other_eq(a, b);
}

static json_t *rw_diff_group(void)
{
	return json_pack("{s:[], s:[], s:[]}", "added", "removed", "changed");
}

static void rw_diff_line(json_t *summary, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void rw_diff_line(json_t *summary, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(summary, json_string(buf));
}

/* Named items of two lists (listeners, identities, peers): added,
 * removed, and changed by eq (with its name). */
#define RW_DIFF_NAMED(grp, summary, word, A, NA, B, NB, EQ)                                     \
	do {                                                                                   \
		for (size_t i_ = 0; i_ < (NB); i_++) {                                         \
			size_t j_;                                                             \
			for (j_ = 0; j_ < (NA); j_++)                                          \
				if (strcmp((A)[j_].name, (B)[i_].name) == 0)                   \
					break;                                                 \
			if (j_ == (NA)) {                                                      \
				json_array_append_new(json_object_get(grp, "added"),           \
						      json_string((B)[i_].name));              \
				rw_diff_line(summary, "%s added: %s", word, (B)[i_].name);     \
			} else if (!EQ(&(A)[j_], &(B)[i_])) {                                  \
				json_array_append_new(json_object_get(grp, "changed"),         \
						      json_string((B)[i_].name));              \
				rw_diff_line(summary, "%s changed: %s", word, (B)[i_].name);   \
			}                                                                      \
		}                                                                              \
		for (size_t j_ = 0; j_ < (NA); j_++) {                                         \
			size_t i_;                                                             \
			for (i_ = 0; i_ < (NB); i_++)                                          \
				if (strcmp((A)[j_].name, (B)[i_].name) == 0)                   \
					break;                                                 \
			if (i_ == (NB)) {                                                      \
				json_array_append_new(json_object_get(grp, "removed"),         \
						      json_string((A)[j_].name));              \
				rw_diff_line(summary, "%s removed: %s", word, (A)[j_].name);   \
			}                                                                      \
		}                                                                              \
	} while (0)

static void rw_diff_listeners(const struct rw_policy *po, const struct rw_policy *pn,
			      json_t *grp, json_t *summary)
{
	/* by name: only the first entry of a listener with a listen list */
	for (size_t i = 0; i < pn->n_listeners; i++) {
		const struct rw_listener *b = &pn->listeners[i];
		const struct rw_listener *a = NULL;
		if (b->endpoint_index)
			continue;
		for (size_t j = 0; j < po->n_listeners && !a; j++)
			if (strcmp(po->listeners[j].name, b->name) == 0)
				a = &po->listeners[j];
		if (!a) {
			json_array_append_new(json_object_get(grp, "added"), json_string(b->name));
			rw_diff_line(summary, "listener added: %s", b->name);
			continue;
		}
		json_t *what = rw_diff_listener_what(po, a, pn, b);
		if (json_array_size(what) == 0) {
			json_decref(what);
			continue;
		}
		char list[160] = "";
		size_t k;
		json_t *v;
		json_array_foreach(what, k, v) {
			size_t n = strlen(list);
			snprintf(list + n, sizeof(list) - n, "%s%s", k ? ", " : "",
				 json_string_value(v));
		}
		rw_diff_line(summary, "listener changed: %s (%s)", b->name, list);
		json_array_append_new(json_object_get(grp, "changed"),
				      json_pack("{s:s, s:o}", "name", b->name, "what", what));
	}
	for (size_t j = 0; j < po->n_listeners; j++) {
		size_t i;
		if (po->listeners[j].endpoint_index)
			continue;
		for (i = 0; i < pn->n_listeners; i++)
			if (strcmp(po->listeners[j].name, pn->listeners[i].name) == 0)
				break;
		if (i == pn->n_listeners) {
			json_array_append_new(json_object_get(grp, "removed"),
					      json_string(po->listeners[j].name));
			rw_diff_line(summary, "listener removed: %s", po->listeners[j].name);
		}
	}
}

static void rw_diff_networks(const struct rw_policy *po, const struct rw_policy *pn,
			     json_t *grp, json_t *summary)
{
	for (size_t i = 0; i < pn->n_networks; i++) {
		const struct rw_network *b = &pn->networks[i];
		const struct rw_network *a = rw_policy_network(po, b->name);
		if (!a) {
			json_array_append_new(json_object_get(grp, "added"),
					      json_pack("{s:s, s:I}", "name", b->name, "prefixes",
							(json_int_t)b->n_cidrs));
			rw_diff_line(summary, "network added: %s (%zu prefix%s)", b->name, b->n_cidrs,
				     b->n_cidrs == 1 ? "" : "es");
			continue;
		}
		size_t minus, plus;
		rw_diff_prefixes(a->cidrs, a->n_cidrs, b->cidrs, b->n_cidrs, &minus, &plus);
		if (!minus && !plus)
			continue;
		json_array_append_new(json_object_get(grp, "changed"),
				      json_pack("{s:s, s:I, s:I}", "name", b->name, "added",
						(json_int_t)plus, "removed", (json_int_t)minus));
		rw_diff_line(summary, "network %s: +%zu -%zu prefix%s", b->name, plus, minus,
			     plus + minus == 1 ? "" : "es");
	}
	for (size_t j = 0; j < po->n_networks; j++) {
		const struct rw_network *a = &po->networks[j];
		if (rw_policy_network(pn, a->name))
			continue;
		json_array_append_new(json_object_get(grp, "removed"),
				      json_pack("{s:s, s:I}", "name", a->name, "prefixes",
						(json_int_t)a->n_cidrs));
		rw_diff_line(summary, "network removed: %s (%zu prefix%s)", a->name, a->n_cidrs,
			     a->n_cidrs == 1 ? "" : "es");
	}
}

json_t *rw_daemon_diff(const struct rw_policy *po, const struct rw_policy *pn)
{
	json_t *summary = json_array();
	json_t *ls = rw_diff_group(), *nets = rw_diff_group(), *ids = rw_diff_group(),
	       *peers = rw_diff_group(), *settings = json_array();
	if (!summary || !ls || !nets || !ids || !peers || !settings) {
		json_decref(summary);
		json_decref(ls);
		json_decref(nets);
		json_decref(ids);
		json_decref(peers);
		json_decref(settings);
		return NULL;
	}
	rw_diff_listeners(po, pn, ls, summary);
	rw_diff_networks(po, pn, nets, summary);
	RW_DIFF_NAMED(ids, summary, "identity", po->identities, po->n_identities, pn->identities,
		      pn->n_identities, rw_diff_identity_eq);
	RW_DIFF_NAMED(peers, summary, "VPN peer", po->vpn.peers, po->vpn.n_peers, pn->vpn.peers,
		      pn->vpn.n_peers, rw_diff_peer_eq);
	if (!rw_diff_registry_eq(&po->registry, &pn->registry))
		json_array_append_new(settings, json_string("registry"));
	if (!rw_diff_opts_eq(&po->opts, &pn->opts))
		json_array_append_new(settings, json_string("policy"));
	if (!rw_diff_limits_eq(&po->limits, &pn->limits))
		json_array_append_new(settings, json_string("limits"));
	if (po->vpn.enabled != pn->vpn.enabled || po->vpn.listen_port != pn->vpn.listen_port ||
	    strcmp(po->vpn.interface, pn->vpn.interface) != 0 ||
	    !rw_diff_cidr_eq(&po->vpn.address, &pn->vpn.address))
		json_array_append_new(settings, json_string("vpn"));
	if (po->log.nflog_group != pn->log.nflog_group)
		json_array_append_new(settings, json_string("log"));
	size_t k;
	json_t *v;
	json_array_foreach(settings, k, v)
		rw_diff_line(summary, "settings changed: %s", json_string_value(v));
	if (json_array_size(summary) == 0)
		json_array_append_new(summary, json_string("nothing changed"));
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "listeners", ls, "networks", nets,
			 "identities", ids, "peers", peers, "settings", settings, "summary",
			 summary);
}
