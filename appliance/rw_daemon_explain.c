/* regwallctl explain (rw_daemon_explain.h). Layers, in the order a
 * connection meets them; the first refusal is the verdict:
 *   kernel       the admission model (chain early, then input) for a SYN
 *   second_line  the workers' source check: the bans they know (event
 *                reason banned_l7), then allow_from (not_allowed_l7)
 *   sni          the ClientHello's server name (passthrough and terminate)
 *   identity     terminate: client certificate -> identity, VPN peer, network
 *   request      terminate: the OCI operation decided by rw_decide
 * A layer whose input was not given is "not_evaluated"; one the listener
 * does not have is "not_applicable". */
#include "appliance/rw_daemon_explain.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "appliance/rw_daemon.h"
#include "rules/rw_decide.h"
#include "fwd/rw_names.h"
#include "fwd/rw_pass.h"
#include "inspect/rw_cert.h"
#include "inspect/rw_oci.h"
#include "inspect/rw_tls_hello.h"
#include "rules/rw_admit.h"
#include "rules/rw_cidr.h"
#include "rules/rw_ident.h"
#include "rules/rw_nft.h"

/* Set contents as the kernel holds them: the policy's networks (the
 * compiled net_ and vpn_ sets), the live additions since the last apply
 * (live_ sets, which the daemon's policy has folded into the network), and
 * the ban sets as read from the kernel now. */
struct rw_explain_sets {
	const struct rw_daemon *d;
	const struct rw_nft_compiled *c;
	struct rw_cidr *bans;
	size_t n_bans, cap_bans;
	int bans_ok;
};

static void rw_explain_ban_cb(const struct rw_nft_elem_info *e, void *arg)
{
	struct rw_explain_sets *s = arg;
	if (s->n_bans == s->cap_bans) {
		size_t cap = s->cap_bans ? s->cap_bans * 2 : 64;
		struct rw_cidr *v = realloc(s->bans, cap * sizeof(*v));
		if (!v) {
			s->bans_ok = 0;
			return;
		}
		s->bans = v;
		s->cap_bans = cap;
	}
	s->bans[s->n_bans++] = e->cidr;
}

/* set "live_<network>_v4": the network's name, or NULL */
static int rw_explain_net_of(const char *set, const char *pfx, char *net, size_t cap)
{
	size_t pl = strlen(pfx), n = strlen(set);
	if (strncmp(set, pfx, pl) != 0 || n < pl + 4)
		return 0;
	size_t len = n - pl - 3;
	if (len >= cap)
		return 0;
	memcpy(net, set + pl, len);
	net[len] = '\0';
	return 1;
}

static int rw_explain_in_live(const struct rw_daemon *d, const char *net, int family,
			      const uint8_t *addr)
{
	for (size_t i = 0; i < d->n_in_live; i++)
		if (strcmp(d->in_live[i].network, net) == 0 &&
		    rw_cidr_contains(&d->in_live[i].cidr, family, addr))
			return 1;
	return 0;
}

static int rw_explain_member(void *arg, const char *set, int family, const uint8_t *addr)
{
	struct rw_explain_sets *s = arg;
	char net[RW_NAME_MAX];
	/* addresses (ban_*) and prefixes (banp_*): one list, read from the
	 * kernel at this request */
	if (strncmp(set, "ban_", 4) == 0 || strncmp(set, "banp_", 5) == 0) {
		if (!s->bans_ok)
			return -1;
		for (size_t i = 0; i < s->n_bans; i++)
			if (rw_cidr_contains(&s->bans[i], family, addr))
				return 1;
		return 0;
	}
	if (rw_explain_net_of(set, "live_", net, sizeof(net)))
		return rw_explain_in_live(s->d, net, family, addr);
	if (rw_explain_net_of(set, "net_", net, sizeof(net)) &&
	    rw_explain_in_live(s->d, net, family, addr))
		return 0; /* held by the live_ set until the next apply */
	int r = rw_admit_set_has(s->c, set, family, addr);
	return r < 0 ? -1 : r;
}

static json_t *rw_explain_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *rw_explain_err(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", buf);
}

static json_t *rw_explain_layer(const char *layer, const char *verdict, const char *by)
{
	return json_pack("{s:s, s:s, s:s}", "layer", layer, "verdict", verdict, "by", by ? by : "");
}

static void rw_explain_note(json_t *layer, const char *note)
{
	json_t *n = json_object_get(layer, "notes");
	if (!n) {
		n = json_array();
		json_object_set_new(layer, "notes", n);
	}
	json_array_append_new(n, json_string(note));
}

