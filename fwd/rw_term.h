/* Terminate mode: TLS with the client (mutual TLS optional), every HTTP/1.1
 * request framed, classified and decided, allowed ones relayed to the
 * upstream registry, refusals answered in the registry's own error format.
 *
 * Connection states (docs/design/fwd-terminate.md draws them with timers):
 *
 *   accept --admit--> HANDSHAKE --ok, cert ok--> HEAD <--------------------+
 *                        | refused (sni, alpn,     | head complete         |
 *                        | cert), timeout          v                       |
 *                        v                 decide: refuse --> REPLY -------+ (no body
 *                      closed                      | allow                 |  announced)
 *                                                  v                       |
 *                                    upstream ready? -- no --> CONNECT     |
 *                                                  | yes          |        |
 *                                                  v              v        |
 *                                               FORWARD <---------+        |
 *                     request head + body up, response head + body down    |
 *                     (both framed; bounded buffers) ---- exchange done ---+
 *
 * One request is in flight at a time: pipelined requests wait in the
 * client buffer (and the kernel) until the previous response has been
 * relayed in full, so responses can never be reordered or interleaved.
 *
 * Every path that ends a connection goes through one close function, which
 * emits the connection's event. Events ("refuse", "push", "term") and their
 * reason tokens:
 *   connection: "handshake_timeout", "sni", "no_sni", "alpn",
 *     "client_cert_missing", "client_cert_revoked", "client_cert_expired",
 *     "client_cert_untrusted", "client_cert_invalid", "tls_handshake",
 *     "overload", "source_limit"
 *   request: rw_decide's reason for a policy refusal ("no_identity",
 *     "no_role", "push_requires_vpn", "mount_source_denied",
 *     "catalog_needs_pull_all", "unknown_operation"), rw_decide_body's for
 *     what the registry would read ("content_type_duplicate" and
 *     "content_type_invalid": 400; "form_body": a form media type the
 *     registry would take parameters from; "upload_start_body": a body on
 *     a mount or a non-monolithic upload start; both 403), "misdirected"
 *     (Host != SNI), "rate_limited", "http_<refuse>" (framing),
 *     "upstream_failed" (connect/TLS/response error; answered 502),
 *     "upstream_timeout" (no final response head within the response
 *     timeout, or the registry stopped reading the request until the
 *     idle timeout; answered 504)
 *   push (the registry answered a push operation): "manifest_put" (201),
 *     "upload_mount" (any status: 201 linked, 202 did not), and when 2xx
 *     "upload_complete", "upload_start" (monolithic); events carry from
 *     and status
 *   delete ("delete", the registry answered a deletion 2xx):
 *     "manifest_delete" (by digest, or by tag: a tag deletion),
 *     "blob_delete"; with repository, reference, status
 *   end of connection ("term"): "done", "idle_timeout", "header_timeout",
 *     "client_error", "client_gone" (closed or reset while the registry
 *     had its request: both sockets closed at once), "upstream_error",
 *     "drain" (the worker began draining:
 *     an idle session at once; one still in the handshake or silent since
 *     it, after a 1 s grace)
 */
#ifndef RW_TERM_H
#define RW_TERM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "fwd/rw_conn.h"
#include "rules/rw_decide.h"
#include "base/rw_loop.h"
#include "fwd/rw_tlsctx.h"
#include "fwd/rw_upstream.h"
#include "inspect/rw_http.h"
#include "inspect/rw_httpresp.h"
#include "inspect/rw_oci.h"

struct rw_fwd_worker;
struct rw_fwd_listener;

/* Per direction: a fixed buffer; backpressure is "stop reading the side
 * whose buffer is full until the other side has taken bytes out". 64 KiB
 * holds any request head (8 KiB line + 32 KiB fields) and any response
 * head (32 KiB). */
#define RW_TERM_BUF (64u * 1024u)
/* The rewritten request head: the client's head minus its forwarding
 * headers plus ours. */
