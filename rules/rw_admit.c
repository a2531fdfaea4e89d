/* The admission model evaluated for one SYN (rules/rw_admit.h). */
#include "rules/rw_admit.h"

#include <linux/netfilter.h>
#include <string.h>
#include <sys/socket.h>

#include "base/rw_err.h"
#include "rules/rw_cidr.h"
#include "rules/rw_nft_int.h"

#define RW_ADMIT_CT_NEW 0x8 /* NF_CT_STATE_BIT(IP_CT_NEW), as the compiler uses */

void rw_admit_pkt_for(const struct rw_listener *l, const uint8_t src[16], const char *iif,
		      struct rw_admit_pkt *out)
{
	memset(out, 0, sizeof(*out));
	out->family = l->listen.family;
	memcpy(out->src, src, 16);
	memcpy(out->dst, l->listen.addr, 16);
	out->dport = l->listen.port;
	if (iif)
		snprintf(out->iif, sizeof(out->iif), "%s", iif);
}

int rw_admit_set_has(const struct rw_nft_compiled *c, const char *set, int family,
		     const uint8_t *addr)
{
	for (size_t i = 0; i < c->n_sets; i++) {
		const struct rw_nft_cset *s = &c->sets[i];
		if (strcmp(s->name, set) != 0)
			continue;
		if (s->family != family)
			return 0;
		for (size_t k = 0; k < s->n_cidrs; k++)
			if (rw_cidr_contains(&s->cidrs[k], family, addr))
				return 1;
		return 0;
	}
	return RW_ENOENT;
}

enum { RW_ADMIT_NO = 0, RW_ADMIT_YES = 1, RW_ADMIT_METER = 2, RW_ADMIT_UNKNOWN = 3 };

/* The description's matches, in the order the lowered expressions test
 * them (rw_nft_lower). */
static int rw_admit_match(const struct rw_nft_rdesc *d, const struct rw_admit_pkt *pkt,
			  rw_admit_member_fn member, void *arg)
{
	size_t alen = pkt->family == AF_INET ? 4 : 16;
	if (d->iifname[0] && (strcmp(d->iifname, pkt->iif) != 0) != (d->iifname_not != 0))
		return RW_ADMIT_NO;
	if (d->listener.family) {
		if (pkt->family != d->listener.family || pkt->dport != d->listener.port)
			return RW_ADMIT_NO;
		if (!d->listener_any && memcmp(pkt->dst, d->listener.addr, alen) != 0)
			return RW_ADMIT_NO;
	}
	/* a SYN to a local listener: not forwarded, not UDP, not ICMPv6 */
	if (d->dest.family || d->udp_dport || d->icmp6_lo || d->icmp6_hi)
		return RW_ADMIT_NO;
	if (d->ct_state && !(d->ct_state & RW_ADMIT_CT_NEW))
		return RW_ADMIT_NO;
	if ((d->saddr_set[0] || d->meter_set[0] || d->ban_set[0]) && d->family != pkt->family)
		return RW_ADMIT_NO;
	if (d->saddr_set[0]) {
		int r = member(arg, d->saddr_set, pkt->family, pkt->src);
		if (r < 0)
			return RW_ADMIT_UNKNOWN;
		if (r == 0)
			return RW_ADMIT_NO;
	}
	/* a meter's "limit rate over" is the rule's last condition; its
	 * per-source state lives only in the kernel */
	if (d->meter_set[0])
		return RW_ADMIT_METER;
	return RW_ADMIT_YES;
}

static void rw_admit_step(struct rw_admit_trace *tr, const struct rw_nft_crule *r,
			  const char *what)
{
	if (tr->n_steps == RW_ADMIT_STEPS)
		return;
	struct rw_admit_step *s = &tr->steps[tr->n_steps++];
	snprintf(s->chain, sizeof(s->chain), "%s", r->chain);
	snprintf(s->rule, sizeof(s->rule), "%s", r->comment);
	s->what = what;
}

int rw_admit_eval(const struct rw_nft_compiled *model, const struct rw_admit_pkt *pkt,
		  rw_admit_member_fn member, void *arg, struct rw_admit_trace *tr)
{
	if (!tr)
		return RW_EINVAL;
	memset(tr, 0, sizeof(*tr));
	if (!model || !pkt || !member || (pkt->family != AF_INET && pkt->family != AF_INET6))
		return RW_EINVAL;
	static const char *const chains[] = { "early", "input" };
	for (size_t ch = 0; ch < 2; ch++) {
		char logged[RW_ADMIT_NAME] = "";
		for (size_t i = 0; i < model->n_rules; i++) {
			const struct rw_nft_crule *r = &model->rules[i];
			const struct rw_nft_rdesc *d = &r->desc;
			if (strcmp(r->chain, chains[ch]) != 0)
				continue;
			int m = rw_admit_match(d, pkt, member, arg);
			if (m == RW_ADMIT_METER) {
				tr->rates_unevaluated = true;
				rw_admit_step(tr, r, "rate limit not evaluated (taken as under it)");
				continue;
			}
			if (m == RW_ADMIT_UNKNOWN) {
				tr->set_unknown = true;
				rw_admit_step(tr, r, "set contents unknown (taken as not matching)");
				continue;
			}
			if (m == RW_ADMIT_NO)
				continue;
			if (d->log)
				snprintf(logged, sizeof(logged), "%s", d->log_prefix);
			if (d->verdict == RW_NFT_RD_NONE) {
				rw_admit_step(tr, r, d->log ? "logged" : "matched");
				continue;
			}
			rw_admit_step(tr, r, d->verdict == NF_ACCEPT ? "accept" : "drop");
			if (d->verdict == NF_ACCEPT && ch == 0)
				break; /* ends chain early only; input is next */
			tr->accept = d->verdict == NF_ACCEPT;
			snprintf(tr->chain, sizeof(tr->chain), "%s", r->chain);
			snprintf(tr->rule, sizeof(tr->rule), "%s", r->comment);
			if (!tr->accept)
				snprintf(tr->nflog_prefix, sizeof(tr->nflog_prefix), "%s", logged);
			return 0;
		}
	}
	tr->accept = true; /* every chain's policy is accept: not regwall's port */
	return 0;
}
