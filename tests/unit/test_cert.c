/* rw_cert: identity extraction from the certificates made by
 * scripts/gen-test-certs.sh (expected values recorded by the openssl CLI in
 * <name>.expect), certificates crafted here for the refusal paths, and the
 * selector matching rules. Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "inspect/rw_cert.h"
#include "rules/rw_ident.h"
#include "base/rw_err.h"

#define CERT_DIR "tests/data/certs/"

struct expect {
	uint8_t sha256[32];
	char subject[RW_CERT_DN_MAX];
	long long not_before, not_after;
};

static X509 *load_pem(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), CERT_DIR "%s.pem", name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* sha256=AA:BB:..., subject=..., not_before=N, not_after=N */
static void load_expect(const char *name, struct expect *e)
{
	char path[256], line[1024];
	snprintf(path, sizeof(path), CERT_DIR "%s.expect", name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	memset(e, 0, sizeof(*e));
	int seen = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "sha256=", 7) == 0) {
			const char *p = line + 7;
			assert_int_equal(strlen(p), 32 * 3 - 1);
			for (int i = 0; i < 32; i++) {
				int hi = hexval(p[i * 3]), lo = hexval(p[i * 3 + 1]);
				assert_true(hi >= 0 && lo >= 0);
				e->sha256[i] = (uint8_t)(hi << 4 | lo);
			}
			seen |= 1;
		} else if (strncmp(line, "subject=", 8) == 0) {
			assert_true(strlen(line + 8) < sizeof(e->subject));
			memcpy(e->subject, line + 8, strlen(line + 8) + 1);
			seen |= 2;
		} else if (strncmp(line, "not_before=", 11) == 0) {
			e->not_before = strtoll(line + 11, NULL, 10);
			seen |= 4;
		} else if (strncmp(line, "not_after=", 10) == 0) {
			e->not_after = strtoll(line + 10, NULL, 10);
			seen |= 8;
		}
	}
	fclose(f);
	assert_int_equal(seen, 15);
}

static void check_against_cli(const char *name, struct rw_cert_id *id)
{
	struct expect e;
	load_expect(name, &e);
	X509 *x = load_pem(name);
	assert_int_equal(rw_cert_identity(x, id), 0);
	X509_free(x);
	assert_memory_equal(id->sha256, e.sha256, 32);
	assert_string_equal(id->subject, e.subject);
	assert_int_equal((long long)id->not_before, e.not_before);
	assert_int_equal((long long)id->not_after, e.not_after);
}

static void test_all_generated_match_cli(void **state)
{
	static const char *names[] = { "ca", "client", "cnonly", "utf8", "expired", "revoked",
				       "ipsan" };
	struct rw_cert_id id;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		check_against_cli(names[i], &id);
}

static void test_client_fields(void **state)
{
	struct rw_cert_id id;
	check_against_cli("client", &id);
	assert_true(id.has_cn);
	assert_string_equal(id.cn, "ci-bot");
	assert_int_equal(id.n_dns, 2);
	assert_string_equal(id.dns[0], "ci-bot.example.test");
	assert_string_equal(id.dns[1], "Build.Example.Test"); /* case kept */
	assert_int_equal(id.n_uri, 1);
	assert_string_equal(id.uri[0], "spiffe://example.test/ci/bot");
	assert_int_equal(id.n_email, 1);
	assert_string_equal(id.email[0], "CI-Bot@Example.Test");
	assert_int_equal(id.n_ip, 1);
	assert_int_equal(id.ip_len[0], 4);
	assert_memory_equal(id.ip[0], "\xcb\x00\x71\x07", 4); /* 203.0.113.7 */
	assert_true(id.not_after > id.not_before);
}

/* ipsan.pem: the iPAddress SANs as the openssl CLI printed them (ip= lines
 * of ipsan.expect, read back with inet_pton), in certificate order. */
static void test_ip_sans_match_cli(void **state)
{
	struct rw_cert_id id;
	check_against_cli("ipsan", &id);
	FILE *f = fopen(CERT_DIR "ipsan.expect", "r");
	assert_non_null(f);
	char line[256];
	size_t n = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "ip=", 3) != 0)
			continue;
		uint8_t a[16];
		size_t alen = 4;
		if (inet_pton(AF_INET, line + 3, a) != 1) {
			assert_int_equal(inet_pton(AF_INET6, line + 3, a), 1);
			alen = 16;
		}
		assert_true(n < id.n_ip);
		assert_int_equal(id.ip_len[n], alen);
		assert_memory_equal(id.ip[n], a, alen);
		n++;
	}
	fclose(f);
	assert_int_equal(n, 3);
	assert_int_equal(id.n_ip, n);
	assert_int_equal(id.n_dns, 1);
	assert_string_equal(id.dns[0], "ip-client.example.test");
}

