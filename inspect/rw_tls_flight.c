/* The records a later flight may carry before its hello (see
 * rw_tls_flight_prefix() in rw_tls_server_hello.h):
 *
 *   ChangeCipherSpec:  14 | 03 0x | 00 01 | 01        at most one (§D.4)
 *   application_data:  17 | 03 0x | u16 1..16640 | .. 0-RTT, only if allowed
 *   handshake:         16 | ...                        the hello: stop here
 *
 * Stateless: the buffered stream is walked from its start each call, one
 * record header at a time, so the cost is the number of records (capped),
 * not the bytes. */
#include "inspect/rw_tls_server_hello.h"

#include "base/rw_cursor.h"

#define RW_TLS_CT_CCS 20
#define RW_TLS_CT_ALERT 21
#define RW_TLS_CT_HANDSHAKE 22
#define RW_TLS_CT_APPDATA 23
/* TLSCiphertext may exceed the plaintext limit by 256 (RFC 8446 §5.2) */
#define RW_TLS_CIPHERTEXT_MAX (16384u + 256u)

enum rw_inspect_result rw_tls_flight_prefix(const uint8_t *buf, size_t len, bool allow_appdata,
                                            size_t *skip, enum rw_tls_refuse *why)
{
	struct rw_cursor c, body;
	unsigned n_ccs = 0, n_rec = 0;

	*skip = 0;
	*why = RW_TLS_REFUSE_NONE;
	rw_cur_init(&c, buf, len);
	for (;;) {
		uint8_t type, major, minor, v;
		uint16_t rlen = 0;

		if (rw_cur_peek_u8(&c, 0, &type))
			return RW_INSPECT_MORE;
		if (type == RW_TLS_CT_HANDSHAKE) {
			*skip = c.off;
			return RW_INSPECT_OK;
		}
		if (type == RW_TLS_CT_ALERT) {
			*why = RW_TLS_REFUSE_ALERT;
			return RW_INSPECT_REFUSE;
		}
		if (type != RW_TLS_CT_CCS && !(type == RW_TLS_CT_APPDATA && allow_appdata)) {
			*why = type == RW_TLS_CT_APPDATA ? RW_TLS_REFUSE_INTERLEAVED_RECORD
			                                 : RW_TLS_REFUSE_NOT_TLS;
			return RW_INSPECT_REFUSE;
		}
		if (rw_cur_peek_u8(&c, 1, &major))
			return RW_INSPECT_MORE;
		if (major != 3) {
			*why = RW_TLS_REFUSE_NOT_TLS;
			return RW_INSPECT_REFUSE;
		}
		if (rw_cur_peek_u8(&c, 2, &minor))
			return RW_INSPECT_MORE;
		if (minor > 4) {
			*why = RW_TLS_REFUSE_NOT_TLS;
			return RW_INSPECT_REFUSE;
		}
		if (rw_cur_left(&c) < 5)
			return RW_INSPECT_MORE;
		(void)(rw_cur_skip(&c, 3) || rw_cur_u16(&c, &rlen));
		if (++n_rec > RW_TLS_HELLO_DEFAULT_MAX_RECORDS) {
			*why = RW_TLS_REFUSE_TOO_MANY_RECORDS;
			return RW_INSPECT_REFUSE;
		}
		if (type == RW_TLS_CT_CCS) {
			/* the one legal CCS body; a second CCS has no use here */
			if (rlen != 1 || ++n_ccs > 1) {
				*why = RW_TLS_REFUSE_MALFORMED;
				return RW_INSPECT_REFUSE;
			}
		} else if (rlen == 0 || rlen > RW_TLS_CIPHERTEXT_MAX) {
			*why = rlen ? RW_TLS_REFUSE_RECORD_TOO_LARGE : RW_TLS_REFUSE_EMPTY_RECORD;
			return RW_INSPECT_REFUSE;
		}
		if (rw_cur_sub(&c, rlen, &body))
			return RW_INSPECT_MORE;
		if (type == RW_TLS_CT_CCS && (rw_cur_u8(&body, &v) || v != 1)) {
			*why = RW_TLS_REFUSE_MALFORMED;
			return RW_INSPECT_REFUSE;
		}
	}
}
