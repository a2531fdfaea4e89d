/* rules/: the policy -> nftables compiler.
 *
 * Without a kernel: golden text per policy case (REGWALL_UPDATE_GOLDEN=1
 * rewrites tests/golden/), structural invariants of every rule, the
 * interval element encoding at the edges of the address space, range ->
 * prefix rebuilding, and a round trip of every rule through its NEWRULE
 * netlink message.
 *
 * With CAP_NET_ADMIN: the process moves itself into a fresh network
 * namespace (unshare, nothing named, gone at exit) and applies tables for
 * real, including 100,000 + 20,000 prefixes in one transaction. Without
 * the capability those tests are skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/test_ci.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "rules/rw_cidr.h"
#include "rules/rw_cidrset.h"
#include "rules/rw_nft.h"
#include "rules/rw_nft_int.h"

/* ---- policies built by hand (the config loader is not under test here) */

struct tpol {
	struct rw_policy p;
	struct rw_network nets[4];
	struct rw_cidr cidrs[4][8];
	struct rw_listener ls[4];
	size_t allow[4][4];
	struct rw_peer peers[3];
	struct rw_cidr peer_addr[3][2];
	char file[16];
	char iface[16];
	struct rw_endpoint other[2]; /* registry.other_addresses */
};

static void tp_endpoint(struct rw_endpoint *e, const char *addr, uint16_t port)
{
	memset(e, 0, sizeof(*e));
	if (inet_pton(AF_INET, addr, e->addr) == 1)
		e->family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, addr, e->addr), 1);
		e->family = AF_INET6;
	}
	e->port = port;
}

static void tp_init(struct tpol *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->file, sizeof(t->file), "test.conf");
	t->p.source_file = t->file;
	t->p.networks = t->nets;
	t->p.listeners = t->ls;
	t->p.log.nflog_group = 7;
	t->p.opts.ban_set_size = 65536;
	t->p.opts.ban_for_ms = 600000;
	t->p.opts.push_requires_vpn = true;
	tp_endpoint(&t->p.registry.upstream, "127.0.0.1", 5000);
}

static void tp_net(struct tpol *t, const char *name, const char *c0, const char *c1,
		   const char *c2)
{
	size_t i = t->p.n_networks++;
	struct rw_network *n = &t->nets[i];
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->cidrs = t->cidrs[i];
	n->line = 10 + (int)i;
	const char *v[3] = { c0, c1, c2 };
	for (int k = 0; k < 3; k++)
		if (v[k])
			assert_int_equal(rw_cidr_parse(v[k], &n->cidrs[n->n_cidrs++], 0), 0);
	rw_cidrset_merge(n->cidrs, &n->n_cidrs);
}

static void tp_listener(struct tpol *t, const char *name, const char *addr, uint16_t port,
			const char *n0, const char *n1, bool vpn)
{
	size_t i = t->p.n_listeners++;
	struct rw_listener *l = &t->ls[i];
	snprintf(l->name, sizeof(l->name), "%s", name);
	tp_endpoint(&l->listen, addr, port);
	l->allow_nets = t->allow[i];
	l->allow_vpn = vpn;
	l->line = 20 + (int)i;
	const char *v[2] = { n0, n1 };
	for (int k = 0; k < 2; k++)
		if (v[k]) {
			long idx = -1;
			for (size_t j = 0; j < t->p.n_networks; j++)
				if (strcmp(t->nets[j].name, v[k]) == 0)
					idx = (long)j;
			assert_true(idx >= 0);
			l->allow_nets[l->n_allow_nets++] = (size_t)idx;
		}
}

static void tp_vpn(struct tpol *t)
{
	struct rw_vpn *v = &t->p.vpn;
	v->enabled = true;
	snprintf(v->interface, sizeof(v->interface), "wg0");
	v->listen_port = 51820;
	assert_int_equal(rw_cidr_parse("192.0.2.1/24", &v->address, 1), 0);
	v->peers = t->peers;
	const char *a[3][2] = { { "192.0.2.2/32", NULL },
				{ "192.0.2.3/32", "2001:db8:ffff::3/128" },
				{ "192.0.2.16/28", NULL } };
	const char *names[3] = { "alice", "bob", "ci-runners" };
	for (int i = 0; i < 3; i++) {
		struct rw_peer *p = &t->peers[i];
		snprintf(p->name, sizeof(p->name), "%s", names[i]);
		p->addresses = t->peer_addr[i];
		for (int k = 0; k < 2; k++)
			if (a[i][k])
				assert_int_equal(rw_cidr_parse(a[i][k], &p->addresses[p->n_addresses++], 0),
						 0);
	}
	v->n_peers = 3;
}

