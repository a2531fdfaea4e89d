/* Test-only builders for crafted ClientHellos and for re-framing a
 * handshake message into TLS records. Included by the tests/unit/test_tls_*
 * files (header-only so that it is not linked into every unit test). */
#ifndef RW_TEST_TLS_BUILD_H
#define RW_TEST_TLS_BUILD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TB_CAP 40000u

struct tb {
	uint8_t b[TB_CAP];
	size_t n;
};

static inline void tb_reset(struct tb *t) { t->n = 0; }
static inline void tb_u8(struct tb *t, unsigned v) { if (t->n < TB_CAP) t->b[t->n++] = (uint8_t)v; }
static inline void tb_u16(struct tb *t, unsigned v) { tb_u8(t, v >> 8); tb_u8(t, v); }
static inline void tb_u24(struct tb *t, unsigned v) { tb_u8(t, v >> 16); tb_u16(t, v & 0xffff); }
static inline void tb_mem(struct tb *t, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tb_u8(t, ((const uint8_t *)p)[i]);
}

/* One extension: u16 type | u16 len | data */
static inline void tb_ext(struct tb *e, unsigned type, const void *data, size_t len)
{
	tb_u16(e, type);
	tb_u16(e, (unsigned)len);
	tb_mem(e, data, len);
}

/* server_name with one host_name entry (name given with its length so
 * tests can embed NULs). */
static inline void tb_ext_sni_n(struct tb *e, const char *name, size_t len)
{
	tb_u16(e, 0x0000);
	tb_u16(e, (unsigned)(len + 5));
	tb_u16(e, (unsigned)(len + 3));
	tb_u8(e, 0);
	tb_u16(e, (unsigned)len);
	tb_mem(e, name, len);
}

static inline void tb_ext_sni(struct tb *e, const char *name)
{
	tb_ext_sni_n(e, name, strlen(name));
}

/* ALPN from a NULL-terminated list of ids. */
static inline void tb_ext_alpn(struct tb *e, ...)
{
	struct tb body;
	va_list ap;
	const char *id;

	tb_reset(&body);
	va_start(ap, e);
	while ((id = va_arg(ap, const char *)))
		tb_u8(&body, (unsigned)strlen(id)), tb_mem(&body, id, strlen(id));
	va_end(ap);
	tb_u16(e, 0x0010);
	tb_u16(e, (unsigned)body.n + 2);
	tb_u16(e, (unsigned)body.n);
	tb_mem(e, body.b, body.n);
}

static inline void tb_ext_versions(struct tb *e, const uint16_t *v, size_t n)
{
	tb_u16(e, 0x002b);
	tb_u16(e, (unsigned)(1 + 2 * n));
	tb_u8(e, (unsigned)(2 * n));
	for (size_t i = 0; i < n; i++)
		tb_u16(e, v[i]);
}

/* A u16-length-prefixed u16 list extension (signature_algorithms,
 * supported_groups). */
static inline void tb_ext_u16list(struct tb *e, unsigned type, const uint16_t *v, size_t n)
{
	tb_u16(e, type);
	tb_u16(e, (unsigned)(2 + 2 * n));
	tb_u16(e, (unsigned)(2 * n));
	for (size_t i = 0; i < n; i++)
		tb_u16(e, v[i]);
}

/* ClientHello handshake message; exts == NULL leaves out the extensions
 * block (pre-TLS-1.0-extension style). */
static inline void tb_hello(struct tb *m, unsigned legacy_version, const uint16_t *ciphers,
                            size_t n_ciphers, const struct tb *exts)
{
	size_t body = 2 + 32 + 1 + 32 + 2 + 2 * n_ciphers + 2 + (exts ? 2 + exts->n : 0);

	tb_reset(m);
	tb_u8(m, 1);
	tb_u24(m, (unsigned)body);
	tb_u16(m, legacy_version);
	for (unsigned i = 0; i < 32; i++)
		tb_u8(m, 0xa0 + (i & 0x0f)); /* random */
	tb_u8(m, 32);
	for (unsigned i = 0; i < 32; i++)
		tb_u8(m, i); /* session id */
	tb_u16(m, (unsigned)(2 * n_ciphers));
	for (size_t i = 0; i < n_ciphers; i++)
		tb_u16(m, ciphers[i]);
	tb_u8(m, 1);
	tb_u8(m, 0);
	if (exts) {
		tb_u16(m, (unsigned)exts->n);
		tb_mem(m, exts->b, exts->n);
	}
}

/* Wrap a handshake message into handshake records of at most rec bytes of
 * payload each. */
static inline void tb_frame(struct tb *out, const uint8_t *msg, size_t len, size_t rec)
{
	tb_reset(out);
	for (size_t off = 0; off < len; off += rec) {
		size_t n = len - off < rec ? len - off : rec;
		tb_u8(out, 0x16);
		tb_u16(out, 0x0301);
		tb_u16(out, (unsigned)n);
		tb_mem(out, msg + off, n);
	}
}

#endif
