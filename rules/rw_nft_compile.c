/* Lowering: struct rw_policy -> libnftnl table, chains, sets and rules.
 *
 * Layout (docs/design/rules.md has the why of each choice):
 *   chain early    prerouting -150  bans, before conntrack-dependent work
 *   chain input    input 0          established, wireguard, per listener:
 *                                   ban meter, rate meter, allow sets, vpn,
 *                                   log + drop of everything else
 *   chain forward  forward 0        gateway mode: no direct path to registry
 *   chain intercept prerouting -100 (nat) transparent listener: connections
 *                                   to the registry redirected to it
 * All chains have policy accept: regwall governs only its own ports and
 * must not cut the host's other services (ssh, DNS, the VPN itself). */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "rules/rw_cidr.h"
#include "rules/rw_cidrset.h"
#include "rules/rw_nft_int.h"

#define RW_NFT_KEY_IPV4 7 /* nft datatype ids, stored for `nft list` */
#define RW_NFT_KEY_IPV6 8
#define RW_NFT_DEFAULT_SET_SIZE 65536
#define RW_NFT_CT_NEW 0x8
#define RW_NFT_CT_EST_REL 0x6
#define RW_NFT_DEFAULT_BURST 5 /* nft's default */
/* Log-rate of the banned-source log rule: a banned host flooding us must
 * not flood the NFLOG reader too. Only the log rule has it; the drop rule
 * that follows never has a limit. */
#define RW_NFT_BANLOG_RATE 10
#define RW_NFT_BANLOG_BURST 20

#define E(call)                   \
	do {                      \
		if (!rc)          \
			rc = (call); \
	} while (0)

static const int rw_nft_fams[2] = { AF_INET, AF_INET6 };

static const char *rw_nft_fam_sfx(int family)
{
	return family == AF_INET ? "v4" : "v6";
}

void rw_nft_compiled_free(struct rw_nft_compiled *c)
{
	if (!c)
		return;
	if (c->table)
		nftnl_table_free(c->table);
	for (size_t i = 0; i < c->n_chains; i++)
		nftnl_chain_free(c->chains[i].chain);
	for (size_t i = 0; i < c->n_sets; i++) {
		nftnl_set_free(c->sets[i].decl);
		free(c->sets[i].cidrs);
	}
	free(c->sets);
	for (size_t i = 0; i < c->n_rules; i++)
		nftnl_rule_free(c->rules[i].rule);
	free(c->rules);
	free(c);
}

static int rw_nft_add_chain(struct rw_nft_compiled *c, const char *name, const char *type,
			    uint32_t hook, const char *hookname, int prio)
{
	if (c->n_chains == sizeof(c->chains) / sizeof(c->chains[0]))
		return RW_ERANGE;
	struct nftnl_chain *ch = nftnl_chain_alloc();
	if (!ch)
		return RW_ENOMEM;
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, RW_NFT_TABLE);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, type);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	struct rw_nft_cchain *cc = &c->chains[c->n_chains++];
	cc->chain = ch;
	snprintf(cc->name, sizeof(cc->name), "%s", name);
	cc->type = type;
	cc->hook = hookname;
	cc->prio = prio;
	return 0;
}

