/* struct rw_policy as one self-contained message, for a worker that is a
 * freshly exec'd process: it inherits no pointer, so every array and
 * string is rebuilt from bytes. Format and checks: docs/design/policy-pack.md.
 *
 * The bytes are untrusted on the receiving side (a compromised or buggy
 * sender must not crash the worker): rw_policy_unpack reads them through
 * the bounded cursor, checks every length and count against what is left
 * before it allocates, and refuses anything that breaks an invariant
 * rw_policy.h states or the data path relies on (sorted, disjoint network
 * prefixes for its binary search; allow_nets indexes inside networks;
 * enum values; address families, prefix lengths, host bits).
 *
 * The form is canonical: unpack accepts exactly one encoding of each
 * policy, so rw_policy_pack(unpacked) gives the bytes back unchanged. */
#ifndef RW_POLICY_PACK_H
#define RW_POLICY_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "base/rw_err.h"
#include "rules/rw_policy.h"

/* "RWPK" as the first four bytes, then the format version (both u32 LE). */
#define RW_POLICY_PACK_MAGIC 0x4b505752u
#define RW_POLICY_PACK_VERSION 2u /* 2: rw_listener.transparent */

/* The largest message either side handles. A config file is at most
 * 4 MiB (appliance/rw_config_int.h) and packs smaller than its text (a
 * prefix is 6 or 18 bytes); live additions grow a network past the file,
 * so this leaves room for millions of prefixes while bounding what a
 * lying sender can make the worker allocate (every count is also bounded
 * by the bytes left, see the design note). */
#define RW_POLICY_PACK_MAX (64u * 1024 * 1024)
/* The length word of a string that is NULL (distinct from "", length 0). */
#define RW_POLICY_PACK_NULL 0xffffffffu
/* The longest string (a path, a DN, a glob, a server name). */
#define RW_POLICY_PACK_STR_MAX 65536u

/* Packs p into a malloc'd buffer: 0 and *out (the caller frees it), *len;
 * RW_ENOMEM; RW_ERANGE for a value the format cannot carry (a name
 * without its NUL inside its array, an enum or address family out of
 * range, an allow_nets index over UINT32_MAX); RW_ETOOBIG for a string
 * over RW_POLICY_PACK_STR_MAX, a count over UINT32_MAX or a message over
 * RW_POLICY_PACK_MAX. On error *out is NULL and *len 0. Pack does not
 * judge the policy's meaning (unsorted prefixes pack; unpack refuses
 * them): a policy the loader (appliance/rw_config.h) built packs and
 * unpacks, unless a string in it is over 64 KiB. */
int rw_policy_pack(const struct rw_policy *p, uint8_t **out, size_t *len);

/* Rebuilds *p from untrusted bytes. 0: *p owns everything
 * (rw_policy_free). Otherwise *p is zeroed (everything built so far is
 * freed) and, when diag is not NULL, one error says where and why
 * ("policy message byte 123: listeners[1].allow_nets[0]: ..."):
 *   RW_EPROTO      bad magic, unknown version, bytes after the policy
 *   RW_EINCOMPLETE the bytes end early: a field, or a length or count
 *                  larger than what is left
 *   RW_ETOOBIG     the message over RW_POLICY_PACK_MAX, a string length
 *                  over RW_POLICY_PACK_STR_MAX
 *   RW_ERANGE      a value out of its range: enum, bool, address family,
 *                  prefix length, port, a name too long for its array, an
 *                  allow_nets index or count, endpoint_index
 *   RW_EINVAL      a malformed value: NUL inside a string, NULL where a
 *                  string is required, host bits set, an IPv4-mapped IPv6
 *                  address, network prefixes out of order
 *   RW_EEXIST      a network's prefixes overlap
 *   RW_ENOMEM      an allocation failed */
int rw_policy_unpack(const uint8_t *buf, size_t len, struct rw_policy *p, struct rw_diag *diag);

#endif