static json_t *rw_explain_kernel(struct rw_daemon *d, const struct rw_listener *l,
				 const struct rw_cidr *src, const char *iif)
{
	struct rw_diag diag;
	rw_diag_init(&diag);
	struct rw_nft_compiled *c = NULL;
	if (rw_nft_compile(&d->pol, &c, &diag))
		return rw_explain_layer("kernel", "not_evaluated", "the policy does not compile");
	struct rw_explain_sets s = { .d = d, .c = c, .bans_ok = 1 };
	unsigned present = 0;
	if (rw_nft_ban_list(d->nft, rw_explain_ban_cb, &s, &present, &diag))
		s.bans_ok = 0;
	struct rw_admit_pkt pkt;
	rw_admit_pkt_for(l, src->addr, iif, &pkt);
	struct rw_admit_trace tr;
	json_t *j;
	if (rw_admit_eval(c, &pkt, rw_explain_member, &s, &tr)) {
		j = rw_explain_layer("kernel", "not_evaluated", "");
	} else {
		j = rw_explain_layer("kernel", tr.accept ? "accept" : "drop", tr.rule);
		json_object_set_new(j, "chain", json_string(tr.chain));
		json_object_set_new(j, "rule", json_string(tr.rule));
		json_object_set_new(j, "counter", json_string(tr.rule));
		json_object_set_new(j, "nflog_prefix", json_string(tr.nflog_prefix));
		json_t *steps = json_array();
		for (size_t i = 0; i < tr.n_steps; i++)
			json_array_append_new(steps, json_pack("{s:s, s:s, s:s}", "chain",
							       tr.steps[i].chain, "rule",
							       tr.steps[i].rule, "result",
							       tr.steps[i].what));
		json_object_set_new(j, "steps", steps);
		if (tr.rates_unevaluated)
			rw_explain_note(j, "rate limits not evaluated (the meters' state is "
					   "per source in the kernel)");
		if (!s.bans_ok)
			rw_explain_note(j, "the ban sets could not be read: bans not evaluated");
		if (!tr.rule[0])
			rw_explain_note(j, "no regwall rule decides: chain policy accept");
	}
	char why[RW_GUARD_TEXT];
	if (d->guarded && rw_guard_check(&d->guard, why, sizeof(why))) {
		char note[RW_GUARD_TEXT + 64];
		snprintf(note, sizeof(note), "the kernel's table is not as loaded: %s", why);
		rw_explain_note(j, note);
	}
	free(s.bans);
	rw_nft_compiled_free(c);
	return j;
}

/* A transparent listener's connections are the ones chain intercept
 * redirected from registry.upstream: the kernel layer above is the
 * redirected SYN's (the input chain sees the listener's address), and the
 * workers serve nothing else (fwd/rw_orig_dst.h). */
static void rw_explain_transparent(const struct rw_policy *p, const struct rw_listener *l,
				   json_t *kernel)
{
	char up[64] = "?", note[256];
	const struct rw_endpoint *u = &p->registry.upstream;
	char a[INET6_ADDRSTRLEN];
	if (u->family && inet_ntop(u->family, u->addr, a, sizeof(a)))
		snprintf(up, sizeof(up), u->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, u->port);
	if (u->family != l->listen.family)
		snprintf(note, sizeof(note),
			 "transparent: this endpoint's family gets no redirect (registry.upstream %s); "
			 "the workers refuse every connection to it (not_redirected)",
			 up);
	else
		snprintf(note, sizeof(note),
			 "transparent: a connection to %s redirected by chain intercept (rule \"%s "
			 "transparent\"); one to the listener's own address is refused by the "
			 "workers (not_redirected)",
			 up, l->name);
	rw_explain_note(kernel, note);
}

/* the names a listener's SNI check compares with (as fwd/rw_fwd.c picks them) */
static void rw_explain_names(const struct rw_policy *p, const struct rw_listener *l,
			     char *const **names, size_t *n)
{
	*names = l->n_server_names ? l->server_names : p->registry.server_names;
	*n = l->n_server_names ? l->n_server_names : p->registry.n_server_names;
}

