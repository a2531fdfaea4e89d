/* rules/: the admission model, evaluated.
 *
 * The model is the compiled table's rule descriptions (struct
 * rw_nft_rdesc, rules/rw_nft_text.h), in chain order: rw_nft_compile
 * builds each rule's description from the policy and lowers the rule from
 * that description alone (rw_nft_compile.c, rw_nft_lower), so what
 * nftables runs and what rw_admit_eval walks are one list. A rule's
 * comment is its name everywhere: the nftables comment, the counter key of
 * `regwallctl counters`, and (with "regwall " in front of the listener's
 * rules) the NFLOG prefix.
 *
 * rw_admit_eval replays the hooks a new TCP connection to a listener goes
 * through (prerouting chain early, then input) for one SYN: family,
 * source, the listener's address and port, the input interface, ct state
 * new. Set contents come from a callback (the daemon answers from its
 * policy, its live additions and the kernel's ban sets read at explain
 * time; rw_admit_set_has answers from the compiled sets). Meters cannot
 * be evaluated (their state is per source in the kernel): a meter rule is
 * taken as not over its rate, and the trace says "rate limits not
 * evaluated". The forward chain (gateway mode) is not on this path. */
#ifndef RW_ADMIT_H
#define RW_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/rw_policy.h"

struct rw_nft_compiled;

/* One SYN to a listener. */
struct rw_admit_pkt {
	int family;          /* AF_INET, AF_INET6 */
	uint8_t src[16];
	uint8_t dst[16];     /* the listener's address (any for a wildcard one) */
	uint16_t dport;
	char iif[16];        /* input interface; "" = unknown (no iifname matches) */
};

/* The SYN a client sends to listener l. */
void rw_admit_pkt_for(const struct rw_listener *l, const uint8_t src[16], const char *iif,
		      struct rw_admit_pkt *out);

/* Is addr in set? 1 yes, 0 no, < 0 not known (the rule is then taken as
 * not matching and the trace says so). */
typedef int (*rw_admit_member_fn)(void *arg, const char *set, int family, const uint8_t *addr);

/* From the compiled sets' own elements (interval sets: net_, live_, vpn_;
 * the timeout sets are empty there). 1, 0, or RW_ENOENT (no such set). */
int rw_admit_set_has(const struct rw_nft_compiled *c, const char *set, int family,
		     const uint8_t *addr);

#define RW_ADMIT_STEPS 32
#define RW_ADMIT_NAME 128

struct rw_admit_step {
	char chain[16];
	char rule[RW_ADMIT_NAME]; /* the rule's comment */
	const char *what;         /* "matched", "logged", "rate limit not evaluated" */
};

struct rw_admit_trace {
	bool accept;                      /* the packet's fate */
	char chain[16];                   /* where it was decided ("" = no rule) */
	char rule[RW_ADMIT_NAME];         /* the deciding rule's comment = counter key;
					   * "" when no rule decides (chain policy accept) */
	char nflog_prefix[RW_ADMIT_NAME]; /* what NFLOG records for a drop ("" none) */
	bool rates_unevaluated;           /* a meter rule was passed over */
	bool set_unknown;                 /* a set's contents could not be read */
	struct rw_admit_step steps[RW_ADMIT_STEPS];
	size_t n_steps;                   /* matched, logged or unevaluated rules */
};

/* Walk chain early, then input, rule by rule, as the kernel does: a rule
 * matches when all its matches hold; a log statement records the prefix; a
 * drop ends everything; an accept ends its chain (early's accept goes on
 * to input); a chain's end is its policy, accept. Returns 0, or RW_EINVAL
 * (NULL argument). */
int rw_admit_eval(const struct rw_nft_compiled *model, const struct rw_admit_pkt *pkt,
		  rw_admit_member_fn member, void *arg, struct rw_admit_trace *tr);

#endif
