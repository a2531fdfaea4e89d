#include "appliance/rw_daemon.h"
#include "appliance/rw_blocked.h"
#include "appliance/rw_daemon_explain.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "appliance/rw_config.h"
#include "appliance/rw_ctl_proto.h"
#include "appliance/rw_evout.h"
#include "appliance/rw_daemon_diff.h"
#include "appliance/rw_rlimit.h"
#include "appliance/rw_audit.h"
#include "appliance/rw_wg_peers.h"
#include "fwd/rw_tlsctx.h"
#include "rules/rw_cidr.h"
#include "rules/rw_cidrset.h"

void rw_daemon_init(struct rw_daemon *d, const char *config_path)
{
	memset(d, 0, sizeof(*d));
	d->config_path = config_path;
	d->started = d->last_reload = time(NULL);
}

void rw_daemon_fini(struct rw_daemon *d)
{
	if (d->guarded)
		rw_guard_fini(&d->guard);
	if (d->have_pol)
		rw_policy_free(&d->pol);
	if (d->nft)
		rw_nft_close(d->nft);
	free(d->live);
	free(d->in_live);
	free(d->ctr);
	json_decref(d->last_diff);
	if (d->wgl)
		rw_wgl_fini(d->wgl);
	memset(d, 0, sizeof(*d));
}

static struct rw_network *rw_daemon_net(struct rw_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_networks; i++)
		if (strcmp(p->networks[i].name, name) == 0)
			return &p->networks[i];
	return NULL;
}

static int rw_daemon_record(struct rw_daemon *d, int add, const char *network,
			    const struct rw_cidr *c)
{
	/* An add cancels an earlier delete of the same prefix and vice versa,
	 * so the list stays as short as the net effect. */
	for (size_t i = 0; i < d->n_live; i++) {
		struct rw_live_change *l = &d->live[i];
		if (l->add != add && strcmp(l->network, network) == 0 &&
		    l->cidr.family == c->family && l->cidr.prefix == c->prefix &&
		    memcmp(l->cidr.addr, c->addr, sizeof(c->addr)) == 0) {
			d->live[i] = d->live[--d->n_live];
			return 0;
		}
	}
	if (d->n_live == d->cap_live) {
		size_t cap = d->cap_live ? d->cap_live * 2 : 16;
		struct rw_live_change *v = realloc(d->live, cap * sizeof(*v));
		if (!v)
			return RW_ENOMEM;
		d->live = v;
		d->cap_live = cap;
	}
	struct rw_live_change *l = &d->live[d->n_live++];
	l->add = add;
	snprintf(l->network, sizeof(l->network), "%s", network);
	l->cidr = *c;
	return 0;
}

/* Replay live changes onto a freshly loaded policy, into a new list that
 * the caller keeps only if the whole load succeeds (a refused reload must
 * leave the old policy's list as it was). A change that no longer fits
 * (network gone, prefix now in the file) is dropped with a warning: the
 * file wins. An addition that overlaps a VPN peer's address fails the
 * load, as the same prefix in the file would. */
static int rw_daemon_replay(struct rw_daemon *d, struct rw_policy *p, struct rw_live_change **out,
			    size_t *n_out, struct rw_diag *diag)
{
	/* the file the changes were saved to: the running policy's at reload */
	const char *file = d->have_pol ? d->pol.state_file : p->state_file;
	struct rw_live_change *kept = d->n_live ? malloc(d->n_live * sizeof(*kept)) : NULL;
	size_t n_kept = 0;
	if (d->n_live && !kept)
		return RW_ENOMEM;
	/* up to RW_STATE_MAX_CHANGES additions checked against the peers'
	 * addresses: through an index of them (without one, when it cannot be
	 * built, the same check scans) */
	struct rw_cidrset_index peers = RW_CIDRSET_INDEX_INIT;
	if (d->n_live && p->vpn.enabled)
		(void)rw_cidrset_index_peers(&peers, p);
	for (size_t i = 0; i < d->n_live; i++) {
		const struct rw_live_change *l = &d->live[i];
		struct rw_network *net = rw_daemon_net(p, l->network);
		const struct rw_cidr *paddr;
		const struct rw_peer *peer;
		char buf[64], pbuf[64];
		rw_cidr_format(&l->cidr, buf, sizeof(buf));
		int ok = 0;
		if (!net) {
			rw_diag_warn(diag, NULL, 0, "live change %s %s %s dropped: network no longer defined",
				     l->add ? "add" : "del", l->network, buf);
		} else if (l->add && (peer = rw_state_peer_overlap_ix(p, &peers, &l->cidr, &paddr))) {
			rw_cidr_format(paddr, pbuf, sizeof(pbuf));
			/* at reload the list may have lost entries the file still
			 * has (dropped by an earlier reload): no number then */
			if (d->have_pol)
				rw_diag_err(diag, file, 0,
					    "live change 'network add %s %s' overlaps VPN peer %s's "
					    "address %s (a peer's tunnel address must be reachable only "
					    "through the VPN); undo it with 'regwallctl network del %s %s' "
					    "or remove the peer from %s, then reload",
					    l->network, buf, peer->name, pbuf, l->network, buf,
					    p->source_file);
			else
				rw_diag_err(diag, file, 0,
					    "change #%zu (network add %s %s) overlaps VPN peer %s's "
					    "address %s (a peer's tunnel address must be reachable only "
					    "through the VPN); remove that change from this file or the "
					    "peer from %s, then start again",
					    i + 1, l->network, buf, peer->name, pbuf, p->source_file);
			free(kept);
			rw_cidrset_index_free(&peers);
			return RW_ECONFIG;
		} else if (l->add) {
			/* refused when it overlaps a prefix the network has */
			int r = rw_cidrset_net_insert(net, &l->cidr);
			if (r == RW_EEXIST)
				rw_diag_warn(diag, NULL, 0,
					     "live add %s %s dropped: the config now covers it", l->network, buf);
			else if (r == 0)
				ok = 1;
			else {
				free(kept);
				rw_cidrset_index_free(&peers);
				return r; /* RW_ENOMEM */
			}
		} else {
			if (rw_cidrset_net_remove(net, &l->cidr) != 0)
				rw_diag_warn(diag, NULL, 0,
					     "live del %s %s dropped: the config no longer has it", l->network, buf);
			else
				ok = 1;
		}
		if (ok)
			kept[n_kept++] = *l;
	}
	rw_cidrset_index_free(&peers);
	*out = kept;
	*n_out = n_kept;
	return 0;
}

struct rw_ban_saved {
	struct rw_nft_ban *v;
	size_t n, cap;
	int oom;
};

static void rw_daemon_ban_cb(const struct rw_nft_elem_info *e, void *arg)
{
	struct rw_ban_saved *s = arg;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct rw_nft_ban *v = realloc(s->v, cap * sizeof(*v));
		if (!v) {
			s->oom = 1;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].addr = e->cidr;
	s->v[s->n].timeout_ms = e->expires_ms;
	memcpy(s->v[s->n++].reason, e->comment, sizeof(e->comment)); /* the reason goes along */
}

/* The manual bans a table replace just carried over (read back from the
 * kernel, or the guard's copy) become the workers' list
 * (rw_workers_bans_replace): a manual ban always has a comment, and only
 * regwallctl writes the prefix sets. The ban_after meters' bans (no
 * comment, in ban_v4/_v6) are left to the kernel: they come and go from
 * the packet path, and the parent never hears of them. timeout_ms is the
 * time left; 0 would be the set's default, ban_for_ms. */
static void rw_daemon_bans_known(struct rw_daemon *d, const struct rw_nft_ban *v, size_t n,
				 uint64_t ban_for_ms)
{
	if (!d->workers)
		return;
	struct rw_bans nb = RW_BANS_INIT;
	uint64_t now = rw_bans_now_ms();
	for (size_t i = 0; i < n; i++) {
		if (!v[i].reason[0] && rw_nft_cidr_is_host(&v[i].addr))
			continue; /* a meter's */
		uint64_t left = v[i].timeout_ms ? v[i].timeout_ms : ban_for_ms;
		if (rw_bans_add(&nb, &v[i].addr, now + left) == RW_ENOMEM)
			fprintf(stderr, "regwalld: out of memory for the proxy workers' ban list; "
					"the kernel still enforces every ban\n");
	}
	rw_workers_bans_replace(d->workers, &nb);
	rw_bans_free(&nb);
}