/* cidrs: copied, only those of 'family' */
static int rw_nft_add_set(struct rw_nft_compiled *c, const char *name, int family,
			  uint32_t flags, uint32_t size, uint64_t timeout_ms,
			  const struct rw_cidr *cidrs, size_t n, struct rw_diag *diag)
{
	if (strlen(name) >= sizeof(c->sets[0].name)) {
		rw_diag_err(diag, NULL, 0, "set name too long: %s", name);
		return RW_ERANGE;
	}
	if (c->n_sets == c->cap_sets) {
		size_t cap = c->cap_sets ? c->cap_sets * 2 : 16;
		struct rw_nft_cset *v = realloc(c->sets, cap * sizeof(*v));
		if (!v)
			return RW_ENOMEM;
		c->sets = v;
		c->cap_sets = cap;
	}
	struct rw_nft_cset *s = &c->sets[c->n_sets];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->family = family;
	s->flags = flags;
	s->id = (uint32_t)c->n_sets + 1;
	s->size = size;
	s->timeout_ms = timeout_ms;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += cidrs[i].family == family;
	if (k) {
		s->cidrs = malloc(k * sizeof(*s->cidrs));
		if (!s->cidrs)
			return RW_ENOMEM;
		for (size_t i = 0; i < n; i++)
			if (cidrs[i].family == family)
				s->cidrs[s->n_cidrs++] = cidrs[i];
		/* the policy promises merged input; merging again is cheap and
		 * turns a broken promise into a working set, not an EEXIST */
		rw_cidrset_merge(s->cidrs, &s->n_cidrs);
	}
	struct nftnl_set *d = nftnl_set_alloc();
	if (!d) {
		free(s->cidrs);
		return RW_ENOMEM;
	}
	nftnl_set_set_str(d, NFTNL_SET_TABLE, RW_NFT_TABLE);
	nftnl_set_set_str(d, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(d, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(d, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(d, NFTNL_SET_KEY_TYPE,
			  family == AF_INET ? RW_NFT_KEY_IPV4 : RW_NFT_KEY_IPV6);
	nftnl_set_set_u32(d, NFTNL_SET_KEY_LEN, family == AF_INET ? 4 : 16);
	nftnl_set_set_u32(d, NFTNL_SET_ID, s->id);
	if (size)
		nftnl_set_set_u32(d, NFTNL_SET_DESC_SIZE, size);
	if (timeout_ms)
		nftnl_set_set_u64(d, NFTNL_SET_TIMEOUT, timeout_ms);
	s->decl = d;
	c->n_sets++;
	return 0;
}

static const struct rw_nft_cset *rw_nft_find_set(const struct rw_nft_compiled *c,
						 const char *name)
{
	for (size_t i = 0; i < c->n_sets; i++)
		if (strcmp(c->sets[i].name, name) == 0)
			return &c->sets[i];
	return NULL;
}

/* "<base>_v4" / "<base>_v6" */
static const struct rw_nft_cset *rw_nft_setf(const struct rw_nft_compiled *c, const char *base,
					     const char *mid, int family)
{
	char name[96];
	snprintf(name, sizeof(name), "%s%s_%s", base, mid, rw_nft_fam_sfx(family));
	return rw_nft_find_set(c, name);
}

/* The admission model is the list of rule descriptions (rules/rw_admit.h):
 * each rule of the table is lowered from its description alone, here, so
 * the expressions the kernel runs and the rules rw_admit_eval walks cannot
 * say different things. The order of the expressions is the order of the
 * fields of struct rw_nft_rdesc: matches, then statements. */
static int rw_nft_lower(const struct rw_nft_compiled *c, const struct rw_nft_rdesc *d,
			struct nftnl_rule *r)
{
	int rc = 0;
	if (d->iifname[0] && d->iifname_not)
		E(rw_nft_e_iifname_not(r, d->iifname));
	else if (d->iifname[0])
		E(rw_nft_e_iifname(r, d->iifname));
	if (d->listener.family) {
		E(rw_nft_e_l4port(r, IPPROTO_TCP, d->listener.port));
		if (!d->listener_any)
			E(rw_nft_e_daddr_eq(r, d->listener.family, d->listener.addr));
		else
			E(rw_nft_e_nfproto(r, d->listener.family));
	}
	if (d->dest.family) {
		E(rw_nft_e_daddr_eq(r, d->dest.family, d->dest.addr));
		if (d->dest.port)
			E(rw_nft_e_l4port(r, IPPROTO_TCP, d->dest.port));
	}
	if (d->udp_dport)
		E(rw_nft_e_l4port(r, IPPROTO_UDP, d->udp_dport));
	if (d->icmp6_lo || d->icmp6_hi) {
		static const uint8_t icmp6 = IPPROTO_ICMPV6;
		E(rw_nft_e_nfproto(r, AF_INET6));
		E(rw_nft_e_meta(r, NFT_META_L4PROTO));
		E(rw_nft_e_cmp(r, NFT_CMP_EQ, &icmp6, 1));
		E(rw_nft_e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1));
		E(rw_nft_e_cmp(r, NFT_CMP_GTE, &d->icmp6_lo, 1));
		E(rw_nft_e_cmp(r, NFT_CMP_LTE, &d->icmp6_hi, 1));
	}
	if (d->ct_state)
		E(rw_nft_e_ct_state(r, d->ct_state));
	if (d->ct_dir_reply)
		E(rw_nft_e_ct_dir_reply(r));
	if (d->saddr_set[0] || d->meter_set[0] || d->ban_set[0])
		E(rw_nft_e_saddr(r, d->family));
	const struct rw_nft_cset *s;
	if (d->saddr_set[0]) {
		if (!(s = rw_nft_find_set(c, d->saddr_set)))
			return RW_EINVAL;
		E(rw_nft_e_lookup(r, s));
	}
	if (d->meter_set[0]) {
		if (!(s = rw_nft_find_set(c, d->meter_set)))
			return RW_EINVAL;
		E(rw_nft_e_dynset(r, s, NFT_DYNSET_OP_UPDATE, 0, d->meter.rate, d->meter.unit_s,
				  d->meter.burst));
	}
	if (d->ban_set[0]) {
		if (!(s = rw_nft_find_set(c, d->ban_set)))
			return RW_EINVAL;
		E(rw_nft_e_dynset(r, s, NFT_DYNSET_OP_UPDATE, d->ban_timeout_ms, 0, 0, 0));
	}
	/* A limited log rule counts after its limit: its counter is then the
	 * number of records handed to NFLOG, which the blocked log accounts
	 * for line by line (docs/design/blocked-log.md); the drop rule that
	 * follows counts every packet. */
	bool count_after = d->log && d->limit.rate;
	if (d->counter && !count_after)
		E(rw_nft_e_counter(r));
	if (d->limit.rate)
		E(rw_nft_e_limit(r, d->limit.rate, d->limit.unit_s, d->limit.burst));
	if (d->counter && count_after)
		E(rw_nft_e_counter(r));
	if (d->log)
		E(rw_nft_e_log(r, d->log_group, d->log_prefix));
	if (d->nat_to.port && d->nat_redirect)
		E(rw_nft_e_redir(r, d->nat_to.port));
	else if (d->nat_to.port)
		E(rw_nft_e_dnat(r, d->nat_to.family, d->nat_to.addr, d->nat_to.port));
	if (d->verdict != RW_NFT_RD_NONE)
		E(rw_nft_e_verdict(r, d->verdict));
	return rc;
}

/* One rule of chain, lowered from d, with its comment. */
static int rw_nft_rule_add(struct rw_nft_compiled *c, const char *chain, const char *comment,
			   const struct rw_nft_rdesc *d)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return RW_ENOMEM;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, RW_NFT_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	int rc = rw_nft_lower(c, d, r);
	if (!rc)
		rc = rw_nft_rule_set_comment(r, comment);
	if (!rc && c->n_rules == c->cap_rules) {
		size_t cap = c->cap_rules ? c->cap_rules * 2 : 32;
		struct rw_nft_crule *v = realloc(c->rules, cap * sizeof(*v));
		if (!v)
			rc = RW_ENOMEM;
		else {
			c->rules = v;
			c->cap_rules = cap;
		}
	}
	if (rc) {
		nftnl_rule_free(r);
		return rc;
	}
	unsigned idx = 0;
	for (size_t i = 0; i < c->n_rules; i++)
		idx += strcmp(c->rules[i].chain, chain) == 0;
	struct rw_nft_crule *cr = &c->rules[c->n_rules++];
	cr->rule = r;
	snprintf(cr->chain, sizeof(cr->chain), "%s", chain);
	cr->index = idx;
	snprintf(cr->comment, sizeof(cr->comment), "%s", comment);
	cr->desc = *d;
	return 0;
}

/* A description with a counter and no verdict; the caller adds the rest. */
static void rw_nft_d_init(struct rw_nft_rdesc *d, int family)
{
	memset(d, 0, sizeof(*d));
	d->family = family;
	d->counter = 1;
	d->verdict = RW_NFT_RD_NONE;
}

static void rw_nft_d_log(struct rw_nft_rdesc *d, uint16_t group, const char *prefix)
{
	d->log = 1;
	d->log_group = group;
	snprintf(d->log_prefix, sizeof(d->log_prefix), "%s", prefix);
}

static int rw_nft_addr_is_zero(const struct rw_endpoint *e)
{
	static const uint8_t zero[16];
	return memcmp(e->addr, zero, e->family == AF_INET ? 4 : 16) == 0;
}

/* Gateway mode is any upstream off this host. Only loopback is known to be
 * local at compile time; an upstream on one of our own interface addresses
 * gets a forward chain that never sees its packets, which is harmless. */
static int rw_nft_upstream_is_remote(const struct rw_endpoint *u)
{
	static const uint8_t v6lo[16] = { [15] = 1 };
	static const uint8_t v4map[12] = { [10] = 0xff, [11] = 0xff };
	if (u->family == AF_INET)
		return u->addr[0] != 127;
	if (u->family == AF_INET6) {
		if (memcmp(u->addr, v6lo, 16) == 0)
			return 0;
		if (memcmp(u->addr, v4map, 12) == 0 && u->addr[12] == 127)
			return 0;
		return 1;
	}
	return 0;
}

/* nft limit units are whole seconds */
static int rw_nft_rate_units(const struct rw_rate *rt, uint64_t *rate, uint64_t *unit_s)
{
	if (rt->per_ms == 0 || rt->per_ms % 1000 != 0)
		return RW_EINVAL;
	*rate = rt->count;
	*unit_s = rt->per_ms / 1000;
	return 0;
}

/* Long enough that a source's token bucket has refilled completely before
 * its meter element expires, so expiry never hands out extra tokens. */
static uint64_t rw_nft_meter_timeout(uint64_t per_ms, uint64_t count, uint64_t burst)
{
	uint64_t refill = count ? per_ms * (burst / count + 1) : per_ms;
	uint64_t t = 2 * refill;
	return t < 60000 ? 60000 : t;
}

static int rw_nft_compile_sets(const struct rw_policy *p, struct rw_nft_compiled *c,
			       struct rw_diag *diag)
{
	char name[96];
	int rc = 0;
	uint32_t size = p->opts.ban_set_size ? p->opts.ban_set_size : RW_NFT_DEFAULT_SET_SIZE;
	for (size_t i = 0; i < p->n_networks && !rc; i++) {
		const struct rw_network *nw = &p->networks[i];
		for (int f = 0; f < 2 && !rc; f++) {
			snprintf(name, sizeof(name), "net_%s_%s", nw->name,
				 rw_nft_fam_sfx(rw_nft_fams[f]));
			rc = rw_nft_add_set(c, name, rw_nft_fams[f], NFT_SET_INTERVAL, 0, 0,
					    nw->cidrs, nw->n_cidrs, diag);
			/* empty until regwallctl adds to it (see rw_nft_net_live_update) */
			snprintf(name, sizeof(name), "live_%s_%s", nw->name,
				 rw_nft_fam_sfx(rw_nft_fams[f]));
			if (!rc)
				rc = rw_nft_add_set(c, name, rw_nft_fams[f], NFT_SET_INTERVAL, 0,
						    0, NULL, 0, diag);
		}
	}
	if (!rc && p->vpn.enabled) {
		size_t n = 0, k = 0;
		for (size_t i = 0; i < p->vpn.n_peers; i++)
			n += p->vpn.peers[i].n_addresses;
		struct rw_cidr *all = calloc(n ? n : 1, sizeof(*all));
		if (!all)
			return RW_ENOMEM;
		for (size_t i = 0; i < p->vpn.n_peers; i++)
			for (size_t j = 0; j < p->vpn.peers[i].n_addresses; j++)
				all[k++] = p->vpn.peers[i].addresses[j];
		rw_cidrset_merge(all, &k);
		for (int f = 0; f < 2 && !rc; f++) {
			snprintf(name, sizeof(name), "vpn_%s", rw_nft_fam_sfx(rw_nft_fams[f]));
			rc = rw_nft_add_set(c, name, rw_nft_fams[f], NFT_SET_INTERVAL, 0, 0, all,
					    k, diag);
		}
		free(all);
	}
	/* ban sets always exist: regwallctl and the workers ban by hand even
	 * when no automatic ban is configured */
	for (int f = 0; f < 2 && !rc; f++) {
		snprintf(name, sizeof(name), "ban_%s", rw_nft_fam_sfx(rw_nft_fams[f]));
		rc = rw_nft_add_set(c, name, rw_nft_fams[f], NFT_SET_TIMEOUT | NFT_SET_EVAL, size,
				    p->opts.ban_for_ms, NULL, 0, diag);
	}
	/* prefix bans (regwallctl only): the meters' dynset cannot write an
	 * interval set (EOPNOTSUPP), so prefixes get a pair of their own. No
	 * size: nothing on the packet path adds to them. */
	for (int f = 0; f < 2 && !rc; f++) {
		snprintf(name, sizeof(name), "banp_%s", rw_nft_fam_sfx(rw_nft_fams[f]));
		rc = rw_nft_add_set(c, name, rw_nft_fams[f], NFT_SET_INTERVAL | NFT_SET_TIMEOUT, 0,
				    p->opts.ban_for_ms, NULL, 0, diag);
	}
	const struct rw_rate *cr = &p->opts.conn_per_source;
	if (cr->count > 0) {
		uint64_t burst = cr->burst ? cr->burst : RW_NFT_DEFAULT_BURST;
		uint64_t t = rw_nft_meter_timeout(cr->per_ms, cr->count, burst);
		/* one pair per listener name: the endpoints of a listener
		 * with a listen list share its meter */
		for (size_t i = 0; i < p->n_listeners && !rc; i++)
			for (int f = 0; f < 2 && !rc && p->listeners[i].endpoint_index == 0; f++) {
				snprintf(name, sizeof(name), "meter_%s_%s", p->listeners[i].name,
					 rw_nft_fam_sfx(rw_nft_fams[f]));
				rc = rw_nft_add_set(c, name, rw_nft_fams[f],
						    NFT_SET_TIMEOUT | NFT_SET_EVAL, size, t, NULL,
						    0, diag);
			}
	}
	if (p->opts.ban_after > 0) {
		uint64_t t = rw_nft_meter_timeout(60000, p->opts.ban_after, p->opts.ban_after);
		for (int f = 0; f < 2 && !rc; f++) {
			snprintf(name, sizeof(name), "banmeter_%s", rw_nft_fam_sfx(rw_nft_fams[f]));
			rc = rw_nft_add_set(c, name, rw_nft_fams[f], NFT_SET_TIMEOUT | NFT_SET_EVAL,
					    size, t, NULL, 0, diag);
		}
	}
	return rc;
}

static int rw_nft_compile_early(const struct rw_policy *p, struct rw_nft_compiled *c)
{
	struct rw_nft_rdesc d;
	/* IPv6 neighbour solicitations and advertisements (ICMPv6 135, 136)
	 * pass before the ban rules: they carry nothing for a service, and
	 * dropping them leaves a failed neighbour entry behind, so a source
	 * whose ban expired would still get EHOSTUNREACH for a while. (IPv4's
	 * ARP never enters an inet table, so the two families now behave the
	 * same.) The accept ends only this chain's evaluation. */
	rw_nft_d_init(&d, AF_INET6);
	d.icmp6_lo = 135;
	d.icmp6_hi = 136;
	d.verdict = NF_ACCEPT;
	int rc = rw_nft_rule_add(c, "early", "- neighbour discovery", &d);
	/* addresses (ban_), then prefixes (banp_); both pairs log and drop
	 * under the same comments, so counters and NFLOG say "banned" */
	for (int f = 0; f < 4 && !rc; f++) {
		const struct rw_nft_cset *ban =
			rw_nft_setf(c, f < 2 ? "ban" : "banp", "", rw_nft_fams[f % 2]);
		if (!ban)
			return RW_EINVAL;
		rw_nft_d_init(&d, rw_nft_fams[f % 2]);
		snprintf(d.saddr_set, sizeof(d.saddr_set), "%s", ban->name);
		d.limit = (struct rw_nft_rd_rate){ RW_NFT_BANLOG_RATE, 1, RW_NFT_BANLOG_BURST };
		rw_nft_d_log(&d, p->log.nflog_group, "regwall - banned");
		rc = rw_nft_rule_add(c, "early", "- banned log", &d);
		if (rc)
			return rc;
		rw_nft_d_init(&d, rw_nft_fams[f % 2]);
		snprintf(d.saddr_set, sizeof(d.saddr_set), "%s", ban->name);
		d.verdict = NF_DROP;
		rc = rw_nft_rule_add(c, "early", "- banned", &d);
	}
	return rc;
}

static void rw_nft_d_listener(struct rw_nft_rdesc *d, const struct rw_listener *l)
{
	rw_nft_d_init(d, l->listen.family);
	d->listener = l->listen;
	d->listener_any = rw_nft_addr_is_zero(&l->listen);
}

static int rw_nft_compile_listener(const struct rw_policy *p, struct rw_nft_compiled *c,
				   const struct rw_listener *l, struct rw_diag *diag)
{
	char cm[RW_NFT_COMMENT_LEN], pfx[RW_NFT_PREFIX_MAX + 1];
	uint16_t grp = p->log.nflog_group;
	int fam = l->listen.family;
	int rc = 0;
	struct rw_nft_rdesc d;

	/* Ban meter before the rate meter: the rate meter drops, and a source
	 * it drops must still count towards its ban. */
	if (p->opts.ban_after > 0) {
		uint64_t ba = p->opts.ban_after;
		uint32_t burst = ba > UINT32_MAX ? UINT32_MAX : (uint32_t)ba;
		snprintf(cm, sizeof(cm), "%s banned", l->name);
		snprintf(pfx, sizeof(pfx), "regwall %s banned", l->name);
		const struct rw_nft_cset *bm = rw_nft_setf(c, "banmeter", "", fam);
		const struct rw_nft_cset *ban = rw_nft_setf(c, "ban", "", fam);
		if (!bm || !ban)
			return RW_EINVAL;
		rw_nft_d_listener(&d, l);
		d.ct_state = RW_NFT_CT_NEW;
		snprintf(d.meter_set, sizeof(d.meter_set), "%s", bm->name);
		d.meter = (struct rw_nft_rd_rate){ ba, 60, burst };
		snprintf(d.ban_set, sizeof(d.ban_set), "%s", ban->name);
		d.ban_timeout_ms = p->opts.ban_for_ms;
		rw_nft_d_log(&d, grp, pfx);
		d.verdict = NF_DROP;
		rc = rw_nft_rule_add(c, "input", cm, &d);
	}
	/* One rule: the meter's "over" is the only condition, so the log can
	 * never be rate limited apart from the drop. */
	if (!rc && p->opts.conn_per_source.count > 0) {
		const struct rw_rate *rt = &p->opts.conn_per_source;
		uint64_t rate, unit;
		if (rw_nft_rate_units(rt, &rate, &unit)) {
			rw_diag_err(diag, p->source_file, l->line,
				    "listener %s: conn rate period %llu ms is not whole seconds",
				    l->name, (unsigned long long)rt->per_ms);
			return RW_ECONFIG;
		}
		uint64_t b = rt->burst ? rt->burst : RW_NFT_DEFAULT_BURST;
		uint32_t burst = b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
		snprintf(cm, sizeof(cm), "%s rate_limited", l->name);
		snprintf(pfx, sizeof(pfx), "regwall %s rate_limited", l->name);
		const struct rw_nft_cset *m = rw_nft_setf(c, "meter_", l->name, fam);
		if (!m)
			return RW_EINVAL;
		rw_nft_d_listener(&d, l);
		d.ct_state = RW_NFT_CT_NEW;
		snprintf(d.meter_set, sizeof(d.meter_set), "%s", m->name);
		d.meter = (struct rw_nft_rd_rate){ rate, unit, burst };
		rw_nft_d_log(&d, grp, pfx);
		d.verdict = NF_DROP;
		rc = rw_nft_rule_add(c, "input", cm, &d);
	}
	for (size_t i = 0; i < l->n_allow_nets && !rc; i++) {
		if (l->allow_nets[i] >= p->n_networks) {
			rw_diag_err(diag, p->source_file, l->line,
				    "listener %s: allow_from index %zu out of range", l->name,
				    l->allow_nets[i]);
			return RW_ECONFIG;
		}
		const struct rw_network *nw = &p->networks[l->allow_nets[i]];
		snprintf(cm, sizeof(cm), "%s allow %s", l->name, nw->name);
		for (int live = 0; live < 2 && !rc; live++) {
			const struct rw_nft_cset *s =
				rw_nft_setf(c, live ? "live_" : "net_", nw->name, fam);
			if (!s)
				return RW_EINVAL;
			rw_nft_d_listener(&d, l);
			snprintf(d.saddr_set, sizeof(d.saddr_set), "%s", s->name);
			d.verdict = NF_ACCEPT;
			rc = rw_nft_rule_add(c, "input", cm, &d);
		}
	}
	if (!rc && l->allow_vpn) {
		if (!p->vpn.enabled) {
			rw_diag_err(diag, p->source_file, l->line,
				    "listener %s: allow_from vpn without a vpn section", l->name);
			return RW_ECONFIG;
		}
		snprintf(cm, sizeof(cm), "%s allow vpn", l->name);
		const struct rw_nft_cset *s = rw_nft_setf(c, "vpn", "", fam);
		if (!s)
			return RW_EINVAL;
		/* the interface check makes a spoofed tunnel address arriving
		 * on any other link worthless */
		rw_nft_d_listener(&d, l);
		snprintf(d.iifname, sizeof(d.iifname), "%s", p->vpn.interface);
		snprintf(d.saddr_set, sizeof(d.saddr_set), "%s", s->name);
		d.verdict = NF_ACCEPT;
		rc = rw_nft_rule_add(c, "input", cm, &d);
	}
	if (rc)
		return rc;
	snprintf(cm, sizeof(cm), "%s not_allowed log", l->name);
	snprintf(pfx, sizeof(pfx), "regwall %s not_allowed", l->name);
	rw_nft_d_listener(&d, l);
	rw_nft_d_log(&d, grp, pfx);
	rc = rw_nft_rule_add(c, "input", cm, &d);
	if (rc)
		return rc;
	snprintf(cm, sizeof(cm), "%s not_allowed", l->name);
	rw_nft_d_listener(&d, l);
	d.verdict = NF_DROP;
	return rw_nft_rule_add(c, "input", cm, &d);
}

/* A VPN peer's tunnel address is proof of its key only on the WireGuard
 * interface. On any other link it is spoofed: logged (NFLOG prefix
 * "regwall - spoofed_vpn") and dropped before anything else of the chain,
 * established flows included, on every port. */
static int rw_nft_compile_spoofed_vpn(const struct rw_policy *p, struct rw_nft_compiled *c,
				      const char *chain)
{
	if (!p->vpn.enabled || !p->vpn.n_peers || !p->vpn.interface[0])
		return 0;
	static const int fams[2] = { AF_INET, AF_INET6 };
	int rc = 0;
	for (int f = 0; f < 2 && !rc; f++) {
		const struct rw_nft_cset *s = rw_nft_setf(c, "vpn", "", fams[f]);
		if (!s)
			continue; /* no peer of this family */
		for (int drop = 0; drop < 2 && !rc; drop++) {
			struct rw_nft_rdesc d;
			rw_nft_d_init(&d, 0);
			snprintf(d.iifname, sizeof(d.iifname), "%s", p->vpn.interface);
			d.iifname_not = 1;
			d.family = fams[f];
			snprintf(d.saddr_set, sizeof(d.saddr_set), "%s", s->name);
			if (drop)
				d.verdict = NF_DROP;
			else
				rw_nft_d_log(&d, p->log.nflog_group, "regwall - spoofed_vpn");
			rc = rw_nft_rule_add(c, chain,
					     drop ? "- spoofed_vpn" : "- spoofed_vpn log", &d);
		}
	}
	return rc;
}

static int rw_nft_compile_input(const struct rw_policy *p, struct rw_nft_compiled *c,
				struct rw_diag *diag)
{
	struct rw_nft_rdesc d;
	rw_nft_d_init(&d, 0);
	d.ct_state = RW_NFT_CT_EST_REL;
	d.verdict = NF_ACCEPT;
	int rc = rw_nft_compile_spoofed_vpn(p, c, "input");
	if (!rc)
		rc = rw_nft_rule_add(c, "input", "- established", &d);
	if (!rc && p->vpn.enabled) {
		/* open to anyone: WireGuard drops what it cannot authenticate */
		rw_nft_d_init(&d, 0);
		d.udp_dport = p->vpn.listen_port;
		d.verdict = NF_ACCEPT;
		rc = rw_nft_rule_add(c, "input", "- wireguard", &d);
	}
	for (size_t i = 0; i < p->n_listeners && !rc; i++)
		if (p->listeners[i].listen.family == AF_INET ||
		    p->listeners[i].listen.family == AF_INET6)
			rc = rw_nft_compile_listener(p, c, &p->listeners[i], diag);
	return rc;
}

/* The endpoint of the transparent listener that takes the redirect: the
 * one of the upstream's family (the loader allows one such listener). */
static const struct rw_listener *rw_nft_transparent(const struct rw_policy *p)
{
	for (size_t i = 0; i < p->n_listeners; i++)
		if (p->listeners[i].transparent &&
		    p->listeners[i].listen.family == p->registry.upstream.family)
			return &p->listeners[i];
	return NULL;
}

/* Transparent gateway mode (docs/design/transparent.md): a new connection
 * to registry.upstream arriving on any interface but lo is redirected to
 * the transparent listener, which reads the original destination back
 * (SO_ORIGINAL_DST). At dstnat, after the early chain's bans; the input
 * chain then decides the redirected SYN like any other for this listener
 * (allow sets, meters, NFLOG under the listener's name). A wildcard
 * listener gets `redirect` (to the incoming interface's primary address,
 * which the wildcard socket takes); one bound to an address gets `dnat` to
 * exactly that address. */
static int rw_nft_compile_intercept(struct rw_nft_compiled *c, const struct rw_listener *l,
				    const struct rw_policy *p)
{
	char cm[RW_NFT_COMMENT_LEN];
	struct rw_nft_rdesc d;
	rw_nft_d_init(&d, 0);
	snprintf(d.iifname, sizeof(d.iifname), "lo");
	d.iifname_not = 1;
	d.dest = p->registry.upstream;
	d.nat_to = l->listen;
	d.nat_redirect = rw_nft_addr_is_zero(&l->listen);
	snprintf(cm, sizeof(cm), "%s transparent", l->name);
	return rw_nft_rule_add(c, "intercept", cm, &d);
}

/* The forward rules for one address of the registry host: the upstream's
 * own, then each of registry.other_addresses. */
static int rw_nft_compile_forward_to(const struct rw_policy *p, struct rw_nft_compiled *c,
				     const struct rw_endpoint *to)
{
	int rc = 0;
	if (rw_nft_transparent(p)) {
		/* The drop below takes every packet to the registry's address;
		 * the replies to connections the registry itself opened through
		 * the gateway (DNS, NTP, a pull-through cache's upstream, object
		 * storage) pass. Conntrack gives a packet the reply direction
		 * only when it matches a connection whose first packet came the
		 * other way, from the registry, and passed this chain; a
		 * client's own connection to the registry is the original
		 * direction and stays dropped. (An accept in an admin's own
		 * table cannot do this: every base chain on the hook runs, and
		 * this one's drop would still take the packet.) */
		struct rw_nft_rdesc d;
		rw_nft_d_init(&d, 0);
		d.dest = *to;
		d.dest.port = 0;
		d.ct_dir_reply = 1;
		d.verdict = NF_ACCEPT;
		rc = rw_nft_rule_add(c, "forward", "- registry_replies", &d);
	}
	for (int drop = 0; drop < 2 && !rc; drop++) {
		struct rw_nft_rdesc d;
		rw_nft_d_init(&d, 0);
		d.dest = *to;
		/* transparent: every forwarded packet to the registry's address
		 * (other ports, UDP, ICMP) is a path around regwall; the port
		 * regwall serves is redirected before this chain sees it */
		if (rw_nft_transparent(p))
			d.dest.port = 0;
		if (drop)
			d.verdict = NF_DROP;
		else
			rw_nft_d_log(&d, p->log.nflog_group, "regwall - direct_to_registry");
		rc = rw_nft_rule_add(c, "forward",
				     drop ? "- direct_to_registry" : "- direct_to_registry log", &d);
	}
	return rc;
}

static int rw_nft_compile_forward(const struct rw_policy *p, struct rw_nft_compiled *c)
{
	int rc = rw_nft_compile_spoofed_vpn(p, c, "forward");
	if (!rc)
		rc = rw_nft_compile_forward_to(p, c, &p->registry.upstream);
	for (size_t i = 0; i < p->registry.n_other && !rc; i++)
		rc = rw_nft_compile_forward_to(p, c, &p->registry.other[i]);
	return rc;
}

static int rw_nft_check_names(const struct rw_policy *p, struct rw_diag *diag)
{
	/* listener and network names end up in set names, comments and log
	 * prefixes; a quote or space would make `nft list` output ambiguous */
	for (size_t i = 0; i < p->n_listeners + p->n_networks; i++) {
		const char *nm = i < p->n_listeners ? p->listeners[i].name
						    : p->networks[i - p->n_listeners].name;
		int line = i < p->n_listeners ? p->listeners[i].line
					      : p->networks[i - p->n_listeners].line;
		size_t len = strnlen(nm, RW_NAME_MAX);
		int bad = len == 0 || len == RW_NAME_MAX;
		for (size_t k = 0; k < len && !bad; k++) {
			char ch = nm[k];
			bad = !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				(ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.');
		}
		if (bad) {
			rw_diag_err(diag, p->source_file, line, "name not usable in nftables: \"%.*s\"",
				    (int)len, nm);
			return RW_ECONFIG;
		}
	}
	if (p->vpn.enabled && strnlen(p->vpn.interface, sizeof(p->vpn.interface)) == 0) {
		rw_diag_err(diag, p->source_file, 0, "vpn interface name is empty");
		return RW_ECONFIG;
	}
	return 0;
}

int rw_nft_compile(const struct rw_policy *p, struct rw_nft_compiled **out,
		   struct rw_diag *diag)
{
	*out = NULL;
	int rc = rw_nft_check_names(p, diag);
	if (rc)
		return rc;
	struct rw_nft_compiled *c = calloc(1, sizeof(*c));
	if (!c)
		return RW_ENOMEM;
	c->table = nftnl_table_alloc();
	if (!c->table) {
		free(c);
		return RW_ENOMEM;
	}
	nftnl_table_set_str(c->table, NFTNL_TABLE_NAME, RW_NFT_TABLE);
	nftnl_table_set_u32(c->table, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	/* no NFT_TABLE_F_OWNER: the table must outlive the daemon */
	nftnl_table_set_u32(c->table, NFTNL_TABLE_FLAGS, 0);

	/* -150 (mangle): bans act before the filter-priority chains of any
	 * other tool, and after conntrack (-200) so they see defragmented
	 * packets with their ct state */
	E(rw_nft_add_chain(c, "early", "filter", NF_INET_PRE_ROUTING, "prerouting", -150));
	E(rw_nft_add_chain(c, "input", "filter", NF_INET_LOCAL_IN, "input", 0));
	int gateway = rw_nft_upstream_is_remote(&p->registry.upstream);
	if (gateway)
		E(rw_nft_add_chain(c, "forward", "filter", NF_INET_FORWARD, "forward", 0));
	/* -100 (dstnat): after the early chain's bans, before routing */
	const struct rw_listener *tl = gateway ? rw_nft_transparent(p) : NULL;
	if (tl)
		E(rw_nft_add_chain(c, "intercept", "nat", NF_INET_PRE_ROUTING, "prerouting", -100));
	E(rw_nft_compile_sets(p, c, diag));
	E(rw_nft_compile_early(p, c));
	E(rw_nft_compile_input(p, c, diag));
	if (gateway)
		E(rw_nft_compile_forward(p, c));
	if (tl)
		E(rw_nft_compile_intercept(c, tl, p));
	if (rc) {
		if (rc == RW_ENOMEM || rc == RW_ERANGE)
			rw_diag_err(diag, p->source_file, 0, "compiling the nftables table: %s",
				    rw_strerror(rc));
		rw_nft_compiled_free(c);
		return rc;
	}
	*out = c;
	return 0;
}