/* The policy cases of the golden files. */
static void tp_case(struct tpol *t, const char *name)
{
	tp_init(t);
	if (strcmp(name, "minimal_v4") == 0) {
		tp_net(t, "office", "203.0.113.0/25", NULL, NULL);
		tp_listener(t, "https", "0.0.0.0", 443, "office", NULL, false);
	} else if (strcmp(name, "dual_stack") == 0) {
		tp_net(t, "office", "203.0.113.0/25", "2001:db8:1::/48", NULL);
		tp_net(t, "ci", "203.0.113.200/32", NULL, NULL);
		/* one listener per family, as fwd/ serves them */
		tp_listener(t, "https", "0.0.0.0", 443, "office", "ci", false);
		tp_listener(t, "https6", "::", 443, "office", "ci", false);
	} else if (strcmp(name, "vpn") == 0) {
		tp_net(t, "office", "203.0.113.0/25", NULL, NULL);
		tp_vpn(t);
		tp_listener(t, "https", "0.0.0.0", 443, "office", NULL, true);
		tp_listener(t, "push", "192.0.2.1", 5443, NULL, NULL, true);
	} else if (strcmp(name, "rate_ban") == 0) {
		tp_net(t, "office", "203.0.113.0/25", "2001:db8:1::/48", NULL);
		tp_listener(t, "https", "0.0.0.0", 443, "office", NULL, false);
		tp_listener(t, "https6", "::", 443, "office", NULL, false);
		t->p.opts.conn_per_source = (struct rw_rate){ .count = 20, .per_ms = 1000 };
		t->p.opts.ban_after = 100;
		t->p.opts.ban_for_ms = 600000;
	} else if (strcmp(name, "gateway") == 0) {
		tp_net(t, "office", "203.0.113.0/25", NULL, NULL);
		tp_listener(t, "https", "0.0.0.0", 443, "office", NULL, false);
		tp_endpoint(&t->p.registry.upstream, "198.51.100.10", 5000);
		/* a second address of the registry host: its port dropped too */
		tp_endpoint(&t->other[0], "198.51.100.11", 5000);
		t->p.registry.other = t->other;
		t->p.registry.n_other = 1;
	} else if (strcmp(name, "transparent") == 0) {
		/* a wildcard transparent listener: redirect, and the forward
		 * chain drops the registry's address on every port */
		tp_net(t, "office", "203.0.113.0/25", "2001:db8:1::/48", NULL);
		tp_listener(t, "https", "0.0.0.0", 443, "office", NULL, false);
		t->ls[0].transparent = true;
		tp_listener(t, "direct", "203.0.113.1", 8443, "office", NULL, false);
		tp_endpoint(&t->p.registry.upstream, "198.51.100.10", 5000);
		/* the registry host's v6 address: dropped as the upstream's */
		tp_endpoint(&t->other[0], "2001:db8:3::10", 5000);
		t->p.registry.other = t->other;
		t->p.registry.n_other = 1;
	} else if (strcmp(name, "transparent_v6") == 0) {
		/* bound to one address: dnat to exactly that address */
		tp_net(t, "office", "203.0.113.0/25", "2001:db8:1::/48", NULL);
		tp_listener(t, "https", "2001:db8:1::1", 443, "office", NULL, false);
		t->ls[0].transparent = true;
		tp_endpoint(&t->p.registry.upstream, "2001:db8:3::10", 5000);
	} else if (strcmp(name, "multi_listener") == 0) {
		tp_net(t, "office", "203.0.113.0/25", "2001:db8:1::/48", NULL);
		tp_net(t, "ci", "203.0.113.200/32", "198.51.100.0/24", NULL);
		tp_listener(t, "https", "0.0.0.0", 443, "office", "ci", false);
		tp_listener(t, "pull", "203.0.113.1", 8443, "ci", NULL, false);
		tp_listener(t, "v6only", "2001:db8::1", 443, "office", NULL, false);
		t->p.log.nflog_group = 65535;
	} else {
		fail_msg("unknown case %s", name);
	}
}

static const char *const tp_cases[] = { "minimal_v4", "dual_stack",     "vpn",
					"rate_ban",   "gateway",        "multi_listener",
					"transparent", "transparent_v6" };
#define TP_N_CASES (sizeof(tp_cases) / sizeof(tp_cases[0]))

static struct rw_nft_compiled *tp_compile(const char *name)
{
	struct tpol t;
	struct rw_diag d;
	struct rw_nft_compiled *c = NULL;
	rw_diag_init(&d);
	tp_case(&t, name);
	int rc = rw_nft_compile(&t.p, &c, &d);
	if (rc)
		rw_diag_print(&d, stderr);
	assert_int_equal(rc, 0);
	assert_non_null(c);
	return c;
}

typedef int (*tp_dump_fn)(const struct rw_nft_compiled *c, FILE *out);

static char *tp_dump_with(const struct rw_nft_compiled *c, tp_dump_fn fn)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(fn(c, f), 0);
	fclose(f);
	return buf;
}

static char *tp_dump(const struct rw_nft_compiled *c)
{
	return tp_dump_with(c, rw_nft_dump_text);
}

/* ---- golden files */

static char *tp_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* <case><ext> in tests/golden: .txt the lowering (rw_nft_dump_text), .nft
 * the table as nft lists it (rw_nft_dump_nft, regwalld --dump-rules). */
static void tp_golden(const char *ext, tp_dump_fn fn)
{
	const char *dir = getenv("REGWALL_GOLDEN_DIR");
	if (!dir)
		dir = "tests/golden";
	int update = getenv("REGWALL_UPDATE_GOLDEN") != NULL;
	for (size_t i = 0; i < TP_N_CASES; i++) {
		struct rw_nft_compiled *c = tp_compile(tp_cases[i]);
		char *got = tp_dump_with(c, fn);
		char path[256];
		snprintf(path, sizeof(path), "%s/%s%s", dir, tp_cases[i], ext);
		if (update) {
			FILE *f = fopen(path, "w");
			assert_non_null(f);
			fputs(got, f);
			fclose(f);
		}
		char *want = tp_read_file(path);
		if (!want)
			fail_msg("%s missing (run from the repo root, or REGWALL_UPDATE_GOLDEN=1)", path);
		if (strcmp(got, want) != 0) {
			fprintf(stderr, "--- %s differs; got:\n%s", path, got);
			fail_msg("golden mismatch: %s", tp_cases[i]);
		}
		free(want);
		free(got);
		rw_nft_compiled_free(c);
	}
}

static void test_golden(void **state)
{
	tp_golden(".txt", rw_nft_dump_text);
}

static void test_golden_nft(void **state)
{
	tp_golden(".nft", rw_nft_dump_nft);
}

/* Two compiles of one policy give the same text. */
static void test_deterministic(void **state)
{
	for (size_t i = 0; i < TP_N_CASES; i++) {
		struct rw_nft_compiled *a = tp_compile(tp_cases[i]), *b = tp_compile(tp_cases[i]);
		char *ta = tp_dump(a), *tb = tp_dump(b);
		assert_string_equal(ta, tb);
		free(ta);
		free(tb);
		rw_nft_compiled_free(a);
		rw_nft_compiled_free(b);
	}
}

/* ---- invariants checked on every rule of every case */

static char *tp_rule_text(const struct nftnl_rule *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(rw_nft_rule_text(r, f), 0);
	fclose(f);
	return buf;
}

static void tp_has(const char *text, const char *what, bool want, const char *comment)
{
	if ((strstr(text, what) != NULL) != want)
		fail_msg("rule \"%s\": description and expressions disagree on \"%s\" (%s in the "
			 "expressions):\n%s",
			 comment, what, want ? "missing" : "present", text);
}

/* What --dump-rules prints comes from each rule's description, not from
 * its expressions: they must say the same (the net test
 * test_dump_rules.sh checks the description against nft itself). */