#define RW_TERM_HEAD_OUT (RW_HTTP_MAX_LINE + RW_HTTP_MAX_FIELDS + 512u)
/* A synthesized refusal (rw_oci_reply). */
#define RW_TERM_REPLY_MAX 1536u

/* One terminate-mode listener of a worker: its SSL_CTX and names. */
struct rw_term_listener {
	SSL_CTX *ctx;
	struct rw_tlsctx_sni sni;
};

enum rw_term_state {
	RW_TERM_HANDSHAKE = 0,
	RW_TERM_HEAD,
	RW_TERM_REPLY,
	RW_TERM_CONNECT,
	RW_TERM_FORWARD,
};

struct rw_term_buf {
	size_t off, len; /* unread bytes are data[off..len) */
	uint8_t data[RW_TERM_BUF];
};

/* Everything that exists only after the handshake (buffers, the parsed
 * request and response), allocated then: a connection in the handshake
 * costs a few hundred bytes plus OpenSSL's state. */
struct rw_term_io_state {
	struct rw_term_buf cin;  /* decrypted client bytes: head, body, next requests */
	struct rw_term_buf uin;  /* upstream bytes: response head and body */
	uint8_t hout[RW_TERM_HEAD_OUT];
	size_t hout_len, hout_off;
	char reply[RW_TERM_REPLY_MAX];
	size_t reply_len, reply_off;
	struct rw_http_req req;
	struct rw_oci_req oci;
	struct rw_httpresp resp;
};

struct rw_term_conn {
	struct rw_fwd_worker *w;
	char *cert_dn; /* verified certificate no identity names (events); usually NULL */
	struct rw_fwd_listener *lis;
	struct rw_term_conn *next, *prev; /* worker's list of terminate conns */
	size_t slot;
	struct rw_src_key key;
	enum rw_term_state state;
	int cfd;
	SSL *ssl;
	unsigned cmask, umask;
	bool creg, ureg;
	unsigned cwant, uwant; /* events the last blocked I/O asked for */
	uint8_t src_family;
	uint8_t src_addr[16];
	uint16_t src_port;
	char sni[256];
	struct rw_who who;   /* resolved after the handshake, and again before a
			      * request after a live network change */
	uint64_t who_live_seq; /* the worker's live change count when who was resolved */
	const char *method;  /* current request's method for events; NULL: none we know */
	bool meters_upload;  /* current request: pace its body (rw_decision) */
	uint64_t t_start, last_io, head_start;
	uint64_t drain_by;   /* draining: close by then unless the first request began; 0 = no */
	struct rw_timer timer;
	struct rw_timer pace_timer;
	bool paced;          /* waiting for pace_timer before writing upstream */
	uint64_t pace_until; /* when pace_timer fires (rw_loop_now_ms clock) */
	uint64_t pace_credit; /* bytes taken from the bucket, not yet written up */
	struct rw_upstream up;
	struct rw_term_io_state *io;
	/* current exchange */
	bool close_after;    /* close once the reply / response is flushed */
	bool linger;         /* ...and the client may still be sending: linger first */
	bool lingering;      /* answered and shut down; dropping input until EOF */
	uint64_t linger_by;
	bool body_done;
	size_t body_avail;   /* framed body bytes at cin.off not yet sent up */
	uint64_t body_bytes; /* bytes of this request sent up (head + body) */
	struct rw_http_body body;
	bool resp_head_done, resp_done, up_reuse;
	size_t resp_fwd;     /* framed response bytes at uin.off not yet sent */
	uint64_t resp_bytes; /* response bytes sent to the client */
	uint64_t resp_interim; /* bytes of interim (1xx) heads framed this exchange */
	uint64_t req_sent_at;  /* head and whole body written up (loop ms); 0 = not yet */
	struct rw_httpresp_body resp_body;
	unsigned resp_status;
	char resp_digest[RW_OCI_DIGEST_MAX + 1];
	uint64_t bytes_up, bytes_down; /* whole connection */
	unsigned requests;
};