/* Counters of the table about to be replaced, read just before the
 * replace and added to d->ctr once it is done. */
struct rw_ctr_read {
	struct rw_daemon_ctr *v;
	size_t n, cap;
	int oom;
};

static void rw_daemon_ctr_read_cb(const char *chain, const char *comment, uint64_t packets,
				  uint64_t bytes, void *arg)
{
	struct rw_ctr_read *c = arg;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct rw_daemon_ctr *v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			c->oom = 1;
			return;
		}
		c->v = v;
		c->cap = cap;
	}
	struct rw_daemon_ctr *e = &c->v[c->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->chain, sizeof(e->chain), "%s", chain);
	snprintf(e->rule, sizeof(e->rule), "%s", comment ? comment : "");
	e->packets = packets;
	e->bytes = bytes;
}

/* Read the counters of the table in the kernel before a replace. Nothing
 * to carry when there is no table (deleted: its counts went with it) or it
 * cannot be read; the replace goes ahead either way (a firewall that is
 * not in force matters more than a count). */
static void rw_daemon_ctr_before(struct rw_daemon *d, struct rw_ctr_read *c)
{
	struct rw_diag ldiag;
	rw_diag_init(&ldiag);
	memset(c, 0, sizeof(*c));
	if (rw_nft_counters(d->nft, rw_daemon_ctr_read_cb, c, &ldiag) || c->oom)
		c->n = 0;
}

static struct rw_daemon_ctr *rw_daemon_ctr_find(struct rw_daemon *d, const char *chain,
						const char *rule)
{
	for (size_t i = 0; i < d->n_ctr; i++)
		if (strcmp(d->ctr[i].chain, chain) == 0 && strcmp(d->ctr[i].rule, rule) == 0)
			return &d->ctr[i];
	return NULL;
}

/* The replace is done: the old table's counts join the totals (since
 * start; and since the reload unless this replace IS a reload, which
 * starts that column from zero). A rule that left the policy keeps its
 * total, so it resumes if the rule comes back. */
