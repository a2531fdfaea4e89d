/* ClientHello message parser: one complete handshake message in, a
 * struct rw_tls_hello or a refusal out. Reassembly from records is in
 * rw_tls_record.c; this file never sees the record layer.
 *
 * Handshake message (RFC 8446 §4.1.2), all integers big-endian:
 *
 *   u8  msg_type = 1 | u24 length (= bytes that follow, exactly)
 *   u16 legacy_version (3.x)
 *   32  random
 *   u8  n | n bytes legacy_session_id        (n <= 32)
 *   u16 n | n bytes cipher_suites            (n even, >= 2; u16 each)
 *   u8  n | n bytes compression_methods      (n >= 1, must hold 0x00)
 *   [u16 n | n bytes extensions]             (absent in old hellos)
 *        extension: u16 type | u16 n | n bytes data
 *
 * Extensions are read in two passes (style habit 3): pass one checks the
 * framing, refuses duplicates and files the ones we read into a table;
 * pass two decodes only table entries. Unknown types are skipped, GREASE
 * included. Anything that does not add up is refused: a firewall that
 * guesses can be made to see a different hello than the server does. */
#include "inspect/rw_tls_hello.h"

#include <string.h>

#include "base/rw_cursor.h"
#include "base/rw_err.h"
#include "inspect/rw_tls_grease.h"
#include "inspect/rw_tls_hello_int.h"
#include "inspect/rw_tls_ja4.h"
#include "inspect/rw_tls_name.h"

#define RW_TLS_EXT_SERVER_NAME 0x0000
#define RW_TLS_EXT_SIG_ALGS 0x000d
#define RW_TLS_EXT_ALPN 0x0010
#define RW_TLS_EXT_PRE_SHARED_KEY 0x0029
#define RW_TLS_EXT_EARLY_DATA 0x002a
#define RW_TLS_EXT_SUPPORTED_VERSIONS 0x002b
#define RW_TLS_EXT_ECH 0xfe0d
#define RW_TLS_EXT_ESNI 0xffce

/* Table slots for the extensions pass two decodes. */
enum rw_tls_ext_slot {
	RW_TLS_SLOT_SERVER_NAME = 0,
	RW_TLS_SLOT_ALPN,
	RW_TLS_SLOT_SUPPORTED_VERSIONS,
	RW_TLS_SLOT_SIG_ALGS,
	RW_TLS_SLOT_MAX_
};

static int rw_tls_slot(uint16_t type)
{
	switch (type) {
	case RW_TLS_EXT_SERVER_NAME: return RW_TLS_SLOT_SERVER_NAME;
	case RW_TLS_EXT_ALPN: return RW_TLS_SLOT_ALPN;
	case RW_TLS_EXT_SUPPORTED_VERSIONS: return RW_TLS_SLOT_SUPPORTED_VERSIONS;
	case RW_TLS_EXT_SIG_ALGS: return RW_TLS_SLOT_SIG_ALGS;
	default: return -1;
	}
}

/* cipher_suites: u16 list, even length, at least one entry. */
static enum rw_tls_refuse rw_tls_ciphers(struct rw_cursor *c, struct rw_tls_hello_lists *l)
{
	uint16_t v;

	if (rw_cur_left(c) < 2 || rw_cur_left(c) % 2)
		return RW_TLS_REFUSE_MALFORMED;
	while (rw_cur_u16(c, &v) == 0) {
		if (rw_tls_is_grease(v))
			continue;
		if (l->n_ciphers == RW_TLS_MAX_CIPHERS)
			return RW_TLS_REFUSE_TOO_MANY_ITEMS;
		l->ciphers[l->n_ciphers++] = v;
	}
	return RW_TLS_REFUSE_NONE;
}

/* compression_methods: at least one, and "null" (0) must be offered. */
static enum rw_tls_refuse rw_tls_compression(struct rw_cursor *c)
{
	uint8_t m;
	bool null = false;

	if (rw_cur_left(c) == 0)
		return RW_TLS_REFUSE_MALFORMED;
	while (rw_cur_u8(c, &m) == 0)
		if (m == 0)
			null = true;
	return null ? RW_TLS_REFUSE_NONE : RW_TLS_REFUSE_MALFORMED;
}