/* Take over an accepted client socket of a terminate listener. On refusal
 * (limits) the socket is closed and the event emitted here. */
void rw_term_accept(struct rw_fwd_worker *w, struct rw_fwd_listener *lis,
		    struct rw_term_listener *tl, int cfd, const struct sockaddr_storage *ss);
/* Close every terminate connection without events (worker shutdown). */
void rw_term_close_all(struct rw_fwd_worker *w);
/* Unmap the worker's pooled request buffers (at worker exit). */
void rw_term_io_pool_free(struct rw_fwd_worker *w);

/* Build / free the per-listener TLS state at worker start (pem: the
 * files as the parent sent them, rw_tlsctx_server_new). */
/* ticket_secret (RW_TLSCTX_SECRET_LEN bytes, shared by the workers of one
 * generation) enables session resumption by ticket; NULL disables it. */
int rw_term_listener_new(const struct rw_listener *cfg, char *const *names, size_t n_names,
			 const uint8_t *ticket_secret, const struct rw_pem_set *pem,
			 struct rw_term_listener **out, char *err, size_t errlen);
void rw_term_listener_free(struct rw_term_listener *tl);

/* Who a terminate connection is, for rw_decide: the client certificate
 * (NULL when none; matched with rw_ident_find), the VPN peer whose
 * tunnel address the source is, the named network of the source. Any
 * source inside a peer's addresses counts as arriving on the VPN: an
 * accepted socket does not tell its ingress interface cheaply, and the
 * kernel's input chain accepts peer sources only on the WireGuard
 * interface (rule "allow vpn" matches iifname); the same address arriving
 * on another link is dropped unless an admin put it in an allowlisted
 * network (docs/design/fwd-terminate.md, "Identity"). */
/* unmatched_dn (may be NULL): for a verified certificate that no identity
 * names, a malloc'd copy of its subject (RFC 2253) so refusals can say who
 * knocked; NULL otherwise (or when out of memory). */
void rw_term_identify(const struct rw_policy *p, X509 *cert, uint8_t family,
		      const uint8_t addr[16], struct rw_who *out, char **unmatched_dn);
/* The same with the peers' index (rw_who_resolve_ix; NULL: a scan). */
struct rw_cidrset_index;
void rw_term_identify_ix(const struct rw_policy *p, const struct rw_cidrset_index *peers,
			 X509 *cert, uint8_t family, const uint8_t addr[16], struct rw_who *out,
			 char **unmatched_dn);

/* Rewrite a parsed request head for the upstream: every X-Forwarded-For,
 * Forwarded, X-Real-IP, X-Forwarded-Proto and X-Forwarded-Host field the
 * client sent is dropped, "X-Forwarded-For: <client>" and
 * "X-Forwarded-Proto: https" are added before the final CRLF; every other
 * byte is copied unchanged. 0 and *len, or RW_ERANGE if cap is too small. */
int rw_term_rewrite_head(const uint8_t *head, const struct rw_http_req *req,
			 const char *client_ip, uint8_t *out, size_t cap, size_t *len);

/* Host (without port) equals the SNI, case-insensitively. */
bool rw_term_host_matches(struct rw_http_span host, const char *sni);

/* Host's port, if any, is 1 to 5 digits worth 1..65535 ("name:", ":0",
 * ":99999", ":+443", a second colon: false). It is not compared with the
 * listener's port: clients send the port they dialled, which a NAT or
 * port mapping in front of the appliance may change; the name is what is
 * checked (against the SNI). */
bool rw_term_host_port_ok(struct rw_http_span host);

/* "http_" + an HTTP refusal's text as an event reason token ("Content-Length
 * with Transfer-Encoding" -> "http_content_length_with_transfer_encoding");
 * metrics builds its label set from the same function. */
void rw_term_http_reason(enum rw_http_refuse r, char *out, size_t cap);

#endif