static void test_rule_descriptions(void **state)
{
	for (size_t i = 0; i < TP_N_CASES; i++) {
		struct rw_nft_compiled *c = tp_compile(tp_cases[i]);
		for (size_t k = 0; k < c->n_rules; k++) {
			const struct rw_nft_rdesc *d = &c->rules[k].desc;
			const char *cm = c->rules[k].comment;
			char *t = tp_rule_text(c->rules[k].rule);
			char w[256];
			assert_true(d->counter);
			tp_has(t, "[ counter ", true, cm);
			tp_has(t, "[ immediate reg 0 accept ]", d->verdict == NF_ACCEPT, cm);
			tp_has(t, "[ immediate reg 0 drop ]", d->verdict == NF_DROP, cm);
			snprintf(w, sizeof(w), "[ log prefix %s group %u ", d->log_prefix, d->log_group);
			tp_has(t, d->log ? w : "[ log ", d->log, cm);
			snprintf(w, sizeof(w), "[ lookup reg 1 set %s ]", d->saddr_set);
			tp_has(t, d->saddr_set[0] ? w : "[ lookup ", d->saddr_set[0] != 0, cm);
			snprintf(w, sizeof(w), "[ dynset update reg_key 1 set %s expr [ limit rate %llu/",
				 d->meter_set, (unsigned long long)d->meter.rate);
			tp_has(t, w, d->meter_set[0] != 0, cm);
			snprintf(w, sizeof(w), "[ dynset update reg_key 1 set %s timeout %llums ]",
				 d->ban_set, (unsigned long long)d->ban_timeout_ms);
			tp_has(t, w, d->ban_set[0] != 0, cm);
			snprintf(w, sizeof(w), "[ limit rate %llu/", (unsigned long long)d->limit.rate);
			tp_has(t, w, d->limit.rate != 0, cm);
			tp_has(t, "[ meta load iifname ", d->iifname[0] != 0, cm);
			tp_has(t, "[ redir proto_min reg 1 flags 0x2 ]",
			       d->nat_to.port && d->nat_redirect, cm);
			snprintf(w, sizeof(w), "[ nat dnat %s addr_min reg 1 proto_min reg 2 flags 0x2 ]",
				 d->nat_to.family == AF_INET6 ? "ip6" : "ip");
			tp_has(t, d->nat_to.port ? w : "[ nat ", d->nat_to.port && !d->nat_redirect,
			       cm);
			tp_has(t, "[ ct load state ", d->ct_state != 0, cm);
			/* port as the cmp's hex (network order in a little-endian word) */
			uint16_t port = d->listener.port ? d->listener.port : d->dest.port;
			if (!port)
				port = d->udp_dport;
			snprintf(w, sizeof(w), "[ cmp eq reg 1 0x0000%02x%02x ]", port & 0xff, port >> 8);
			tp_has(t, "[ payload load 2b @ transport header + 2 => reg 1 ]", port != 0, cm);
			if (port)
				tp_has(t, w, true, cm);
			free(t);
		}
		char *txt = tp_dump_with(c, rw_nft_dump_nft);
		free(txt);
		rw_nft_compiled_free(c);
	}
}

static void test_rule_invariants(void **state)
{
	for (size_t i = 0; i < TP_N_CASES; i++) {
		struct rw_nft_compiled *c = tp_compile(tp_cases[i]);
		assert_int_equal(nftnl_table_get_u32(c->table, NFTNL_TABLE_FLAGS), 0); /* no owner */
		for (size_t k = 0; k < c->n_rules; k++) {
			char *t = tp_rule_text(c->rules[k].rule);
			char cm[RW_NFT_COMMENT_LEN];
			assert_int_equal(rw_nft_rule_get_comment(c->rules[k].rule, cm, sizeof(cm)), 0);
			assert_string_equal(cm, c->rules[k].comment);
			assert_non_null(strstr(t, "[ counter "));
			/* every network-header load is guarded by meta nfproto */
			char *prev2 = NULL, *prev1 = NULL, *save = NULL;
			char *dup = strdup(t);
			for (char *ln = strtok_r(dup, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
				if (strstr(ln, "@ network header")) {
					assert_non_null(prev2);
					assert_non_null(strstr(prev2, "meta load nfproto"));
					assert_true(strstr(prev1, "cmp eq reg 1 0x00000002") ||
						    strstr(prev1, "cmp eq reg 1 0x0000000a"));
				}
				prev2 = prev1;
				prev1 = ln;
			}
			free(dup);
			/* a drop never carries a plain limit (meters are nested) */
			if (strstr(t, "immediate reg 0 drop"))
				assert_null(strstr(t, "  [ limit "));
			if (strstr(t, "[ log ")) {
				assert_non_null(strstr(t, "prefix regwall "));
				assert_non_null(strstr(t, i == 5 ? "group 65535" : "group 7 "));
			}
			free(t);
		}
		rw_nft_compiled_free(c);
	}
}

/* Rule order of the input chain for one listener with everything on. */
static void test_rule_order(void **state)
{
	struct rw_nft_compiled *c = tp_compile("rate_ban");
	/* per listener (one family each): the main set, then the live set
	 * (rw_nft_net_live_update) */
	const char *want[] = { "- established",          "https banned",
			       "https rate_limited",     "https allow office",
			       "https allow office",     "https not_allowed log",
			       "https not_allowed",      "https6 banned",
			       "https6 rate_limited",    "https6 allow office",
			       "https6 allow office",    "https6 not_allowed log",
			       "https6 not_allowed" };
	size_t k = 0;
	for (size_t i = 0; i < c->n_rules; i++) {
		if (strcmp(c->rules[i].chain, "input") != 0)
			continue;
		assert_true(k < sizeof(want) / sizeof(want[0]));
		assert_string_equal(c->rules[i].comment, want[k]);
		assert_int_equal(c->rules[i].index, k);
		k++;
	}
	assert_int_equal(k, sizeof(want) / sizeof(want[0]));
	rw_nft_compiled_free(c);
}

static void test_compile_errors(void **state)
{
	struct tpol t;
	struct rw_diag d;
	struct rw_nft_compiled *c = NULL;

	tp_case(&t, "minimal_v4");
	t.ls[0].allow_vpn = true; /* no vpn section */
	rw_diag_init(&d);
	assert_int_equal(rw_nft_compile(&t.p, &c, &d), RW_ECONFIG);
	assert_null(c);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.msg[0].text, "test.conf:20: listener https"));

	tp_case(&t, "rate_ban");
	t.p.opts.conn_per_source.per_ms = 1500;
	rw_diag_init(&d);
	assert_int_equal(rw_nft_compile(&t.p, &c, &d), RW_ECONFIG);
	assert_non_null(strstr(d.msg[0].text, "1500 ms"));

	tp_case(&t, "minimal_v4");
	snprintf(t.nets[0].name, sizeof(t.nets[0].name), "of\"fice");
	rw_diag_init(&d);
	assert_int_equal(rw_nft_compile(&t.p, &c, &d), RW_ECONFIG);
	assert_non_null(strstr(d.msg[0].text, "test.conf:10:"));

	tp_case(&t, "minimal_v4");
	t.ls[0].allow_nets[0] = 3; /* out of range */
	rw_diag_init(&d);
	assert_int_equal(rw_nft_compile(&t.p, &c, &d), RW_ECONFIG);
}