/* server_name (RFC 6066 §3):
 *   u16 list_len | { u8 name_type | u16 n | n bytes name }+
 * Exactly one entry, of type host_name (0). Several entries are legal on
 * paper (one per type) but no client sends them and a second name is an
 * ambiguity an attacker could use against a server that picks the other. */
static enum rw_tls_refuse rw_tls_sni(struct rw_cursor ext, struct rw_tls_hello *h,
                                     struct rw_tls_hello_lists *l)
{
	struct rw_cursor list, name, first;
	uint8_t type, first_type = 0;
	size_t n = 0;

	if (rw_cur_sub16(&ext, &list) || rw_cur_left(&ext) || rw_cur_left(&list) == 0)
		return RW_TLS_REFUSE_MALFORMED;
	while (rw_cur_left(&list)) {
		if (rw_cur_u8(&list, &type) || rw_cur_sub16(&list, &name))
			return RW_TLS_REFUSE_MALFORMED;
		if (n++ == 0) {
			first = name;
			first_type = type;
		}
	}
	/* the refused name, as sent, for the caller's log */
	l->name = rw_cur_ptr(&first);
	l->name_len = rw_cur_left(&first);
	if (n > 1)
		return RW_TLS_REFUSE_MULTIPLE_NAMES;
	if (first_type != 0)
		return RW_TLS_REFUSE_BAD_NAME;
	if (rw_tls_name_check(&first, h->sni, sizeof(h->sni)))
		return RW_TLS_REFUSE_BAD_NAME;
	l->name = NULL;
	l->name_len = 0;
	h->sni_len = strlen(h->sni);
	return RW_TLS_REFUSE_NONE;
}

static bool rw_tls_alpn_grease(const uint8_t *id, size_t len)
{
	return len == 2 && rw_tls_is_grease((uint16_t)((id[0] << 8) | id[1]));
}

/* ALPN (RFC 7301): u16 list_len | { u8 n (>= 1) | n bytes id }+ */
static enum rw_tls_refuse rw_tls_alpn(struct rw_cursor ext, struct rw_tls_hello *h,
                                      struct rw_tls_hello_lists *l)
{
	struct rw_cursor list;
	const uint8_t *id;
	uint8_t n;

	if (rw_cur_sub16(&ext, &list) || rw_cur_left(&ext) || rw_cur_left(&list) == 0)
		return RW_TLS_REFUSE_MALFORMED;
	h->has_alpn = true;
	while (rw_cur_left(&list)) {
		if (rw_cur_u8(&list, &n) || n == 0 || rw_cur_bytes(&list, n, &id))
			return RW_TLS_REFUSE_MALFORMED;
		/* JA4 takes the first id as sent, GREASE or not (as FoxIO's
		 * implementations, which read it from Wireshark, do) */
		if (l->alpn0_len == 0) {
			l->alpn0_ends[0] = id[0];
			l->alpn0_ends[1] = id[n - 1];
			l->alpn0_len = n;
		}
		if (rw_tls_alpn_grease(id, n))
			continue;
		h->n_alpn_total++;
		if (h->n_alpn < RW_TLS_ALPN_MAX) {
			memcpy(h->alpn[h->n_alpn], id, n);
			h->alpn[h->n_alpn][n] = '\0';
			h->alpn_len[h->n_alpn] = n;
			h->n_alpn++;
		}
	}
	return RW_TLS_REFUSE_NONE;
}

/* supported_versions in a ClientHello: u8 len | u16 versions (>= 1) */
static enum rw_tls_refuse rw_tls_versions(struct rw_cursor ext, struct rw_tls_hello *h)
{
	struct rw_cursor list;
	uint16_t v;

	if (rw_cur_sub8(&ext, &list) || rw_cur_left(&ext) || rw_cur_left(&list) < 2 ||
	    rw_cur_left(&list) % 2)
		return RW_TLS_REFUSE_MALFORMED;
	h->has_supported_versions = true;
	while (rw_cur_u16(&list, &v) == 0) {
		if (rw_tls_is_grease(v))
			continue;
		h->n_versions_total++;
		if (h->n_versions < RW_TLS_VERSIONS_MAX)
			h->versions[h->n_versions++] = v;
		if (v > h->version)
			h->version = v;
	}
	/* only GREASE: no version to negotiate, and nothing for JA4 */
	if (h->n_versions_total == 0)
		return RW_TLS_REFUSE_BAD_VERSION;
	return RW_TLS_REFUSE_NONE;
}

