/* The compiled table in nft syntax (rw_nft_text.h), from the compiler's
 * own description of each set, chain and rule.
 *
 * What nft 1.0.6 does when it lists this table, and so what is printed:
 *   - sets first (in creation order), then chains, one empty line between
 *     blocks; inside a set: type, size, flags (constant, dynamic,
 *     interval, timeout in that order), timeout, elements;
 *   - elements ascending, a host prefix (/32, /128) as a bare address;
 *     the list wraps as nft wraps it: two IPv4 elements, or one IPv6
 *     element, per line, continuation lines indented by three tabs and
 *     five spaces;
 *   - durations as nft writes them: 1d1h1m1s500ms, 10m;
 *   - standard chain priorities by name (mangle, filter);
 *   - matches without their dependencies: `tcp dport 443` (the l4proto
 *     test is implied), `ip saddr @s` (the nfproto test is implied),
 *     `icmpv6 type 135-136`. A wildcard listener's `meta nfproto ipv4` is
 *     printed (it is no dependency: nothing after it needs it), a
 *     one-address listener's is not (`ip daddr` implies it);
 *   - limits: `burst N packets` unless N is nft's default (5);
 *   - every counter at zero (a table as it is loaded). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netfilter/nf_tables.h>

#include "rules/rw_cidr.h"
#include "rules/rw_nft_int.h"
#include "rules/rw_nft_text.h"

/* `nft list` writes durations as days, hours, minutes, seconds, ms. */
static void rw_nft_t_duration(uint64_t ms, FILE *out)
{
	static const struct {
		uint64_t ms;
		const char *unit;
	} parts[] = { { 86400000, "d" }, { 3600000, "h" }, { 60000, "m" }, { 1000, "s" },
		      { 1, "ms" } };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (ms >= parts[i].ms) {
			fprintf(out, "%" PRIu64 "%s", ms / parts[i].ms, parts[i].unit);
			ms %= parts[i].ms;
		}
}

static const char *rw_nft_t_fam(int family)
{
	return family == AF_INET6 ? "ip6" : "ip";
}

static void rw_nft_t_addr(int family, const uint8_t addr[16], FILE *out)
{
	char buf[INET6_ADDRSTRLEN];
	if (!inet_ntop(family, addr, buf, sizeof(buf)))
		snprintf(buf, sizeof(buf), "?");
	fputs(buf, out);
}

/* "limit rate [over ]N/unit[ burst B packets]" */
static void rw_nft_t_rate(const struct rw_nft_rd_rate *r, int over, FILE *out)
{
	static const struct {
		uint64_t s;
		const char *name;
	} units[] = { { 1, "second" },
		      { 60, "minute" },
		      { 3600, "hour" },
		      { 86400, "day" },
		      { 604800, "week" } };
	const char *unit = NULL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].s == r->unit_s)
			unit = units[i].name;
	fprintf(out, "limit rate %s%" PRIu64 "/", over ? "over " : "", r->rate);
	if (unit)
		fputs(unit, out);
	else /* the compiler refuses these; nft has no word for them either */
		fprintf(out, "%" PRIu64 "s", r->unit_s);
	if (r->burst != 0 && r->burst != 5)
		fprintf(out, " burst %" PRIu32 " packets", r->burst);
}

static void rw_nft_t_ct_state(uint32_t mask, FILE *out)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} states[] = { { 0x1, "invalid" },
		       { 0x2, "established" },
		       { 0x4, "related" },
		       { 0x8, "new" },
		       { 0x40, "untracked" } };
	const char *sep = "ct state ";
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (mask & states[i].bit) {
			fprintf(out, "%s%s", sep, states[i].name);
			sep = ",";
		}
	fputc(' ', out);
}

