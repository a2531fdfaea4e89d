/* Policy decision (see rw_decide.h and docs/design/policy.md).
 *
 * One table maps each OCI operation to what it needs; the checks run in a
 * fixed order (identified at all, roles, then the VPN rule) so the reason
 * logged is the most fundamental one that failed: a client without the
 * role is told so even if it is also outside the VPN. */
#include "rules/rw_decide.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "rules/rw_glob.h"
#include "rules/rw_cidr.h"
#include "rules/rw_cidrset.h"

const struct rw_peer *rw_decide_peer_of(const struct rw_policy *p,
					const struct rw_cidrset_index *peers, int family,
					const uint8_t *addr)
{
	if (!p || !addr || !p->vpn.enabled || (family != AF_INET && family != AF_INET6))
		return NULL;
	/* The index only when it was built from these peers: one of another
	 * policy would name the wrong peer. */
	if (rw_cidrset_index_is_for(peers, p)) {
		long at = rw_cidrset_index_find(peers, family, addr);
		return at < 0 ? NULL : &p->vpn.peers[peers->own[at].owner];
	}
	/* No index: the scan, in peer order (the addresses are disjoint,
	 * rw_cidrset.h, so at most one peer holds addr). It is also what
	 * an index would cost to build, so a caller asking once (explain)
	 * passes none. */
	for (size_t i = 0; i < p->vpn.n_peers; i++)
		for (size_t j = 0; j < p->vpn.peers[i].n_addresses; j++)
			if (rw_cidr_contains(&p->vpn.peers[i].addresses[j], family, addr))
				return &p->vpn.peers[i];
	return NULL;
}

void rw_who_resolve_ix(const struct rw_policy *p, const struct rw_cidrset_index *peers,
		       int family, const uint8_t *addr, bool on_vpn,
		       const struct rw_identity *cert_identity, struct rw_who *out)
{
	memset(out, 0, sizeof(*out));
	out->identity = cert_identity;
	bool addr_ok = p && addr && (family == AF_INET || family == AF_INET6);
	/* WireGuard's cryptokey routing binds each tunnel address to one
	 * peer, but only for packets that came through the tunnel. */
	if (addr_ok && on_vpn)
		out->peer = rw_decide_peer_of(p, peers, family, addr);
	out->via_vpn = out->peer != NULL;
	if (addr_ok) {
		for (size_t i = 0; i < p->n_networks && !out->network; i++)
			if (rw_decide_net_has(&p->networks[i], family, addr))
				out->network = &p->networks[i];
	}
	if (out->identity)
		snprintf(out->name, sizeof(out->name), "%s", out->identity->name);
	else if (out->peer)
		snprintf(out->name, sizeof(out->name), "peer:%s", out->peer->name);
	else if (out->network)
		snprintf(out->name, sizeof(out->name), "net:%s", out->network->name);
	else
		snprintf(out->name, sizeof(out->name), "anonymous");
}

void rw_who_resolve(const struct rw_policy *p, int family, const uint8_t *addr, bool on_vpn,
		    const struct rw_identity *cert_identity, struct rw_who *out)
{
	rw_who_resolve_ix(p, NULL, family, addr, on_vpn, cert_identity, out);
}

static bool roles_allow(const struct rw_role *roles, size_t n, enum rw_op_class op,
			const char *repo, bool need_all)
{
	for (size_t i = 0; i < n; i++) {
		if (roles[i].op != op)
			continue;
		if (need_all ? rw_glob_is_all(roles[i].glob) : rw_glob_match(roles[i].glob, repo))
			return true;
	}
	return false;
}

/* Union of the certificate identity's and the peer's roles. */
static bool has_role(const struct rw_who *w, enum rw_op_class op, const char *repo, bool need_all)
{
	if (w->identity && roles_allow(w->identity->roles, w->identity->n_roles, op, repo, need_all))
		return true;
	if (w->peer && roles_allow(w->peer->roles, w->peer->n_roles, op, repo, need_all))
		return true;
	return false;
}

