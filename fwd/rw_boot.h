/* The boot bundle: everything a new worker needs, made by the parent and
 * read by the worker from a sealed memfd (BOOT on its channel, rw_chan.h),
 * so that a worker, freshly exec'd, holds only what it was sent: the
 * packed policy (rules/rw_policy_pack.h) with the live changes made so
 * far, the manual bans the parent knows (fwd/rw_bans.h), the TLS files'
 * bytes (fwd/rw_pem.h), the generation's ticket secret, and whom to
 * become (the sandbox user the parent resolved).
 *
 * Format (network byte order): "RWBOOT02"; u32 generation, u32 slot,
 * u32 live_seq high, u32 live_seq low; u32 flags (1 = tickets); the
 * secret (RW_TLSCTX_SECRET_LEN bytes, zero without tickets); u32 uid,
 * u32 gid, u8 user_valid, u8-length user name; u32-length packed policy;
 * the bans: u32 count of address bans, then u32 count of prefix bans,
 * each list followed by its entries in the canonical order of
 * rules/rw_cidrset.h, one entry = u8 family, u8 prefix, 16 address bytes
 * (IPv4 in the first 4, the rest zero), u32 expiry high, u32 expiry low
 * (RW_BOOT_BAN_LEN bytes; expiry as in rw_bans.h, never 0); u32 file
 * count, then per file a u16-length path and a u32-length body. Nothing
 * may follow. One form per bundle: entries out of order, overlapping
 * prefixes, an address in the prefix list or the reverse are refused. The
 * worker checks every length against what is left before it allocates
 * (tests/fuzz/fuzz_boot.c). */
#ifndef RW_BOOT_H
#define RW_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fwd/rw_bans.h"
#include "fwd/rw_pem.h"
#include "fwd/rw_tlsctx.h"
#include "rules/rw_policy.h"

#define RW_BOOT_MAX (1024u << 20) /* a bundle's size cap (policy + files) */
#define RW_BOOT_BAN_LEN 26u        /* one ban entry's bytes */

struct rw_boot {
	uint32_t generation;
	uint32_t slot;
	uint64_t live_seq;
	bool tickets;
	uint8_t secret[RW_TLSCTX_SECRET_LEN];
	unsigned uid, gid; /* the worker user */
	bool user_valid;
	char user[64];
	struct rw_policy pol;   /* owned after rw_boot_unpack */
	struct rw_pem_set pem;  /* owned after rw_boot_unpack */
	struct rw_bans bans;    /* owned after rw_boot_unpack */
};

/* Packs b (its pol, bans and pem) into a malloc'd buffer. 0 or RW_ENOMEM /
 * RW_ETOOBIG. Expired bans go along (a worker ignores them). */
int rw_boot_pack(const struct rw_boot *b, uint8_t **out, size_t *len);
/* Rebuilds a bundle from untrusted bytes; 0, or a negative RW_E* with err
 * saying what was wrong (nothing left allocated). */
int rw_boot_unpack(const uint8_t *buf, size_t len, struct rw_boot *b, char *err, size_t errlen);
/* Frees pol, bans and pem and wipes the secret. */
void rw_boot_free(struct rw_boot *b);

#endif
