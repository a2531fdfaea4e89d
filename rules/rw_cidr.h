/* CIDR text <-> struct rw_cidr, and the merge that interval sets need (the
 * kernel refuses overlapping ranges in an interval set). */
#ifndef RW_CIDR_H
#define RW_CIDR_H

#include <stddef.h>

#include "rules/rw_policy.h"

/* Parse "203.0.113.0/24", "2001:db8::/32", or a bare address (= /32, /128).
 * Host bits set -> RW_EINVAL unless allow_host_bits. A prefix inside
 * ::ffff:0:0/96 (IPv4-mapped) -> RW_EINVAL: the kernel sees those clients
 * as IPv4, so such a rule, ban or listener address would silently match
 * nothing (see rw_cidr_mapped_msg). Returns 0 or RW_E*. */
int rw_cidr_parse(const char *text, struct rw_cidr *out, int allow_host_bits);

/* Is the IPv6 address (16 bytes) inside ::ffff:0:0/96? */
int rw_cidr_addr_is_mapped(const uint8_t addr[16]);

/* If text (an address, a prefix, or "[address]:port") is IPv4-mapped,
 * write what is wrong and what to write instead, e.g. "an IPv4-mapped IPv6
 * address never matches (the kernel sees IPv4); write 203.0.113.11", and
 * return 1; else return 0. The caller puts the text in front. */
int rw_cidr_mapped_msg(const char *text, char *msg, size_t len);

/* Format into buf (at least 64 bytes): "203.0.113.0/24". */
void rw_cidr_format(const struct rw_cidr *c, char *buf, size_t len);

/* Does c contain the address (family, 4/16 bytes)? */
int rw_cidr_contains(const struct rw_cidr *c, int family, const void *addr);

/* Do a and b share an address (same family, one holds the other's start:
 * prefixes nest or are disjoint)? Equal prefixes overlap. Sets of many
 * prefixes: rules/rw_cidrset.h. */
int rw_cidr_overlap(const struct rw_cidr *a, const struct rw_cidr *b);

/* Zero the bits past the prefix length. */
void rw_cidr_clear_host_bits(struct rw_cidr *c);

/* [start, end) range of a prefix as 4/16 big-endian bytes. end_overflow is
 * set when the end is past the top of the address space (0.0.0.0/0,
 * 255.255.255.0/24): interval sets then get no end element. */
void rw_cidr_range(const struct rw_cidr *c, uint8_t start[16], uint8_t end[16], int *end_overflow);

#endif