static void rw_daemon_ctr_after(struct rw_daemon *d, struct rw_ctr_read *c, int reload)
{
	if (reload)
		for (size_t i = 0; i < d->n_ctr; i++)
			d->ctr[i].reload_packets = d->ctr[i].reload_bytes = 0;
	for (size_t i = 0; i < c->n; i++) {
		struct rw_daemon_ctr *e = rw_daemon_ctr_find(d, c->v[i].chain, c->v[i].rule);
		if (!e) {
			if (d->n_ctr == d->cap_ctr) {
				size_t cap = d->cap_ctr ? d->cap_ctr * 2 : 32;
				struct rw_daemon_ctr *v = realloc(d->ctr, cap * sizeof(*v));
				if (!v)
					break; /* counts lost, nothing else */
				d->ctr = v;
				d->cap_ctr = cap;
			}
			e = &d->ctr[d->n_ctr++];
			memset(e, 0, sizeof(*e));
			memcpy(e->chain, c->v[i].chain, sizeof(e->chain));
			memcpy(e->rule, c->v[i].rule, sizeof(e->rule));
		}
		e->packets += c->v[i].packets;
		e->bytes += c->v[i].bytes;
		if (!reload) {
			e->reload_packets += c->v[i].packets;
			e->reload_bytes += c->v[i].bytes;
		}
	}
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/* Every certificate in a listener's client_ca must be a CA: OpenSSL takes
 * a leaf there without complaint, and then no client certificate ever
 * verifies (an admin who pasted the client's own certificate sees only
 * failed handshakes). Returns nonzero when it reported. */
static int rw_daemon_check_client_ca(const struct rw_policy *p, const struct rw_listener *l,
				     struct rw_diag *diag)
{
	BIO *bio = BIO_new_file(l->client_ca, "r");
	if (!bio)
		return 0; /* unreadable: rw_tlsctx_server_new says so */
	int bad = 0;
	X509 *x;
	while (!bad && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		if (X509_check_ca(x) == 0) {
			char subject[256] = "?";
			X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
			rw_diag_err(diag, p->source_file, l->line,
				    "listener %s: client_ca %s: \"%s\" is not a CA certificate "
				    "(basicConstraints CA:FALSE), so no client certificate can "
				    "verify against it; name the CA that issues the client "
				    "certificates",
				    l->name, l->client_ca, subject);
			bad = 1;
		}
		X509_free(x);
	}
	ERR_clear_error(); /* the end of the file reads as an error */
	BIO_free(bio);
	return bad;
}

/* Every name a terminate listener serves must be in its certificate:
 * otherwise clients of that name fail verification and an admin sees
 * only failed handshakes. A "*.suffix" server name is checked with one
 * label in front of the suffix. Returns nonzero when it reported. */
static int rw_daemon_check_names(const struct rw_policy *p, const struct rw_listener *l,
				 SSL_CTX *ctx, const struct rw_tlsctx_sni *sni, struct rw_diag *diag)
{
	X509 *cert = SSL_CTX_get0_certificate(ctx);
	if (!cert)
		return 0;
	int bad = 0;
	for (size_t i = 0; i < sni->n_names; i++) {
		const char *n = sni->names[i];
		char probe[300];
		if (n[0] == '*' && n[1] == '.')
			snprintf(probe, sizeof(probe), "x%s", n + 1);
		else
			snprintf(probe, sizeof(probe), "%s", n);
		if (X509_check_host(cert, probe, 0, 0, NULL) != 1) {
			rw_diag_err(diag, p->source_file, l->line,
				    "listener %s: the certificate %s does not cover the server name "
				    "\"%s\" (clients of that name would fail verification)",
				    l->name, l->cert, n);
			bad = 1;
		}
	}
	return bad;
}

int rw_daemon_check_tls(const struct rw_policy *p, struct rw_pem_set *pem_out,
			struct rw_diag *diag)
{
	int bad = 0;
	char err[256];
	/* The files as the workers will get them (rw_pem: one read, capped),
	 * and every context built from those bytes exactly as a worker builds
	 * it: what passes here is what the workers load. */
	struct rw_pem_set pem = { 0 };
	int pr = rw_pem_set_read(&pem, p, err, sizeof(err));
	if (pr) {
		rw_diag_err(diag, p->source_file, 0, "%s", err[0] ? err : rw_strerror(pr));
		rw_pem_set_free(&pem);
		return RW_ECONFIG;
	}
	for (size_t i = 0; i < p->n_listeners; i++) {
		const struct rw_listener *l = &p->listeners[i];
		/* the endpoints of one listener share its TLS settings */
		if (l->mode != RW_MODE_TERMINATE || l->endpoint_index > 0)
			continue;
		struct rw_tlsctx_sni sni = {
			.names = l->n_server_names ? l->server_names : p->registry.server_names,
			.n_names = l->n_server_names ? l->n_server_names : p->registry.n_server_names,
		};
		SSL_CTX *ctx = NULL;
		if (rw_tlsctx_server_new(l, &sni, NULL, &pem, &ctx, err, sizeof(err))) {
			/* rw_tlsctx names the setting first ("key ...", "cert ..."):
			 * point at that setting's line, not the listener's */
			int line = l->line;
			if (strncmp(err, "key ", 4) == 0 && l->key_line)
				line = l->key_line;
			else if (strncmp(err, "cert ", 5) == 0 && l->cert_line)
				line = l->cert_line;
			rw_diag_err(diag, p->source_file, line, "listener %s: %s", l->name, err);
			bad = 1;
		} else {
			if (l->client_ca && rw_daemon_check_client_ca(p, l, diag))
				bad = 1;
			if (rw_daemon_check_names(p, l, ctx, &sni, diag))
				bad = 1;
		}
		SSL_CTX_free(ctx);
	}
	if (p->registry.upstream_tls) {
		SSL_CTX *ctx = NULL;
		if (rw_tlsctx_client_new(p->registry.upstream_ca, &pem, &ctx, err, sizeof(err))) {
			rw_diag_err(diag, p->source_file, 0, "registry.upstream_ca: %s", err);
			bad = 1;
		}
		SSL_CTX_free(ctx);
	}
	if (!bad && pem_out)
		*pem_out = pem;
	else
		rw_pem_set_free(&pem);
	return bad ? RW_ECONFIG : 0;
}

int rw_daemon_load_apply(struct rw_daemon *d, struct rw_diag *diag)
{
	struct rw_policy np;
	int r = rw_config_load_file(d->config_path, &np, diag);
	if (r)
		return r;
	/* the TLS files, read once: checked here and, if the load goes
	 * through, handed to the next worker generation */
	struct rw_pem_set pem = { 0 };
	r = rw_daemon_check_tls(&np, d->workers ? &pem : NULL, diag);
	/* before the workers fork (they inherit it): enough descriptors for
	 * the policy's max_connections, or a refusal with the numbers */
	if (!r && d->workers)
		r = rw_rlimit_fit(&np, diag);
	if (r) {
		rw_pem_set_free(&pem);
		rw_policy_free(&np);
		return r;
	}
	if (!d->state_loaded) {
		struct rw_live_change *v;
		size_t n;
		r = rw_state_load(np.state_file, &v, &n, diag);
		if (r) {
			rw_pem_set_free(&pem);
			rw_policy_free(&np);
			return r;
		}
		free(d->live);
		d->live = v;
		d->n_live = d->cap_live = n;
		d->state_loaded = 1;
		if (n)
			rw_diag_warn(diag, np.state_file, 0, "%zu live change%s from regwallctl re-applied",
				     n, n == 1 ? "" : "s");
	}
	/* live VPN peers (regwallctl peer add) join the config's */
	if (d->wgl && (r = rw_wgl_merge(d->wgl, &np, diag))) {
		rw_pem_set_free(&pem);
		rw_policy_free(&np);
		return r;
	}
	struct rw_live_change *kept = NULL;
	size_t n_kept = 0;
	r = rw_daemon_replay(d, &np, &kept, &n_kept, diag);
	struct rw_nft_compiled *comp = NULL;
	if (!r)
		r = rw_nft_compile(&np, &comp, diag);
	/* Bind every listening socket the new policy needs before anything
	 * changes: a listener that cannot be bound refuses the load with the
	 * table and the running workers untouched. */
	if (!r && d->workers)
		r = rw_workers_prepare(d->workers, &np, diag);
	if (!r && d->workers)
		rw_workers_next_pem(d->workers, &pem); /* taken: freed with the prepare */
	rw_pem_set_free(&pem);
	if (!r && !d->nft)
		r = rw_nft_open(&d->nft, diag);
	/* Bans live only in the kernel set, which the table replace recreates:
	 * read them first and carry them (with their time left) into the same
	 * transaction. A table from an earlier run (daemon restart) counts
	 * too; a missing table or set simply has no bans. If they cannot be
	 * read completely the reload is refused rather than unbanning. */
	struct rw_ban_saved bans = { 0 };
	if (!r) {
		struct rw_diag ldiag;
		rw_diag_init(&ldiag);
		unsigned present = 0;
		int lr = rw_nft_ban_list(d->nft, rw_daemon_ban_cb, &bans, &present, &ldiag);
		if (lr || bans.oom) {
			rw_diag_err(diag, NULL, 0, "cannot read the current bans to carry them over");
			r = bans.oom ? RW_ENOMEM : lr;
		} else if (present == 0 && d->guarded && d->guard.n_bans) {
			/* someone deleted the table (and its bans) just before
			 * this reload: the guard's copy brings them back */
			free(bans.v);
			bans.v = rw_guard_bans(&d->guard, &bans.n);
		}
	}
	/* the running table's counters, to carry into the totals (not at the
	 * first load: a table left by an earlier run is not this run's) */
	struct rw_ctr_read ctrs = { 0 };
	if (!r && d->have_pol)
		rw_daemon_ctr_before(d, &ctrs);
	if (!r)
		r = rw_nft_apply_with_bans(d->nft, comp, bans.v, bans.n, diag);
	if (r == RW_EUNKNOWN) {
		/* Acks were lost (ENOBUFS): the kernel may or may not have
		 * committed. The batch replaces the whole table, so sending it
		 * again makes the outcome known either way instead of guessing. */
		rw_diag_warn(diag, NULL, 0, "netlink acknowledgements lost; applying once more");
		r = rw_nft_apply_with_bans(d->nft, comp, bans.v, bans.n, diag);
	}
	rw_nft_compiled_free(comp);
	if (!r) /* the bans just carried over are the ones in force now */
		rw_daemon_bans_known(d, bans.v, bans.n, np.opts.ban_for_ms);
	free(bans.v);
	if (r) {
		if (d->workers)
			rw_workers_prepare_cancel(d->workers);
		free(ctrs.v);
		free(kept);
		rw_policy_free(&np);
		return r;
	}
	if (d->have_pol) {
		rw_daemon_ctr_after(d, &ctrs, 1);
		d->last_reload = time(NULL);
		json_decref(d->last_diff);
		d->last_diff = rw_daemon_diff(&d->pol, &np);
	}
	free(d->live);
	d->live = kept;
	d->n_live = d->cap_live = n_kept;
	if (d->have_pol)
		rw_policy_free(&d->pol);
	d->pol = np;
	d->have_pol = 1;
	d->applies++;
	d->n_in_live = 0; /* the apply folded every live prefix into net_ sets */
	if (d->guarded)
		rw_guard_applied(&d->guard);
	/* the WireGuard interface gets the policy's peers (opened at the first apply) */
	return d->wgl ? rw_wgl_after_apply(d->wgl, &d->pol, diag) : 0;
}

/* The guard saw the table deleted or changed: apply the daemon's current
 * policy (the live changes are in d->pol already) as one transaction.
 * Bans: the kernel's, when all four ban sets are still there to read;
 * else the guard's copy (ban sets deleted with the table). */
static int rw_daemon_restore(void *ctx, const struct rw_nft_ban *copy, size_t n_copy,
			     struct rw_diag *diag)
{
	struct rw_daemon *d = ctx;
	struct rw_nft_compiled *comp = NULL;
	int r = rw_nft_compile(&d->pol, &comp, diag);
	if (r)
		return r;
	struct rw_ban_saved bans = { 0 };
	struct rw_diag ldiag;
	rw_diag_init(&ldiag);
	unsigned present = 0;
	int lr = rw_nft_ban_list(d->nft, rw_daemon_ban_cb, &bans, &present, &ldiag);
	const struct rw_nft_ban *use = bans.v;
	size_t n_use = bans.n;
	if (lr || present != RW_NFT_BAN_SETS_ALL || bans.oom) {
		use = copy;
		n_use = n_copy;
	}
	struct rw_ctr_read ctrs;
	rw_daemon_ctr_before(d, &ctrs); /* rules changed: the rest still count */
	r = rw_nft_apply_with_bans(d->nft, comp, use, n_use, diag);
	if (r == RW_EUNKNOWN)
		r = rw_nft_apply_with_bans(d->nft, comp, use, n_use, diag);
	rw_nft_compiled_free(comp);
	if (!r)
		rw_daemon_bans_known(d, use, n_use, d->pol.opts.ban_for_ms);
	free(bans.v);
	if (!r) {
		d->n_in_live = 0; /* folded into net_ sets, as by any apply */
		rw_daemon_ctr_after(d, &ctrs, 0);
	} else {
		free(ctrs.v);
	}
	return r;
}

int rw_daemon_guard_start(struct rw_daemon *d, struct rw_diag *diag)
{
	int r = d->nft ? 0 : rw_nft_open(&d->nft, diag);
	if (r)
		return r;
	rw_guard_init(&d->guard, d->nft, rw_daemon_restore, d);
	r = rw_guard_start(&d->guard, diag);
	if (r) {
		rw_guard_fini(&d->guard);
		return r;
	}
	d->guarded = 1;
	return 0;
}

int rw_daemon_guard_fd(const struct rw_daemon *d)
{
	return d->guarded ? rw_guard_fd(&d->guard) : -1;
}

void rw_daemon_on_nft_event(struct rw_daemon *d)
{
	if (d->guarded)
		rw_guard_on_event(&d->guard);
}

void rw_daemon_tick(struct rw_daemon *d)
{
	if (d->guarded && d->have_pol)
		rw_guard_tick(&d->guard);
	if (d->wgl)
		rw_wgl_tick(d->wgl);
}

int rw_daemon_reload(struct rw_daemon *d, struct rw_diag *diag)
{
	d->reloads++;
	json_decref(d->last_diff);
	d->last_diff = NULL;
	int r = rw_daemon_load_apply(d, diag);
	if (!r && d->workers)
		r = rw_workers_start(d->workers, &d->pol, diag);
	if (r) {
		d->reload_failures++;
		return r;
	}
	rw_audit_reloaded(d->audit, &d->pol.log, diag);
	if (d->blocked) /* new listeners, limits or paths (a file problem is a warning) */
		(void)rw_blocked_set_policy(d->blocked, &d->pol, diag);
	/* one log line: what the reload changed */
	char line[2048];
	int n = snprintf(line, sizeof(line), "regwalld: reload: generation %llu",
			 (unsigned long long)d->applies);
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(d->last_diff, "summary"), i, v)
		if (n > 0 && (size_t)n < sizeof(line))
			n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%s", i ? "; " : ": ",
				      json_string_value(v));
	fprintf(stderr, "%s\n", line);
	return 0;
}

