/* cert_subject spellings (inspect/rw_cert_dn.c). The differential part
 * makes certificates with openssl and feeds the three forms openssl
 * itself prints for each (default oneline, -nameopt RFC2253, -nameopt
 * compat) through the normalizer: each must become exactly the subject
 * rw_cert_identity reads from the certificate, i.e. the string fwd/
 * compares. The crafted part covers what can never match and is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "inspect/rw_cert.h"
#include "inspect/rw_cert_dn.h"
#include "base/rw_err.h"

static char dir[] = "/tmp/rw-dn-test.XXXXXX";

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* openssl's print of cert's subject with nameopt ("" = its default),
 * without the "subject=" prefix. */
static void print_subject(const char *cert, const char *nameopt, char *out, size_t cap)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "openssl x509 -noout -subject %s%s -in '%s'",
		 nameopt[0] ? "-nameopt " : "", nameopt, cert);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, (int)cap, p));
	pclose(p);
	out[strcspn(out, "\n")] = '\0';
	assert_true(strncmp(out, "subject=", 8) == 0);
	memmove(out, out + 8, strlen(out + 8) + 1);
}

static void identity_of(const char *cert, struct rw_cert_id *id)
{
	FILE *f = fopen(cert, "r");
	assert_non_null(f);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	assert_int_equal(rw_cert_identity(x, id), 0);
	X509_free(x);
}

/* A self-signed certificate with subject subj (openssl -subj syntax). */
static void make_cert(const char *subj, const char *path)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
		 "-keyout '%s.key' -out '%s' -subj '%s' -utf8 -multivalue-rdn 2>/dev/null",
		 path, path, subj);
	assert_int_equal(system(cmd), 0);
}

static void check_forms(const char *cert)
{
	static struct rw_cert_id id;
	identity_of(cert, &id);
	static const char *const opts[] = { "", "RFC2253", "RFC2253,-esc_msb", "compat", "oneline" };
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		char printed[1024], out[RW_CERT_DN_MAX], why[400];
		print_subject(cert, opts[i], printed, sizeof(printed));
		int r = rw_cert_dn_normalize(printed, out, sizeof(out), why, sizeof(why));
		if (r)
			fail_msg("%s: openssl -nameopt '%s' printed \"%s\": refused: %s", cert, opts[i],
				 printed, why);
		if (!rw_cert_dn_equal(out, id.subject))
			fail_msg("%s: openssl -nameopt '%s' printed \"%s\" -> \"%s\", certificate "
				 "subject \"%s\"",
				 cert, opts[i], printed, out, id.subject);
	}
}

static void test_repo_certs(void **state)
{
	check_forms("tests/data/certs/client.pem");
	check_forms("tests/data/certs/utf8.pem");
	check_forms("tests/data/certs/cnonly.pem");
}

static void test_special_values(void **state)
{
	static const char *const subjects[] = {
		"/C=DE/O=Example, Inc./CN=ci-bot",
		"/C=DE/O=A+B \\+ C/OU=x;y<z>/CN=bot \"quoted\"",
		"/DC=org/DC=example/OU=CI/CN=runner\\/7",
		"/O= leading and trailing space /CN=#hash",
		"/C=DE/O=Example/CN=ci-bot+UID=42",
		"/emailAddress=ci@example.test/CN=ci",
	};
	for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		char path[300];
		snprintf(path, sizeof(path), "%s/c%zu.pem", dir, i);
		make_cert(subjects[i], path);
		check_forms(path);
	}
}

static void expect_refused(const char *in, const char *why_part)
{
	char out[RW_CERT_DN_MAX], why[400];
	int r = rw_cert_dn_normalize(in, out, sizeof(out), why, sizeof(why));
	if (r == 0)
		fail_msg("\"%s\" accepted as \"%s\"", in, out);
	if (!strstr(why, why_part))
		fail_msg("\"%s\": refused with \"%s\", want \"%s\"", in, why, why_part);
}

static void expect_as(const char *in, const char *want)
{
	char out[RW_CERT_DN_MAX], why[400];
	if (rw_cert_dn_normalize(in, out, sizeof(out), why, sizeof(why)))
		fail_msg("\"%s\" refused: %s", in, why);
	assert_string_equal(out, want);
}

static void test_crafted(void **state)
{
	/* top-down order written with commas: can never match */
	expect_refused("C=DE,O=Example Corp,CN=ci-bot", "\"CN=ci-bot,O=Example Corp,C=DE\"");
	expect_refused("DC=org, DC=example, CN=x", "most specific name first");
	expect_refused("CommonNam=ci-bot", "unknown attribute type");
	expect_refused("CN=ci-bot,", "separator ends");
	expect_refused("CN=", "empty value");
	expect_refused("O = \"unterminated, CN = x", "quoted value does not end");
	expect_refused("CN=a\\", "ends the text");
	/* spellings of the same name */
	expect_as("commonName=ci-bot,organizationName=Example", "CN=ci-bot,O=Example");
	expect_as("cn=ci-bot, o=Example", "CN=ci-bot,O=Example");
	expect_as("C = DE, O = \"Example, Inc.\", CN = ci-bot", "CN=ci-bot,O=Example\\, Inc.,C=DE");
	expect_as("/C=DE/O=Example/CN=a+UID=1", "UID=1+CN=a,O=Example,C=DE");
	expect_as("CN=J\\C3\\BCrgen", "CN=J\xc3\xbcrgen");
	expect_as("1.2.3.4=x,CN=y", "1.2.3.4=x,CN=y");
	/* a single country-only or CN-only name is fine either way */
	expect_as("C=DE", "C=DE");
	/* bounded: too many attributes, too long */
	char many[2048] = "";
	for (int i = 0; i < 40; i++)
		strcat(many, i ? ",CN=a" : "CN=a");
	expect_refused(many, "more than");
	char big[600];
	memset(big, 'a', sizeof(big));
	memcpy(big, "CN=", 3);
	big[sizeof(big) - 1] = '\0';
	expect_refused(big, "longer than");
	char out[8], why[64];
	assert_int_equal(rw_cert_dn_normalize("CN=ci-bot,O=Example", out, sizeof(out), why,
					      sizeof(why)),
			 RW_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_repo_certs),
		cmocka_unit_test(test_special_values),
		cmocka_unit_test(test_crafted),
	};
	return cmocka_run_group_tests_name("cert_dn", tests, setup, teardown);
}