static json_t *rw_explain_sni(const struct rw_policy *p, const struct rw_listener *l,
			      const char *sni)
{
	if (!sni[0]) {
		json_t *j = rw_explain_layer("sni", "not_evaluated", "");
		rw_explain_note(j, "no --sni: a ClientHello without server_name is refused (no_sni)");
		return j;
	}
	char *const *names;
	size_t n;
	rw_explain_names(p, l, &names, &n);
	const char *why;
	if (l->mode == RW_MODE_PASSTHROUGH) {
		/* the passthrough decision itself, on a hello with this name
		 * and no ECH extension */
		static struct rw_tls_hello h;
		memset(&h, 0, sizeof(h));
		snprintf(h.sni, sizeof(h.sni), "%s", sni);
		h.sni_len = strlen(h.sni);
		why = rw_pass_check_hello(&h, names, n, l->allow_ech);
	} else {
		why = rw_names_match(names, n, sni) ? NULL : "sni";
	}
	json_t *j = rw_explain_layer("sni", why ? "refuse" : "admit",
				     why ? why : "server_names");
	if (why)
		json_object_set_new(j, "reason", json_string(why));
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_string(names[i]));
	json_object_set_new(j, "server_names", list);
	return j;
}

static json_t *rw_explain_identity(const struct rw_policy *p, const struct rw_listener *l,
				   const struct rw_cidr *src, const char *dn, struct rw_who *who,
				   int *refused)
{
	*refused = 0;
	const struct rw_identity *ident = NULL;
	bool cert = dn[0] && l->client_cert != RW_CCERT_NONE;
	if (l->client_cert == RW_CCERT_REQUIRED && !dn[0]) {
		*refused = 1;
		json_t *j = rw_explain_layer("identity", "refuse", "client_cert_missing");
		json_object_set_new(j, "reason", json_string("client_cert_missing"));
		rw_explain_note(j, "client_cert = required and no --cert-subject given");
		return j;
	}
	if (cert) {
		/* the certificate as rw_cert_identity would give it: its
		 * subject only (an identity that also names a SAN or a
		 * fingerprint needs the certificate itself) */
		static struct rw_cert_id id;
		memset(&id, 0, sizeof(id));
		snprintf(id.subject, sizeof(id.subject), "%s", dn);
		ident = rw_ident_find(&id, p->identities, p->n_identities);
	}
	/* as rw_term_identify: on_vpn true (the kernel admits a peer's
	 * address only on the VPN interface) */
	rw_who_resolve(p, src->family, src->addr, true, ident, who);
	json_t *j = rw_explain_layer("identity", "admit", who->name);
	json_object_set_new(j, "name", json_string(who->name));
	json_object_set_new(j, "identity", who->identity ? json_string(who->identity->name) : json_null());
	json_object_set_new(j, "peer", who->peer ? json_string(who->peer->name) : json_null());
	json_object_set_new(j, "network", who->network ? json_string(who->network->name) : json_null());
	if (dn[0] && l->client_cert == RW_CCERT_NONE)
		rw_explain_note(j, "the listener asks for no client certificate: the subject is not used");
	else if (cert && !ident)
		rw_explain_note(j, "no identity has this cert_subject (identities that also "
				   "name cert_san or cert_sha256 need the certificate)");
	return j;
}

static json_t *rw_explain_request(const struct rw_policy *p, const struct rw_who *who,
				  const char *method, const char *path, int *refused)
{
	static struct rw_oci_req oci;
	rw_oci_classify(method, strlen(method), path, strlen(path), &oci);
	struct rw_decision dec;
	struct rw_decide_trace tr;
	enum rw_verdict v = rw_decide_explain(p, who, &oci, &dec, &tr);
	*refused = v != RW_VERDICT_ALLOW;
	json_t *j = rw_explain_layer("request", *refused ? "refuse" : "admit", dec.reason);
	json_object_set_new(j, "operation", json_string(rw_oci_op_str(oci.op)));
	if (oci.repo[0])
		json_object_set_new(j, "repository", json_string(oci.repo));
	json_object_set_new(j, "needs", json_string(tr.need ? tr.need : ""));
	json_object_set_new(j, "reason", json_string(dec.reason ? dec.reason : ""));
	json_object_set_new(j, "status", json_integer(dec.status));
	if (dec.message[0])
		json_object_set_new(j, "message", json_string(dec.message));
	json_t *g = json_array();
	for (size_t i = 0; i < tr.n_lines; i++)
		json_array_append_new(g, json_string(tr.lines[i]));
	json_object_set_new(j, "grants", g);
	if (!*refused)
		rw_explain_note(j, "request bodies and push rate limits not evaluated");
	return j;
}

static const struct rw_listener *rw_explain_listener(const struct rw_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_listeners; i++)
		if (strcmp(p->listeners[i].name, name) == 0)
			return &p->listeners[i];
	return NULL;
}