static int rw_nft_t_rule(const struct rw_nft_crule *cr, FILE *out)
{
	const struct rw_nft_rdesc *d = &cr->desc;
	if (!d->counter) /* every rule has one: this one was never described */
		return RW_EINVAL;
	const char *saddr = d->family == AF_INET6 ? "ip6 saddr" : "ip saddr";
	fputs("\t\t", out);
	if (d->iifname[0])
		fprintf(out, "iifname %s\"%s\" ", d->iifname_not ? "!= " : "", d->iifname);
	if (d->listener.port) {
		fprintf(out, "tcp dport %u ", d->listener.port);
		if (d->listener_any)
			fprintf(out, "meta nfproto %s ",
				d->listener.family == AF_INET6 ? "ipv6" : "ipv4");
		else {
			fprintf(out, "%s daddr ", rw_nft_t_fam(d->listener.family));
			rw_nft_t_addr(d->listener.family, d->listener.addr, out);
			fputc(' ', out);
		}
	}
	if (d->dest.family) {
		fprintf(out, "%s daddr ", rw_nft_t_fam(d->dest.family));
		rw_nft_t_addr(d->dest.family, d->dest.addr, out);
		fputc(' ', out);
		if (d->dest.port)
			fprintf(out, "tcp dport %u ", d->dest.port);
	}
	if (d->udp_dport)
		fprintf(out, "udp dport %u ", d->udp_dport);
	if (d->icmp6_hi) {
		fprintf(out, "icmpv6 type %u", d->icmp6_lo);
		if (d->icmp6_hi != d->icmp6_lo)
			fprintf(out, "-%u", d->icmp6_hi);
		fputc(' ', out);
	}
	if (d->ct_state)
		rw_nft_t_ct_state(d->ct_state, out);
	if (d->ct_dir_reply)
		fputs("ct direction reply ", out);
	if (d->saddr_set[0])
		fprintf(out, "%s @%s ", saddr, d->saddr_set);
	if (d->meter_set[0]) {
		fprintf(out, "update @%s { %s ", d->meter_set, saddr);
		rw_nft_t_rate(&d->meter, 1, out);
		fputs(" } ", out);
	}
	if (d->ban_set[0]) {
		fprintf(out, "update @%s { %s", d->ban_set, saddr);
		if (d->ban_timeout_ms) {
			fputs(" timeout ", out);
			rw_nft_t_duration(d->ban_timeout_ms, out);
		}
		fputs(" } ", out);
	}
	/* a limited log rule counts after its limit (rw_nft_lower) */
	bool count_after = d->log && d->limit.rate;
	if (d->counter && !count_after)
		fputs("counter packets 0 bytes 0 ", out);
	if (d->limit.rate) {
		rw_nft_t_rate(&d->limit, 0, out);
		fputc(' ', out);
	}
	if (d->counter && count_after)
		fputs("counter packets 0 bytes 0 ", out);
	if (d->log)
		fprintf(out, "log prefix \"%s\" group %u ", d->log_prefix, d->log_group);
	if (d->nat_to.port && d->nat_redirect)
		fprintf(out, "redirect to :%u ", d->nat_to.port);
	else if (d->nat_to.port) {
		int v6 = d->nat_to.family == AF_INET6;
		fprintf(out, "dnat %s to %s", rw_nft_t_fam(d->nat_to.family), v6 ? "[" : "");
		rw_nft_t_addr(d->nat_to.family, d->nat_to.addr, out);
		fprintf(out, "%s:%u ", v6 ? "]" : "", d->nat_to.port);
	}
	if (d->verdict == NF_ACCEPT)
		fputs("accept ", out);
	else if (d->verdict == NF_DROP)
		fputs("drop ", out);
	fprintf(out, "comment \"%s\"\n", cr->comment);
	return 0;
}

/* A host prefix as a bare address, as nft lists it. */
static void rw_nft_t_elem(const struct rw_cidr *c, FILE *out)
{
	char buf[64];
	rw_cidr_format(c, buf, sizeof(buf));
	if (c->prefix == (c->family == AF_INET ? 32 : 128)) {
		char *slash = strchr(buf, '/');
		if (slash)
			*slash = '\0';
	}
	fputs(buf, out);
}

static void rw_nft_t_set(const struct rw_nft_cset *s, FILE *out)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} flags[] = { { NFT_SET_CONSTANT, "constant" },
		      { NFT_SET_EVAL, "dynamic" },
		      { NFT_SET_INTERVAL, "interval" },
		      { NFT_SET_TIMEOUT, "timeout" } };
	fprintf(out, "\tset %s {\n\t\ttype %s\n", s->name,
		s->family == AF_INET ? "ipv4_addr" : "ipv6_addr");
	if (s->size)
		fprintf(out, "\t\tsize %" PRIu32 "\n", s->size);
	const char *sep = "\t\tflags ";
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (s->flags & flags[i].bit) {
			fprintf(out, "%s%s", sep, flags[i].name);
			sep = ",";
		}
	if (sep[0] == ',')
		fputc('\n', out);
	if (s->timeout_ms) {
		fputs("\t\ttimeout ", out);
		rw_nft_t_duration(s->timeout_ms, out);
		fputc('\n', out);
	}
	if (s->n_cidrs) {
		size_t per_line = s->family == AF_INET ? 2 : 1;
		fputs("\t\telements = { ", out);
		for (size_t k = 0; k < s->n_cidrs; k++) {
			if (k)
				fputs(k % per_line ? ", " : ",\n\t\t\t     ", out);
			rw_nft_t_elem(&s->cidrs[k], out);
		}
		fputs(" }\n", out);
	}
	fputs("\t}\n", out);
}

static const char *rw_nft_t_prio(int prio, char *buf, size_t len)
{
	switch (prio) {
	case -300: return "raw";
	case -150: return "mangle";
	case -100: return "dstnat";
	case 0: return "filter";
	case 50: return "security";
	case 100: return "srcnat";
	}
	snprintf(buf, len, "%d", prio);
	return buf;
}

int rw_nft_dump_nft(const struct rw_nft_compiled *c, FILE *out)
{
	int first = 1;
	fprintf(out, "table inet %s {\n", RW_NFT_TABLE);
	for (size_t i = 0; i < c->n_sets; i++) {
		if (!first)
			fputc('\n', out);
		first = 0;
		rw_nft_t_set(&c->sets[i], out);
	}
	for (size_t i = 0; i < c->n_chains; i++) {
		const struct rw_nft_cchain *ch = &c->chains[i];
		char pb[16];
		if (!first)
			fputc('\n', out);
		first = 0;
		fprintf(out, "\tchain %s {\n\t\ttype %s hook %s priority %s; policy accept;\n",
			ch->name, ch->type, ch->hook, rw_nft_t_prio(ch->prio, pb, sizeof(pb)));
		for (size_t k = 0; k < c->n_rules; k++)
			if (strcmp(c->rules[k].chain, ch->name) == 0) {
				int rc = rw_nft_t_rule(&c->rules[k], out);
				if (rc)
					return rc;
			}
		fputs("\t}\n", out);
	}
	fputs("}\n", out);
	return ferror(out) ? RW_EIO : 0;
}
