/* Which configured identity a verified client certificate is: the
 * policy side of certificate matching. inspect/rw_cert turns the
 * certificate into plain values (struct rw_cert_id) and compares names
 * and SANs; this file holds the selectors against them, so inspect/ needs
 * nothing of the policy model. */
#ifndef RW_IDENT_H
#define RW_IDENT_H

#include <stdbool.h>
#include <stddef.h>

#include "inspect/rw_cert.h"
#include "rules/rw_policy.h"

/* True when every selector present in sel matches id, and sel has at
 * least one certificate selector (an identity without cert_subject,
 * cert_san and cert_sha256 is not a certificate identity and never
 * matches here). cert_subject: rw_cert_dn_equal; cert_san:
 * rw_cert_san_match; cert_sha256: the 32 fingerprint bytes. */
bool rw_ident_match(const struct rw_cert_id *id, const struct rw_identity *sel);

/* The first identity in ids[0..n) that matches, or NULL. Config order
 * decides: put narrower identities (fingerprints) before broader ones. */
const struct rw_identity *rw_ident_find(const struct rw_cert_id *id, const struct rw_identity *ids,
					size_t n);

#endif