json_t *rw_daemon_explain(struct rw_daemon *d, const struct rw_ctl_req *req)
{
	const struct rw_ctl_explain *ex = &req->ex;
	const struct rw_policy *p = &d->pol;
	if (!d->have_pol)
		return rw_explain_err("no policy loaded");
	const struct rw_listener *l = rw_explain_listener(p, ex->listener);
	if (!l)
		return rw_explain_err("no listener named \"%s\"", ex->listener);
	const struct rw_cidr *src = &req->cidrs[0];
	char a[64];
	rw_cidr_format(src, a, sizeof(a));
	char *slash = strchr(a, '/'); /* one address: no prefix length */
	if (slash)
		*slash = '\0';
	if (src->family != l->listen.family)
		return rw_explain_err("listener %s takes IPv%d only; %s is IPv%d", l->name,
				      l->listen.family == AF_INET ? 4 : 6, a,
				      src->family == AF_INET ? 4 : 6);
	json_t *layers = json_array();
	const char *verdict = "allow", *decided_by = "";
	const char *iif = ex->iif;

	json_t *k = rw_explain_kernel(d, l, src, iif);
	const char *kv = json_string_value(json_object_get(k, "verdict"));
	if (!ex->iif[0])
		rw_explain_note(k, "no --iif: the SYN is taken as not from the VPN interface");
	if (l->transparent)
		rw_explain_transparent(p, l, k);
	json_array_append_new(layers, k);
	if (kv && strcmp(kv, "drop") == 0) {
		verdict = "refuse";
		decided_by = "kernel";
	}

	/* the workers' second line, as rw_fwd_admit decides it: the bans the
	 * workers were sent (the parent's list of them), then
	 * rw_fwd_source_allowed */
	const char *net = NULL;
	bool on_vpn = p->vpn.enabled && strcmp(iif, p->vpn.interface) == 0;
	struct rw_cidr ban;
	bool banned = d->workers && rw_bans_find(&d->workers->bans, src->family, src->addr,
						 rw_bans_now_ms(), &ban, NULL);
	bool ok = !banned && rw_decide_source(p, l, src->family, src->addr, on_vpn, &net);
	const char *why = banned ? "banned_l7" : "not_allowed_l7";
	json_t *s2 = rw_explain_layer("second_line", ok ? "admit" : "refuse", ok ? net : why);
	if (!ok)
		json_object_set_new(s2, "reason", json_string(why));
	if (banned) {
		char b[64];
		rw_cidr_format(&ban, b, sizeof(b));
		json_object_set_new(s2, "ban", json_string(b));
	}
	if (!d->workers)
		rw_explain_note(s2, "no workers run (firewall only): no second line");
	json_array_append_new(layers, s2);
	if (!ok && !decided_by[0] && d->workers) {
		verdict = "refuse";
		decided_by = "second_line";
	}

	int refused = 0;
	json_t *sn = rw_explain_sni(p, l, ex->sni);
	json_array_append_new(layers, sn);
	const char *sv = json_string_value(json_object_get(sn, "verdict"));
	if (sv && strcmp(sv, "refuse") == 0 && !decided_by[0]) {
		verdict = "refuse";
		decided_by = "sni";
	}

	if (l->mode == RW_MODE_TERMINATE) {
		struct rw_who who;
		json_array_append_new(layers,
				      rw_explain_identity(p, l, src, ex->cert_subject, &who, &refused));
		if (refused && !decided_by[0]) {
			verdict = "refuse";
			decided_by = "identity";
		}
		if (!refused && ex->method[0]) {
			json_array_append_new(layers, rw_explain_request(p, &who, ex->method,
									 ex->path, &refused));
			if (refused && !decided_by[0]) {
				verdict = "refuse";
				decided_by = "request";
			}
		} else if (!refused) {
			json_t *r = rw_explain_layer("request", "not_evaluated", "");
			rw_explain_note(r, "no --method/--path");
			json_array_append_new(layers, r);
		}
	} else {
		json_array_append_new(layers, rw_explain_layer("identity", "not_applicable",
							       "passthrough"));
		json_array_append_new(layers, rw_explain_layer("request", "not_applicable",
							       "passthrough"));
	}
	return json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:b, s:o}", "ok", 1, "listener", l->name,
			 "src", a, "verdict", verdict, "decided_by", decided_by, "mode",
			 l->mode == RW_MODE_TERMINATE ? "terminate" : "passthrough", "transparent",
			 l->transparent, "layers", layers);
}
