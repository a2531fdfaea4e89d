/* ServerHello parser: reassemble the server's first handshake message
 * from its byte stream and say whether it is a HelloRetryRequest.
 *
 * Record layer as for the ClientHello (rw_tls_record.c): u8 type = 22 |
 * u16 version 3.0..3.4 | u16 length 1..16384 | fragment. Unlike a
 * ClientHello, more may follow the message in its record (TLS 1.2 packs
 * Certificate etc. behind it): parsing stops at the message's end.
 *
 * Handshake message (RFC 8446 §4.1.3; TLS 1.2 RFC 5246 §7.4.1.3):
 *
 *   u8  msg_type = 2 | u24 length (= bytes that follow, exactly)
 *   u16 legacy_version (3.x)
 *   32  random               (HRR: SHA-256("HelloRetryRequest"))
 *   u8  n | n bytes legacy_session_id_echo   (n <= 32)
 *   u16 cipher_suite
 *   u8  legacy_compression_method
 *   [u16 n | n bytes extensions]             (absent in old ServerHellos)
 *        extension: u16 type | u16 n | n bytes data
 *   supported_versions 0x002b: u16 selected_version          (n = 2)
 *   key_share 0x0033: HRR: u16 selected_group                (n = 2)
 *                     else: u16 group | u16 m | m bytes key  (m >= 1)
 *   cookie 0x002c (HRR): u16 m | m bytes                      (m >= 1)
 *
 * Extensions in two passes (style habit 3): framing and duplicates into a
 * table, then only the known ones decoded. */
#include "inspect/rw_tls_server_hello.h"

#include <string.h>

#include "base/rw_cursor.h"

#define RW_TLS_CT_HANDSHAKE 22
#define RW_TLS_CT_ALERT 21
#define RW_TLS_RECORD_MAX 16384u
#define RW_TLS_EXT_COOKIE 0x002c
#define RW_TLS_EXT_SUPPORTED_VERSIONS 0x002b
#define RW_TLS_EXT_KEY_SHARE 0x0033
/* version, random, session id length, cipher, compression */
#define RW_TLS_SH_BODY_MIN (2u + 32u + 1u + 2u + 1u)

const uint8_t rw_tls_hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

enum rw_tls_sh_slot {
	RW_TLS_SH_SLOT_VERSIONS = 0,
	RW_TLS_SH_SLOT_KEY_SHARE,
	RW_TLS_SH_SLOT_COOKIE,
	RW_TLS_SH_SLOT_MAX_
};

static int rw_tls_sh_slot(uint16_t type)
{
	switch (type) {
	case RW_TLS_EXT_SUPPORTED_VERSIONS: return RW_TLS_SH_SLOT_VERSIONS;
	case RW_TLS_EXT_KEY_SHARE: return RW_TLS_SH_SLOT_KEY_SHARE;
	case RW_TLS_EXT_COOKIE: return RW_TLS_SH_SLOT_COOKIE;
	default: return -1;
	}
}

static enum rw_tls_refuse rw_tls_sh_extensions(struct rw_cursor *exts,
                                               struct rw_tls_server_hello *sh)
{
	uint16_t seen[RW_TLS_SH_MAX_EXTENSIONS];
	struct rw_cursor tb[RW_TLS_SH_SLOT_MAX_], list;
	bool have[RW_TLS_SH_SLOT_MAX_] = { false };
	size_t n_seen = 0;

	while (rw_cur_left(exts)) {
		struct rw_cursor data;
		uint16_t type;
		int slot;

		if (rw_cur_u16(exts, &type) || rw_cur_sub16(exts, &data))
			return RW_TLS_REFUSE_MALFORMED;
		for (size_t i = 0; i < n_seen; i++)
			if (seen[i] == type)
				return RW_TLS_REFUSE_DUPLICATE_EXTENSION;
		if (n_seen == RW_TLS_SH_MAX_EXTENSIONS)
			return RW_TLS_REFUSE_TOO_MANY_ITEMS;
		seen[n_seen++] = type;
		slot = rw_tls_sh_slot(type);
		if (slot >= 0) {
			tb[slot] = data;
			have[slot] = true;
		}
	}
	sh->n_extensions = n_seen;

