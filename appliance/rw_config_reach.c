/* Cross-checks for rights that can never be used (the last pass of the
 * loader). A config that loads but in which no push can ever succeed, or
 * in which an identity's roles can never apply, is a trap: the admin sees
 * 403s and a clean config check. Refused where nothing could work, warned
 * where part of the config is dead. */
#include "appliance/rw_config_int.h"

#include <stdio.h>
#include <string.h>

static bool rw_reach_roles_write(const struct rw_role *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].op == RW_ROLE_PUSH || r[i].op == RW_ROLE_DELETE)
			return true;
	return false;
}

/* The line to point at for a policy setting: its own if written, else
 * the policy section's, else 0 (a default nobody wrote). */
static int rw_reach_setting_line(const config_setting_t *root, const char *name)
{
	const config_setting_t *pol = rw_cfg_member(root, "policy");
	const config_setting_t *s = pol ? rw_cfg_member(pol, name) : NULL;
	return s ? rw_cfg_line(s) : pol ? rw_cfg_line(pol) : 0;
}

void rw_cfg_check_reach(struct rw_cfg_ctx *ctx, const config_setting_t *root)
{
	const struct rw_policy *p = ctx->pol;
	bool terminate = false, client_certs = false, vpn_listener = false;
	for (size_t i = 0; i < p->n_listeners; i++) {
		const struct rw_listener *l = &p->listeners[i];
		if (l->mode != RW_MODE_TERMINATE)
			continue;
		terminate = true;
		client_certs = client_certs || l->client_cert != RW_CCERT_NONE;
		vpn_listener = vpn_listener || l->allow_vpn;
	}
	/* who holds push or delete rights, for the messages */
	char holders[256] = "";
	size_t hn = 0;
	int first_line = 0;
	for (size_t i = 0; i < p->n_identities; i++) {
		const struct rw_identity *id = &p->identities[i];
		if (!rw_reach_roles_write(id->roles, id->n_roles))
			continue;
		if (!first_line)
			first_line = id->line;
		hn += (size_t)snprintf(holders + hn, hn < sizeof(holders) ? sizeof(holders) - hn : 0,
				       "%sidentity '%s' (line %d)", hn ? ", " : "", id->name, id->line);
	}
	for (size_t i = 0; i < p->vpn.n_peers; i++) {
		const struct rw_peer *pe = &p->vpn.peers[i];
		if (!rw_reach_roles_write(pe->roles, pe->n_roles))
			continue;
		if (!first_line)
			first_line = pe->line;
		hn += (size_t)snprintf(holders + hn, hn < sizeof(holders) ? sizeof(holders) - hn : 0,
				       "%speer '%s' (line %d)", hn ? ", " : "", pe->name, pe->line);
	}
	if (hn >= sizeof(holders))
		memcpy(holders + sizeof(holders) - 4, "...", 4);
	bool writers = holders[0] != '\0';

	/* Pushes through the VPN only, and no way in through it: every
	 * push and delete role is dead. */
	if (writers && p->opts.push_requires_vpn) {
		int line = rw_reach_setting_line(root, "push_requires_vpn");
		const char *why = NULL, *fix = NULL;
		/* no peers in the file is fine when regwalld runs the
		 * interface: `regwallctl peer add` brings them */
		if (!p->vpn.enabled || (p->vpn.n_peers == 0 && !p->vpn.manage_interface)) {
			why = !p->vpn.enabled ? "there is no vpn section" : "vpn has no peers";
			fix = "add VPN peers";
		} else if (!vpn_listener) {
			why = "no terminate listener has \"vpn\" in allow_from";
			fix = "add \"vpn\" to a terminate listener's allow_from";
		}
		if (why)
			rw_cfg_err_line(ctx, line ? line : first_line,
					"policy.push_requires_vpn%s: no push or delete can ever succeed: "
					"they must come through the VPN and %s (write rights: %s); %s "
					"or set push_requires_vpn = false",
					line ? "" : " (default true)", why, holders, fix);
	}
	/* Certificate identities are matched only on terminate listeners
	 * that ask for a client certificate. */
	if (p->n_identities && !client_certs)
		rw_cfg_warn(ctx, rw_cfg_member(root, "identities"),
			    "%zu identit%s can never match: %s", p->n_identities,
			    p->n_identities == 1 ? "y" : "ies",
			    terminate ? "no terminate listener asks for a client certificate "
					"(client_cert)"
				      : "every listener is passthrough (roles apply only on "
					"terminate listeners)");
	/* Peers' roles apply only to connections through the VPN that a
	 * terminate listener accepts. */
	if (p->vpn.enabled && p->vpn.n_peers && !vpn_listener) {
		size_t with_roles = 0;
		for (size_t i = 0; i < p->vpn.n_peers; i++)
			with_roles += p->vpn.peers[i].n_roles > 0;
		if (with_roles)
			rw_cfg_warn(ctx, rw_cfg_member(root, "vpn"),
				    "the roles of %zu VPN peer%s can never apply: no terminate listener "
				    "has \"vpn\" in allow_from",
				    with_roles, with_roles == 1 ? "" : "s");
	}
}