/* ---- interval elements */

struct tp_elem {
	char key[40];
	uint32_t flags;
	int open;
};

/* tb[] of one nesting level; types above max are ignored */
struct tp_tb {
	const struct nlattr *tb[16];
};

static int tp_tb_cb(const struct nlattr *a, void *data)
{
	struct tp_tb *t = data;
	uint16_t type = mnl_attr_get_type(a);
	if (type < 16)
		t->tb[type] = a;
	return MNL_CB_OK;
}

/* Encode, put in a NEWSETELEM message, and read the message back by hand
 * (libnftnl's parser only accepts what the kernel sends, whose nest types
 * differ from what libnftnl builds). */
static size_t tp_encode(const char *const *cidrs, size_t n, int marker, struct tp_elem *out)
{
	struct rw_cidr v[8];
	for (size_t i = 0; i < n; i++)
		assert_int_equal(rw_cidr_parse(cidrs[i], &v[i], 0), 0);
	struct nftnl_set *s = nftnl_set_alloc();
	nftnl_set_set_str(s, NFTNL_SET_TABLE, "regwall");
	nftnl_set_set_str(s, NFTNL_SET_NAME, "x");
	long cnt = rw_nft_elems_interval(s, v, n, marker);
	assert_true(cnt >= 0);
	char buf[8192];
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSETELEM, NFPROTO_INET, 0, 1);
	nftnl_set_elems_nlmsg_build_payload(h, s);
	nftnl_set_free(s);

	struct tp_tb top = { 0 };
	assert_true(mnl_attr_parse(h, sizeof(struct nfgenmsg), tp_tb_cb, &top) >= 0);
	assert_non_null(top.tb[NFTA_SET_ELEM_LIST_SET]);
	assert_string_equal(mnl_attr_get_str(top.tb[NFTA_SET_ELEM_LIST_SET]), "x");
	assert_non_null(top.tb[NFTA_SET_ELEM_LIST_ELEMENTS]);
	size_t k = 0;
	const struct nlattr *el;
	mnl_attr_for_each_nested(el, top.tb[NFTA_SET_ELEM_LIST_ELEMENTS]) {
		struct tp_tb e = { 0 }, key = { 0 };
		assert_true(mnl_attr_parse_nested(el, tp_tb_cb, &e) >= 0);
		assert_non_null(e.tb[NFTA_SET_ELEM_KEY]);
		assert_true(mnl_attr_parse_nested(e.tb[NFTA_SET_ELEM_KEY], tp_tb_cb, &key) >= 0);
		const struct nlattr *kv = key.tb[NFTA_DATA_VALUE];
		assert_non_null(kv);
		uint16_t klen = mnl_attr_get_payload_len(kv);
		assert_true(klen == 4 || klen == 16);
		inet_ntop(klen == 4 ? AF_INET : AF_INET6, mnl_attr_get_payload(kv), out[k].key,
			  sizeof(out[k].key));
		out[k].flags = e.tb[NFTA_SET_ELEM_FLAGS]
				       ? ntohl(mnl_attr_get_u32(e.tb[NFTA_SET_ELEM_FLAGS]))
				       : 0;
		out[k].open = 0;
		if (e.tb[NFTA_SET_ELEM_USERDATA]) {
			/* what nft 1.0.6 sends: type FLAGS(1) len 4 value INTERVAL_OPEN */
			static const uint8_t want[6] = { 1, 4, 1, 0, 0, 0 };
			assert_int_equal(mnl_attr_get_payload_len(e.tb[NFTA_SET_ELEM_USERDATA]), 6);
			assert_memory_equal(mnl_attr_get_payload(e.tb[NFTA_SET_ELEM_USERDATA]), want, 6);
			out[k].open = 1;
		}
		k++;
	}
	assert_int_equal(k, cnt);
	return k;
}

#define END NFT_SET_ELEM_INTERVAL_END

static void tp_expect(const struct tp_elem *e, const char *key, uint32_t flags, int open)
{
	assert_string_equal(e->key, key);
	assert_int_equal(e->flags, flags);
	assert_int_equal(e->open, open);
}

