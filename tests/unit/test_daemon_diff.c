/* What a reload changed (appliance/rw_daemon_diff.c): two configs in,
 * the changes and their summary lines out. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "appliance/rw_config.h"
#include "appliance/rw_daemon_diff.h"

/* a config: networks, listeners (a list of full listener groups),
 * identities and the conn_rate */
static void load(const char *nets, const char *listeners, const char *ids, const char *rate,
		 struct rw_policy *p)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "registry = { upstream = \"127.0.0.1:5000\"; server_names = [ \"registry.example.test\" ]; };\n"
		 "networks = { %s };\n"
		 "listeners = ( %s );\n"
		 "identities = ( %s );\n"
		 "policy = { push_requires_vpn = false; conn_rate = { per_source = \"%s\"; }; };\n",
		 nets, listeners, ids, rate);
	struct rw_diag d;
	rw_diag_init(&d);
	int r = rw_config_load_string(text, "d.conf", p, &d);
	if (r) {
		rw_diag_print(&d, stderr);
		fail_msg("config does not load");
	}
}

#define L_HTTPS(allow)                                                                        \
	"{ name = \"https\"; listen = \"0.0.0.0:443\"; mode = \"passthrough\"; allow_from = [ " allow " ]; }"
#define L_ALT "{ name = \"alt\"; listen = \"0.0.0.0:8443\"; mode = \"passthrough\"; allow_from = [ \"office\" ]; }"
#define ID_CI(role) "{ name = \"ci\"; cert_subject = \"CN=ci,O=Example\"; roles = [ " role " ]; }"

static char *summary(json_t *d)
{
	static char buf[2048];
	buf[0] = '\0';
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(d, "summary"), i, v) {
		size_t n = strlen(buf);
		snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? "|" : "", json_string_value(v));
	}
	return buf;
}

static void test_nothing(void **state)
{
	struct rw_policy a, b;
	load("office = [ \"203.0.113.0/25\" ];", L_HTTPS("\"office\""), ID_CI("\"pull:*\""),
	     "20/second", &a);
	load("office = [ \"203.0.113.0/25\" ];", L_HTTPS("\"office\""), ID_CI("\"pull:*\""),
	     "20/second", &b);
	json_t *d = rw_daemon_diff(&a, &b);
	assert_string_equal(summary(d), "nothing changed");
	json_decref(d);
	rw_policy_free(&a);
	rw_policy_free(&b);
}

/* transparent on -> off is a listener change named "transparent" */
static void load_gw(bool transparent, struct rw_policy *p)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "registry = { upstream = \"198.51.100.10:5000\"; server_names = [ \"registry.example.test\" ]; };\n"
		 "networks = { office = [ \"203.0.113.0/25\" ]; };\n"
		 "listeners = ( { name = \"gate\"; listen = \"0.0.0.0:8443\"; mode = \"passthrough\";\n"
		 "                transparent = %s; allow_from = [ \"office\" ]; } );\n",
		 transparent ? "true" : "false");
	struct rw_diag d;
	rw_diag_init(&d);
	if (rw_config_load_string(text, "t.conf", p, &d)) {
		rw_diag_print(&d, stderr);
		fail_msg("config does not load");
	}
	assert_int_equal(p->listeners[0].transparent, transparent);
}

static void test_transparent(void **state)
{
	(void)state;
	struct rw_policy a, b;
	load_gw(true, &a);
	load_gw(false, &b);
	json_t *d = rw_daemon_diff(&a, &b);
	assert_string_equal(summary(d), "listener changed: gate (transparent)");
	json_decref(d);
	rw_policy_free(&a);
	rw_policy_free(&b);
}

static void test_changes(void **state)
{
	struct rw_policy a, b;
	load("office = [ \"203.0.113.0/25\", \"2001:db8:1::/48\" ]; old = [ \"198.51.100.0/28\" ];",
	     L_HTTPS("\"office\""), ID_CI("\"pull:*\""), "20/second", &a);
	/* office: /25 -> /24 (one out, one in), plus 192.0.2.0/28; network old
	 * gone, ci2 new; listener alt new, https allows ci2 too; identity
	 * ci has another role; the rate changed */
	load("office = [ \"203.0.113.0/24\", \"192.0.2.0/28\", \"2001:db8:1::/48\" ]; "
	     "ci2 = [ \"198.51.100.64/26\", \"198.51.100.128/26\" ];",
	     L_HTTPS("\"office\", \"ci2\"") ", " L_ALT, ID_CI("\"pull:*\", \"push:a/*\""),
	     "30/second", &b);
	json_t *d = rw_daemon_diff(&a, &b);
	assert_string_equal(summary(d), "listener changed: https (allow_from)|"
					"listener added: alt|"
					"network office: +2 -1 prefixes|"
					"network added: ci2 (2 prefixes)|"
					"network removed: old (1 prefix)|"
					"identity changed: ci|"
					"settings changed: policy");
	json_t *ch = json_array_get(json_object_get(json_object_get(d, "networks"), "changed"), 0);
	assert_string_equal(json_string_value(json_object_get(ch, "name")), "office");
	assert_int_equal(json_integer_value(json_object_get(ch, "added")), 2);
	assert_int_equal(json_integer_value(json_object_get(ch, "removed")), 1);
	json_t *lc = json_array_get(json_object_get(json_object_get(d, "listeners"), "changed"), 0);
	assert_string_equal(json_string_value(json_object_get(lc, "name")), "https");
	assert_string_equal(json_string_value(json_array_get(json_object_get(lc, "what"), 0)),
			    "allow_from");
	json_decref(d);
	/* and back: the mirror image */
	d = rw_daemon_diff(&b, &a);
	assert_string_equal(summary(d), "listener changed: https (allow_from)|"
					"listener removed: alt|"
					"network office: +1 -2 prefixes|"
					"network added: old (1 prefix)|"
					"network removed: ci2 (2 prefixes)|"
					"identity changed: ci|"
					"settings changed: policy");
	json_decref(d);
	rw_policy_free(&a);
	rw_policy_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing),
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_transparent),
	};
	return cmocka_run_group_tests_name("daemon_diff", tests, NULL, NULL);
}