	if (have[RW_TLS_SH_SLOT_VERSIONS]) {
		struct rw_cursor *c = &tb[RW_TLS_SH_SLOT_VERSIONS];
		if (rw_cur_u16(c, &sh->version) || rw_cur_left(c))
			return RW_TLS_REFUSE_MALFORMED;
		if ((sh->version >> 8) != 3)
			return RW_TLS_REFUSE_BAD_VERSION;
		sh->has_supported_versions = true;
	}
	if (have[RW_TLS_SH_SLOT_KEY_SHARE]) {
		struct rw_cursor *c = &tb[RW_TLS_SH_SLOT_KEY_SHARE];
		if (rw_cur_u16(c, &sh->group))
			return RW_TLS_REFUSE_MALFORMED;
		if (!sh->hrr && (rw_cur_sub16(c, &list) || rw_cur_left(&list) == 0))
			return RW_TLS_REFUSE_MALFORMED;
		if (rw_cur_left(c))
			return RW_TLS_REFUSE_MALFORMED;
	}
	if (have[RW_TLS_SH_SLOT_COOKIE]) {
		struct rw_cursor *c = &tb[RW_TLS_SH_SLOT_COOKIE];
		if (rw_cur_sub16(c, &list) || rw_cur_left(c) || rw_cur_left(&list) == 0)
			return RW_TLS_REFUSE_MALFORMED;
		sh->cookie_len = rw_cur_left(&list);
	}
	return RW_TLS_REFUSE_NONE;
}

static enum rw_tls_refuse rw_tls_sh_body(struct rw_cursor *c, struct rw_tls_server_hello *sh)
{
	struct rw_cursor sid, exts;
	const uint8_t *random;
	uint8_t comp;

	if (rw_cur_u16(c, &sh->legacy_version))
		return RW_TLS_REFUSE_MALFORMED;
	if ((sh->legacy_version >> 8) != 3)
		return RW_TLS_REFUSE_BAD_VERSION;
	if (rw_cur_bytes(c, 32, &random) || rw_cur_sub8(c, &sid) || rw_cur_left(&sid) > 32 ||
	    rw_cur_u16(c, &sh->cipher) || rw_cur_u8(c, &comp))
		return RW_TLS_REFUSE_MALFORMED;
	sh->hrr = memcmp(random, rw_tls_hrr_random, 32) == 0;
	if (rw_cur_left(c) == 0)
		return RW_TLS_REFUSE_NONE; /* pre-extension ServerHello (TLS <= 1.2) */
	if (rw_cur_sub16(c, &exts) || rw_cur_left(c))
		return RW_TLS_REFUSE_MALFORMED;
	return rw_tls_sh_extensions(&exts, sh);
}

enum rw_tls_refuse rw_tls_sh_parse(const uint8_t *msg, size_t len, struct rw_tls_server_hello *out)
{
	struct rw_cursor c, body;
	enum rw_tls_refuse r;
	uint8_t type;
	uint32_t n;

	memset(out, 0, sizeof(*out));
	rw_cur_init(&c, msg, len);
	if (rw_cur_u8(&c, &type))
		return RW_TLS_REFUSE_MALFORMED;
	if (type != 2)
		return RW_TLS_REFUSE_NOT_SERVER_HELLO;
	if (rw_cur_u24(&c, &n) || n != rw_cur_left(&c) || rw_cur_sub(&c, n, &body))
		return RW_TLS_REFUSE_MALFORMED;
	r = rw_tls_sh_body(&body, out);
	/* an HRR without supported_versions is no TLS 1.3 message (§4.1.4) */
	if (r == RW_TLS_REFUSE_NONE && out->hrr && !out->has_supported_versions)
		r = RW_TLS_REFUSE_MALFORMED;
	if (r) {
		memset(out, 0, sizeof(*out));
		return r;
	}
	if (!out->has_supported_versions)
		out->version = out->legacy_version;
	out->msg_len = len;
	return RW_TLS_REFUSE_NONE;
}

void rw_tls_sh_init(struct rw_tls_sh_parser *p)
{
	memset(p, 0, offsetof(struct rw_tls_sh_parser, hs));
	p->result = RW_INSPECT_MORE;
}

static enum rw_inspect_result rw_tls_sh_refuse(struct rw_tls_sh_parser *p, enum rw_tls_refuse why)
{
	p->refuse = why;
	p->result = RW_INSPECT_REFUSE;
	memset(&p->sh, 0, sizeof(p->sh));
	return p->result;
}

/* Byte i (0..2) of the first record header: decided as soon as it is
 * seen, so the answer does not depend on segmentation. */