static void test_interval_encoding(void **state)
{
	struct tp_elem e[16];
	const char *a[] = { "10.0.0.0/8" };
	assert_int_equal(tp_encode(a, 1, 1, e), 3);
	tp_expect(&e[0], "0.0.0.0", END, 0); /* leading marker */
	tp_expect(&e[1], "10.0.0.0", 0, 0);
	tp_expect(&e[2], "11.0.0.0", END, 0); /* end is exclusive */

	/* incremental: no marker */
	assert_int_equal(tp_encode(a, 1, 0, e), 2);
	tp_expect(&e[0], "10.0.0.0", 0, 0);

	const char *b[] = { "0.0.0.0/8", "192.168.1.5/32" };
	assert_int_equal(tp_encode(b, 2, 1, e), 4); /* starts at 0: no marker */
	tp_expect(&e[0], "0.0.0.0", 0, 0);
	tp_expect(&e[1], "1.0.0.0", END, 0);
	tp_expect(&e[2], "192.168.1.5", 0, 0);
	tp_expect(&e[3], "192.168.1.6", END, 0);

	const char *c[] = { "0.0.0.0/0" };
	assert_int_equal(tp_encode(c, 1, 1, e), 1); /* no end: it would overflow */
	tp_expect(&e[0], "0.0.0.0", 0, 1);

	const char *d[] = { "10.0.0.0/8", "255.255.255.0/24" };
	assert_int_equal(tp_encode(d, 2, 1, e), 4);
	tp_expect(&e[0], "0.0.0.0", END, 0);
	tp_expect(&e[1], "10.0.0.0", 0, 0);
	tp_expect(&e[2], "11.0.0.0", END, 0);
	tp_expect(&e[3], "255.255.255.0", 0, 1);

	const char *f[] = { "::/0" };
	assert_int_equal(tp_encode(f, 1, 1, e), 1);
	tp_expect(&e[0], "::", 0, 1);

	const char *g[] = { "2001:db8::/32", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128" };
	assert_int_equal(tp_encode(g, 2, 1, e), 4);
	tp_expect(&e[0], "::", END, 0);
	tp_expect(&e[1], "2001:db8::", 0, 0);
	tp_expect(&e[2], "2001:db9::", END, 0);
	tp_expect(&e[3], "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0, 1);

	/* adjacent prefixes stay two ranges: end key == next start key */
	const char *h[] = { "203.0.113.0/25", "203.0.113.128/25" };
	assert_int_equal(tp_encode(h, 2, 1, e), 5);
	tp_expect(&e[2], "203.0.113.128", END, 0);
	tp_expect(&e[3], "203.0.113.128", 0, 0);
	tp_expect(&e[4], "203.0.114.0", END, 0);
}

struct tp_cidrs {
	char text[8][64];
	size_t n;
};

static void tp_cidr_cb(const struct rw_cidr *c, void *arg)
{
	struct tp_cidrs *t = arg;
	assert_true(t->n < 8);
	rw_cidr_format(c, t->text[t->n++], 64);
}

static void tp_range(const char *from, const char *to, int open, struct tp_cidrs *out)
{
	uint8_t a[16] = { 0 }, b[16] = { 0 };
	int fam = strchr(from, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(fam, from, a), 1);
	if (to)
		assert_int_equal(inet_pton(fam, to, b), 1);
	memset(out, 0, sizeof(*out));
	rw_nft_range_to_cidrs(fam, a, b, open, tp_cidr_cb, out);
}

static void test_range_to_cidrs(void **state)
{
	struct tp_cidrs t;
	tp_range("10.0.0.0", "11.0.0.0", 0, &t);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.text[0], "10.0.0.0/8");

	tp_range("10.0.0.1", "10.0.0.5", 0, &t); /* not a prefix: its cover */
	assert_int_equal(t.n, 3);
	assert_string_equal(t.text[0], "10.0.0.1/32");
	assert_string_equal(t.text[1], "10.0.0.2/31");
	assert_string_equal(t.text[2], "10.0.0.4/32");

	tp_range("203.0.113.0", "203.0.114.0", 0, &t); /* two adjacent /25 merged by hand */
	assert_int_equal(t.n, 1);
	assert_string_equal(t.text[0], "203.0.113.0/24");

	tp_range("255.255.255.0", NULL, 1, &t);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.text[0], "255.255.255.0/24");

	tp_range("0.0.0.0", NULL, 1, &t);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.text[0], "0.0.0.0/0");

	tp_range("::", NULL, 1, &t);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.text[0], "::/0");

	tp_range("2001:db8::", "2001:db8::3", 0, &t);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.text[0], "2001:db8::/127");
	assert_string_equal(t.text[1], "2001:db8::2/128");

	tp_range("10.0.0.0", "10.0.0.0", 0, &t); /* empty */
	assert_int_equal(t.n, 0);
}

/* ---- NEWRULE round trip */

static void test_rule_roundtrip(void **state)
{
	for (size_t i = 0; i < TP_N_CASES; i++) {
		struct rw_nft_compiled *c = tp_compile(tp_cases[i]);
		for (size_t k = 0; k < c->n_rules; k++) {
			char buf[8192];
			struct nlmsghdr *h = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET,
								   NLM_F_CREATE | NLM_F_APPEND, 42);
			nftnl_rule_nlmsg_build_payload(h, c->rules[k].rule);
			struct nftnl_rule *back = nftnl_rule_alloc();
			assert_int_equal(nftnl_rule_nlmsg_parse(h, back), 0);
			assert_string_equal(nftnl_rule_get_str(back, NFTNL_RULE_TABLE), "regwall");
			assert_string_equal(nftnl_rule_get_str(back, NFTNL_RULE_CHAIN),
					    c->rules[k].chain);
			char *want = tp_rule_text(c->rules[k].rule), *got = tp_rule_text(back);
			assert_string_equal(got, want);
			char cm[RW_NFT_COMMENT_LEN];
			assert_int_equal(rw_nft_rule_get_comment(back, cm, sizeof(cm)), 0);
			assert_string_equal(cm, c->rules[k].comment);
			free(want);
			free(got);
			nftnl_rule_free(back);
		}
		rw_nft_compiled_free(c);
	}
}

/* A comment TLV that is not NUL-terminated inside its length is refused. */
static void test_comment_malformed(void **state)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	const uint8_t bad[] = { NFTNL_UDATA_RULE_COMMENT, 3, 'a', 'b', 'c' };
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, bad, sizeof(bad));
	char cm[16];
	assert_int_equal(rw_nft_rule_get_comment(r, cm, sizeof(cm)), RW_EPROTO);
	const uint8_t trunc[] = { NFTNL_UDATA_RULE_COMMENT, 9, 'a', 0 };
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, trunc, sizeof(trunc));
	assert_true(rw_nft_rule_get_comment(r, cm, sizeof(cm)) < 0);
	nftnl_rule_free(r);
}

/* ---- kernel: a private network namespace */

static int tp_have_netns;

static int tp_setup(void **state)
{
	tp_have_netns = geteuid() == 0 && unshare(CLONE_NEWNET) == 0;
	return 0;
}

/* Without root and a private netns the kernel tests cannot run
 * (tests/unit/test_ci.h: a skip outside CI, a failure under CI=true). */
#define TP_NEED_KERNEL()                                                    \
	do {                                                                \
		if (!tp_have_netns)                                         \
			RW_TEST_NEED("no root/CAP_SYS_ADMIN for a network " \
				     "namespace: kernel test cannot run");  \
	} while (0)

static struct rw_nft *tp_open(void)
{
	struct rw_nft *n = NULL;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_nft_open(&n, &d), 0);
	return n;
}

static void tp_apply_case(struct rw_nft *n, const char *name)
{
	struct rw_nft_compiled *c = tp_compile(name);
	struct rw_diag d;
	rw_diag_init(&d);
	int rc = rw_nft_apply(n, c, &d);
	if (rc)
		rw_diag_print(&d, stderr);
	assert_int_equal(rc, 0);
	rw_nft_compiled_free(c);
}

