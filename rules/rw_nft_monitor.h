/* rules/: watching table inet regwall for changes made by anyone else.
 *
 * Two tools, both read-only:
 *
 * - The monitor (rw_nft_monitor.c): a netlink socket joined to the
 *   nftables multicast group (NFNLGRP_NFTABLES). Each committed
 *   transaction of any process arrives as its NEW/DEL messages followed
 *   by one NEWGEN carrying the process's pid and name. A socket filter
 *   drops the transactions of regwalld's own nftables socket (the
 *   kernel stamps every event with the sender's netlink portid), so our
 *   own applies never wake the guard. Changes are summarised, not kept.
 *
 * - The signature (rw_nft_sig.c): the shape of the table as the kernel
 *   holds it now: table flags, chains (name, type, hook, priority,
 *   policy), sets (name, handle, key, flags, timeout, size) and rules
 *   (chain, handle, expressions with counter values zeroed, comment).
 *   Set ELEMENTS are not part of it: ban and meter sets change on the
 *   packet path, and a network set may hold 100,000 prefixes; changes to
 *   the elements of net_, live_ and vpn_ sets are seen by the monitor.
 */
#ifndef RW_NFT_MONITOR_H
#define RW_NFT_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include "base/rw_err.h"
#include "rules/rw_nft.h"

/* What one read of the monitor saw. */
#define RW_NFT_MON_WHAT 384
#define RW_NFT_MON_WHO 64
struct rw_nft_mon_report {
	unsigned changes;  /* foreign changes to our table that matter */
	unsigned ignored;  /* foreign element changes on ban_/meter sets */
	unsigned own;      /* our own (only if the socket filter is missing) */
	unsigned lost;     /* ENOBUFS: the kernel dropped events for us */
	unsigned bad;      /* malformed messages skipped */
	char what[RW_NFT_MON_WHAT]; /* "table deleted; chain input: 2 rules added" */
	char who[RW_NFT_MON_WHO];   /* "nft (pid 4242)" of the last such change */
};

struct rw_nft_mon;

/* Open the monitor; events from netlink portid own_portid (regwalld's
 * nftables socket, rw_nft_portid) are filtered out in the kernel. */
int rw_nft_mon_open(struct rw_nft_mon **out, uint32_t own_portid, struct rw_diag *diag);
void rw_nft_mon_close(struct rw_nft_mon *m);
int rw_nft_mon_fd(const struct rw_nft_mon *m);
/* Read everything pending (non-blocking) into rep (zeroed first). */
int rw_nft_mon_read(struct rw_nft_mon *m, struct rw_nft_mon_report *rep);

/* The parser, exposed for the unit test and the fuzzer: one buffer of
 * netlink messages as received, added to rep. Never fails: a malformed
 * message is counted in rep->bad and the walk stops there. */
void rw_nft_mon_parse(const void *buf, size_t len, uint32_t own_portid,
		      struct rw_nft_mon_report *rep);

/* The set names whose elements legitimately change without regwalld:
 * bans (packet path, or an admin unbanning with nft) and meters. */
int rw_nft_mon_volatile_set(const char *name);

/* --- the signature (rw_nft_sig.c) */
struct rw_nft_sig {
	int present;
	uint32_t table_flags;
	uint32_t n_chains, n_sets, n_rules;
	uint64_t h_chains, h_sets, h_rules; /* FNV-1a over the fields above */
};

/* Read the signature. A missing table is not an error: present = 0. */
int rw_nft_sig_read(struct rw_nft *n, struct rw_nft_sig *out, struct rw_diag *diag);
/* 0 if equal; else nonzero with a short text of what differs. */
int rw_nft_sig_diff(const struct rw_nft_sig *loaded, const struct rw_nft_sig *now, char *buf,
		    size_t len);

/* The netlink portid of regwalld's nftables socket (its events' sender). */
uint32_t rw_nft_portid(const struct rw_nft *n);

#endif
