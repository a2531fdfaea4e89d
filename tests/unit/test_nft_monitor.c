/* The nftables event parser (rules/rw_nft_monitor.c) on event messages
 * built as the kernel sends them: what counts as a change to our table,
 * what is ignored (our own portid, ban/meter elements, other tables),
 * who made it (NEWGEN), and malformed input. Also writes the fuzzer's
 * seed corpus when RW_WRITE_CORPUS names a directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>

#include "rules/rw_nft_monitor.h"

#define OWN 4242u

struct msgbuf {
	char b[8192];
	size_t len;
};

static struct nlmsghdr *put_hdr(struct msgbuf *m, uint16_t type, uint8_t family, uint32_t pid)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(m->b + m->len);
	h->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type;
	h->nlmsg_pid = pid;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	return h;
}

static void done(struct msgbuf *m, struct nlmsghdr *h)
{
	m->len += h->nlmsg_len;
}

static void obj(struct msgbuf *m, uint16_t type, const char *table, uint16_t name_attr,
		const char *name, uint32_t pid, unsigned n_elems)
{
	struct nlmsghdr *h = put_hdr(m, type, NFPROTO_INET, pid);
	mnl_attr_put_strz(h, 1, table);
	if (name)
		mnl_attr_put_strz(h, name_attr, name);
	if (n_elems) {
		struct nlattr *l = mnl_attr_nest_start(h, NFTA_SET_ELEM_LIST_ELEMENTS);
		for (unsigned i = 0; i < n_elems; i++) {
			struct nlattr *e = mnl_attr_nest_start(h, NFTA_LIST_ELEM);
			mnl_attr_put_u32(h, NFTA_SET_ELEM_FLAGS, 0);
			mnl_attr_nest_end(h, e);
		}
		mnl_attr_nest_end(h, l);
	}
	done(m, h);
}

static void gen(struct msgbuf *m, uint32_t pid, uint32_t proc_pid, const char *name)
{
	struct nlmsghdr *h = put_hdr(m, NFT_MSG_NEWGEN, NFPROTO_UNSPEC, pid);
	mnl_attr_put_u32(h, NFTA_GEN_ID, htonl(7));
	mnl_attr_put_u32(h, NFTA_GEN_PROC_PID, htonl(proc_pid));
	mnl_attr_put_strz(h, NFTA_GEN_PROC_NAME, name);
	done(m, h);
}

static void save(const char *name, const struct msgbuf *m)
{
	const char *dir = getenv("RW_WRITE_CORPUS");
	if (!dir)
		return;
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(m->b, 1, m->len, f);
		fclose(f);
	}
}

static void test_flush_ruleset(void **state)
{
	struct msgbuf m = { .len = 0 };
	memset(m.b, 0, sizeof(m.b));
	/* a flush lists every rule and set before the table itself */
	for (int i = 0; i < 5; i++)
		obj(&m, NFT_MSG_DELRULE, "regwall", NFTA_RULE_CHAIN, "input", 77, 0);
	const char *sets[] = { "net_a_v4", "net_a_v6", "live_a_v4", "live_a_v6", "vpn_v4",
			       "vpn_v6", "x1", "x2", "x3" };
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		obj(&m, NFT_MSG_DELSET, "regwall", NFTA_SET_NAME, sets[i], 77, 0);
	obj(&m, NFT_MSG_DELCHAIN, "regwall", NFTA_CHAIN_NAME, "input", 77, 0);
	obj(&m, NFT_MSG_DELTABLE, "regwall", 0, NULL, 77, 0);
	obj(&m, NFT_MSG_DELTABLE, "other", 0, NULL, 77, 0);
	gen(&m, 77, 31337, "nft");
	save("flush", &m);
	struct rw_nft_mon_report rep = { 0 };
	rw_nft_mon_parse(m.b, m.len, OWN, &rep);
	assert_int_equal(rep.changes, 5 + 9 + 1 + 1);
	assert_int_equal(rep.bad, 0);
	assert_string_equal(rep.who, "nft (pid 31337)");
	/* the table's deletion is named first, even past the item limit */
	assert_int_equal(strncmp(rep.what, "table deleted; rules deleted from chain input (5)", 49), 0);
	assert_non_null(strstr(rep.what, "more"));
}

