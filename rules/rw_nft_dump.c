/* Text form of a compiled table, for golden files and for humans: one line
 * per table, chain and set, each rule as its comment line followed by its
 * expressions in the `nft --debug=netlink` notation libnftnl prints, set
 * elements as CIDRs. Everything comes out in compile order, so the text is
 * deterministic. */
#include <inttypes.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "rules/rw_cidr.h"
#include "rules/rw_nft_int.h"

int rw_nft_rule_text(const struct nftnl_rule *r, FILE *out)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	if (!it)
		return RW_ENOMEM;
	char buf[1024];
	struct nftnl_expr *e;
	while ((e = nftnl_expr_iter_next(it)) != NULL) {
		int len = nftnl_expr_snprintf(buf, sizeof(buf), e, NFTNL_OUTPUT_DEFAULT, 0);
		if (len < 0)
			len = 0;
		size_t n = strnlen(buf, sizeof(buf));
		while (n > 0 && buf[n - 1] == ' ')
			n--;
		fprintf(out, "  [ %s %.*s ]\n", nftnl_expr_get_str(e, NFTNL_EXPR_NAME), (int)n, buf);
	}
	nftnl_expr_iter_destroy(it);
	return 0;
}

static void rw_nft_dump_flags(uint32_t flags, FILE *out)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = { { NFT_SET_INTERVAL, "interval" },
		      { NFT_SET_TIMEOUT, "timeout" },
		      { NFT_SET_EVAL, "dynamic" } };
	fprintf(out, " flags 0x%" PRIx32 " (", flags);
	int first = 1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].bit) {
			fprintf(out, "%s%s", first ? "" : ",", names[i].name);
			first = 0;
		}
	fputc(')', out);
}

int rw_nft_dump_text(const struct rw_nft_compiled *c, FILE *out)
{
	fprintf(out, "table inet %s flags 0\n", RW_NFT_TABLE);
	for (size_t i = 0; i < c->n_chains; i++)
		fprintf(out, "chain %s type %s hook %s priority %d policy accept\n",
			c->chains[i].name, c->chains[i].type, c->chains[i].hook, c->chains[i].prio);
	for (size_t i = 0; i < c->n_sets; i++) {
		const struct rw_nft_cset *s = &c->sets[i];
		fprintf(out, "set %s type %s", s->name,
			s->family == AF_INET ? "ipv4_addr" : "ipv6_addr");
		rw_nft_dump_flags(s->flags, out);
		if (s->size)
			fprintf(out, " size %" PRIu32, s->size);
		if (s->timeout_ms)
			fprintf(out, " timeout %" PRIu64 "ms", s->timeout_ms);
		fprintf(out, " elements %zu\n", s->n_cidrs);
		for (size_t k = 0; k < s->n_cidrs; k++) {
			char t[64];
			rw_cidr_format(&s->cidrs[k], t, sizeof(t));
			fprintf(out, "  element %s\n", t);
		}
	}
	for (size_t i = 0; i < c->n_rules; i++) {
		const struct rw_nft_crule *r = &c->rules[i];
		fprintf(out, "rule %s #%u comment \"%s\"\n", r->chain, r->index, r->comment);
		int rc = rw_nft_rule_text(r->rule, out);
		if (rc)
			return rc;
	}
	return ferror(out) ? RW_EIO : 0;
}