static json_t *rw_daemon_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *rw_daemon_err(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", buf);
}

static json_t *rw_daemon_diag_err(const char *what, const struct rw_diag *diag, int r)
{
	json_t *msgs = json_array();
	for (unsigned i = 0; i < diag->n; i++)
		json_array_append_new(msgs, json_string(diag->msg[i].text));
	return json_pack("{s:b, s:s+, s:o}", "ok", 0, "error", what, rw_strerror(r), "details", msgs);
}

static long rw_daemon_in_live(const struct rw_daemon *d, const char *network,
			      const struct rw_cidr *c)
{
	for (size_t i = 0; i < d->n_in_live; i++) {
		const struct rw_live_elem *e = &d->in_live[i];
		if (e->cidr.family == c->family && e->cidr.prefix == c->prefix &&
		    memcmp(e->cidr.addr, c->addr, sizeof(c->addr)) == 0 &&
		    strcmp(e->network, network) == 0)
			return (long)i;
	}
	return -1;
}

static int rw_daemon_in_live_add(struct rw_daemon *d, const char *network,
				 const struct rw_cidr *c)
{
	if (d->n_in_live == d->cap_in_live) {
		size_t cap = d->cap_in_live ? d->cap_in_live * 2 : 16;
		struct rw_live_elem *v = realloc(d->in_live, cap * sizeof(*v));
		if (!v)
			return RW_ENOMEM;
		d->in_live = v;
		d->cap_in_live = cap;
	}
	struct rw_live_elem *e = &d->in_live[d->n_in_live++];
	snprintf(e->network, sizeof(e->network), "%s", network);
	e->cidr = *c;
	return 0;
}

/* The four sets of a network: net_ then live_, v4 then v6. */
static void rw_daemon_net_sets(const char *network, char sets[4][RW_NAME_MAX + 8])
{
	snprintf(sets[0], sizeof(sets[0]), "net_%s_v4", network);
	snprintf(sets[1], sizeof(sets[1]), "net_%s_v6", network);
	snprintf(sets[2], sizeof(sets[2]), "live_%s_v4", network);
	snprintf(sets[3], sizeof(sets[3]), "live_%s_v6", network);
}

#define RW_DAEMON_UNKNOWN "outcome unknown (netlink acknowledgements lost), kernel re-read: "
#define RW_DAEMON_UNREAD                                                                      \
	"outcome unknown (netlink acknowledgements lost) and the kernel could not be re-read: "

struct rw_cidr_list {
	struct rw_cidr *v;
	size_t n, cap;
	int oom;
};

static void rw_daemon_cidr_cb(const struct rw_cidr *c, uint64_t expires_ms, void *arg)
{
	struct rw_cidr_list *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct rw_cidr *v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			l->oom = 1;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *c;
}

/* RW_EUNKNOWN from an incremental batch: it may or may not have been
 * committed (one batch: normally all or nothing, but another writer may
 * have raced it). Judge each requested prefix from what the sets hold now
 * instead of guessing; every set is always present in our table, so a
 * missing one is an error like any other failed read. */
static int rw_daemon_reread(struct rw_daemon *d, const char *const *sets, size_t n_sets, int add,
			    const struct rw_cidr *req, size_t n_req, unsigned char *took,
			    enum rw_state_outcome *outcome, struct rw_diag *diag)
{
	struct rw_cidr_list l = { 0 };
	int r = 0;
	for (size_t i = 0; i < n_sets && !r; i++)
		r = rw_nft_set_list(d->nft, sets[i], rw_daemon_cidr_cb, &l, diag);
	if (!r && l.oom)
		r = RW_ENOMEM;
	if (!r)
		*outcome = rw_state_outcome(add, req, n_req, l.v, l.n, took);
	free(l.v);
	return r;
}

/* Some prefixes of one request took effect and some did not: regwalld's
 * copy and the state file already follow the kernel; say which is which. */
static json_t *rw_daemon_partial(int add, const struct rw_ctl_req *req, const unsigned char *took)
{
	json_t *det = json_array();
	size_t n = 0;
	char buf[64], line[96];
	for (size_t i = 0; i < req->n_cidrs; i++) {
		rw_cidr_format(&req->cidrs[i], buf, sizeof(buf));
		snprintf(line, sizeof(line), "%s: %s", took[i] ? "applied" : "not applied", buf);
		json_array_append_new(det, json_string(line));
		n += took[i];
	}
	char msg[256];
	snprintf(msg, sizeof(msg),
		 RW_DAEMON_UNKNOWN "partially applied (%zu of %zu %s); regwalld's copy and the "
				   "state file now match the kernel",
		 n, req->n_cidrs, add ? "added" : "deleted");
	return json_pack("{s:b, s:s, s:o}", "ok", 0, "error", msg, "details", det);
}

/* A network change whose acknowledgements were lost: NULL with took[] and
 * *outcome set when at least part of it took effect, else the reply. */
static json_t *rw_daemon_net_reread(struct rw_daemon *d, const struct rw_ctl_req *req,
				    unsigned char *took, enum rw_state_outcome *outcome)
{
	char sets[4][RW_NAME_MAX + 8];
	struct rw_diag diag;
	rw_diag_init(&diag);
	rw_daemon_net_sets(req->network, sets);
	const char *const names[] = { sets[0], sets[1], sets[2], sets[3] };
	int r = rw_daemon_reread(d, names, 4, req->cmd == RW_CTL_NET_ADD, req->cidrs,
				 req->n_cidrs, took, outcome, &diag);
	if (r)
		return rw_daemon_diag_err(RW_DAEMON_UNREAD
					  "nothing recorded; 'regwallctl reload' makes the kernel "
					  "hold regwalld's copy (without this change): ",
					  &diag, r);
	if (*outcome == RW_STATE_NONE)
		return rw_daemon_err(RW_DAEMON_UNKNOWN "not applied; nothing changed");
	return NULL;
}

/* Validate a whole network change against the current set before touching
 * the kernel, so a refused request changes nothing: NULL when it may go
 * ahead, else the reply. Every lookup is a binary search (rw_cidrset.h):
 * the network's prefixes, the VPN peers' addresses (an index built once
 * for the request) and the request's own earlier prefixes. */
static json_t *rw_daemon_net_check(const struct rw_daemon *d, const struct rw_network *net,
				   const struct rw_ctl_req *req)
{
	int add = req->cmd == RW_CTL_NET_ADD;
	char a[64], b[64];
	struct rw_cidrset_index peers = RW_CIDRSET_INDEX_INIT;
	struct rw_cidrset seen = RW_CIDRSET_INIT; /* the request's additions so far */
	json_t *no = NULL;
	if (add && d->pol.vpn.enabled)
		(void)rw_cidrset_index_peers(&peers, &d->pol); /* none: the check scans */
	for (size_t i = 0; i < req->n_cidrs && !no; i++) {
		const struct rw_cidr *c = &req->cidrs[i];
		rw_cidr_format(c, a, sizeof(a));
		if (add) {
			const struct rw_cidr *paddr;
			const struct rw_peer *peer = rw_state_peer_overlap_ix(&d->pol, &peers, c, &paddr);
			const struct rw_cidr *o;
			int r;
			if (peer) {
				rw_cidr_format(paddr, b, sizeof(b));
				no = rw_daemon_err("%s overlaps VPN peer %s's address %s: a peer's "
						   "tunnel address must be reachable only through "
						   "the VPN, so it cannot be in network %s; "
						   "nothing changed",
						   a, peer->name, b, req->network);
			} else if ((o = rw_cidrset_overlap(net->cidrs, net->n_cidrs, c))) {
				rw_cidr_format(o, b, sizeof(b));
				if (o->prefix == c->prefix)
					no = rw_daemon_err("%s is already in network %s", a, req->network);
				else
					no = rw_daemon_err("%s overlaps %s already in network %s", a, b,
							   req->network);
			} else if ((r = rw_cidrset_insert(&seen, c)) == RW_EEXIST) {
				no = rw_daemon_err("%s overlaps another prefix in the same request", a);
			} else if (r) {
				no = rw_daemon_err("out of memory");
			}
		} else if (rw_cidrset_find_exact(net->cidrs, net->n_cidrs, c) < 0) {
			no = rw_daemon_err("%s is not in network %s (name the exact prefix; see "
					   "'regwallctl network list %s')",
					   a, req->network, req->network);
		}
	}
	rw_cidrset_index_free(&peers);
	rw_cidrset_free(&seen);
	return no;
}

