/* Record layer: reassemble the ClientHello handshake message from the raw
 * client-to-server byte stream, however it was cut into TCP segments and
 * TLS records, into the parser's own buffer.
 *
 * TLSPlaintext (RFC 8446 §5.1):
 *
 *   u8  content_type  (22 = handshake; anything else before the hello is
 *                      complete is refused)
 *   u16 legacy_record_version (0x0300..0x0304; otherwise ignored)
 *   u16 length        (1..16384)
 *   length bytes      fragment of the handshake message
 *
 * The handshake message's own header (u8 type, u24 length) says how many
 * payload bytes to collect across records. Every decision is taken at a
 * fixed byte position of the stream, so the answer cannot depend on how
 * the stream was segmented: that is what the differential tests check.
 *
 * An SSLv2-compatible hello starts with a 2-byte header whose top bit is
 * set, followed by msg_type 1: (b0 & 0x80) && b2 == 1. */
#include "inspect/rw_tls_hello.h"

#include <string.h>

#include "base/rw_cursor.h"
#include "base/rw_err.h"
#include "inspect/rw_tls_hello_int.h"

#define RW_TLS_CT_HANDSHAKE 22
#define RW_TLS_RECORD_MAX 16384u
/* Smallest ClientHello body: version, random, empty session id, one
 * cipher suite, one compression method. */
#define RW_TLS_HELLO_BODY_MIN (2u + 32u + 1u + 2u + 2u + 1u + 1u)

void rw_tls_hello_limits_default(struct rw_tls_hello_limits *lim)
{
	lim->max_hello = RW_TLS_HELLO_BUF;
	lim->max_records = RW_TLS_HELLO_DEFAULT_MAX_RECORDS;
}

int rw_tls_hello_init(struct rw_tls_hello_parser *p, const struct rw_tls_hello_limits *lim)
{
	int err = 0;

	memset(p, 0, offsetof(struct rw_tls_hello_parser, lists));
	p->result = RW_INSPECT_MORE;
	p->refuse = RW_TLS_REFUSE_NONE;
	rw_tls_hello_limits_default(&p->lim);
	if (lim) {
		if (lim->max_hello < 4 + RW_TLS_HELLO_BODY_MIN || lim->max_hello > RW_TLS_HELLO_BUF ||
		    lim->max_records < 1 || lim->max_records > RW_TLS_HELLO_MAX_RECORDS_CAP)
			err = RW_ERANGE;
		else
			p->lim = *lim;
	}
	return err;
}

void rw_tls_hello_defer_ja4(struct rw_tls_hello_parser *p)
{
	p->ja4_deferred = true;
}

int rw_tls_hello_ja4(const struct rw_tls_hello_parser *p, char out[RW_TLS_JA4_LEN + 1])
{
	out[0] = '\0';
	if (p->result != RW_INSPECT_OK)
		return RW_EINVAL;
	if (p->hello.ja4[0]) {
		memcpy(out, p->hello.ja4, RW_TLS_JA4_LEN + 1);
		return 0;
	}
	int err = rw_tls_hello_ja4_from(&p->hello, &p->lists, out);
	if (err)
		out[0] = '\0';
	return err;
}

static enum rw_inspect_result rw_tls_refuse_with(struct rw_tls_hello_parser *p,
                                                 enum rw_tls_refuse why)
{
	p->refuse = why;
	p->result = RW_INSPECT_REFUSE;
	memset(&p->hello, 0, sizeof(p->hello));
	return p->result;
}

/* Decide on the first bytes of the stream: a TLS handshake record, an
 * SSLv2 hello, or something else. Needs up to 3 bytes; returns
 * RW_TLS_REFUSE_MAX_ to ask for more. */
static enum rw_tls_refuse rw_tls_sniff(const uint8_t *hdr, size_t have)
{
	if (have < 1)
		return RW_TLS_REFUSE_MAX_;
	if (hdr[0] & 0x80) {
		if (have < 3)
			return RW_TLS_REFUSE_MAX_;
		return hdr[2] == 1 ? RW_TLS_REFUSE_SSLV2_HELLO : RW_TLS_REFUSE_NOT_TLS;
	}
	if (hdr[0] != RW_TLS_CT_HANDSHAKE)
		return RW_TLS_REFUSE_NOT_TLS;
	if (have < 2)
		return RW_TLS_REFUSE_MAX_;
	if (hdr[1] != 3)
		return RW_TLS_REFUSE_NOT_TLS;
	if (have < 3)
		return RW_TLS_REFUSE_MAX_;
	return hdr[2] <= 4 ? RW_TLS_REFUSE_NONE : RW_TLS_REFUSE_NOT_TLS;
}