static void test_own_and_ignored(void **state)
{
	struct msgbuf m = { .len = 0 };
	memset(m.b, 0, sizeof(m.b));
	obj(&m, NFT_MSG_DELTABLE, "regwall", 0, NULL, OWN, 0); /* our own apply */
	obj(&m, NFT_MSG_NEWSETELEM, "regwall", NFTA_SET_ELEM_LIST_SET, "ban_v4", 55, 1);
	obj(&m, NFT_MSG_DELSETELEM, "regwall", NFTA_SET_ELEM_LIST_SET, "meter_https_v6", 55, 2);
	obj(&m, NFT_MSG_NEWSETELEM, "regwall", NFTA_SET_ELEM_LIST_SET, "banmeter_v4", 55, 1);
	gen(&m, 55, 9, "fail2ban");
	save("ignored", &m);
	struct rw_nft_mon_report rep = { 0 };
	rw_nft_mon_parse(m.b, m.len, OWN, &rep);
	assert_int_equal(rep.changes, 0);
	assert_int_equal(rep.own, 1);
	assert_int_equal(rep.ignored, 3);
	assert_string_equal(rep.who, ""); /* nothing of ours changed */
}

static void test_elements_and_rules(void **state)
{
	struct msgbuf m = { .len = 0 };
	memset(m.b, 0, sizeof(m.b));
	obj(&m, NFT_MSG_DELSETELEM, "regwall", NFTA_SET_ELEM_LIST_SET, "net_office_v4", 66, 3);
	obj(&m, NFT_MSG_NEWRULE, "regwall", NFTA_RULE_CHAIN, "input", 66, 0);
	gen(&m, 66, 1234, "nft");
	/* a table of the same name in another family is not ours */
	struct nlmsghdr *h = put_hdr(&m, NFT_MSG_DELTABLE, NFPROTO_IPV4, 66);
	mnl_attr_put_strz(h, NFTA_TABLE_NAME, "regwall");
	done(&m, h);
	save("elements", &m);
	struct rw_nft_mon_report rep = { 0 };
	rw_nft_mon_parse(m.b, m.len, OWN, &rep);
	assert_int_equal(rep.changes, 2);
	assert_string_equal(rep.what,
			    "elements deleted from set net_office_v4 (3); rules added to chain input");
	assert_string_equal(rep.who, "nft (pid 1234)");
}

static void test_malformed(void **state)
{
	struct msgbuf m = { .len = 0 };
	memset(m.b, 0, sizeof(m.b));
	obj(&m, NFT_MSG_NEWRULE, "regwall", NFTA_RULE_CHAIN, "input", 66, 0);
	struct rw_nft_mon_report rep = { 0 };
	/* cut inside the message: not a whole message, nothing read from it */
	rw_nft_mon_parse(m.b, m.len - 3, OWN, &rep);
	assert_int_equal(rep.changes, 0);
	assert_int_equal(rep.bad, 1);
	/* an attribute claiming more than the message holds: the walk
	 * stops there, so the table name is never read */
	struct nlmsghdr *hh = (struct nlmsghdr *)m.b;
	struct nlattr *a = (struct nlattr *)((char *)hh + NLMSG_HDRLEN + sizeof(struct nfgenmsg));
	a->nla_len = 4000;
	memset(&rep, 0, sizeof(rep));
	rw_nft_mon_parse(m.b, m.len, OWN, &rep);
	assert_int_equal(rep.changes, 0);
	/* a table name without its NUL: not a name */
	memset(&m, 0, sizeof(m));
	hh = put_hdr(&m, NFT_MSG_DELTABLE, NFPROTO_INET, 66);
	mnl_attr_put(hh, NFTA_TABLE_NAME, 7, "regwall");
	done(&m, hh);
	save("no_nul", &m);
	memset(&rep, 0, sizeof(rep));
	rw_nft_mon_parse(m.b, m.len, OWN, &rep);
	assert_int_equal(rep.changes, 0);
	/* header only, no nfgenmsg */
	memset(&m, 0, sizeof(m));
	hh = mnl_nlmsg_put_header(m.b);
	hh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE;
	m.len = hh->nlmsg_len;
	memset(&rep, 0, sizeof(rep));
	rw_nft_mon_parse(m.b, m.len, OWN, &rep);
	assert_int_equal(rep.bad, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flush_ruleset),
		cmocka_unit_test(test_own_and_ignored),
		cmocka_unit_test(test_elements_and_rules),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