static void test_cn_only(void **state)
{
	struct rw_cert_id id;
	check_against_cli("cnonly", &id);
	assert_true(id.has_cn);
	assert_string_equal(id.cn, "cn-only-client");
	assert_int_equal(id.n_dns + id.n_uri + id.n_email + id.n_ip, 0);
}

static void test_utf8_cn(void **state)
{
	struct rw_cert_id id;
	check_against_cli("utf8", &id);
	/* "Jürgen Müller 🚀" spelled as bytes, independent of this file's encoding */
	assert_string_equal(id.cn, "J\xc3\xbcrgen M\xc3\xbcller \xf0\x9f\x9a\x80");
	assert_non_null(strstr(id.subject, "O=B\xc3\xbc" "cher GmbH"));
}

static void test_expired_is_still_an_identity(void **state)
{
	/* Expiry is enforced by verification in fwd/, not here; the times
	 * must still come out right for logging. */
	struct rw_cert_id id;
	check_against_cli("expired", &id);
	assert_true(id.not_after < time(NULL));
	assert_string_equal(id.cn, "expired-client");
}

static void test_nul_in_san_refused(void **state)
{
	struct rw_cert_id id;
	memset(&id, 0xa5, sizeof(id));
	X509 *x = load_pem("nulsan");
	assert_int_equal(rw_cert_identity(x, &id), RW_EPROTO);
	X509_free(x);
	/* nothing half-filled is left behind for a careless caller */
	assert_int_equal(id.n_dns, 0);
	assert_string_equal(id.subject, "");
	assert_false(id.has_cn);
}

static void test_null_args(void **state)
{
	struct rw_cert_id id;
	X509 *x = load_pem("client");
	assert_int_equal(rw_cert_identity(NULL, &id), RW_EINVAL);
	assert_int_equal(rw_cert_identity(x, NULL), RW_EINVAL);
	X509_free(x);
	assert_false(rw_ident_match(NULL, NULL));
	assert_null(rw_ident_find(&id, NULL, 3));
}

/* ---- crafted certificates for the refusal paths ---- */

static EVP_PKEY *test_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(k);
	return k;
}

static X509 *craft(EVP_PKEY *k, X509_NAME *name)
{
	X509 *x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	assert_int_equal(X509_set_subject_name(x, name), 1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	assert_int_equal(X509_set_pubkey(x, k), 1);
	return x;
}

static void sign(X509 *x, EVP_PKEY *k)
{
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
}

static X509_NAME *name_cn(const char *cn)
{
	X509_NAME *n = X509_NAME_new();
	assert_non_null(n);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
						    (const unsigned char *)cn, -1, -1, 0), 1);
	return n;
}