/* A complete 5-byte record header. */
static enum rw_tls_refuse rw_tls_record_header(struct rw_tls_hello_parser *p)
{
	struct rw_cursor c;
	uint8_t type, major, minor;
	uint16_t len;

	rw_cur_init(&c, p->rec_hdr, sizeof(p->rec_hdr));
	(void)(rw_cur_u8(&c, &type) || rw_cur_u8(&c, &major) || rw_cur_u8(&c, &minor) ||
	       rw_cur_u16(&c, &len));
	if (type != RW_TLS_CT_HANDSHAKE)
		return RW_TLS_REFUSE_INTERLEAVED_RECORD;
	if (major != 3 || minor > 4)
		return RW_TLS_REFUSE_MALFORMED;
	if (len == 0)
		return RW_TLS_REFUSE_EMPTY_RECORD;
	if (len > RW_TLS_RECORD_MAX)
		return RW_TLS_REFUSE_RECORD_TOO_LARGE;
	if (++p->n_records > p->lim.max_records)
		return RW_TLS_REFUSE_TOO_MANY_RECORDS;
	p->rec_left = len;
	return RW_TLS_REFUSE_NONE;
}

/* The 4-byte handshake header has just been collected. */
static enum rw_tls_refuse rw_tls_handshake_header(struct rw_tls_hello_parser *p)
{
	struct rw_cursor c;
	uint8_t type;
	uint32_t len;

	rw_cur_init(&c, p->hs, 4);
	(void)(rw_cur_u8(&c, &type) || rw_cur_u24(&c, &len));
	if (type != 1)
		return RW_TLS_REFUSE_NOT_CLIENT_HELLO;
	if (len > p->lim.max_hello - 4)
		return RW_TLS_REFUSE_HELLO_TOO_LARGE;
	if (len < RW_TLS_HELLO_BODY_MIN)
		return RW_TLS_REFUSE_MALFORMED;
	p->hs_need = 4 + len;
	return RW_TLS_REFUSE_NONE;
}

/* The whole message is in msg (the parser's buffer or the caller's). */
static enum rw_inspect_result rw_tls_message(struct rw_tls_hello_parser *p, const uint8_t *msg,
                                             uint32_t len)
{
	enum rw_tls_refuse r;

	/* hello was zeroed by init and is written once, here */
	if ((r = rw_tls_hello_parse_msg(msg, len, &p->hello, &p->lists))) {
		if (p->lists.name && (r == RW_TLS_REFUSE_BAD_NAME || r == RW_TLS_REFUSE_MULTIPLE_NAMES)) {
			size_t keep = p->lists.name_len;
			if (keep > sizeof(p->refused_name))
				keep = sizeof(p->refused_name);
			memcpy(p->refused_name, p->lists.name, keep);
			p->refused_name_len = p->lists.name_len;
		}
		return rw_tls_refuse_with(p, r);
	}
	/* eager JA4: a hash failure makes the hello unreadable, as in
	 * rw_tls_hello_parse() */
	if (!p->ja4_deferred && rw_tls_hello_ja4_from(&p->hello, &p->lists, p->hello.ja4))
		return rw_tls_refuse_with(p, RW_TLS_REFUSE_MALFORMED);
	p->raw = msg;
	p->result = RW_INSPECT_OK;
	return p->result;
}

/* The common case: a fresh parser is handed the first record whole, and
 * that record holds exactly the whole ClientHello. Then every check the
 * byte-wise path below would make is made here on the same bytes, and the
 * message is parsed where it lies instead of being copied. Anything else
 * (fragments, several records, trailing bytes, any refusal) returns false
 * without touching the parser and takes the general path, which gives the
 * answer and the refusal code. */
static bool rw_tls_whole_record(struct rw_tls_hello_parser *p, const uint8_t *data, size_t len,
                                enum rw_inspect_result *res)
{
	struct rw_cursor c, rec;
	uint8_t type, major, minor, hs_type;
	uint16_t rec_len;
	uint32_t hs_len;

	if (p->consumed != 0)
		return false;
	rw_cur_init(&c, data, len);
	if (rw_cur_u8(&c, &type) || rw_cur_u8(&c, &major) || rw_cur_u8(&c, &minor) ||
	    rw_cur_u16(&c, &rec_len))
		return false;
	if (type != RW_TLS_CT_HANDSHAKE || major != 3 || minor > 4 || rec_len == 0 ||
	    rec_len > RW_TLS_RECORD_MAX || p->lim.max_records < 1)
		return false;
	if (rw_cur_sub(&c, rec_len, &rec))
		return false; /* record not complete in this feed */
	if (rw_cur_u8(&rec, &hs_type) || rw_cur_u24(&rec, &hs_len) || hs_type != 1 ||
	    hs_len > p->lim.max_hello - 4 || hs_len < RW_TLS_HELLO_BODY_MIN ||
	    hs_len != rw_cur_left(&rec))
		return false;
	p->n_records = 1;
	p->consumed = c.off;
	p->hs_need = p->hs_have = 4 + hs_len;
	*res = rw_tls_message(p, rec.buf, p->hs_have);
	return true;
}

