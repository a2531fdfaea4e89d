/* rw_admit_eval (rules/rw_admit.h) on compiled policies: the verdict and
 * the deciding rule's comment (the nftables comment, the counter key,
 * the NFLOG prefix) for sources inside and outside each network, banned,
 * a VPN peer on and off the VPN interface; rate limits reported as not
 * evaluated. Each case also checks the workers' second line
 * (rw_decide_source) agrees wherever the kernel's verdict does not hinge
 * on a ban. Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "appliance/rw_config.h"
#include "rules/rw_decide.h"
#include "rules/rw_admit.h"
#include "rules/rw_cidr.h"
#include "rules/rw_nft.h"

static const char *conf_vpn =
	"registry = { upstream = \"127.0.0.1:5000\"; server_names = [ \"registry.example.test\" ]; };\n"
	"networks = { office = [ \"203.0.113.0/25\", \"2001:db8:1::/48\" ]; ci = [ \"198.51.100.0/28\" ]; };\n"
	"listeners = (\n"
	"  { name = \"https\"; listen = \"0.0.0.0:443\"; mode = \"passthrough\"; allow_from = [ \"office\", \"vpn\" ]; },\n"
	"  { name = \"https6\"; listen = \"[::]:443\"; mode = \"passthrough\"; allow_from = [ \"office\" ]; },\n"
	"  { name = \"push\"; listen = \"192.0.2.1:5443\"; mode = \"passthrough\"; allow_from = [ \"vpn\", \"ci\" ]; }\n"
	");\n"
	"vpn = { interface = \"wg0\"; listen_port = 51820; address = \"192.0.2.1/24\";\n"
	"  private_key_file = \"tests/configs/files/wg.key\";\n"
	"  peers = ( { name = \"alice\"; public_key = \"jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7EL38=\"; address = \"192.0.2.2/32\"; } ); };\n"
	"policy = { conn_rate = { per_source = \"20/second\"; ban_after = 100; ban_for = \"10m\"; }; };\n"
	"log = { nflog_group = 7; };\n";

struct fixture {
	struct rw_policy pol;
	struct rw_nft_compiled *c;
	struct rw_cidr bans[4];
	size_t n_bans;
};

static int setup(void **state)
{
	static struct fixture f;
	memset(&f, 0, sizeof(f));
	static struct rw_diag diag;
	rw_diag_init(&diag);
	int rc = rw_config_load_string(conf_vpn, "admit.conf", &f.pol, &diag);
	if (!rc)
		rc = rw_nft_compile(&f.pol, &f.c, &diag);
	if (rc)
		rw_diag_print(&diag, stderr);
	assert_int_equal(rc, 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	rw_nft_compiled_free(f->c);
	rw_policy_free(&f->pol);
	return 0;
}

/* ban sets from the fixture, the rest from the compiled sets */
static int member(void *arg, const char *set, int family, const uint8_t *addr)
{
	struct fixture *f = arg;
	if (strncmp(set, "ban_", 4) == 0) {
		for (size_t i = 0; i < f->n_bans; i++)
			if (rw_cidr_contains(&f->bans[i], family, addr))
				return 1;
		return 0;
	}
	int r = rw_admit_set_has(f->c, set, family, addr);
	return r < 0 ? -1 : r;
}

static const struct rw_listener *lis(struct fixture *f, const char *name)
{
	for (size_t i = 0; i < f->pol.n_listeners; i++)
		if (strcmp(f->pol.listeners[i].name, name) == 0)
			return &f->pol.listeners[i];
	fail_msg("no listener %s", name);
	return NULL;
}

static void expect(struct fixture *f, const char *listener, const char *src, const char *iif,
		   bool accept, const char *rule, const char *prefix)
{
	struct rw_cidr a;
	assert_int_equal(rw_cidr_parse(src, &a, 0), 0);
	const struct rw_listener *l = lis(f, listener);
	struct rw_admit_pkt pkt;
	rw_admit_pkt_for(l, a.addr, iif, &pkt);
	struct rw_admit_trace tr;
	assert_int_equal(rw_admit_eval(f->c, &pkt, member, f, &tr), 0);
	if (tr.accept != accept || strcmp(tr.rule, rule) != 0 || strcmp(tr.nflog_prefix, prefix) != 0)
		fail_msg("%s from %s iif %s: got %s \"%s\" log \"%s\", want %s \"%s\" log \"%s\"",
			 listener, src, iif, tr.accept ? "accept" : "drop", tr.rule, tr.nflog_prefix,
			 accept ? "accept" : "drop", rule, prefix);
	/* meters are in every listener's rules of this policy (a ban or a
	 * spoofed tunnel address decides before them) */
	assert_true(tr.rates_unevaluated || strcmp(rule, "- banned") == 0 ||
		    strcmp(rule, "- spoofed_vpn") == 0);
	/* the second line agrees unless a ban decided */
	bool banned = strcmp(rule, "- banned") == 0;
	const char *why;
	bool l7 = rw_decide_source(&f->pol, l, a.family, a.addr,
				   strcmp(iif, f->pol.vpn.interface) == 0, &why);
	if (!banned && l7 != accept)
		fail_msg("%s from %s iif %s: kernel %s, second line %s", listener, src, iif,
			 accept ? "accepts" : "drops", l7 ? "admits" : "refuses");
}

