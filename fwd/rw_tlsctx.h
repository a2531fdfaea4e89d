/* OpenSSL contexts for terminate mode: one server SSL_CTX per listener
 * (built at worker start, rebuilt on reload: X509_STORE_add_crl only ever
 * adds, so a new CRL means a new context) and one client SSL_CTX for the
 * upstream registry.
 *
 * Server settings and why (docs/design/fwd-terminate.md has the table):
 *   - TLS 1.2 and 1.3 only.
 *   - ALPN: "http/1.1" only. A client that offers ALPN without http/1.1
 *     (h2 only) gets the fatal no_application_protocol alert: we never
 *     tunnel a protocol we do not parse. No ALPN at all is HTTP/1.1.
 *   - SNI is checked in the client-hello callback: first the name rules
 *     passthrough applies (inspect/rw_tls_name: one host_name entry, DNS
 *     labels, no trailing dot, no IP literal), then the listener's names
 *     (rw_names); a missing, malformed or foreign name is refused with the
 *     unrecognized_name alert before any certificate is sent.
 *   - No renegotiation, no 0-RTT (max early data 0).
 *   - Resumption only by stateless ticket (TLS 1.2 and 1.3, one ticket per
 *     handshake, 10 minutes), bound to the server name (a ticket for
 *     another name gets a full handshake), to the listener (session id
 *     context and per-listener keys) and to one worker generation (keys
 *     derived from a secret the parent draws at each start, reload or
 *     live change, so a new CRL or identity list ends every session).
 *     Without keys (ticket_keys NULL) no ticket is issued at all.
 *   - Client certificates: none / optional / required, verified against
 *     client_ca, with the CRL (X509_V_FLAG_CRL_CHECK) when crl is set. With
 *     "optional" a presented certificate that fails verification still
 *     fails the handshake (a revoked cert must never downgrade to
 *     "anonymous"). OpenSSL reports verify OK when no certificate was sent,
 *     so callers check SSL_get0_peer_certificate() too (rw_tlsctx_peer_ok).
 *
 * The callbacks record why they refused in the SSL's ex_data; read it with
 * rw_tlsctx_refusal() after a failed SSL_accept. */
#ifndef RW_TLSCTX_H
#define RW_TLSCTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "rules/rw_policy.h"

/* The names a listener serves; must outlive the SSL_CTX built with it. */
struct rw_tlsctx_sni {
	char *const *names;
	size_t n_names;
};

#define RW_TLSCTX_SECRET_LEN 32        /* per worker generation */
#define RW_TLSCTX_TICKET_KEYS_LEN 80   /* OpenSSL's name | HMAC key | AES key */
#define RW_TLSCTX_TICKET_LIFETIME_S 600

/* The ticket keys of one listener, derived from the generation secret.
 * Returns 0, RW_ERANGE (listener name too long), RW_EIO. */
int rw_tlsctx_ticket_keys(const uint8_t secret[RW_TLSCTX_SECRET_LEN], const char *listener,
			  uint8_t out[RW_TLSCTX_TICKET_KEYS_LEN]);

/* Build the server context for a terminate listener (cert, key, client_ca,
 * crl, client_cert from cfg). ticket_keys (RW_TLSCTX_TICKET_KEYS_LEN bytes,
 * copied) enables resumption; NULL disables it. Returns 0, RW_EINVAL (cfg lacks cert/key, or
 * client_cert wants a client_ca that is not set), RW_EIO (a file does not
 * load; detail in err/errlen when given), RW_ENOMEM. */
struct rw_pem_set;
/* pem: the files' bytes as the parent read them (fwd/rw_pem.h; a worker
 * opens no file); NULL reads them from disk (the parent's config check). */
int rw_tlsctx_server_new(const struct rw_listener *cfg, const struct rw_tlsctx_sni *sni,
			 const uint8_t *ticket_keys, const struct rw_pem_set *pem, SSL_CTX **out,
			 char *err, size_t errlen);

/* The server name this client sent in its ClientHello (checked, and
 * lower-cased, by the hello callback), or NULL before that callback ran. On a
 * resumed session this is still the name sent now. */
const char *rw_tlsctx_sni(const SSL *ssl);

/* Client context for the upstream: TLS 1.2+, peer verification against
 * ca_path (a PEM bundle) or, when NULL, the system's default store. */
int rw_tlsctx_client_new(const char *ca_path, const struct rw_pem_set *pem, SSL_CTX **out,
			 char *err, size_t errlen);

/* The server name a refused ClientHello asked for ("sni"), as sent and
 * escaped (rw_event_escape: bounded, printable), or NULL. */
const char *rw_tlsctx_sni_asked(const SSL *ssl);

/* After a handshake that client certificate verification failed: the
 * leaf certificate's subject and issuer (RFC 2253, non-ASCII and control
 * bytes escaped, bounded to RW_EVENT_STR_MAX), valid while ssl lives.
 * False when no certificate failed. */
bool rw_tlsctx_refused_cert(const SSL *ssl, const char **subject, const char **issuer);

/* Why a callback refused the handshake: "sni", "no_sni", "alpn", or NULL
 * when no callback refused (then the handshake failed elsewhere). */
const char *rw_tlsctx_refusal(const SSL *ssl);

/* After a successful handshake: may this peer go on? NULL if yes, else a
 * reason token: "client_cert_missing" (required but none), or
 * "client_cert_invalid" (verification did not end in X509_V_OK). */
const char *rw_tlsctx_peer_ok(const SSL *ssl, enum rw_client_cert mode);

/* Refusal reason for a failed handshake from the verify result, if it was
 * a certificate problem: "client_cert_revoked", "client_cert_expired",
 * "client_cert_untrusted", "client_cert_missing" (mode required and no
 * certificate arrived), "client_cert_invalid" (another verify error),
 * else NULL. */
const char *rw_tlsctx_verify_reason(const SSL *ssl, enum rw_client_cert mode);

#endif