static json_t *rw_daemon_net_change(struct rw_daemon *d, const struct rw_ctl_req *req)
{
	struct rw_network *net = rw_daemon_net(&d->pol, req->network);
	if (!net)
		return rw_daemon_err("no network named \"%s\" in %s", req->network, d->config_path);
	int add = req->cmd == RW_CTL_NET_ADD;
	json_t *no = rw_daemon_net_check(d, net, req);
	if (no)
		return no;
	/* Additions go to the small live_ set (fast kernel commit); a
	 * deletion goes to whichever set holds the prefix. */
	struct rw_cidr *del_live = NULL, *del_main = NULL;
	size_t n_dl = 0, n_dm = 0;
	if (!add) {
		del_live = malloc(req->n_cidrs * sizeof(*del_live));
		del_main = malloc(req->n_cidrs * sizeof(*del_main));
		if (!del_live || !del_main) {
			free(del_live);
			free(del_main);
			return rw_daemon_err("out of memory");
		}
		for (size_t i = 0; i < req->n_cidrs; i++) {
			if (rw_daemon_in_live(d, req->network, &req->cidrs[i]) >= 0)
				del_live[n_dl++] = req->cidrs[i];
			else
				del_main[n_dm++] = req->cidrs[i];
		}
	}
	struct rw_diag diag;
	rw_diag_init(&diag);
	int r = rw_nft_net_live_update(d->nft, req->network, add ? req->cidrs : NULL,
				       add ? req->n_cidrs : 0, del_live, n_dl, del_main, n_dm,
				       &diag);
	free(del_live);
	free(del_main);
	unsigned char took[RW_CTL_MAX_CIDRS];
	enum rw_state_outcome outcome = RW_STATE_ALL;
	memset(took, 1, sizeof(took));
	if (r == RW_EUNKNOWN) {
		json_t *err = rw_daemon_net_reread(d, req, took, &outcome);
		if (err)
			return err;
	} else if (r) {
		return rw_daemon_diag_err("kernel refused the change: ", &diag, r);
	}
	/* The workers check sources and resolve a client's network from their
	 * copy of the policy: each prefix that changed the daemon's copy goes
	 * to them as a delta right after (rw_workers_delta; no new
	 * generation), in the same order, or a live-added network would pass
	 * the kernel and then be refused (not_allowed_l7) or an unknown client
	 * in the proxy, and a deleted one would still be trusted there. The
	 * daemon's copy changes first: a worker restarted from now on forks
	 * with it. This comes before saving: the kernel has changed either
	 * way, and the workers must follow it even if the disk fails. */
	struct rw_diag wdiag;
	rw_diag_init(&wdiag);
	int wr = 0;
	size_t net_index = (size_t)(net - d->pol.networks);
	for (size_t i = 0; i < req->n_cidrs; i++) {
		if (!took[i])
			continue;
		long li = rw_daemon_in_live(d, req->network, &req->cidrs[i]);
		int sent = 0;
		if (add) {
			if (rw_cidrset_net_insert(net, &req->cidrs[i]) ||
			    rw_daemon_in_live_add(d, req->network, &req->cidrs[i]))
				return rw_daemon_err("out of memory after applying; run reload");
			sent = 1;
		} else {
			if (li >= 0)
				d->in_live[li] = d->in_live[--d->n_in_live];
			sent = rw_cidrset_net_remove(net, &req->cidrs[i]) == 0;
		}
		if (sent && d->workers) {
			int e = rw_workers_delta(d->workers, add, net_index, &req->cidrs[i], &wdiag);
			wr = wr ? wr : e;
		}
		if (rw_daemon_record(d, add, req->network, &req->cidrs[i]))
			return rw_daemon_err("out of memory recording the change");
	}
	rw_diag_init(&diag);
	if (rw_state_save(d->pol.state_file, d->live, d->n_live, &diag))
		return rw_daemon_diag_err("applied, but NOT saved (a restart would undo it): ",
					  &diag, RW_EIO);
	if (wr)
		return rw_daemon_diag_err("changed in the kernel and saved, but not every proxy "
					  "worker has it: ",
					  &wdiag, RW_EIO);
	if (outcome == RW_STATE_SOME)
		return rw_daemon_partial(add, req, took);
	json_t *rep = json_pack("{s:b, s:I}", "ok", 1, add ? "added" : "deleted",
				(json_int_t)req->n_cidrs);
	if (r == RW_EUNKNOWN)
		json_object_set_new(rep, "warnings",
				    json_pack("[s]", RW_DAEMON_UNKNOWN "applied"));
	return rep;
}

/* Is c in network a live addition (regwallctl network add, kept across
 * reloads and restarts), rather than a prefix of the config file? */
static int rw_daemon_is_live_add(const struct rw_daemon *d, const char *network,
				 const struct rw_cidr *c)
{
	for (size_t i = 0; i < d->n_live; i++) {
		const struct rw_live_change *l = &d->live[i];
		if (l->add && l->cidr.family == c->family && l->cidr.prefix == c->prefix &&
		    memcmp(l->cidr.addr, c->addr, sizeof(c->addr)) == 0 &&
		    strcmp(l->network, network) == 0)
			return 1;
	}
	return 0;
}

struct rw_daemon_netlist {
	const struct rw_daemon *d;
	const char *network;
	json_t *arr;
};

static void rw_daemon_netlist_cb(const struct rw_cidr *c, uint64_t expires_ms, void *arg)
{
	struct rw_daemon_netlist *nl = arg;
	char buf[64];
	(void)expires_ms;
	rw_cidr_format(c, buf, sizeof(buf));
	json_array_append_new(nl->arr,
			      json_pack("{s:s, s:s}", "cidr", buf, "source",
					rw_daemon_is_live_add(nl->d, nl->network, c) ? "live"
										  : "file"));
}

/* {"ok":true,"networks":{"office":[{"cidr":"203.0.113.0/25","source":"file"},
 * {"cidr":"192.0.2.0/28","source":"live"}],...}}: what the kernel holds
 * (net_ and live_ sets), each prefix marked by where it comes from. An
 * apply folds live prefixes into the net_ sets, so the mark comes from
 * the recorded live changes, not from the set that holds the prefix. */
static json_t *rw_daemon_net_list(struct rw_daemon *d, const char *only)
{
	struct rw_diag diag;
	rw_diag_init(&diag);
	json_t *nets = json_object();
	for (size_t i = 0; i < d->pol.n_networks; i++) {
		const char *name = d->pol.networks[i].name;
		if (only[0] && strcmp(only, name) != 0)
			continue;
		char sets[4][RW_NAME_MAX + 8];
		rw_daemon_net_sets(name, sets);
		struct rw_daemon_netlist nl = { d, name, json_array() };
		int r = 0;
		for (size_t k = 0; k < 4 && !r; k++)
			r = rw_nft_set_list(d->nft, sets[k], rw_daemon_netlist_cb, &nl, &diag);
		json_object_set_new(nets, name, nl.arr);
		if (r) {
			json_decref(nets);
			return rw_daemon_diag_err("cannot list: ", &diag, r);
		}
	}
	return json_pack("{s:b, s:o}", "ok", 1, "networks", nets);
}

struct rw_daemon_ctr_out {
	struct rw_daemon *d;
	json_t *arr;
};