static void add_san(X509 *x, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static int identity_of(X509 *x, struct rw_cert_id *id)
{
	return rw_cert_identity(x, id);
}

static void test_crafted_ok_baseline(void **state)
{
	/* proves the crafting itself works, so the refusals below are real */
	EVP_PKEY *k = test_key();
	X509_NAME *n = name_cn("crafted");
	X509 *x = craft(k, n);
	add_san(x, "DNS:a.example.test,URI:urn:x,email:a@example.test,IP:192.0.2.1");
	sign(x, k);
	struct rw_cert_id id;
	assert_int_equal(identity_of(x, &id), 0);
	assert_string_equal(id.subject, "CN=crafted");
	assert_int_equal(id.n_dns, 1);
	assert_int_equal(id.n_uri, 1);
	assert_int_equal(id.n_email, 1);
	assert_int_equal(id.n_ip, 1);
	assert_int_equal((long long)(id.not_after - id.not_before), 3600);
	X509_free(x);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

static void test_too_many_sans(void **state)
{
	EVP_PKEY *k = test_key();
	X509_NAME *n = name_cn("many");
	char san[4096] = "";
	for (int i = 0; i < RW_CERT_SAN_MAX; i++) {
		char one[64];
		snprintf(one, sizeof(one), "%sDNS:h%d.example.test", i ? "," : "", i);
		strcat(san, one);
	}
	/* exactly RW_CERT_SAN_MAX fits */
	X509 *x = craft(k, n);
	add_san(x, san);
	sign(x, k);
	struct rw_cert_id id;
	assert_int_equal(identity_of(x, &id), 0);
	assert_int_equal(id.n_dns, RW_CERT_SAN_MAX);
	X509_free(x);
	/* one more is refused, not cut */
	strcat(san, ",DNS:extra.example.test");
	x = craft(k, n);
	add_san(x, san);
	sign(x, k);
	assert_int_equal(identity_of(x, &id), RW_ETOOBIG);
	assert_int_equal(id.n_dns, 0);
	X509_free(x);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

static void test_long_san_refused(void **state)
{
	EVP_PKEY *k = test_key();
	X509_NAME *n = name_cn("long");
	char san[600] = "URI:https://example.test/";
	size_t used = strlen(san);
	memset(san + used, 'a', RW_CERT_SAN_LEN - 1 - strlen("https://example.test/"));
	san[used + RW_CERT_SAN_LEN - 1 - strlen("https://example.test/")] = '\0';
	/* value length RW_CERT_SAN_LEN - 1: fits with its NUL */
	X509 *x = craft(k, n);
	add_san(x, san);
	sign(x, k);
	struct rw_cert_id id;
	assert_int_equal(identity_of(x, &id), 0);
	assert_int_equal(strlen(id.uri[0]), RW_CERT_SAN_LEN - 1);
	X509_free(x);
	strcat(san, "b");
	x = craft(k, n);
	add_san(x, san);
	sign(x, k);
	assert_int_equal(identity_of(x, &id), RW_ETOOBIG);
	X509_free(x);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

/* GeneralNames { iPAddress (tag [7]) of n octets }, as raw DER. */
static void add_raw_ip_san(X509 *x, size_t n)
{
	char v[128] = "DER:";
	size_t at = strlen(v);
	at += (size_t)snprintf(v + at, sizeof(v) - at, "30%02zx87%02zx", n + 2, n);
	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(v + at, sizeof(v) - at, "%02zx", i + 1);
	add_san(x, v);
}

static void test_ip_san_lengths(void **state)
{
	static const struct {
		size_t len;
		int want;
	} cases[] = {
		{ 4, 0 }, { 16, 0 },
		/* address+mask forms (name constraints only) and junk lengths */
		{ 0, RW_EPROTO }, { 3, RW_EPROTO }, { 5, RW_EPROTO }, { 8, RW_EPROTO },
		{ 15, RW_EPROTO }, { 32, RW_EPROTO },
	};
	EVP_PKEY *k = test_key();
	X509_NAME *n = name_cn("ip-len");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *x = craft(k, n);
		add_raw_ip_san(x, cases[i].len);
		sign(x, k);
		struct rw_cert_id id;
		int rc = identity_of(x, &id);
		if (rc != cases[i].want)
			fail_msg("IP SAN of %zu octets: got %d, want %d", cases[i].len, rc,
				 cases[i].want);
		if (rc == 0) {
			assert_int_equal(id.n_ip, 1);
			assert_int_equal(id.ip_len[0], cases[i].len);
			assert_memory_equal(id.ip[0], "\x01\x02\x03\x04", 4);
		} else {
			assert_int_equal(id.n_ip, 0);
		}
		X509_free(x);
	}
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

static void test_too_many_ip_sans(void **state)
{
	EVP_PKEY *k = test_key();
	X509_NAME *n = name_cn("many-ip");
	char san[4096] = "";
	for (int i = 0; i < RW_CERT_SAN_MAX; i++) {
		char one[64];
		snprintf(one, sizeof(one), "%sIP:192.0.2.%d", i ? "," : "", i + 1);
		strcat(san, one);
	}
	X509 *x = craft(k, n);
	add_san(x, san);
	sign(x, k);
	struct rw_cert_id id;
	assert_int_equal(identity_of(x, &id), 0);
	assert_int_equal(id.n_ip, RW_CERT_SAN_MAX);
	X509_free(x);
	strcat(san, ",IP:2001:db8::1");
	x = craft(k, n);
	add_san(x, san);
	sign(x, k);
	assert_int_equal(identity_of(x, &id), RW_ETOOBIG);
	assert_int_equal(id.n_ip, 0);
	X509_free(x);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

static void test_long_subject_refused(void **state)
{
	EVP_PKEY *k = test_key();
	X509_NAME *n = X509_NAME_new();
	/* 10 OU entries of 60 characters: > RW_CERT_DN_MAX printed */
	char v[61];
	memset(v, 'o', 60);
	v[60] = '\0';
	for (int i = 0; i < 10; i++)
		assert_int_equal(X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC,
							    (const unsigned char *)v, -1, -1, 0), 1);
	X509 *x = craft(k, n);
	sign(x, k);
	struct rw_cert_id id;
	assert_int_equal(identity_of(x, &id), RW_ETOOBIG);
	X509_free(x);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

static void test_nul_in_cn_refused(void **state)
{
	EVP_PKEY *k = test_key();
	X509_NAME *n = X509_NAME_new();
	static const unsigned char cn[] = { 'a', 'd', 'm', 'i', 'n', 0, 'x' };
	assert_int_equal(X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING,
						    cn, (int)sizeof(cn), -1, 0), 1);
	X509 *x = craft(k, n);
	sign(x, k);
	struct rw_cert_id id;
	assert_int_equal(identity_of(x, &id), RW_EPROTO);
	X509_free(x);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

static void test_two_cns_refused(void **state)
{
	EVP_PKEY *k = test_key();
	X509_NAME *n = name_cn("first");
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
						    (const unsigned char *)"second", -1, -1, 0), 1);
	X509 *x = craft(k, n);
	sign(x, k);
	struct rw_cert_id id;
	assert_int_equal(identity_of(x, &id), RW_EPROTO);
	X509_free(x);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

static void test_no_cn(void **state)
{
	EVP_PKEY *k = test_key();
	X509_NAME *n = X509_NAME_new();
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
						    (const unsigned char *)"Org only", -1, -1, 0), 1);
	X509 *x = craft(k, n);
	sign(x, k);
	struct rw_cert_id id;
	assert_int_equal(identity_of(x, &id), 0);
	assert_false(id.has_cn);
	assert_string_equal(id.cn, "");
	assert_string_equal(id.subject, "O=Org only");
	X509_free(x);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

static void test_subject_escaping(void **state)
{
	EVP_PKEY *k = test_key();
	X509_NAME *n = name_cn("a,b+c=d");
	X509 *x = craft(k, n);
	sign(x, k);
	struct rw_cert_id id;
	assert_int_equal(identity_of(x, &id), 0);
	assert_string_equal(id.subject, "CN=a\\,b\\+c=d");
	assert_true(rw_cert_dn_equal(id.subject, "cn=a\\,b\\+c=d"));
	/* the unescaped spelling is a different DN (three RDN parts) */
	assert_false(rw_cert_dn_equal(id.subject, "CN=a,b+c=d"));
	X509_free(x);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

/* ---- matching ---- */

static struct rw_cert_id client_id;

static int setup_client(void **state)
{
	X509 *x = load_pem("client");
	int rc = rw_cert_identity(x, &client_id);
	X509_free(x);
	return rc;
}

static struct rw_identity sel(const char *subject, const char *san)
{
	struct rw_identity s;
	memset(&s, 0, sizeof(s));
	s.cert_subject = (char *)subject;
	s.cert_san = (char *)san;
	return s;
}

static void test_dn_equal_rules(void **state)
{
	assert_true(rw_cert_dn_equal("CN=ci-bot,O=Example Org,C=DE", "CN=ci-bot,O=Example Org,C=DE"));
	assert_true(rw_cert_dn_equal("CN=ci-bot,O=Example Org,C=DE", "cn=ci-bot,o=Example Org,c=DE"));
	assert_true(rw_cert_dn_equal("CN=ci-bot,O=Example Org,C=DE", "CN=ci-bot, O=Example Org, C=DE"));
	assert_false(rw_cert_dn_equal("CN=ci-bot,O=Example Org,C=DE", "CN=CI-BOT,O=Example Org,C=DE"));
	assert_false(rw_cert_dn_equal("CN=ci-bot,O=Example Org,C=DE", "C=DE,O=Example Org,CN=ci-bot"));
	assert_false(rw_cert_dn_equal("CN=ci-bot,O=Example Org,C=DE", "CN=ci-bot"));
	assert_false(rw_cert_dn_equal("CN=ci-bot", "CN=ci-bot,O=Example Org,C=DE"));
	assert_false(rw_cert_dn_equal("CN=ci-bot,O=Example Org,C=DE", "CN=ci-bot+O=Example Org,C=DE"));
	/* a space inside a value is significant */
	assert_false(rw_cert_dn_equal("O=Example Org", "O=ExampleOrg"));
	assert_false(rw_cert_dn_equal("CN=a\\,b", "CN=a\\+b"));
	assert_false(rw_cert_dn_equal("CN=a\\", "CN=a\\"));
	assert_false(rw_cert_dn_equal(NULL, "CN=x"));
}

static void test_match_subject(void **state)
{
	struct rw_identity s = sel("cn=ci-bot, o=Example Org, c=DE", NULL);
	assert_true(rw_ident_match(&client_id, &s));
	s = sel("CN=ci-bot", NULL);
	assert_false(rw_ident_match(&client_id, &s));
}

static void test_match_san_kinds(void **state)
{
	static const struct {
		const char *san;
		bool want;
	} cases[] = {
		{ "DNS:ci-bot.example.test", true },
		{ "dns:CI-BOT.EXAMPLE.TEST", true },
		{ "DNS:build.example.test", true },
		{ "DNS:ci-bot.example.tes", false },
		{ "DNS:ci-bot.example.test.", false },
		{ "URI:spiffe://example.test/ci/bot", true },
		{ "URI:SPIFFE://example.test/ci/bot", false },
		{ "uri:spiffe://example.test/ci/bot", true },
		{ "email:ci-bot@example.test", true },
		{ "email:CI-Bot@Example.Test", true },
		{ "email:ci-bot@example.tes", false },
		{ "IP:203.0.113.7", true },
		{ "ip:203.0.113.7", true },
		{ "IP:203.0.113.8", false },
		{ "IP:203.0.113.70", false },
		{ "IP:::ffff:203.0.113.7", false }, /* 16 octets vs the 4 in the SAN */
		{ "IP:203.0.113.7/32", false },
		{ "IP:203.0.113.007", false },
		{ "IP: 203.0.113.7", false },
		{ "IP:", false },
		{ "DNS:203.0.113.7", false },
		{ "ci-bot.example.test", false },
		{ "DNS:", false },
		{ "", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rw_identity s = sel(NULL, cases[i].san);
		if (rw_ident_match(&client_id, &s) != cases[i].want)
			fail_msg("SAN selector '%s': expected %d", cases[i].san, cases[i].want);
	}
}

static void test_match_ip_sans(void **state)
{
	static const struct {
		const char *san;
		bool want;
	} cases[] = {
		{ "IP:192.0.2.10", true },
		{ "IP:198.51.100.255", true },
		{ "IP:2001:db8::7", true },
		{ "IP:2001:DB8:0:0:0:0:0:7", true },
		{ "IP:2001:0db8:0000::0007", true },
		{ "iP:2001:db8::7", true },
		{ "IP:2001:db8::8", false },
		{ "IP:2001:db8::", false },
		{ "IP:192.0.2.1", false },
		{ "IP:192.0.2.100", false },
		{ "IP:::ffff:192.0.2.10", false },
		{ "IP:::192.0.2.10", false },
		{ "IP:192.0.2.10 ", false },
		{ "IP:192.0.2", false },
		{ "IP:203.0.113.7", false }, /* the other certificate's address */
		{ "DNS:ip-client.example.test", true },
	};
	struct rw_cert_id id;
	X509 *x = load_pem("ipsan");
	assert_int_equal(rw_cert_identity(x, &id), 0);
	X509_free(x);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rw_identity s = sel(NULL, cases[i].san);
		if (rw_ident_match(&id, &s) != cases[i].want)
			fail_msg("SAN selector '%s': expected %d", cases[i].san, cases[i].want);
	}
	/* an identity picked by its IP SAN, with the subject as well */
	struct rw_identity ids[2];
	ids[0] = sel(NULL, "IP:192.0.2.11");
	ids[1] = sel("CN=ip-san-client", "IP:2001:db8::7");
	assert_ptr_equal(rw_ident_find(&id, ids, 2), &ids[1]);
	assert_null(rw_ident_find(&client_id, ids, 2));
}

static void test_match_sha256(void **state)
{
	struct expect e;
	load_expect("client", &e);
	struct rw_identity s = sel(NULL, NULL);
	s.has_sha256 = true;
	memcpy(s.cert_sha256, e.sha256, 32);
	assert_true(rw_ident_match(&client_id, &s));
	s.cert_sha256[31] ^= 1;
	assert_false(rw_ident_match(&client_id, &s));
	/* the recorded fingerprint of another cert does not match */
	load_expect("revoked", &e);
	memcpy(s.cert_sha256, e.sha256, 32);
	assert_false(rw_ident_match(&client_id, &s));
}

static void test_match_all_selectors_must_hold(void **state)
{
	struct expect e;
	load_expect("client", &e);
	struct rw_identity s = sel("CN=ci-bot,O=Example Org,C=DE", "DNS:ci-bot.example.test");
	s.has_sha256 = true;
	memcpy(s.cert_sha256, e.sha256, 32);
	assert_true(rw_ident_match(&client_id, &s));
	s.cert_san = (char *)"DNS:other.example.test";
	assert_false(rw_ident_match(&client_id, &s));
	s.cert_san = (char *)"DNS:ci-bot.example.test";
	s.cert_subject = (char *)"CN=other";
	assert_false(rw_ident_match(&client_id, &s));
	s.cert_subject = (char *)"CN=ci-bot,O=Example Org,C=DE";
	s.cert_sha256[0] ^= 0x80;
	assert_false(rw_ident_match(&client_id, &s));
	/* no selector at all: not a certificate identity */
	struct rw_identity none = sel(NULL, NULL);
	assert_false(rw_ident_match(&client_id, &none));
}

static void test_find_identity_first_wins(void **state)
{
	struct rw_identity ids[4];
	ids[0] = sel("CN=someone-else", NULL);
	ids[1] = sel(NULL, NULL); /* no selectors: skipped */
	ids[2] = sel(NULL, "URI:spiffe://example.test/ci/bot");
	ids[3] = sel("CN=ci-bot,O=Example Org,C=DE", NULL);
	snprintf(ids[2].name, sizeof(ids[2].name), "by-uri");
	snprintf(ids[3].name, sizeof(ids[3].name), "by-subject");
	const struct rw_identity *got = rw_ident_find(&client_id, ids, 4);
	assert_ptr_equal(got, &ids[2]);
	/* reorder: config order decides */
	struct rw_identity tmp = ids[2];
	ids[2] = ids[3];
	ids[3] = tmp;
	got = rw_ident_find(&client_id, ids, 4);
	assert_ptr_equal(got, &ids[2]);
	assert_string_equal(got->name, "by-subject");
	assert_null(rw_ident_find(&client_id, ids, 2));
	assert_null(rw_ident_find(&client_id, ids, 0));
}

static void test_other_certs_do_not_match_client_selectors(void **state)
{
	struct rw_identity s = sel(NULL, "DNS:ci-bot.example.test");
	static const char *names[] = { "ca", "cnonly", "utf8", "expired", "revoked", "ipsan" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct rw_cert_id id;
		X509 *x = load_pem(names[i]);
		assert_int_equal(rw_cert_identity(x, &id), 0);
		X509_free(x);
		assert_false(rw_ident_match(&id, &s));
		struct rw_identity own = sel(id.subject, NULL);
		assert_true(rw_ident_match(&id, &own));
		assert_false(rw_ident_match(&client_id, &own));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_generated_match_cli),
		cmocka_unit_test(test_client_fields),
		cmocka_unit_test(test_cn_only),
		cmocka_unit_test(test_utf8_cn),
		cmocka_unit_test(test_expired_is_still_an_identity),
		cmocka_unit_test(test_nul_in_san_refused),
		cmocka_unit_test(test_null_args),
		cmocka_unit_test(test_crafted_ok_baseline),
		cmocka_unit_test(test_too_many_sans),
		cmocka_unit_test(test_ip_sans_match_cli),
		cmocka_unit_test(test_ip_san_lengths),
		cmocka_unit_test(test_too_many_ip_sans),
		cmocka_unit_test(test_long_san_refused),
		cmocka_unit_test(test_long_subject_refused),
		cmocka_unit_test(test_nul_in_cn_refused),
		cmocka_unit_test(test_two_cns_refused),
		cmocka_unit_test(test_no_cn),
		cmocka_unit_test(test_subject_escaping),
		cmocka_unit_test(test_dn_equal_rules),
		cmocka_unit_test_setup(test_match_subject, setup_client),
		cmocka_unit_test_setup(test_match_san_kinds, setup_client),
		cmocka_unit_test_setup(test_match_ip_sans, setup_client),
		cmocka_unit_test_setup(test_match_sha256, setup_client),
		cmocka_unit_test_setup(test_match_all_selectors_must_hold, setup_client),
		cmocka_unit_test_setup(test_find_identity_first_wins, setup_client),
		cmocka_unit_test_setup(test_other_certs_do_not_match_client_selectors, setup_client),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