static void test_networks(void **state)
{
	struct fixture *f = *state;
	expect(f, "https", "203.0.113.10", "eth0", true, "https allow office", "");
	expect(f, "https", "203.0.113.127", "eth0", true, "https allow office", "");
	expect(f, "https", "203.0.113.128", "eth0", false, "https not_allowed",
	       "regwall https not_allowed");
	expect(f, "https6", "2001:db8:1::10", "eth0", true, "https6 allow office", "");
	expect(f, "https6", "2001:db8:2::10", "eth0", false, "https6 not_allowed",
	       "regwall https6 not_allowed");
	/* ci is allowed on push only */
	expect(f, "https", "198.51.100.5", "eth0", false, "https not_allowed",
	       "regwall https not_allowed");
	expect(f, "push", "198.51.100.5", "eth0", true, "push allow ci", "");
	expect(f, "push", "203.0.113.10", "eth0", false, "push not_allowed",
	       "regwall push not_allowed");
}

static void test_vpn(void **state)
{
	struct fixture *f = *state;
	expect(f, "https", "192.0.2.2", "wg0", true, "https allow vpn", "");
	expect(f, "push", "192.0.2.2", "wg0", true, "push allow vpn", "");
	/* the same address from another link is spoofed: dropped and logged
	 * as such before any listener rule (no interface given counts as
	 * another link, as the kernel's iifname match would) */
	expect(f, "https", "192.0.2.2", "eth0", false, "- spoofed_vpn", "regwall - spoofed_vpn");
	expect(f, "push", "192.0.2.2", "", false, "- spoofed_vpn", "regwall - spoofed_vpn");
	/* the tunnel, but no peer owns the address */
	expect(f, "https", "192.0.2.9", "wg0", false, "https not_allowed",
	       "regwall https not_allowed");
}

static void test_bans(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rw_cidr_parse("203.0.113.10/32", &f->bans[0], 0), 0);
	assert_int_equal(rw_cidr_parse("2001:db8:1::10/128", &f->bans[1], 0), 0);
	f->n_bans = 2;
	expect(f, "https", "203.0.113.10", "eth0", false, "- banned", "regwall - banned");
	expect(f, "https6", "2001:db8:1::10", "eth0", false, "- banned", "regwall - banned");
	expect(f, "https", "203.0.113.11", "eth0", true, "https allow office", "");
	f->n_bans = 0;
}

static void test_trace(void **state)
{
	struct fixture *f = *state;
	struct rw_cidr a;
	assert_int_equal(rw_cidr_parse("203.0.113.10", &a, 0), 0);
	struct rw_admit_pkt pkt;
	rw_admit_pkt_for(lis(f, "https"), a.addr, "eth0", &pkt);
	struct rw_admit_trace tr;
	assert_int_equal(rw_admit_eval(f->c, &pkt, member, f, &tr), 0);
	/* ban meter, rate meter (not evaluated), then the allow rule */
	assert_int_equal(tr.n_steps, 3);
	assert_string_equal(tr.steps[0].rule, "https banned");
	assert_string_equal(tr.steps[1].rule, "https rate_limited");
	assert_string_equal(tr.steps[2].rule, "https allow office");
	assert_string_equal(tr.steps[2].what, "accept");
	assert_string_equal(tr.chain, "input");
	/* a port no listener has: no rule decides, the chain policy accepts */
	pkt.dport = 22;
	assert_int_equal(rw_admit_eval(f->c, &pkt, member, f, &tr), 0);
	assert_true(tr.accept);
	assert_string_equal(tr.rule, "");
	assert_int_equal(rw_admit_eval(NULL, &pkt, member, f, &tr), RW_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_networks),
		cmocka_unit_test(test_vpn),
		cmocka_unit_test(test_bans),
		cmocka_unit_test(test_trace),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