/* One rule: the kernel's count (since the table was last replaced) plus
 * what earlier tables counted: "packets"/"bytes" since regwalld started,
 * "reload_packets"/"reload_bytes" since the last reload. */
static void rw_daemon_counter_cb(const char *chain, const char *comment, uint64_t packets,
				 uint64_t bytes, void *arg)
{
	struct rw_daemon_ctr_out *o = arg;
	const char *rule = comment ? comment : "";
	const struct rw_daemon_ctr *e = rw_daemon_ctr_find(o->d, chain, rule);
	json_array_append_new(
		o->arr,
		json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "chain", chain, "rule", rule, "packets",
			  (json_int_t)(packets + (e ? e->packets : 0)), "bytes",
			  (json_int_t)(bytes + (e ? e->bytes : 0)), "reload_packets",
			  (json_int_t)(packets + (e ? e->reload_packets : 0)), "reload_bytes",
			  (json_int_t)(bytes + (e ? e->reload_bytes : 0))));
}

struct rw_daemon_banlist {
	const struct rw_daemon *d;
	json_t *arr;
};

/* Is listeners[i] the first endpoint of its listener in this family?
 * (A listener with a listen list has one entry per endpoint.) */
static int rw_daemon_first_of_fam(const struct rw_policy *p, size_t i, int family)
{
	const struct rw_listener *l = &p->listeners[i];
	if (l->listen.family != family)
		return 0;
	for (size_t j = i - l->endpoint_index; j < i; j++)
		if (p->listeners[j].listen.family == family)
			return 0;
	return 1;
}

/* Listeners as the config names them (not their endpoints). */
static size_t rw_daemon_n_listeners(const struct rw_policy *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_listeners; i++)
		n += p->listeners[i].endpoint_index == 0;
	return n;
}

/* Which rule bans automatically for sources of this family: the ban_after
 * meter of each listener serving it (one set per family is shared by
 * them, and the kernel's dynset cannot mark its elements). */
static void rw_daemon_ban_rule(const struct rw_policy *p, int family, char *out, size_t len)
{
	size_t n = 0, k = 0;
	for (size_t i = 0; i < p->n_listeners; i++)
		n += rw_daemon_first_of_fam(p, i, family);
	int w = snprintf(out, len, "ban_after meter of listener");
	for (size_t i = 0; i < p->n_listeners && w > 0 && (size_t)w < len; i++) {
		if (!rw_daemon_first_of_fam(p, i, family))
			continue;
		k++;
		w += snprintf(out + w, len - (size_t)w, "%s%s", k == 1 ? " " : k == n ? " or " : ", ",
			      p->listeners[i].name);
	}
}

/* {"cidr":"203.0.113.9/32","expires_ms":590000,"set":"ban_v4",
 *  "origin":"manual","reason":"scanner"} or {...,"origin":"automatic",
 *  "rule":"ban_after meter of listener https"}; prefixes come from
 *  banp_v4/_v6 and are always manual */
static void rw_daemon_banlist_cb(const struct rw_nft_elem_info *e, void *arg)
{
	struct rw_daemon_banlist *bl = arg;
	char buf[64], rule[256];
	rw_cidr_format(&e->cidr, buf, sizeof(buf));
	json_t *o = json_pack("{s:s}", "cidr", buf);
	if (e->expires_ms)
		json_object_set_new(o, "expires_ms", json_integer((json_int_t)e->expires_ms));
	json_object_set_new(o, "set", json_string(e->set));
	/* only regwallctl (or an admin with nft) writes the prefix sets */
	if (e->comment[0] || strncmp(e->set, "banp_", 5) == 0) {
		json_object_set_new(o, "origin", json_string("manual"));
		if (e->comment[0] && strcmp(e->comment, RW_NFT_BAN_MANUAL) != 0)
			json_object_set_new(o, "reason", json_string(e->comment));
	} else {
		rw_daemon_ban_rule(&bl->d->pol, e->cidr.family, rule, sizeof(rule));
		json_object_set_new(o, "origin", json_string("automatic"));
		json_object_set_new(o, "rule", json_string(rule));
	}
	json_array_append_new(bl->arr, o);
}

static json_t *rw_daemon_ban_list(struct rw_daemon *d)
{
	struct rw_diag diag;
	rw_diag_init(&diag);
	struct rw_daemon_banlist bl = { d, json_array() };
	unsigned present = 0;
	int r = rw_nft_ban_list(d->nft, rw_daemon_banlist_cb, &bl, &present, &diag);
	if (!r && present != RW_NFT_BAN_SETS_ALL) {
		rw_diag_err(&diag, NULL, 0, "a ban set of table inet %s is missing",
			    RW_NFT_TABLE);
		r = RW_ENOENT;
	}
	if (r) {
		json_decref(bl.arr);
		return rw_daemon_diag_err("cannot list: ", &diag, r);
	}
	return json_pack("{s:b, s:o}", "ok", 1, "bans", bl.arr);
}

/* A ban or unban whose acknowledgements were lost: is the address banned
 * now? (A re-ban of an address that was banned already reads the same
 * either way; the answer says what the kernel holds, not more.) */
static json_t *rw_daemon_ban_reread(struct rw_daemon *d, int add, const struct rw_cidr *addr,
				    const char *set)
{
	const char *const sets[] = { set };
	struct rw_diag diag;
	unsigned char took;
	enum rw_state_outcome outcome;
	rw_diag_init(&diag);
	int r = rw_daemon_reread(d, sets, 1, add, addr, 1, &took, &outcome, &diag);
	if (r)
		return rw_daemon_diag_err(RW_DAEMON_UNREAD "see 'regwallctl ban list': ", &diag, r);
	if (outcome == RW_STATE_NONE)
		return rw_daemon_err(RW_DAEMON_UNKNOWN "not applied (the address is %s)",
				     add ? "not banned" : "still banned");
	return json_pack("{s:b, s:[s]}", "ok", 1, "warnings",
			 add ? RW_DAEMON_UNKNOWN "applied (the address is banned)"
			     : RW_DAEMON_UNKNOWN "applied (the address is not banned)");
}

/* This host's addresses (in the daemon's network namespace), read at
 * each ban: interfaces and their addresses change while regwalld runs.
 * NULL with *n = 0 when they cannot be read; the caller refuses then. */