enum rw_inspect_result rw_tls_hello_feed(struct rw_tls_hello_parser *p, const uint8_t *data,
                                         size_t len)
{
	struct rw_cursor in;
	enum rw_tls_refuse r;
	enum rw_inspect_result res;

	if (p->result != RW_INSPECT_MORE)
		return p->result;
	if (rw_tls_whole_record(p, data, len, &res))
		return res;
	rw_cur_init(&in, data, len);

	while (rw_cur_left(&in)) {
		if (p->rec_left == 0) {
			/* between records: collect the next header byte by byte */
			if (rw_cur_u8(&in, &p->rec_hdr[p->rec_hdr_have]))
				break;
			p->rec_hdr_have++;
			p->consumed++;
			if (p->n_records == 0) {
				r = rw_tls_sniff(p->rec_hdr, p->rec_hdr_have);
				if (r != RW_TLS_REFUSE_NONE && r != RW_TLS_REFUSE_MAX_)
					return rw_tls_refuse_with(p, r);
			}
			if (p->rec_hdr_have < sizeof(p->rec_hdr))
				continue;
			p->rec_hdr_have = 0;
			if ((r = rw_tls_record_header(p)))
				return rw_tls_refuse_with(p, r);
			continue;
		}

		/* inside a record: copy payload up to the end of the handshake
		 * header first, then up to the end of the message */
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

		if (p->hs_need == 0 && p->hs_have == 4 && (r = rw_tls_handshake_header(p)))
			return rw_tls_refuse_with(p, r);
		if (p->hs_need && p->hs_have == p->hs_need) {
			/* the message is whole; its record must end with it, since
			 * nothing may follow a ClientHello before the server answers */
			if (p->rec_left)
				return rw_tls_refuse_with(p, RW_TLS_REFUSE_TRAILING_DATA);
			return rw_tls_message(p, p->hs, p->hs_have);
		}
	}
	return RW_INSPECT_MORE;
}

const uint8_t *rw_tls_hello_raw(const struct rw_tls_hello_parser *p, size_t *len)
{
	if (p->result != RW_INSPECT_OK) {
		*len = 0;
		return NULL;
	}
	*len = p->hs_have;
	return p->raw;
}

const char *rw_tls_refuse_str(enum rw_tls_refuse r)
{
	static const char *const names[RW_TLS_REFUSE_MAX_] = {
		[RW_TLS_REFUSE_NONE] = "none",
		[RW_TLS_REFUSE_NOT_TLS] = "not_tls",
		[RW_TLS_REFUSE_SSLV2_HELLO] = "sslv2_hello",
		[RW_TLS_REFUSE_BAD_VERSION] = "bad_version",
		[RW_TLS_REFUSE_RECORD_TOO_LARGE] = "record_too_large",
		[RW_TLS_REFUSE_EMPTY_RECORD] = "empty_record",
		[RW_TLS_REFUSE_INTERLEAVED_RECORD] = "interleaved_record",
		[RW_TLS_REFUSE_TOO_MANY_RECORDS] = "too_many_records",
		[RW_TLS_REFUSE_HELLO_TOO_LARGE] = "hello_too_large",
		[RW_TLS_REFUSE_NOT_CLIENT_HELLO] = "not_client_hello",
		[RW_TLS_REFUSE_TRAILING_DATA] = "trailing_data",
		[RW_TLS_REFUSE_MALFORMED] = "malformed",
		[RW_TLS_REFUSE_DUPLICATE_EXTENSION] = "duplicate_extension",
		[RW_TLS_REFUSE_TOO_MANY_ITEMS] = "too_many_items",
		[RW_TLS_REFUSE_MULTIPLE_NAMES] = "multiple_names",
		[RW_TLS_REFUSE_BAD_NAME] = "bad_name",
		[RW_TLS_REFUSE_NO_SNI] = "no_sni",
		[RW_TLS_REFUSE_NOT_SERVER_HELLO] = "not_server_hello",
		[RW_TLS_REFUSE_ALERT] = "alert",
	};
	if ((unsigned)r >= RW_TLS_REFUSE_MAX_ || !names[r])
		return "unknown";
	return names[r];
}
