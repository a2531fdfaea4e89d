/* Ownership and lookups for struct rw_policy. Freeing must cope with a
 * policy the loader abandoned half-built: every array is calloc'ed with its
 * final count, so unfilled entries are zeros and free as nothing. */
#include "rules/rw_policy.h"

#include <stdlib.h>
#include <string.h>

static void rw_policy_free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void rw_policy_free_roles(struct rw_role *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++)
		free(r[i].glob);
	free(r);
}

void rw_policy_free(struct rw_policy *p)
{
	if (!p)
		return;
	free(p->source_file);
	free(p->registry.upstream_ca);
	free(p->registry.other);
	rw_policy_free_strv(p->registry.server_names, p->registry.n_server_names);

	for (size_t i = 0; p->networks && i < p->n_networks; i++)
		free(p->networks[i].cidrs);
	free(p->networks);

	for (size_t i = 0; p->listeners && i < p->n_listeners; i++) {
		struct rw_listener *l = &p->listeners[i];
		free(l->cert);
		free(l->key);
		free(l->client_ca);
		free(l->crl);
		rw_policy_free_strv(l->server_names, l->n_server_names);
		free(l->allow_nets);
	}
	free(p->listeners);

	for (size_t i = 0; p->identities && i < p->n_identities; i++) {
		free(p->identities[i].cert_subject);
		free(p->identities[i].cert_san);
		rw_policy_free_roles(p->identities[i].roles, p->identities[i].n_roles);
	}
	free(p->identities);

	free(p->vpn.private_key_file);
	for (size_t i = 0; p->vpn.peers && i < p->vpn.n_peers; i++) {
		free(p->vpn.peers[i].addresses);
		rw_policy_free_roles(p->vpn.peers[i].roles, p->vpn.peers[i].n_roles);
	}
	free(p->vpn.peers);

	free(p->log.blocked);
	free(p->log.blocked_pcap);
	free(p->log.audit);
	free(p->log.audit_key);
	free(p->control_socket);
	free(p->state_file);
	free(p->metrics_allow);
	memset(p, 0, sizeof(*p));
}

long rw_policy_network_index(const struct rw_policy *p, const char *name)
{
	if (!p || !name)
		return -1;
	for (size_t i = 0; i < p->n_networks; i++)
		if (strcmp(p->networks[i].name, name) == 0)
			return (long)i;
	return -1;
}

const struct rw_network *rw_policy_network(const struct rw_policy *p, const char *name)
{
	long i = rw_policy_network_index(p, name);
	return i < 0 ? NULL : &p->networks[i];
}