static char *tp_nft_list(void)
{
	FILE *p = popen("nft list table inet regwall 2>&1", "r");
	assert_non_null(p);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t k;
	while ((k = fread(chunk, 1, sizeof(chunk), p)) > 0)
		fwrite(chunk, 1, k, m);
	fclose(m);
	assert_int_equal(pclose(p), 0);
	return buf;
}

struct tp_list {
	size_t n;
	char first[64], last[64];
	uint64_t expires;
};

static void tp_list_cb(const struct rw_cidr *c, uint64_t expires_ms, void *arg)
{
	struct tp_list *l = arg;
	rw_cidr_format(c, l->n ? l->last : l->first, 64);
	if (!l->n)
		snprintf(l->last, sizeof(l->last), "%s", l->first);
	l->expires = expires_ms;
	l->n++;
}

/* Every ban, in rw_nft_ban_sets order, as "set cidr reason". */
struct tp_bans {
	size_t n;
	unsigned present;
	char line[8][160];
	uint64_t expires[8];
	struct rw_nft_ban bans[8];
};

static void tp_bans_cb(const struct rw_nft_elem_info *e, void *arg)
{
	struct tp_bans *b = arg;
	char a[64];
	if (b->n == 8)
		return;
	rw_cidr_format(&e->cidr, a, sizeof(a));
	snprintf(b->line[b->n], sizeof(b->line[0]), "%s %s %s", e->set, a, e->comment);
	b->expires[b->n] = e->expires_ms;
	b->bans[b->n].addr = e->cidr;
	b->bans[b->n].timeout_ms = e->expires_ms;
	memcpy(b->bans[b->n].reason, e->comment, sizeof(e->comment));
	b->n++;
}

static struct tp_bans tp_bans(struct rw_nft *n)
{
	struct tp_bans b;
	memset(&b, 0, sizeof(b));
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_nft_ban_list(n, tp_bans_cb, &b, &b.present, &d), 0);
	return b;
}

static struct tp_list tp_set(struct rw_nft *n, const char *set, int want_rc)
{
	struct tp_list l = { 0 };
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_nft_set_list(n, set, tp_list_cb, &l, &d), want_rc);
	return l;
}

static void test_kernel_apply_and_list(void **state)
{
	TP_NEED_KERNEL();
	struct rw_nft *n = tp_open();
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_nft_remove(n, &d), 0); /* absent: fine */
	assert_int_equal(rw_nft_table_exists(n, &d), 0);
	for (size_t i = 0; i < TP_N_CASES; i++) {
		tp_apply_case(n, tp_cases[i]);
		char *txt = tp_nft_list(); /* nft itself must understand it */
		assert_null(strstr(txt, "Error"));
		/* --dump-rules prints what nft lists (a fresh table: zero counters) */
		struct rw_nft_compiled *c = tp_compile(tp_cases[i]);
		char *dump = tp_dump_with(c, rw_nft_dump_nft);
		if (strcmp(txt, dump) != 0)
			fail_msg("%s: nft lists\n%s\nbut rw_nft_dump_nft printed\n%s", tp_cases[i], txt,
				 dump);
		free(dump);
		rw_nft_compiled_free(c);
		assert_non_null(strstr(txt, "comment \"https not_allowed\""));
		assert_non_null(strstr(txt, "log prefix \"regwall https not_allowed\""));
		if (strcmp(tp_cases[i], "rate_ban") == 0) {
			assert_non_null(strstr(txt, "update @meter_https_v4 { ip saddr limit rate over 20/second }"));
			assert_non_null(strstr(txt, "update @ban_v4 { ip saddr timeout 10m }"));
		}
		if (strcmp(tp_cases[i], "gateway") == 0) {
			assert_non_null(strstr(txt, "ip daddr 198.51.100.10 tcp dport 5000"));
			assert_non_null(strstr(txt, "ip daddr 198.51.100.11 tcp dport 5000 counter "
						    "packets 0 bytes 0 drop"));
		}
		if (strcmp(tp_cases[i], "transparent") == 0) {
			assert_non_null(strstr(txt, "type nat hook prerouting priority dstnat;"));
			assert_non_null(strstr(txt, "tcp dport 5000 counter packets 0 bytes 0 "
						    "redirect to :443 comment \"https transparent\""));
			assert_non_null(strstr(txt, "ip daddr 198.51.100.10 counter packets 0 bytes 0 "
						    "drop comment \"- direct_to_registry\""));
			assert_non_null(strstr(txt, "ip daddr 198.51.100.10 ct direction reply counter "
						    "packets 0 bytes 0 accept comment \"- registry_replies\""));
			assert_non_null(strstr(txt, "ip6 daddr 2001:db8:3::10 counter packets 0 bytes 0 "
						    "drop comment \"- direct_to_registry\""));
		}
		if (strcmp(tp_cases[i], "transparent_v6") == 0)
			assert_non_null(strstr(txt, "dnat ip6 to [2001:db8:1::1]:443 comment"));
		if (strcmp(tp_cases[i], "vpn") == 0)
			assert_non_null(strstr(txt, "iifname \"wg0\" tcp dport 5443 ip daddr 192.0.2.1"));
		free(txt);
	}
	assert_int_equal(rw_nft_table_exists(n, &d), 1);
	tp_apply_case(n, "multi_listener"); /* the sets below are its */
	/* vpn set of the multi_listener case is absent; office is there */
	struct tp_list l = tp_set(n, "net_office_v6", 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.first, "2001:db8:1::/48");
	l = tp_set(n, "net_ci_v4", 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.first, "198.51.100.0/24");
	assert_string_equal(l.last, "203.0.113.200/32");
	tp_set(n, "vpn_v4", RW_ENOENT);
	assert_int_equal(rw_nft_remove(n, &d), 0);
	assert_int_equal(rw_nft_table_exists(n, &d), 0);
	assert_int_equal(rw_nft_remove(n, &d), 0);
	rw_nft_close(n);
}