static struct rw_ctl_host_addr *rw_daemon_host_addrs(size_t *n)
{
	struct ifaddrs *ifa, *i;
	*n = 0;
	if (getifaddrs(&ifa))
		return NULL;
	size_t cap = 0;
	for (i = ifa; i; i = i->ifa_next)
		cap++;
	struct rw_ctl_host_addr *v = calloc(cap ? cap : 1, sizeof(*v));
	for (i = ifa; v && i; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		struct rw_ctl_host_addr *h = &v[*n];
		if (i->ifa_addr->sa_family == AF_INET) {
			h->addr.family = AF_INET;
			h->addr.prefix = 32;
			memcpy(h->addr.addr, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			h->addr.family = AF_INET6;
			h->addr.prefix = 128;
			memcpy(h->addr.addr, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr,
			       16);
		} else {
			continue;
		}
		snprintf(h->ifname, sizeof(h->ifname), "%s", i->ifa_name ? i->ifa_name : "?");
		(*n)++;
	}
	freeifaddrs(ifa);
	return v;
}

/* A ban that would cut the appliance off, or can never match, is refused
 * before the kernel sees it: NULL when the ban may go ahead. */
static json_t *rw_daemon_ban_refusal(const struct rw_daemon *d, const struct rw_cidr *ban)
{
	size_t n;
	struct rw_ctl_host_addr *own = rw_daemon_host_addrs(&n);
	if (!own)
		return rw_daemon_err("cannot read this host's addresses to check the ban against "
				     "them; nothing banned");
	char err[512];
	int r = rw_ctl_ban_check(ban, &d->pol.registry.upstream, own, n, err, sizeof(err));
	free(own);
	return r ? rw_daemon_err("%s; nothing banned", err) : NULL;
}

/* The banned prefixes of one family (banp_v4 or banp_v6). */
static int rw_daemon_banp_read(struct rw_daemon *d, int family, struct rw_cidr_list *l,
			       struct rw_diag *diag)
{
	int r = rw_nft_set_list(d->nft, rw_nft_ban_sets[family == AF_INET ? 2 : 3],
				rw_daemon_cidr_cb, l, diag);
	return !r && l->oom ? RW_ENOMEM : r;
}

/* The kernel keeps the prefixes of an interval set apart: a prefix ban
 * overlapping a banned prefix (not the same one: that is a re-ban) is
 * refused here, naming it. A single address goes to ban_v4/_v6 and may
 * lie inside a banned prefix. NULL when the ban may go ahead. */
static json_t *rw_daemon_ban_overlap(struct rw_daemon *d, const struct rw_cidr *ban)
{
	if (rw_nft_cidr_is_host(ban))
		return NULL;
	struct rw_diag diag;
	struct rw_cidr_list l = { 0 };
	rw_diag_init(&diag);
	int r = rw_daemon_banp_read(d, ban->family, &l, &diag);
	json_t *no = NULL;
	size_t at = 0;
	if (r) {
		no = rw_daemon_diag_err("cannot read the banned prefixes; nothing banned: ", &diag, r);
	} else if (rw_ctl_ban_match(ban, l.v, l.n, &at) == RW_CTL_BAN_OVERLAP) {
		char a[64], b[64];
		rw_cidr_format(ban, a, sizeof(a));
		rw_cidr_format(&l.v[at], b, sizeof(b));
		no = rw_daemon_err("refusing to ban %s: it overlaps the banned prefix %s (banned "
				   "prefixes cannot overlap); unban %s first; nothing banned",
				   a, b, b);
	}
	free(l.v);
	return no;
}

/* A ban to delete that is not in ban_v4/_v6: the banp_ set when it holds
 * exactly c (*set; a prefix, or a /32 put there by hand), else the reply.
 * An address or prefix inside or over a banned prefix is not that ban:
 * the reply names the prefix. */
static json_t *rw_daemon_unban_where(struct rw_daemon *d, const struct rw_cidr *c,
				     const char **set)
{
	struct rw_diag diag;
	rw_diag_init(&diag);
	struct rw_cidr_list l = { 0 };
	int r = rw_daemon_banp_read(d, c->family, &l, &diag);
	if (r) {
		free(l.v);
		return rw_daemon_diag_err("cannot read the banned prefixes; nothing unbanned: ", &diag,
					  r);
	}
	size_t at = 0;
	enum rw_ctl_ban_match m = rw_ctl_ban_match(c, l.v, l.n, &at);
	char a[64], b[64];
	rw_cidr_format(c, a, sizeof(a));
	if (m == RW_CTL_BAN_OVERLAP)
		rw_cidr_format(&l.v[at], b, sizeof(b));
	free(l.v);
	if (m == RW_CTL_BAN_EXACT) {
		*set = rw_nft_ban_sets[c->family == AF_INET ? 2 : 3];
		return NULL;
	}
	if (m == RW_CTL_BAN_OVERLAP)
		return rw_daemon_err("%s is not banned as such: it %s the banned prefix %s "
				     "(unban that prefix: regwallctl ban del %s); nothing unbanned",
				     a, rw_nft_cidr_is_host(c) ? "is inside" : "overlaps", b, b);
	return rw_daemon_err("%s is not banned",
			     rw_nft_cidr_is_host(c) ? "that address" : "that prefix");
}

/* {"ok":true,"banned":"203.0.113.9/32","timeout_ms":600000} */
static json_t *rw_daemon_ban_done(const struct rw_daemon *d, const struct rw_ctl_req *req)
{
	char buf[64];
	rw_cidr_format(&req->cidrs[0], buf, sizeof(buf));
	json_t *rep = json_pack("{s:b}", "ok", 1);
	if (req->cmd == RW_CTL_BAN_ADD) {
		/* 0 asked for the set's default, which the config's ban_for set */
		uint64_t ms = req->timeout_ms ? req->timeout_ms : d->pol.opts.ban_for_ms;
		json_object_set_new(rep, "banned", json_string(buf));
		json_object_set_new(rep, "timeout_ms", json_integer((json_int_t)ms));
		if (req->reason[0])
			json_object_set_new(rep, "reason", json_string(req->reason));
	} else {
		json_object_set_new(rep, "unbanned", json_string(buf));
	}
	return rep;
}

/* The reply is a success: the kernel holds the change (as asked, or as
 * the re-read after lost acknowledgements found it). */
static int rw_daemon_rep_ok(const json_t *rep)
{
	return json_is_true(json_object_get(rep, "ok"));
}

/* A ban or unban the kernel took goes to the proxy workers too
 * (rw_workers_ban: their second line, for when the kernel's element is
 * gone); a failure to record it is a warning on the reply, the kernel
 * enforcing the ban all the same. timeout_ms as asked (0: ban_for). */
static void rw_daemon_ban_workers(struct rw_daemon *d, int add, const struct rw_cidr *c,
				  uint64_t timeout_ms, json_t *rep)
{
	if (!d->workers)
		return;
	uint64_t left = timeout_ms ? timeout_ms : d->pol.opts.ban_for_ms;
	struct rw_diag diag;
	rw_diag_init(&diag);
	if (rw_workers_ban(d->workers, add, c, add ? rw_bans_now_ms() + left : 0, &diag) == 0)
		return;
	json_t *w = json_object_get(rep, "warnings");
	if (!w) {
		w = json_array();
		json_object_set_new(rep, "warnings", w);
	}
	json_array_append_new(w, json_string(diag.n ? diag.msg[0].text : "proxy workers not told"));
}

static json_t *rw_daemon_ban_add(struct rw_daemon *d, const struct rw_ctl_req *req)
{
	const struct rw_cidr *ban = &req->cidrs[0];
	json_t *no = rw_daemon_ban_refusal(d, ban);
	if (!no)
		no = rw_daemon_ban_overlap(d, ban);
	if (no)
		return no;
	/* a manual ban always carries a comment: that is how ban list tells
	 * it from the ban_after meters' */
	struct rw_diag diag;
	rw_diag_init(&diag);
	int r = rw_nft_ban_add(d->nft, ban, req->timeout_ms,
			       req->reason[0] ? req->reason : RW_NFT_BAN_MANUAL, &diag);
	json_t *rep;
	if (r == RW_EUNKNOWN)
		rep = rw_daemon_ban_reread(d, 1, ban, rw_nft_ban_set(ban));
	else if (r)
		return rw_daemon_diag_err("ban failed: ", &diag, r);
	else
		rep = rw_daemon_ban_done(d, req);
	if (!rw_daemon_rep_ok(rep))
		return rep;
	d->bans_added++;
	if (d->guarded)
		rw_guard_bans_changed(&d->guard);
	/* the timeout counts from now, just after the kernel took it: the
	 * workers' copy ends at most a few ms after the kernel's */
	rw_daemon_ban_workers(d, 1, ban, req->timeout_ms, rep);
	return rep;
}

/* A ban the kernel does not hold (its element deleted by another tool,
 * a set flushed by hand) that the workers still enforce: lifted from
 * them, the reply says so. NULL when the workers do not hold exactly c,
 * so the usual "not banned" answers stand. */
static json_t *rw_daemon_unban_workers_only(struct rw_daemon *d, const struct rw_ctl_req *req)
{
	const struct rw_cidr *c = &req->cidrs[0];
	if (!d->workers || !rw_bans_has(&d->workers->bans, c, rw_bans_now_ms()))
		return NULL;
	json_t *rep = rw_daemon_ban_done(d, req);
	json_object_set_new(rep, "warnings",
			    json_pack("[s]", "not in the kernel's ban sets (removed there by "
					     "another tool); lifted from the proxy workers, which "
					     "still enforced it"));
	rw_daemon_ban_workers(d, 0, c, 0, rep);
	return rep;
}

static json_t *rw_daemon_unban(struct rw_daemon *d, const struct rw_ctl_req *req)
{
	/* an address is looked for in ban_v4/_v6 first, then in the prefix
	 * sets: `ban del` finds a ban wherever it is */
	const struct rw_cidr *c = &req->cidrs[0];
	const char *set = rw_nft_ban_set(c);
	struct rw_diag diag;
	rw_diag_init(&diag);
	int r = rw_nft_cidr_is_host(c) ? rw_nft_ban_del_in(d->nft, c, set, &diag) : RW_ENOENT;
	json_t *rep;
	if (r == RW_ENOENT) {
		json_t *no = rw_daemon_unban_where(d, c, &set);
		if (no && (rep = rw_daemon_unban_workers_only(d, req))) {
			json_decref(no);
			return rep;
		}
		if (no)
			return no;
		rw_diag_init(&diag);
		r = rw_nft_ban_del_in(d->nft, c, set, &diag);
	}
	if (r == RW_ENOENT) { /* expired just now, or gone from the kernel */
		rep = rw_daemon_unban_workers_only(d, req);
		return rep ? rep
			   : rw_daemon_err("%s is not banned",
					   rw_nft_cidr_is_host(c) ? "that address" : "that prefix");
	}
	if (r == RW_EUNKNOWN)
		rep = rw_daemon_ban_reread(d, 0, c, set);
	else if (r)
		return rw_daemon_diag_err("unban failed: ", &diag, r);
	else
		rep = rw_daemon_ban_done(d, req);
	if (!rw_daemon_rep_ok(rep))
		return rep;
	if (d->guarded)
		rw_guard_bans_changed(&d->guard);
	rw_daemon_ban_workers(d, 0, c, 0, rep);
	return rep;
}

/* Status fails (ok false) while the kernel's table is missing or is not
 * the one regwalld loaded: "all is well" must not be said of a firewall
 * that is not in force. The numbers come along either way. */
static json_t *rw_daemon_status(struct rw_daemon *d)
{
	json_t *st = json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ok", 1,
			       "config", d->config_path, "uptime_s",
			       (json_int_t)(time(NULL) - d->started), "applies",
			       (json_int_t)d->applies, "reloads", (json_int_t)d->reloads,
			       "reload_failures", (json_int_t)d->reload_failures, "live_changes",
			       (json_int_t)d->n_live, "networks", (json_int_t)d->pol.n_networks,
			       "listeners", (json_int_t)rw_daemon_n_listeners(&d->pol), "workers",
			       (json_int_t)(d->workers ? rw_workers_alive(d->workers) : 0));
	/* per worker: heartbeat age, stalled, events sent and dropped; the
	 * events that the output could not take */
	if (d->workers)
		rw_workers_status_json(d->workers, st);
	json_t *vpn = rw_wgl_status(d->wgl, &d->pol);
	if (vpn)
		json_object_set_new(st, "vpn", vpn);
	json_t *ev = json_object_get(st, "events");
	if (ev && d->evout) {
		json_object_set_new(ev, "queued_for_output", json_integer((json_int_t)d->evout->lines));
		json_object_set_new(ev, "dropped_at_output",
				    json_integer((json_int_t)d->evout->dropped));
		/* bytes waiting for stdout: a reader that stalls shows here */
		json_object_set_new(ev, "output_backlog_bytes",
				    json_integer((json_int_t)d->evout->len));
	}
	if (d->audit)
		json_object_set_new(st, "audit", rw_audit_status_json(d->audit));
	if (d->blocked && d->blocked->on)
		json_object_set_new(st, "blocked_log", rw_blocked_status_json(d->blocked));
	if (!d->guarded)
		return st;
	const struct rw_guard *g = &d->guard;
	char why[RW_GUARD_TEXT];
	int r = rw_guard_check(&d->guard, why, sizeof(why));
	json_object_set_new(st, "table", json_string(r ? why : "in force"));
	json_object_set_new(st, "table_restores", json_integer((json_int_t)g->restores));
	json_object_set_new(st, "table_restore_failures",
			    json_integer((json_int_t)g->restore_failures));
	json_object_set_new(st, "table_events_lost", json_integer((json_int_t)g->events_lost));
	if (g->last_restore[0])
		json_object_set_new(st, "table_last_restore", json_string(g->last_restore));
	if (!r)
		return st;
	char msg[RW_GUARD_TEXT + 96];
	snprintf(msg, sizeof(msg), "table inet %s is not in force as loaded: %s", RW_NFT_TABLE,
		 why);
	json_object_set_new(st, "ok", json_false());
	json_object_set_new(st, "error", json_string(msg));
	char line[RW_GUARD_TEXT + 32];
	json_t *det = json_array();
	snprintf(line, sizeof(line), "restores so far: %llu (failed: %llu)",
		 (unsigned long long)g->restores, (unsigned long long)g->restore_failures);
	json_array_append_new(det, json_string(line));
	if (g->last_restore[0]) {
		snprintf(line, sizeof(line), "last restore: %s", g->last_restore);
		json_array_append_new(det, json_string(line));
	}
	json_object_set_new(st, "details", det);
	return st;
}

