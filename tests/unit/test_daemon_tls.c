/* regwalld refuses a config whose TLS material the workers could not load
 * (before anything is applied, also on reload). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "appliance/rw_config.h"
#include "appliance/rw_daemon.h"

#define CERTS "tests/data/certs/"

static int check(const char *cert, const char *key, const char *ca, struct rw_diag *d)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "registry = { upstream = \"127.0.0.1:5000\"; server_names = [ \"registry.example.test\" ]; };\n"
		 "networks = { office = [ \"203.0.113.0/25\" ]; };\n"
		 "listeners = ( { name = \"tls\"; listen = \"0.0.0.0:443\"; mode = \"terminate\";\n"
		 "  cert = \"%s\"; key = \"%s\"; client_ca = \"%s\"; crl = \"" CERTS "crl.pem\";\n"
		 "  client_cert = \"optional\"; allow_from = [ \"office\" ]; } );\n",
		 cert, key, ca);
	struct rw_policy p;
	rw_diag_init(d);
	assert_int_equal(rw_config_load_string(text, "t.conf", &p, d), 0);
	int r = rw_daemon_check_tls(&p, NULL, d);
	rw_policy_free(&p);
	return r;
}

static void test_good(void **state)
{
	struct rw_diag d;
	assert_int_equal(check(CERTS "server.pem", CERTS "server.key", CERTS "ca.pem", &d), 0);
	assert_int_equal(d.n_err, 0);
}

static void test_key_mismatch(void **state)
{
	struct rw_diag d;
	assert_int_equal(check(CERTS "server.pem", CERTS "client.key", CERTS "ca.pem", &d),
			 RW_ECONFIG);
	assert_int_equal(d.n_err, 1);
	/* the key's line (4), both files, in words instead of OpenSSL's
	 * "key values mismatch" */
	assert_string_equal(d.msg[0].text,
			    "t.conf:4: listener tls: key does not belong to this certificate: "
			    "key " CERTS "client.key, cert " CERTS "server.pem");
}

/* A key file that holds no key at all is a different problem: the key's
 * line with what OpenSSL found, not "does not belong". */
static void test_key_not_a_key(void **state)
{
	struct rw_diag d;
	assert_int_equal(check(CERTS "server.pem", CERTS "server.pem", CERTS "ca.pem", &d),
			 RW_ECONFIG);
	assert_int_equal(d.n_err, 1);
	assert_non_null(strstr(d.msg[0].text, "t.conf:4: listener tls: key " CERTS "server.pem: "));
	assert_null(strstr(d.msg[0].text, "does not belong"));
}

static void test_not_a_certificate(void **state)
{
	struct rw_diag d;
	/* a file that exists (the config loader's check) but is no PEM cert */
	assert_int_equal(check(CERTS "ca.expect", CERTS "server.key", CERTS "ca.pem", &d),
			 RW_ECONFIG);
	assert_non_null(strstr(d.msg[0].text, "t.conf:4: listener tls: cert " CERTS "ca.expect:"));
	assert_int_equal(check(CERTS "server.pem", CERTS "server.key", CERTS "client.expect", &d),
			 RW_ECONFIG);
}

static int check_names(const char *names, struct rw_diag *d)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "registry = { upstream = \"127.0.0.1:5000\"; server_names = [ %s ]; };\n"
		 "networks = { office = [ \"203.0.113.0/25\" ]; };\n"
		 "listeners = ( { name = \"tls\"; listen = \"0.0.0.0:443\"; mode = \"terminate\";\n"
		 "  cert = \"" CERTS "server.pem\"; key = \"" CERTS "server.key\"; client_cert = \"none\";\n"
		 "  allow_from = [ \"office\" ]; } );\n",
		 names);
	struct rw_policy p;
	rw_diag_init(d);
	assert_int_equal(rw_config_load_string(text, "n.conf", &p, d), 0);
	int r = rw_daemon_check_tls(&p, NULL, d);
	rw_policy_free(&p);
	return r;
}

/* Every name the listener serves must be in its certificate (server.pem:
 * registry.example.test, push.registry.example.test). */
static void test_server_names_covered(void **state)
{
	struct rw_diag d;
	assert_int_equal(check_names("\"registry.example.test\", \"push.registry.example.test\"", &d),
			 0);
	assert_int_equal(check_names("\"registry.example.test\", \"other.example.test\"", &d),
			 RW_ECONFIG);
	assert_int_equal(d.n_err, 1);
	assert_non_null(strstr(d.msg[0].text, "n.conf:3: listener tls:"));
	assert_non_null(strstr(d.msg[0].text, "does not cover the server name \"other.example.test\""));
	/* a wildcard server name needs a wildcard (or matching) certificate */
	assert_int_equal(check_names("\"*.registry.example.test\"", &d), RW_ECONFIG);
	assert_non_null(strstr(d.msg[0].text, "\"*.registry.example.test\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_key_mismatch),
		cmocka_unit_test(test_key_not_a_key),
		cmocka_unit_test(test_not_a_certificate),
		cmocka_unit_test(test_server_names_covered),
	};
	return cmocka_run_group_tests_name("daemon_tls", tests, NULL, NULL);
}