/* A refused batch names the failing object and leaves the old table. */
static void test_kernel_refused_batch(void **state)
{
	TP_NEED_KERNEL();
	struct rw_nft *n = tp_open();
	tp_apply_case(n, "minimal_v4");
	struct rw_nft_compiled *c = tp_compile("dual_stack");
	/* break one rule: look up a set that does not exist */
	for (size_t i = 0; i < c->n_sets; i++)
		if (strcmp(c->sets[i].name, "net_ci_v4") == 0) {
			/* neither its name nor its batch ID can be found */
			nftnl_set_set_str(c->sets[i].decl, NFTNL_SET_NAME, "renamed");
			nftnl_set_set_u32(c->sets[i].decl, NFTNL_SET_ID, 999);
			c->sets[i].n_cidrs = 0; /* its elements would fail too */
		}
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_nft_apply(n, c, &d), RW_EKERNEL);
	int named = 0;
	for (unsigned i = 0; i < d.n; i++)
		named |= strstr(d.msg[i].text, "rule input #3 (https allow ci)") != NULL;
	if (!named)
		rw_diag_print(&d, stderr);
	assert_true(named);
	rw_nft_compiled_free(c);
	/* still the minimal table */
	struct tp_list l = tp_set(n, "net_office_v4", 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.first, "203.0.113.0/25");
	tp_set(n, "net_ci_v4", RW_ENOENT);
	rw_nft_close(n);
}

static void test_kernel_incremental(void **state)
{
	TP_NEED_KERNEL();
	struct rw_nft *n = tp_open();
	tp_apply_case(n, "dual_stack");
	struct rw_diag d;
	struct rw_cidr add[3], del[1];
	assert_int_equal(rw_cidr_parse("198.51.100.0/24", &add[0], 0), 0);
	assert_int_equal(rw_cidr_parse("0.0.0.0/8", &add[1], 0), 0);
	assert_int_equal(rw_cidr_parse("2001:db8:2::/48", &add[2], 0), 0);
	assert_int_equal(rw_cidr_parse("203.0.113.0/25", &del[0], 0), 0);
	rw_diag_init(&d);
	assert_int_equal(rw_nft_net_update(n, "office", add, 3, del, 1, &d), 0);
	struct tp_list l = tp_set(n, "net_office_v4", 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.first, "0.0.0.0/8");
	assert_string_equal(l.last, "198.51.100.0/24");
	l = tp_set(n, "net_office_v6", 0);
	assert_int_equal(l.n, 2);

	/* an overlap is refused and nothing changes (the delete rolls back) */
	struct rw_cidr ov[1], del2[1];
	assert_int_equal(rw_cidr_parse("198.51.100.128/25", &ov[0], 0), 0);
	assert_int_equal(rw_cidr_parse("0.0.0.0/8", &del2[0], 0), 0);
	rw_diag_init(&d);
	int rc = rw_nft_net_update(n, "office", ov, 1, del2, 1, &d);
	assert_true(rc == RW_EEXIST || rc == RW_EKERNEL);
	assert_true(d.n >= 1);
	assert_non_null(strstr(d.msg[0].text, "set net_office_v4"));
	l = tp_set(n, "net_office_v4", 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.first, "0.0.0.0/8");

	/* whole address space: open range without end element */
	struct rw_cidr all;
	assert_int_equal(rw_cidr_parse("::/0", &all, 0), 0);
	rw_diag_init(&d);
	assert_int_equal(rw_nft_net_update(n, "ci", &all, 1, NULL, 0, &d), 0);
	l = tp_set(n, "net_ci_v6", 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.first, "::/0");
	rw_diag_init(&d);
	assert_int_equal(rw_nft_net_update(n, "ci", NULL, 0, &all, 1, &d), 0);
	l = tp_set(n, "net_ci_v6", 0);
	assert_int_equal(l.n, 0);

	rw_diag_init(&d);
	assert_int_equal(rw_nft_net_update(n, "nosuch", add, 1, NULL, 0, &d), RW_ENOENT);

	/* bans */
	struct rw_cidr b4, b6, wide;
	assert_int_equal(rw_cidr_parse("203.0.113.77", &b4, 0), 0);
	assert_int_equal(rw_cidr_parse("2001:db8::77", &b6, 0), 0);
	assert_int_equal(rw_cidr_parse("203.0.113.0/24", &wide, 0), 0);
	rw_diag_init(&d);
	assert_int_equal(rw_nft_ban_add(n, &b4, 5000, "scanner", &d), 0);
	assert_int_equal(rw_nft_ban_add(n, &b4, 30000, "scanner 2", &d), 0); /* again: timeout restarts */
	assert_int_equal(rw_nft_ban_add(n, &b6, 0, NULL, &d), 0);
	l = tp_set(n, "ban_v4", 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.first, "203.0.113.77/32");
	assert_true(l.expires > 5000 && l.expires <= 30000);
	l = tp_set(n, "ban_v6", 0);
	assert_int_equal(l.n, 1);
	assert_true(l.expires > 500000 && l.expires <= 600000); /* set default */
	assert_int_equal(rw_nft_ban_del(n, &b4, &d), 0);
	assert_int_equal(rw_nft_ban_del(n, &b4, &d), RW_ENOENT);
	l = tp_set(n, "ban_v4", 0);
	assert_int_equal(l.n, 0);

	assert_int_equal(rw_nft_ban_del(n, &b6, &d), 0);

	/* prefix bans: banp_v4 / banp_v6 (interval, timeout), with reasons */
	struct rw_cidr p28, p27, p6, hostbits = wide;
	assert_int_equal(rw_cidr_parse("203.0.113.0/28", &p28, 0), 0);
	assert_int_equal(rw_cidr_parse("203.0.113.0/27", &p27, 0), 0);
	assert_int_equal(rw_cidr_parse("2001:db8:77::/48", &p6, 0), 0);
	hostbits.addr[3] = 1;
	rw_diag_init(&d);
	assert_int_equal(rw_nft_ban_add(n, &hostbits, 0, NULL, &d), RW_EINVAL);
	assert_int_equal(rw_nft_ban_add(n, &wide, 20000, "wide", &d), 0);
	assert_int_equal(rw_nft_ban_add(n, &p6, 0, "v6 range", &d), 0);
	l = tp_set(n, "banp_v4", 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.first, "203.0.113.0/24");
	assert_true(l.expires > 15000 && l.expires <= 20000);
	/* the same prefix again: timeout and reason replaced */
	assert_int_equal(rw_nft_ban_add(n, &wide, 90000, "wider", &d), 0);
	struct tp_bans tb = tp_bans(n);
	assert_int_equal(tb.present, RW_NFT_BAN_SETS_ALL);
	assert_int_equal(tb.n, 2);
	assert_string_equal(tb.line[0], "banp_v4 203.0.113.0/24 wider");
	assert_string_equal(tb.line[1], "banp_v6 2001:db8:77::/48 v6 range");
	assert_true(tb.expires[0] > 85000 && tb.expires[0] <= 90000);
	assert_true(tb.expires[1] > 500000 && tb.expires[1] <= 600000); /* set default */
	/* an overlapping prefix is refused by the kernel, nothing changes */
	rw_diag_init(&d);
	assert_int_not_equal(rw_nft_ban_add(n, &p27, 0, "inner", &d), 0);
	l = tp_set(n, "banp_v4", 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.first, "203.0.113.0/24");
	/* an address inside it goes to ban_v4 */
	rw_diag_init(&d);
	assert_int_equal(rw_nft_ban_add(n, &b4, 0, "one", &d), 0);
	l = tp_set(n, "ban_v4", 0);
	assert_int_equal(l.n, 1);
	/* unban exactly; the address is not the prefix */
	assert_int_equal(rw_nft_ban_del(n, &p28, &d), RW_ENOENT);
	assert_int_equal(rw_nft_ban_del(n, &wide, &d), 0);
	assert_int_equal(rw_nft_ban_del(n, &wide, &d), RW_ENOENT);
	assert_int_equal(rw_nft_ban_del_in(n, &b4, "banp_v6", &d), RW_EINVAL);
	l = tp_set(n, "banp_v4", 0);
	assert_int_equal(l.n, 0);
	l = tp_set(n, "ban_v4", 0);
	assert_int_equal(l.n, 1);

	/* carried over a table replace: both pairs, time left and reasons */
	assert_int_equal(rw_nft_ban_add(n, &p28, 60000, "scanner net", &d), 0);
	tb = tp_bans(n);
	assert_int_equal(tb.n, 3);
	struct rw_nft_compiled *c = tp_compile("dual_stack");
	rw_diag_init(&d);
	assert_int_equal(rw_nft_apply_with_bans(n, c, tb.bans, tb.n, &d), 0);
	rw_nft_compiled_free(c);
	struct tp_bans after = tp_bans(n);
	assert_int_equal(after.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(after.line[i], tb.line[i]);
		assert_true(after.expires[i] <= tb.expires[i]);
	}
	rw_nft_close(n);
}