/* Developers and CI pull from allowlisted networks: being in a named
 * network is itself the right to pull every repository (and nothing more),
 * unless policy.pull_needs_role asks for a pull role even there (then an
 * identity's pull globs bind wherever it comes from). */
static bool can_pull(const struct rw_policy *p, const struct rw_who *w, const char *repo,
		     bool need_all)
{
	return (w->network != NULL && !p->opts.pull_needs_role) ||
	       has_role(w, RW_ROLE_PULL, repo, need_all);
}

static enum rw_verdict deny(struct rw_decision *d, int status, const char *code, const char *reason)
{
	d->verdict = RW_VERDICT_DENY;
	d->status = status;
	d->code = code;
	d->reason = reason;
	d->counts_push_op = false;
	d->meters_upload = false;
	return d->verdict;
}

static const char *verb(enum rw_op_class op)
{
	switch (op) {
	case RW_ROLE_PUSH: return "push to";
	case RW_ROLE_DELETE: return "delete in";
	case RW_ROLE_PULL:
	default: return "pull from";
	}
}

static enum rw_verdict deny_role(struct rw_decision *d, const struct rw_who *w,
				 enum rw_op_class op, const char *repo)
{
	snprintf(d->message, sizeof(d->message), "regwall: %s may not %s %s", w->name, verb(op), repo);
	return deny(d, 403, "DENIED", "no_role");
}

enum rw_verdict rw_decide(const struct rw_policy *p, const struct rw_who *who,
			  const struct rw_oci_req *req, struct rw_decision *out)
{
	if (!out)
		return RW_VERDICT_DENY;
	memset(out, 0, sizeof(*out));
	if (!p || !who || !req) {
		snprintf(out->message, sizeof(out->message), "regwall: internal error");
		return deny(out, 403, "DENIED", "internal");
	}
	/* what the operation needs, its class and its limiter flags: one
	 * table (inspect/rw_oci.c, rw_oci_op_info) */
	const struct rw_oci_op_info *info = rw_oci_op_info(req->op);
	enum rw_oci_need need = info->need;
	if (need == RW_OCI_NEED_NOTHING) {
		snprintf(out->message, sizeof(out->message),
			 "regwall: not a registry API request this firewall allows (%s)",
			 req->why ? req->why : "unclassified");
		return deny(out, 403, "DENIED", "unknown_operation");
	}
	if (!who->identity && !who->peer && !who->network) {
		snprintf(out->message, sizeof(out->message),
			 "regwall: unknown client: use a client certificate, the VPN, or an allowed network");
		return deny(out, 401, "UNAUTHORIZED", "no_identity");
	}
	const char *repo = req->repo;
	switch (need) {
	case RW_OCI_NEED_IDENTIFIED:
		break;
	case RW_OCI_NEED_PULL:
		if (!can_pull(p, who, repo, false))
			return deny_role(out, who, RW_ROLE_PULL, repo);
		break;
	case RW_OCI_NEED_PULL_ALL:
		if (!can_pull(p, who, repo, true)) {
			snprintf(out->message, sizeof(out->message),
				 "regwall: %s may not list all repositories", who->name);
			return deny(out, 403, "DENIED", "catalog_needs_pull_all");
		}
		break;
	case RW_OCI_NEED_PUSH:
	case RW_OCI_NEED_MOUNT:
	case RW_OCI_NEED_DELETE: {
		enum rw_op_class op = need == RW_OCI_NEED_DELETE ? RW_ROLE_DELETE : RW_ROLE_PUSH;
		/* distribution's rule: writing needs reading too */
		if (op == RW_ROLE_PUSH && !can_pull(p, who, repo, false))
			return deny_role(out, who, RW_ROLE_PULL, repo);
		if (!has_role(who, op, repo, false))
			return deny_role(out, who, op, repo);
		if (need == RW_OCI_NEED_MOUNT && req->from[0] && !can_pull(p, who, req->from, false)) {
			snprintf(out->message, sizeof(out->message),
				 "regwall: %s may not pull from %s (mount source)", who->name, req->from);
			return deny(out, 403, "DENIED", "mount_source_denied");
		}
		if (p->opts.push_requires_vpn && !who->via_vpn) {
			snprintf(out->message, sizeof(out->message),
				 "regwall: %s %s is allowed only through the VPN",
				 op == RW_ROLE_PUSH ? "push to" : "delete in", repo);
			return deny(out, 403, "DENIED", "push_requires_vpn");
		}
		/* every state change spends a push-operation token; the
		 * requests carrying blob or manifest bytes are paced */
		out->counts_push_op = info->push_op;
		out->meters_upload = info->meters_upload;
		break;
	}
	case RW_OCI_NEED_NOTHING:
	default:
		return deny(out, 403, "DENIED", "unknown_operation");
	}
	out->verdict = RW_VERDICT_ALLOW;
	out->status = 200;
	out->code = NULL;
	out->reason = "allow";
	return RW_VERDICT_ALLOW;
}