/* regwallctl log rotate: the writer renames the files it holds to .1 and
 * opens new ones, or only reopens when logrotate moved them already. */
static json_t *rw_daemon_log_rotate(struct rw_daemon *d)
{
	bool blocked = d->blocked && d->blocked->on;
	if (!blocked && !d->audit)
		return rw_daemon_err("no log to rotate is configured (log.blocked, "
				     "log.blocked_pcap, log.audit)");
	if (blocked)
		rw_blocked_rotate(d->blocked);
	if (d->audit) {
		/* the audit file is sealed with a checkpoint and reopened; its
		 * chain continues in the new file (docs/design/audit.md) */
		struct rw_diag diag;
		rw_diag_init(&diag);
		int r = rw_audit_reopen(d->audit, &diag);
		rw_diag_print(&diag, stderr);
		if (r)
			return rw_daemon_err("audit log: %s", rw_strerror(r));
	}
	return json_pack("{s:b}", "ok", 1);
}

json_t *rw_daemon_handle(struct rw_daemon *d, const struct rw_ctl_req *req)
{
	struct rw_diag diag;
	rw_diag_init(&diag);
	int r;
	d->requests++;
	switch (req->cmd) {
	case RW_CTL_STATUS:
		return rw_daemon_status(d);
	case RW_CTL_RELOAD:
		r = rw_daemon_reload(d, &diag);
		if (r) {
			return rw_daemon_diag_err("reload failed, old policy kept: ", &diag, r);
		} else {
			json_t *w = json_array();
			for (unsigned i = 0; i < diag.n; i++)
				json_array_append_new(w, json_string(diag.msg[i].text));
			json_t *rep = json_pack("{s:b, s:o, s:I}", "ok", 1, "warnings", w,
						"generation", (json_int_t)d->applies);
			if (d->last_diff)
				json_object_set(rep, "changes", d->last_diff);
			return rep;
		}
	case RW_CTL_NET_ADD:
	case RW_CTL_NET_DEL:
		return rw_daemon_net_change(d, req);
	case RW_CTL_NET_LIST:
		if (req->network[0] && !rw_daemon_net(&d->pol, req->network))
			return rw_daemon_err("no network named \"%s\"", req->network);
		return rw_daemon_net_list(d, req->network);
	case RW_CTL_BAN_ADD:
		return rw_daemon_ban_add(d, req);
	case RW_CTL_BAN_DEL:
		return rw_daemon_unban(d, req);
	case RW_CTL_BAN_LIST:
		return rw_daemon_ban_list(d);
	case RW_CTL_COUNTERS: {
		/* counters of a table that is not ours (or none: the dump of a
		 * missing table is empty) would read as "nothing happened" */
		char why[RW_GUARD_TEXT];
		if (d->guarded && rw_guard_check(&d->guard, why, sizeof(why)))
			return rw_daemon_err("cannot report counters: %s; regwalld restores its "
					     "table (see 'regwallctl status')",
					     why);
		struct rw_daemon_ctr_out o = { d, json_array() };
		r = rw_nft_counters(d->nft, rw_daemon_counter_cb, &o, &diag);
		if (r) {
			json_decref(o.arr);
			return rw_daemon_diag_err("cannot read counters: ", &diag, r);
		}
		time_t now = time(NULL);
		return json_pack("{s:b, s:o, s:I, s:I}", "ok", 1, "counters", o.arr, "since_start_s",
				 (json_int_t)(now - d->started), "since_reload_s",
				 (json_int_t)(now - d->last_reload));
	}
	case RW_CTL_EXPLAIN:
		return rw_daemon_explain(d, req);
	case RW_CTL_LOG_ROTATE:
		return rw_daemon_log_rotate(d);
	case RW_CTL_PEER_ADD:
		return rw_wgl_peer_add(d, req);
	case RW_CTL_PEER_DEL:
		return rw_wgl_peer_del(d, req);
	case RW_CTL_PEER_LIST:
		return rw_wgl_peer_list(d);
	}
	return rw_daemon_err("unhandled command");
}
