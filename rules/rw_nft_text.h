/* rules/: the compiled table in nft syntax, as `nft list table inet regwall`
 * (nft 1.0.6) prints it once the table is loaded.
 *
 * The printer does not decompile expressions. The compiler describes each
 * rule it lowers in policy terms (struct rw_nft_rdesc: which listener,
 * which source set, which meter, what it logs, its verdict) next to the
 * libnftnl object, and rw_nft_text.c prints that description the way nft
 * prints the resulting rule. tests/net/test_dump_rules.sh loads a table
 * and compares both, so a lowering change that is not described shows. */
#ifndef RW_NFT_TEXT_H
#define RW_NFT_TEXT_H

#include <stdint.h>
#include <stdio.h>

#include "rules/rw_policy.h"

struct rw_nft_compiled;

#define RW_NFT_RD_SET_LEN 64 /* = rw_nft_cset name */

/* A rate as nft writes it: rate / unit_s, burst 0 or 5 = nft's default
 * (not printed). */
struct rw_nft_rd_rate {
	uint64_t rate;
	uint64_t unit_s;
	uint32_t burst;
};

/* One rule. Matches come first, in this order (the order of the lowered
 * expressions), then the statements. Unset fields (zero, "") are absent. */
struct rw_nft_rdesc {
	char iifname[16];
	int iifname_not; /* iifname != iifname (the spoofed_vpn drop) */
	/* A listener: its port, then its address (one-address listener) or
	 * only its family (wildcard listener). */
	struct rw_endpoint listener;
	int listener_any;
	/* A destination: its address, then its port (the forward chain);
	 * port 0: the address alone (every protocol and port). */
	struct rw_endpoint dest;
	uint16_t udp_dport;
	uint8_t icmp6_lo, icmp6_hi; /* type range; 0/0 = none */
	uint32_t ct_state;          /* NF_CT_STATE bits (ct state ...) */
	int ct_dir_reply;           /* ct direction reply */
	/* Source address: family of saddr_set and of the set updates. */
	int family;
	char saddr_set[RW_NFT_RD_SET_LEN]; /* saddr in this set */
	/* update @meter { saddr limit rate over ... } */
	char meter_set[RW_NFT_RD_SET_LEN];
	struct rw_nft_rd_rate meter;
	/* update @ban { saddr timeout ... } (0 = the set's) */
	char ban_set[RW_NFT_RD_SET_LEN];
	uint64_t ban_timeout_ms;
	int counter;
	struct rw_nft_rd_rate limit; /* rate 0 = none */
	int log;
	uint16_t log_group;
	char log_prefix[128]; /* NFLOG prefix, at most 127 bytes */
	/* NAT (chain intercept): nat_to.port nonzero = a statement; with
	 * nat_redirect `redirect to :port`, else `dnat <family> to addr:port` */
	struct rw_endpoint nat_to;
	int nat_redirect;
	int verdict; /* NF_ACCEPT, NF_DROP; RW_NFT_RD_NONE = none */
};
#define RW_NFT_RD_NONE (-1)

/* The table as nft prints it: sets (with their elements, wrapped as nft
 * wraps them), chains, rules with zero counters and their comments.
 * Deterministic; 0, RW_EINVAL (a rule without a description), RW_EIO. */
int rw_nft_dump_nft(const struct rw_nft_compiled *c, FILE *out);

#endif
