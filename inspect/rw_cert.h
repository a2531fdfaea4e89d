/* Client certificate -> identity (inspect/, part 4).
 *
 * fwd/ calls rw_cert_identity() once per verified handshake with the peer
 * certificate (SSL_get0_peer_certificate) and then rules/rw_ident_find()
 * with the policy's identities. Chain verification, CRL and expiry checks
 * are OpenSSL's job in fwd/; this module only turns an already verified
 * certificate into plain values and matches them against selectors.
 *
 * struct rw_cert_id is self-contained (fixed buffers, no pointers into the
 * X509), so the X509 may be freed right after extraction.
 *
 * Subject DN form: RFC 2253 as printed by X509_NAME_print_ex() with
 * XN_FLAG_RFC2253 minus ASN1_STRFLGS_ESC_MSB, i.e. what
 * `openssl x509 -noout -subject -nameopt RFC2253,-esc_msb` prints: most
 * significant RDN last, RFC 2253 escaping, non-ASCII kept as UTF-8 (so a
 * config written in UTF-8 can name it) and control bytes escaped as \XX. */
#ifndef RW_CERT_H
#define RW_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>


#define RW_CERT_DN_MAX 512   /* RFC 2253 subject incl. NUL; longer -> refused */
#define RW_CERT_CN_MAX 256   /* 64 characters of up to 4 UTF-8 bytes, + NUL */
#define RW_CERT_SAN_MAX 16   /* entries kept per SAN kind; more -> refused */
#define RW_CERT_SAN_LEN 256  /* one SAN value incl. NUL; longer -> refused */

struct rw_cert_id {
	char subject[RW_CERT_DN_MAX];
	char cn[RW_CERT_CN_MAX]; /* "" when has_cn is false */
	bool has_cn;
	char dns[RW_CERT_SAN_MAX][RW_CERT_SAN_LEN];
	size_t n_dns;
	char uri[RW_CERT_SAN_MAX][RW_CERT_SAN_LEN];
	size_t n_uri;
	char email[RW_CERT_SAN_MAX][RW_CERT_SAN_LEN];
	size_t n_email;
	/* iPAddress SANs as the octets on the wire: 4 (IPv4) or 16 (IPv6) */
	uint8_t ip[RW_CERT_SAN_MAX][16];
	uint8_t ip_len[RW_CERT_SAN_MAX];
	size_t n_ip;
	uint8_t sha256[32]; /* of the DER encoding; equals openssl -fingerprint */
	time_t not_before;
	time_t not_after;
};

/* Fill *out from cert. Returns 0, or:
 *   RW_EINVAL   NULL argument
 *   RW_ETOOBIG  subject, CN or a SAN does not fit, or more than
 *               RW_CERT_SAN_MAX SANs of one kind (refused, never truncated)
 *   RW_EPROTO   embedded NUL in CN or a SAN, unreadable name or time, more
 *               than one CN, a SAN extension that does not decode, an
 *               iPAddress SAN that is not 4 or 16 octets
 *   RW_ENOMEM   OpenSSL allocation failed
 * On error *out is zeroed. SAN kinds other than DNS/URI/email/IP
 * (otherName, directoryName, ...) are ignored. */
int rw_cert_identity(const X509 *cert, struct rw_cert_id *out);

/* A cert_san selector against id: "DNS:name" (case-insensitive, literal:
 * a certificate "*.x" matches only the selector "DNS:*.x"), "URI:uri"
 * (exact), "email:addr" (case-insensitive), "IP:addr" (an IPv4 or IPv6
 * address as inet_pton reads it, compared octet for octet:
 * "IP:::ffff:192.0.2.1" does not match the 4-octet SAN 192.0.2.1, and a
 * selector that is not an address never matches); the kind prefix itself
 * is case-insensitive; any other kind never matches. The identity
 * selectors that use it live in rules/rw_ident.h. */
bool rw_cert_san_match(const struct rw_cert_id *id, const char *sel);

/* Compare two RFC 2253 DNs: attribute types case-insensitively, values
 * exactly; RDN order matters; spaces after a ',' or '+' separator are
 * ignored. */
bool rw_cert_dn_equal(const char *a, const char *b);

#endif
