/* Internals of rw_policy_unpack, shared by rules/rw_policy_unpack.c (the
 * policy's structure) and rules/rw_policy_unpack_read.c (the format's
 * values: numbers, strings, names, prefixes, endpoints, counted arrays).
 * Nothing else includes this. docs/design/policy-pack.md.
 *
 * Every reader consumes its field or fails with a negative RW_E* code,
 * after writing one message to u->diag (if set) that names the byte
 * offset and the field: "policy message byte 123: listeners[1].cert: ..."
 * The first failure ends the walk. */
#ifndef RW_POLICY_UNPACK_INT_H
#define RW_POLICY_UNPACK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rw_cursor.h"
#include "base/rw_err.h"
#include "rules/rw_policy.h"

/* The fewest bytes one element can take (every optional part absent). A
 * count above left / this cannot be honest, and checking it before the
 * calloc bounds what a lying sender makes us allocate to a small multiple
 * of the message. Each is the sum of its fields' minimal encodings, in
 * the order rw_policy_pack.c writes them. */
#define PK_STR 4  /* length word: NULL or "" */
#define PK_NAME 1 /* length byte: "" */
#define PK_COUNT 4
#define PK_INT 4
#define PK_BOOL 1
#define PK_ENUM 1
#define PK_EP_UNSET 1 /* family 0 */
#define PK_EP_SET 7   /* family, IPv4 address, port */
#define PK_CIDR 6     /* family, prefix, IPv4 address */
#define PK_INDEX 4
#define PK_ROLE (PK_ENUM + PK_STR)
#define PK_NETWORK (PK_NAME + PK_COUNT + PK_INT)
#define PK_LISTENER                                                                       \
	(PK_NAME + PK_EP_SET + 2 * PK_INT + PK_ENUM + 4 * PK_STR + PK_ENUM + PK_COUNT + \
	 2 * PK_BOOL + PK_COUNT + 2 * PK_BOOL + 3 * PK_INT)
#define PK_IDENTITY (PK_NAME + 2 * PK_STR + PK_BOOL + PK_COUNT + PK_INT)
#define PK_PEER (PK_NAME + 32 + PK_COUNT + PK_EP_UNSET + PK_COUNT + PK_INT)

/* What an endpoint or a prefix may be, besides a well-formed address. */
#define RW_UP_UNSET 1u     /* family 0 (then nothing follows) */
#define RW_UP_PORT0 2u     /* port 0: a listener the kernel picks the port of (tests) */
#define RW_UP_HOST_BITS 4u /* host bits allowed (vpn.address) */

struct rw_up {
	struct rw_cursor c;
	struct rw_diag *diag;
	size_t at;       /* offset of the field being read, for the message */
	char where[48];  /* the element being read: "listeners[2]" */
};


/* what: the field's name; idx: its index in an array, or -1. */
int rw_up_fail(struct rw_up *u, int err, const char *what, long idx, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Little-endian, n bytes (1..8); sets nothing in u->at (the caller has). */
int rw_up_le(struct rw_up *u, const char *what, long idx, size_t n, uint64_t *v);
int rw_up_u16(struct rw_up *u, const char *what, uint16_t *v);
int rw_up_u32(struct rw_up *u, const char *what, uint32_t *v);
int rw_up_u64(struct rw_up *u, const char *what, uint64_t *v);
int rw_up_int(struct rw_up *u, const char *what, int *v);
int rw_up_bool(struct rw_up *u, const char *what, bool *v);
int rw_up_enum(struct rw_up *u, const char *what, long idx, unsigned max, unsigned *v);
/* A count, then calloc(count, size) once count * min_size fits the bytes
 * left; *out NULL and *n 0 for none. *n is set with *out, so a policy
 * abandoned after this frees the array. */
int rw_up_array(struct rw_up *u, const char *what, size_t min_size, size_t size, size_t *n,
		void **out);
int rw_up_str(struct rw_up *u, const char *what, long idx, bool nullable, char **out);
int rw_up_strv(struct rw_up *u, const char *what, char ***v, size_t *n);
int rw_up_name(struct rw_up *u, const char *what, char *dst, size_t cap);
int rw_up_cidr(struct rw_up *u, const char *what, long idx, unsigned flags, struct rw_cidr *c);
/* sorted: a network's prefixes (IPv4 first, ascending, disjoint) */
int rw_up_cidrs(struct rw_up *u, const char *what, bool sorted, struct rw_cidr **v, size_t *n);
int rw_up_endpoint(struct rw_up *u, const char *what, unsigned flags, struct rw_endpoint *e);
int rw_up_roles(struct rw_up *u, struct rw_role **v, size_t *n);

#endif
