/* Certificate identity selectors (rw_ident.h). */
#include "rules/rw_ident.h"

#include <openssl/crypto.h>

bool rw_ident_match(const struct rw_cert_id *id, const struct rw_identity *sel)
{
	if (!id || !sel)
		return false;
	if (!sel->cert_subject && !sel->cert_san && !sel->has_sha256)
		return false;
	if (sel->cert_subject && !rw_cert_dn_equal(id->subject, sel->cert_subject))
		return false;
	if (sel->cert_san && !rw_cert_san_match(id, sel->cert_san))
		return false;
	if (sel->has_sha256 && CRYPTO_memcmp(id->sha256, sel->cert_sha256, sizeof(id->sha256)))
		return false;
	return true;
}

const struct rw_identity *rw_ident_find(const struct rw_cert_id *id, const struct rw_identity *ids,
					size_t n)
{
	if (!id || !ids)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (rw_ident_match(id, &ids[i]))
			return &ids[i];
	}
	return NULL;
}