/* signature_algorithms: u16 len | u16 schemes (>= 1), kept in wire order */
static enum rw_tls_refuse rw_tls_sigalgs(struct rw_cursor ext, struct rw_tls_hello_lists *l)
{
	struct rw_cursor list;
	uint16_t v;

	if (rw_cur_sub16(&ext, &list) || rw_cur_left(&ext) || rw_cur_left(&list) < 2 ||
	    rw_cur_left(&list) % 2)
		return RW_TLS_REFUSE_MALFORMED;
	while (rw_cur_u16(&list, &v) == 0) {
		if (rw_tls_is_grease(v))
			continue;
		if (l->n_sigalgs == RW_TLS_MAX_SIGALGS)
			return RW_TLS_REFUSE_TOO_MANY_ITEMS;
		l->sigalgs[l->n_sigalgs++] = v;
	}
	return RW_TLS_REFUSE_NONE;
}

static enum rw_tls_refuse rw_tls_extensions(struct rw_cursor *exts, struct rw_tls_hello *h,
                                            struct rw_tls_hello_lists *l)
{
	uint16_t seen[RW_TLS_MAX_EXTENSIONS];
	uint64_t seen_bits = 0; /* type & 63 seen: most types need no search */
	struct rw_cursor tb[RW_TLS_SLOT_MAX_];
	bool have[RW_TLS_SLOT_MAX_] = { false };
	size_t n_seen = 0;
	bool psk_seen = false;
	enum rw_tls_refuse r;

	/* pass one: framing, duplicates, order rules, table */
	while (rw_cur_left(exts)) {
		struct rw_cursor data;
		uint16_t type;
		int slot;

		if (rw_cur_u16(exts, &type) || rw_cur_sub16(exts, &data))
			return RW_TLS_REFUSE_MALFORMED;
		/* RFC 8446 §4.2.11: pre_shared_key must be the last extension */
		if (psk_seen)
			return RW_TLS_REFUSE_MALFORMED;
		uint64_t bit = UINT64_C(1) << (type & 63);
		if (seen_bits & bit)
			for (size_t i = 0; i < n_seen; i++)
				if (seen[i] == type)
					return RW_TLS_REFUSE_DUPLICATE_EXTENSION;
		seen_bits |= bit;
		if (n_seen == RW_TLS_MAX_EXTENSIONS)
			return RW_TLS_REFUSE_TOO_MANY_ITEMS;
		seen[n_seen++] = type;
		if (type == RW_TLS_EXT_PRE_SHARED_KEY)
			psk_seen = true;
		if (!rw_tls_is_grease(type))
			l->exts[l->n_exts++] = type;
		if (type == RW_TLS_EXT_ECH)
			h->ech = true;
		if (type == RW_TLS_EXT_ESNI)
			h->esni = true;
		if (type == RW_TLS_EXT_EARLY_DATA)
			h->early_data = true;
		slot = rw_tls_slot(type);
		if (slot >= 0) {
			tb[slot] = data;
			have[slot] = true;
		}
	}

	/* pass two: decode what the policy and JA4 read */
	if (have[RW_TLS_SLOT_SUPPORTED_VERSIONS] &&
	    (r = rw_tls_versions(tb[RW_TLS_SLOT_SUPPORTED_VERSIONS], h)))
		return r;
	if (have[RW_TLS_SLOT_SIG_ALGS] && (r = rw_tls_sigalgs(tb[RW_TLS_SLOT_SIG_ALGS], l)))
		return r;
	if (have[RW_TLS_SLOT_ALPN] && (r = rw_tls_alpn(tb[RW_TLS_SLOT_ALPN], h, l)))
		return r;
	if (have[RW_TLS_SLOT_SERVER_NAME] && (r = rw_tls_sni(tb[RW_TLS_SLOT_SERVER_NAME], h, l)))
		return r;
	return RW_TLS_REFUSE_NONE;
}

static enum rw_tls_refuse rw_tls_body(struct rw_cursor *c, struct rw_tls_hello *h,
                                      struct rw_tls_hello_lists *l)
{
	struct rw_cursor sid, ciphers, comp, exts;
	enum rw_tls_refuse r;