/* The prefixes of a network are a CIDR-set view (rw_policy.h,
 * rw_cidrset.h: the loader, live changes in the parent and in the workers
 * keep them sorted and disjoint): a binary search. Networks of 100,000
 * prefixes are ordinary, and the workers run this per connection. */
bool rw_decide_net_has(const struct rw_network *net, int family, const uint8_t *addr)
{
	return rw_cidrset_contains(net->cidrs, net->n_cidrs, family, addr) != NULL;
}

bool rw_decide_source_fn(const struct rw_policy *p, const struct rw_listener *l, int family,
			 const uint8_t *addr, bool (*on_vpn)(void *arg), void *arg,
			 const char **network)
{
	return rw_decide_source_ix(p, NULL, l, family, addr, on_vpn, arg, network);
}

bool rw_decide_source_ix(const struct rw_policy *p, const struct rw_cidrset_index *peers,
			 const struct rw_listener *l, int family, const uint8_t *addr,
			 bool (*on_vpn)(void *arg), void *arg, const char **network)
{
	*network = NULL;
	if (!p || !l || !addr || (family != AF_INET && family != AF_INET6))
		return false;
	for (size_t i = 0; i < l->n_allow_nets; i++) {
		const struct rw_network *nw =
			l->allow_nets[i] < p->n_networks ? &p->networks[l->allow_nets[i]] : NULL;
		if (nw && rw_decide_net_has(nw, family, addr)) {
			*network = nw->name;
			return true;
		}
	}
	if (!l->allow_vpn || !p->vpn.enabled)
		return false;
	bool peer = rw_decide_peer_of(p, peers, family, addr) != NULL;
	/* asked last: in the worker it costs a getsockopt (and after the
	 * interface came back, an ioctl) */
	if (!peer || !on_vpn || !on_vpn(arg))
		return false;
	*network = "vpn";
	return true;
}

static bool on_vpn_true(void *arg)
{
	(void)arg;
	return true;
}

bool rw_decide_source(const struct rw_policy *p, const struct rw_listener *l, int family,
		      const uint8_t *addr, bool on_vpn, const char **network)
{
	return rw_decide_source_fn(p, l, family, addr, on_vpn ? on_vpn_true : NULL, NULL, network);
}

/* ---- explain ---- */

static const struct rw_role *role_find(const struct rw_role *roles, size_t n,
				       enum rw_op_class op, const char *repo, bool need_all)
{
	for (size_t i = 0; i < n; i++)
		if (roles[i].op == op &&
		    (need_all ? rw_glob_is_all(roles[i].glob) : rw_glob_match(roles[i].glob, repo)))
			return &roles[i];
	return NULL;
}

static const char *op_word(enum rw_op_class op)
{
	return op == RW_ROLE_PUSH ? "push" : op == RW_ROLE_DELETE ? "delete" : "pull";
}

