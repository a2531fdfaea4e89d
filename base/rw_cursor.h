/* A bounded reader over untrusted bytes (style habit 1).
 *
 * Every getter either consumes exactly what it returns or fails with
 * RW_EINCOMPLETE and consumes nothing; peeks never consume. Lengths are
 * compared against what remains (len - off), never by adding to a pointer,
 * so no check can overflow. No heap, no I/O: usable on the hot path. */
#ifndef RW_CURSOR_H
#define RW_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/rw_err.h"

struct rw_cursor {
	const uint8_t *buf;
	size_t len; /* total bytes in buf */
	size_t off; /* bytes consumed */
};

static inline void rw_cur_init(struct rw_cursor *c, const void *buf, size_t len)
{
	c->buf = (const uint8_t *)buf;
	c->len = buf ? len : 0;
	c->off = 0;
}

static inline size_t rw_cur_left(const struct rw_cursor *c)
{
	return c->len - c->off;
}

static inline const uint8_t *rw_cur_ptr(const struct rw_cursor *c)
{
	return c->buf + c->off;
}

static inline int rw_cur_skip(struct rw_cursor *c, size_t n)
{
	if (n > rw_cur_left(c))
		return RW_EINCOMPLETE;
	c->off += n;
	return 0;
}

static inline int rw_cur_peek_u8(const struct rw_cursor *c, size_t at, uint8_t *v)
{
	if (at >= rw_cur_left(c))
		return RW_EINCOMPLETE;
	*v = c->buf[c->off + at];
	return 0;
}

static inline int rw_cur_u8(struct rw_cursor *c, uint8_t *v)
{
	if (rw_cur_left(c) < 1)
		return RW_EINCOMPLETE;
	*v = c->buf[c->off++];
	return 0;
}

/* Big-endian (network order) getters. */
static inline int rw_cur_u16(struct rw_cursor *c, uint16_t *v)
{
	if (rw_cur_left(c) < 2)
		return RW_EINCOMPLETE;
	const uint8_t *p = c->buf + c->off;
	*v = (uint16_t)((p[0] << 8) | p[1]);
	c->off += 2;
	return 0;
}

static inline int rw_cur_u24(struct rw_cursor *c, uint32_t *v)
{
	if (rw_cur_left(c) < 3)
		return RW_EINCOMPLETE;
	const uint8_t *p = c->buf + c->off;
	*v = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
	c->off += 3;
	return 0;
}

static inline int rw_cur_u32(struct rw_cursor *c, uint32_t *v)
{
	if (rw_cur_left(c) < 4)
		return RW_EINCOMPLETE;
	const uint8_t *p = c->buf + c->off;
	*v = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
	c->off += 4;
	return 0;
}

/* Host-order u16 (netlink TLV headers are host order). */
static inline int rw_cur_u16_host(struct rw_cursor *c, uint16_t *v)
{
	if (rw_cur_left(c) < 2)
		return RW_EINCOMPLETE;
	memcpy(v, c->buf + c->off, 2);
	c->off += 2;
	return 0;
}

/* Borrow n bytes: *p points into the buffer, valid while it is. */
static inline int rw_cur_bytes(struct rw_cursor *c, size_t n, const uint8_t **p)
{
	if (n > rw_cur_left(c))
		return RW_EINCOMPLETE;
	*p = c->buf + c->off;
	c->off += n;
	return 0;
}

static inline int rw_cur_copy(struct rw_cursor *c, void *dst, size_t n)
{
	if (n > rw_cur_left(c))
		return RW_EINCOMPLETE;
	memcpy(dst, c->buf + c->off, n);
	c->off += n;
	return 0;
}

/* Split off the next n bytes as an independent sub-cursor (for a
 * length-prefixed field) and consume them from c. */
static inline int rw_cur_sub(struct rw_cursor *c, size_t n, struct rw_cursor *sub)
{
	if (n > rw_cur_left(c))
		return RW_EINCOMPLETE;
	rw_cur_init(sub, c->buf + c->off, n);
	c->off += n;
	return 0;
}

/* Length-prefixed sub-cursors: u8 / u16 length, then that many bytes. On
 * failure nothing is consumed. */
static inline int rw_cur_sub8(struct rw_cursor *c, struct rw_cursor *sub)
{
	struct rw_cursor save = *c;
	uint8_t n;
	if (rw_cur_u8(c, &n) || rw_cur_sub(c, n, sub)) {
		*c = save;
		return RW_EINCOMPLETE;
	}
	return 0;
}

static inline int rw_cur_sub16(struct rw_cursor *c, struct rw_cursor *sub)
{
	struct rw_cursor save = *c;
	uint16_t n;
	if (rw_cur_u16(c, &n) || rw_cur_sub(c, n, sub)) {
		*c = save;
		return RW_EINCOMPLETE;
	}
	return 0;
}

#endif
