/* libFuzzer harness: d2i_X509 on the input; a certificate OpenSSL accepts
 * goes through rw_cert_identity and rw_ident_match against fixed selectors.
 * Seeds: tests/fuzz/corpus/cert/ (DER of the test certificates from
 * scripts/gen-test-certs.sh). Invariants abort on violation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "inspect/rw_cert.h"
#include "rules/rw_ident.h"
#include "base/rw_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                   \
	do {                                                                       \
		if (!(x)) {                                                        \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #x, __LINE__); \
			abort();                                                   \
		}                                                                  \
	} while (0)

static int terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	if (size > 1 << 16)
		return 0;
	X509 *x = d2i_X509(NULL, &p, (long)size);
	if (!x)
		return 0;
	struct rw_cert_id id;
	int rc = rw_cert_identity(x, &id);
	X509_free(x);
	CHECK(rc == 0 || rc == RW_ETOOBIG || rc == RW_EPROTO || rc == RW_ENOMEM);
	if (rc != 0) {
		CHECK(id.n_dns == 0 && id.subject[0] == '\0' && !id.has_cn);
		return 0;
	}
	CHECK(terminated(id.subject, sizeof(id.subject)));
	CHECK(terminated(id.cn, sizeof(id.cn)));
	CHECK(id.has_cn || id.cn[0] == '\0');
	CHECK(id.n_dns <= RW_CERT_SAN_MAX && id.n_uri <= RW_CERT_SAN_MAX &&
	      id.n_email <= RW_CERT_SAN_MAX);
	for (size_t i = 0; i < id.n_dns; i++)
		CHECK(terminated(id.dns[i], RW_CERT_SAN_LEN));
	for (size_t i = 0; i < id.n_uri; i++)
		CHECK(terminated(id.uri[i], RW_CERT_SAN_LEN));
	for (size_t i = 0; i < id.n_email; i++)
		CHECK(terminated(id.email[i], RW_CERT_SAN_LEN));

	/* a certificate always matches selectors made from itself */
	struct rw_identity own[3];
	memset(own, 0, sizeof(own));
	own[0].cert_subject = id.subject;
	own[1].has_sha256 = true;
	memcpy(own[1].cert_sha256, id.sha256, 32);
	char san[RW_CERT_SAN_LEN + 8];
	if (id.n_dns > 0) {
		snprintf(san, sizeof(san), "DNS:%s", id.dns[id.n_dns - 1]);
		own[2].cert_san = san;
	}
	CHECK(rw_cert_dn_equal(id.subject, id.subject));
	CHECK(rw_ident_match(&id, &own[0]));
	CHECK(rw_ident_match(&id, &own[1]));
	if (id.n_dns > 0)
		CHECK(rw_ident_match(&id, &own[2]));
	CHECK(rw_ident_find(&id, own, 3) == &own[0]);

	/* fixed selectors: must not crash; no selector never matches */
	static struct rw_identity fixed[4];
	fixed[0].cert_subject = (char *)"CN=ci-bot,O=Example Org,C=DE";
	fixed[1].cert_san = (char *)"DNS:ci-bot.example.test";
	fixed[2].cert_san = (char *)"email:ci-bot@example.test";
	const struct rw_identity *hit = rw_ident_find(&id, fixed, 4);
	CHECK(hit != &fixed[3]);
	(void)hit;
	return 0;
}