/* One line: what gives op on repo to w, in the order rw_decide asks. */
static void trace_right(struct rw_decide_trace *tr, const struct rw_policy *p,
			const struct rw_who *w, enum rw_op_class op, const char *repo,
			bool need_all)
{
	if (tr->n_lines == RW_DECIDE_TRACE_LINES)
		return;
	char *s = tr->lines[tr->n_lines++];
	const size_t n = RW_DECIDE_TRACE_LEN;
	const char *what = need_all ? "everything" : repo;
	const struct rw_role *r;
	if (op == RW_ROLE_PULL && w->network && !p->opts.pull_needs_role)
		snprintf(s, n, "pull on %.96s: network %s", what, w->network->name);
	else if (w->identity &&
		 (r = role_find(w->identity->roles, w->identity->n_roles, op, repo, need_all)))
		snprintf(s, n, "%s on %.64s: identity %s role %s:%.64s", op_word(op), what,
			 w->identity->name, op_word(op), r->glob);
	else if (w->peer && (r = role_find(w->peer->roles, w->peer->n_roles, op, repo, need_all)))
		snprintf(s, n, "%s on %.64s: peer %s role %s:%.64s", op_word(op), what,
			 w->peer->name, op_word(op), r->glob);
	else
		snprintf(s, n, "%s on %.96s: missing (%s)", op_word(op), what,
			 op == RW_ROLE_PULL && w->network ? "policy.pull_needs_role" : "no such role");
}

enum rw_verdict rw_decide_explain(const struct rw_policy *p, const struct rw_who *who,
				  const struct rw_oci_req *req, struct rw_decision *out,
				  struct rw_decide_trace *tr)
{
	enum rw_verdict v = rw_decide(p, who, req, out);
	if (!tr)
		return v;
	memset(tr, 0, sizeof(*tr));
	if (!p || !who || !req) {
		tr->need = "nothing (unknown operation)";
		return v;
	}
	enum rw_oci_need need = rw_oci_op_need(req->op);
	static const char *const words[RW_OCI_NEED_MAX_] = {
		[RW_OCI_NEED_NOTHING] = "nothing (unknown operation)",
		[RW_OCI_NEED_IDENTIFIED] = "identified",
		[RW_OCI_NEED_PULL] = "pull",
		[RW_OCI_NEED_PULL_ALL] = "pull on everything",
		[RW_OCI_NEED_PUSH] = "push",
		[RW_OCI_NEED_MOUNT] = "mount",
		[RW_OCI_NEED_DELETE] = "delete",
	};
	tr->need = words[need];
	const char *repo = req->repo;
	switch (need) {
	case RW_OCI_NEED_PULL:
		trace_right(tr, p, who, RW_ROLE_PULL, repo, false);
		break;
	case RW_OCI_NEED_PULL_ALL:
		trace_right(tr, p, who, RW_ROLE_PULL, repo, true);
		break;
	case RW_OCI_NEED_PUSH:
	case RW_OCI_NEED_MOUNT:
		trace_right(tr, p, who, RW_ROLE_PULL, repo, false);
		trace_right(tr, p, who, RW_ROLE_PUSH, repo, false);
		if (need == RW_OCI_NEED_MOUNT && req->from[0])
			trace_right(tr, p, who, RW_ROLE_PULL, req->from, false);
		break;
	case RW_OCI_NEED_DELETE:
		trace_right(tr, p, who, RW_ROLE_DELETE, repo, false);
		break;
	case RW_OCI_NEED_IDENTIFIED:
	case RW_OCI_NEED_NOTHING:
	default:
		break;
	}
	if ((need == RW_OCI_NEED_PUSH || need == RW_OCI_NEED_MOUNT || need == RW_OCI_NEED_DELETE) &&
	    tr->n_lines < RW_DECIDE_TRACE_LINES) {
		char *s = tr->lines[tr->n_lines++];
		if (!p->opts.push_requires_vpn)
			snprintf(s, RW_DECIDE_TRACE_LEN, "VPN: not required (policy.push_requires_vpn = false)");
		else if (who->via_vpn && who->peer)
			snprintf(s, RW_DECIDE_TRACE_LEN, "VPN: peer %s", who->peer->name);
		else
			snprintf(s, RW_DECIDE_TRACE_LEN, "VPN: required, not via the VPN");
	}
	return v;
}