static enum rw_tls_refuse rw_tls_sh_sniff(const uint8_t *hdr, size_t have)
{
	if (hdr[0] == RW_TLS_CT_ALERT)
		return RW_TLS_REFUSE_ALERT;
	if (hdr[0] != RW_TLS_CT_HANDSHAKE)
		return hdr[0] >= 20 && hdr[0] <= 23 ? RW_TLS_REFUSE_INTERLEAVED_RECORD
		                                    : RW_TLS_REFUSE_NOT_TLS;
	if (have >= 2 && hdr[1] != 3)
		return RW_TLS_REFUSE_NOT_TLS;
	if (have >= 3 && hdr[2] > 4)
		return RW_TLS_REFUSE_NOT_TLS;
	return RW_TLS_REFUSE_NONE;
}

static enum rw_tls_refuse rw_tls_sh_record(struct rw_tls_sh_parser *p)
{
	uint16_t len = (uint16_t)((p->rec_hdr[3] << 8) | p->rec_hdr[4]);

	if (p->rec_hdr[0] == RW_TLS_CT_ALERT && p->n_records == 0)
		return RW_TLS_REFUSE_ALERT;
	if (p->rec_hdr[0] != RW_TLS_CT_HANDSHAKE)
		return RW_TLS_REFUSE_INTERLEAVED_RECORD;
	if (p->rec_hdr[1] != 3 || p->rec_hdr[2] > 4)
		return RW_TLS_REFUSE_MALFORMED;
	if (len == 0)
		return RW_TLS_REFUSE_EMPTY_RECORD;
	if (len > RW_TLS_RECORD_MAX)
		return RW_TLS_REFUSE_RECORD_TOO_LARGE;
	if (++p->n_records > RW_TLS_SH_MAX_RECORDS)
		return RW_TLS_REFUSE_TOO_MANY_RECORDS;
	p->rec_left = len;
	return RW_TLS_REFUSE_NONE;
}

static enum rw_tls_refuse rw_tls_sh_header(struct rw_tls_sh_parser *p)
{
	uint32_t len = ((uint32_t)p->hs[1] << 16) | ((uint32_t)p->hs[2] << 8) | p->hs[3];

	if (p->hs[0] != 2)
		return RW_TLS_REFUSE_NOT_SERVER_HELLO;
	if (len > RW_TLS_SH_MAX - 4)
		return RW_TLS_REFUSE_HELLO_TOO_LARGE;
	if (len < RW_TLS_SH_BODY_MIN)
		return RW_TLS_REFUSE_MALFORMED;
	p->hs_need = 4 + len;
	return RW_TLS_REFUSE_NONE;
}

enum rw_inspect_result rw_tls_sh_feed(struct rw_tls_sh_parser *p, const uint8_t *data, size_t len)
{
	struct rw_cursor in;
	enum rw_tls_refuse r;

	if (p->result != RW_INSPECT_MORE)
		return p->result;
	rw_cur_init(&in, data, len);
	while (rw_cur_left(&in)) {
		if (p->rec_left == 0) {
			if (rw_cur_u8(&in, &p->rec_hdr[p->rec_hdr_have]))
				break;
			p->rec_hdr_have++;
			p->consumed++;
			if (p->n_records == 0 &&
			    (r = rw_tls_sh_sniff(p->rec_hdr, p->rec_hdr_have)))
				return rw_tls_sh_refuse(p, r);
			if (p->rec_hdr_have < sizeof(p->rec_hdr))
				continue;
			p->rec_hdr_have = 0;
			if ((r = rw_tls_sh_record(p)))
				return rw_tls_sh_refuse(p, r);
			continue;
		}
		uint32_t want = (p->hs_need ? p->hs_need : 4) - p->hs_have;
		size_t n = rw_cur_left(&in);
		if (n > p->rec_left)
			n = p->rec_left;
		if (n > want)
			n = want;
		if (rw_cur_copy(&in, p->hs + p->hs_have, n))
			break;
		p->hs_have += (uint32_t)n;
		p->rec_left -= n;
		p->consumed += n;
		if (p->hs_need == 0 && p->hs_have == 4 && (r = rw_tls_sh_header(p)))
			return rw_tls_sh_refuse(p, r);
		if (p->hs_need && p->hs_have == p->hs_need) {
			if ((r = rw_tls_sh_parse(p->hs, p->hs_have, &p->sh)))
				return rw_tls_sh_refuse(p, r);
			p->result = RW_INSPECT_OK;
			return p->result;
		}
	}
	return RW_INSPECT_MORE;
}