	if (rw_cur_u16(c, &h->legacy_version))
		return RW_TLS_REFUSE_MALFORMED;
	if ((h->legacy_version >> 8) != 3)
		return RW_TLS_REFUSE_BAD_VERSION;
	if (rw_cur_skip(c, 32) || rw_cur_sub8(c, &sid) || rw_cur_left(&sid) > 32 ||
	    rw_cur_sub16(c, &ciphers) || rw_cur_sub8(c, &comp))
		return RW_TLS_REFUSE_MALFORMED;
	if ((r = rw_tls_ciphers(&ciphers, l)) || (r = rw_tls_compression(&comp)))
		return r;
	if (rw_cur_left(c) == 0)
		return RW_TLS_REFUSE_NONE; /* pre-extension hello (TLS <= 1.2) */
	if (rw_cur_sub16(c, &exts) || rw_cur_left(c))
		return RW_TLS_REFUSE_MALFORMED;
	return rw_tls_extensions(&exts, h, l);
}

/* JA4 from what the parse kept. The ALPN id is passed as its two ends:
 * JA4 reads nothing else of it, and the id itself may have been parsed in
 * a buffer that is gone by now. */
int rw_tls_hello_ja4_from(const struct rw_tls_hello *h, const struct rw_tls_hello_lists *l,
                          char out[RW_TLS_JA4_LEN + 1])
{
	struct rw_tls_ja4_input in = {
		.version = h->version,
		.sni = h->sni_len > 0,
		.alpn0 = l->alpn0_len ? l->alpn0_ends : NULL,
		.alpn0_len = l->alpn0_len > 2 ? 2 : l->alpn0_len,
		.ciphers = l->ciphers,
		.n_ciphers = l->n_ciphers,
		.exts = l->exts,
		.n_exts = l->n_exts,
		.sigalgs = l->sigalgs,
		.n_sigalgs = l->n_sigalgs,
	};
	return rw_tls_ja4(&in, out);
}

enum rw_tls_refuse rw_tls_hello_parse_msg(const uint8_t *msg, size_t len, struct rw_tls_hello *h,
                                          struct rw_tls_hello_lists *l)
{
	struct rw_cursor c, body;
	enum rw_tls_refuse r;
	uint8_t type;
	uint32_t n;

	l->n_ciphers = l->n_exts = l->n_sigalgs = 0;
	l->alpn0_len = 0;
	l->name = NULL;
	l->name_len = 0;

	rw_cur_init(&c, msg, len);
	if (rw_cur_u8(&c, &type))
		return RW_TLS_REFUSE_MALFORMED;
	if (type != 1)
		return RW_TLS_REFUSE_NOT_CLIENT_HELLO;
	if (rw_cur_u24(&c, &n) || n != rw_cur_left(&c) || rw_cur_sub(&c, n, &body))
		return RW_TLS_REFUSE_MALFORMED;
	if ((r = rw_tls_body(&body, h, l)))
		return r;
	if (!h->has_supported_versions)
		h->version = h->legacy_version;
	h->n_ciphers = l->n_ciphers;
	h->n_extensions = l->n_exts;
	h->hello_len = len;
	return RW_TLS_REFUSE_NONE;
}

enum rw_tls_refuse rw_tls_hello_parse(const uint8_t *msg, size_t len, struct rw_tls_hello *out)
{
	/* the lists are ~2 KB: this entry point is for OpenSSL's msg
	 * callback (terminate mode), not a tight loop, so the stack is fine */
	struct rw_tls_hello_lists lists;
	enum rw_tls_refuse r;

	memset(out, 0, sizeof(*out));
	r = rw_tls_hello_parse_msg(msg, len, out, &lists);
	/* The lists are within their caps by construction, so a JA4 failure
	 * is the hash itself; treat the hello as unreadable rather than pass
	 * it without a fingerprint. */
	if (r == RW_TLS_REFUSE_NONE && rw_tls_hello_ja4_from(out, &lists, out->ja4))
		r = RW_TLS_REFUSE_MALFORMED;
	if (r)
		memset(out, 0, sizeof(*out));
	return r;
}

enum rw_tls_refuse rw_tls_hello_check_sni(const struct rw_tls_hello *h)
{
	return h->sni_len ? RW_TLS_REFUSE_NONE : RW_TLS_REFUSE_NO_SNI;
}