struct tp_ctr {
	uint64_t not_allowed, established, seen;
};

static void tp_ctr_cb(const char *chain, const char *comment, uint64_t packets, uint64_t bytes,
		      void *arg)
{
	struct tp_ctr *t = arg;
	t->seen++;
	if (strcmp(chain, "input") == 0 && strcmp(comment, "https not_allowed") == 0)
		t->not_allowed = packets;
	if (strcmp(comment, "https not_allowed") == 0)
		assert_true(bytes >= packets * 40);
}

static void test_kernel_counters(void **state)
{
	TP_NEED_KERNEL();
	assert_int_equal(system("ip link set lo up"), 0);
	struct rw_nft *n = tp_open();
	tp_apply_case(n, "minimal_v4");
	/* 127.0.0.1 is not in office: the SYN is logged and dropped */
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(443) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	connect(s, (struct sockaddr *)&sa, sizeof(sa));
	usleep(200000);
	close(s);
	struct tp_ctr t = { 0 };
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_nft_counters(n, tp_ctr_cb, &t, &d), 0);
	assert_true(t.not_allowed >= 1);
	/* one entry per distinct comment: twins are summed */
	/* neighbour discovery, banned log, banned, established, allow, log, drop */
	assert_int_equal(t.seen, 7);
	rw_nft_close(n);
}

static void test_kernel_big_sets(void **state)
{
	TP_NEED_KERNEL();
	enum { N4 = 100000, N6 = 20000 };
	struct tpol t;
	tp_init(&t);
	struct rw_cidr *v = calloc(N4 + N6, sizeof(*v));
	assert_non_null(v);
	for (uint32_t i = 0; i < N4; i++) {
		uint32_t a = 0x0a000000u + i * 32; /* 10.0.0.0/27 with gaps */
		v[i].family = AF_INET;
		v[i].prefix = 28;
		v[i].addr[0] = (uint8_t)(a >> 24);
		v[i].addr[1] = (uint8_t)(a >> 16);
		v[i].addr[2] = (uint8_t)(a >> 8);
		v[i].addr[3] = (uint8_t)a;
	}
	for (uint32_t i = 0; i < N6; i++) {
		struct rw_cidr *c = &v[N4 + i];
		c->family = AF_INET6;
		c->prefix = 48;
		c->addr[0] = 0x20;
		c->addr[1] = 0x01;
		c->addr[2] = 0x0d;
		c->addr[3] = 0xb8;
		c->addr[4] = (uint8_t)((i * 2) >> 8);
		c->addr[5] = (uint8_t)(i * 2);
	}
	snprintf(t.nets[0].name, sizeof(t.nets[0].name), "big");
	t.nets[0].cidrs = v;
	t.nets[0].n_cidrs = N4 + N6;
	t.p.n_networks = 1;
	tp_listener(&t, "https", "0.0.0.0", 443, "big", NULL, false);
	struct rw_nft_compiled *c = NULL;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_nft_compile(&t.p, &c, &d), 0);
	struct rw_nft *n = tp_open();
	int rc = rw_nft_apply(n, c, &d);
	if (rc)
		rw_diag_print(&d, stderr);
	assert_int_equal(rc, 0);
	struct tp_list l = tp_set(n, "net_big_v4", 0);
	assert_int_equal(l.n, N4);
	assert_string_equal(l.first, "10.0.0.0/28");
	l = tp_set(n, "net_big_v6", 0);
	assert_int_equal(l.n, N6);
	/* and once more: the replace of a big table is one batch too */
	assert_int_equal(rw_nft_apply(n, c, &d), 0);
	rw_nft_compiled_free(c);
	assert_int_equal(rw_nft_remove(n, &d), 0);
	rw_nft_close(n);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_golden_nft),
		cmocka_unit_test(test_rule_descriptions),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_rule_invariants),
		cmocka_unit_test(test_rule_order),
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_interval_encoding),
		cmocka_unit_test(test_range_to_cidrs),
		cmocka_unit_test(test_rule_roundtrip),
		cmocka_unit_test(test_comment_malformed),
		cmocka_unit_test(test_kernel_apply_and_list),
		cmocka_unit_test(test_kernel_refused_batch),
		cmocka_unit_test(test_kernel_incremental),
		cmocka_unit_test(test_kernel_counters),
		cmocka_unit_test(test_kernel_big_sets),
	};
	return cmocka_run_group_tests(tests, tp_setup, NULL);
}
