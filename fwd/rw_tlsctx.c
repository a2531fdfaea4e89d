/* SSL_CTX construction for terminate listeners and the upstream; the
 * settings and their reasons are in rw_tlsctx.h. */
#include "fwd/rw_tlsctx.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fwd/rw_event.h"
#include "fwd/rw_names.h"
#include "fwd/rw_pem.h"
#include "base/rw_cursor.h"
#include "base/rw_err.h"
#include "inspect/rw_tls_hello.h"
#include "inspect/rw_tls_name.h"

/* ALPN wire form: length-prefixed protocol names. */
static const unsigned char rw_tlsctx_alpn_http11[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };

static int rw_tlsctx_ex_reason = -1;
static int rw_tlsctx_ex_sni = -1; /* the name the client sent, validated */
static int rw_tlsctx_ex_asked = -1; /* a refused name as asked, escaped (events) */
static int rw_tlsctx_ex_cert = -1;  /* the certificate verification refused (events) */

/* Subject and issuer of a client certificate that failed verification. */
struct rw_tlsctx_bad_cert {
	char subject[RW_EVENT_STR_MAX];
	char issuer[RW_EVENT_STR_MAX];
};

static void rw_tlsctx_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			      void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	OPENSSL_free(ptr);
}

static int rw_tlsctx_ex_index(void)
{
	/* Workers are single-threaded and call this before any handshake,
	 * so the lazy init needs no lock. */
	if (rw_tlsctx_ex_reason < 0)
		rw_tlsctx_ex_reason = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (rw_tlsctx_ex_sni < 0)
		rw_tlsctx_ex_sni = SSL_get_ex_new_index(0, NULL, NULL, NULL, rw_tlsctx_ex_free);
	if (rw_tlsctx_ex_asked < 0)
		rw_tlsctx_ex_asked = SSL_get_ex_new_index(0, NULL, NULL, NULL, rw_tlsctx_ex_free);
	if (rw_tlsctx_ex_cert < 0)
		rw_tlsctx_ex_cert = SSL_get_ex_new_index(0, NULL, NULL, NULL, rw_tlsctx_ex_free);
	return rw_tlsctx_ex_reason;
}

const char *rw_tlsctx_sni(const SSL *ssl)
{
	if (rw_tlsctx_ex_sni < 0)
		return NULL;
	return SSL_get_ex_data(ssl, rw_tlsctx_ex_sni);
}

const char *rw_tlsctx_sni_asked(const SSL *ssl)
{
	if (rw_tlsctx_ex_asked < 0)
		return NULL;
	return SSL_get_ex_data(ssl, rw_tlsctx_ex_asked);
}

bool rw_tlsctx_refused_cert(const SSL *ssl, const char **subject, const char **issuer)
{
	const struct rw_tlsctx_bad_cert *b =
		rw_tlsctx_ex_cert < 0 ? NULL : SSL_get_ex_data(ssl, rw_tlsctx_ex_cert);
	if (!b)
		return false;
	*subject = b->subject;
	*issuer = b->issuer;
	return true;
}

/* A name of an unverified certificate, for a refusal event: RFC 2253 with
 * every byte >= 0x80 and every control byte escaped by OpenSSL as \XX
 * (nothing in it is trusted, so no UTF-8 look-alikes either), bounded to
 * cap with "..." at the end (never inside an escape); a byte outside
 * 0x20..0x7e, which OpenSSL should never leave, becomes '?'. */
static void rw_tlsctx_name_str(const X509_NAME *name, char *out, size_t cap)
{
	out[0] = '\0';
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return;
	char *p = NULL;
	if (name && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
		long got = BIO_get_mem_data(bio, &p);
		size_t n = got > 0 ? (size_t)got : 0, o = 0;
		bool cut = n + 1 > cap;
		size_t keep = cut ? cap - 4 : n;
		/* do not end inside a "\XX" escape */
		if (cut)
			for (size_t k = keep > 2 ? keep - 2 : 0; k < keep; k++)
				if (p[k] == '\\') {
					keep = k;
					break;
				}
		for (; o < keep; o++)
			out[o] = p[o] >= 0x20 && p[o] <= 0x7e ? p[o] : '?';
		if (cut) {
			memcpy(out + o, "...", 3);
			o += 3;
		}
		out[o] = '\0';
	}
	BIO_free(bio);
}

/* Verification failed somewhere in the chain: keep the leaf's subject and
 * issuer (once per handshake) so the refusal says whose certificate it
 * was. OpenSSL's own decision stands. */
static int rw_tlsctx_on_verify(int ok, X509_STORE_CTX *xs)
{
	if (ok)
		return ok;
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	if (!ssl || !leaf || rw_tlsctx_ex_cert < 0 || SSL_get_ex_data(ssl, rw_tlsctx_ex_cert))
		return ok;
	struct rw_tlsctx_bad_cert *b = OPENSSL_zalloc(sizeof(*b));
	if (!b)
		return ok;
	rw_tlsctx_name_str(X509_get_subject_name(leaf), b->subject, sizeof(b->subject));
	rw_tlsctx_name_str(X509_get_issuer_name(leaf), b->issuer, sizeof(b->issuer));
	if (!SSL_set_ex_data(ssl, rw_tlsctx_ex_cert, b))
		OPENSSL_free(b);
	return ok;
}

/* The first host_name of a server_name extension that was refused, as
 * sent (bytes, not a checked name), escaped for the event. A list that
 * does not parse leaves nothing. */
static void rw_tlsctx_note_asked(SSL *ssl, const unsigned char *p, size_t n)
{
	struct rw_cursor cur, list, name;
	uint8_t type;
	rw_cur_init(&cur, p, n);
	if (rw_cur_sub16(&cur, &list) || rw_cur_u8(&list, &type) || type != 0 ||
	    rw_cur_sub16(&list, &name))
		return;
	char *s = OPENSSL_malloc(RW_EVENT_STR_MAX);
	if (!s)
		return;
	rw_event_escape(rw_cur_ptr(&name), rw_cur_left(&name), s, RW_EVENT_STR_MAX);
	OPENSSL_free(SSL_get_ex_data(ssl, rw_tlsctx_ex_asked));
	if (!SSL_set_ex_data(ssl, rw_tlsctx_ex_asked, s))
		OPENSSL_free(s);
}

static void rw_tlsctx_set_reason(SSL *ssl, const char *why)
{
	SSL_set_ex_data(ssl, rw_tlsctx_ex_index(), (void *)why);
}

const char *rw_tlsctx_refusal(const SSL *ssl)
{
	if (rw_tlsctx_ex_reason < 0)
		return NULL;
	return SSL_get_ex_data(ssl, rw_tlsctx_ex_reason);
}

static void rw_tlsctx_errmsg(char *err, size_t errlen, const char *what, const char *path)
{
	if (!err || !errlen)
		return;
	unsigned long e = ERR_peek_last_error();
	char ossl[160] = "";
	if (e)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	snprintf(err, errlen, "%s %s: %s", what, path ? path : "(unset)", ossl[0] ? ossl : "failed");
	ERR_clear_error();
}

/*
 * server_name extension body (RFC 6066 §3), as the client-hello callback
 * hands it over:
 *
 *   +--------+--------+------+--------+--------+------------+
 *   | list length (2) | type | name length (2) | host name  |
 *   +--------+--------+------+--------+--------+------------+
 *                       0 = host_name
 *
 * The same rules as passthrough (inspect/rw_tls_hello.c): exactly one
 * entry, of type host_name, and a name rw_tls_name_check accepts (DNS
 * labels, no trailing dot, no IP literal; lower-cased). Both modes must
 * agree on what a name is: "registry.example.test." refused on one port
 * and served on the other would make the name list mean two things.
 */
static bool rw_tlsctx_sni_from_ext(const unsigned char *p, size_t n, char *out, size_t cap)
{
	struct rw_cursor cur, list, name;
	uint8_t type;
	rw_cur_init(&cur, p, n);
	if (rw_cur_sub16(&cur, &list) || rw_cur_left(&cur) != 0 || rw_cur_u8(&list, &type) ||
	    type != 0 || rw_cur_sub16(&list, &name) || rw_cur_left(&list) != 0)
		return false;
	return rw_tls_name_check(&name, out, cap) == 0;
}

static int rw_tlsctx_on_hello(SSL *ssl, int *al, void *arg)
{
	const struct rw_tlsctx_sni *sni = arg;
	const unsigned char *p;
	size_t n;
	char host[RW_TLS_SNI_MAX + 1];
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &n)) {
		rw_tlsctx_set_reason(ssl, "no_sni");
		*al = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (!rw_tlsctx_sni_from_ext(p, n, host, sizeof(host)) ||
	    !rw_names_match(sni->names, sni->n_names, host)) {
		rw_tlsctx_set_reason(ssl, "sni");
		rw_tlsctx_note_asked(ssl, p, n);
		*al = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_CLIENT_HELLO_ERROR;
	}
	/* Kept for the ticket callback and the data path: the name this
	 * client sent now, not the one a resumed session remembers. The
	 * callback can run more than once (HelloRetryRequest). */
	char *dup = OPENSSL_strdup(host);
	if (!dup) {
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	OPENSSL_free(SSL_get_ex_data(ssl, rw_tlsctx_ex_sni));
	SSL_set_ex_data(ssl, rw_tlsctx_ex_sni, dup);
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* The name was checked in the client-hello callback already; answering
 * OK here (rather than having no callback) is what makes OpenSSL record
 * it in the session, which the ticket check below relies on, and
 * acknowledge it to the client. */
static int rw_tlsctx_on_servername(SSL *ssl, int *al, void *arg)
{
	(void)arg;
	const char *sent = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	const char *checked = rw_tlsctx_sni(ssl);
	/* checked is the lower-cased copy; names are ASCII by then */
	if (!sent || !checked || strcasecmp(sent, checked) != 0) {
		*al = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

/*
 * Resumption is bound to the server name and the listener:
 *   - a ticket is used only when the session it carries was made for the
 *     very name this ClientHello sends (OpenSSL itself would resume a
 *     session across names);
 *   - ticket keys are derived per listener from a secret the workers of
 *     one generation share, so a ticket is good on any worker of that
 *     generation, never on another listener, and never after a reload or
 *     live change (a new CRL or identity list takes effect for every
 *     connection, resumed or not);
 *   - the session carries the verified client certificate and its verify
 *     result, so the identity of a resumed connection is the one that was
 *     verified; the session id context (listener name) keeps OpenSSL from
 *     resuming a session of another context.
 */
static SSL_TICKET_RETURN rw_tlsctx_on_ticket(SSL *ssl, SSL_SESSION *ss, const unsigned char *kn,
					     size_t knlen, SSL_TICKET_STATUS st, void *arg)
{
	(void)kn;
	(void)knlen;
	(void)arg;
	switch (st) {
	case SSL_TICKET_SUCCESS:
	case SSL_TICKET_SUCCESS_RENEW: {
		const char *now = rw_tlsctx_sni(ssl);
		const char *was = SSL_SESSION_get0_hostname(ss);
		/* OpenSSL keeps the name as sent; ours is lower-cased */
		if (!now || !was || strcasecmp(now, was) != 0)
			return SSL_TICKET_RETURN_IGNORE_RENEW;
		return st == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE : SSL_TICKET_RETURN_USE_RENEW;
	}
	case SSL_TICKET_EMPTY:       /* TLS 1.2: the client asks for one */
	case SSL_TICKET_NO_DECRYPT:  /* another generation's: a fresh one */
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	default:
		return SSL_TICKET_RETURN_IGNORE;
	}
}

int rw_tlsctx_ticket_keys(const uint8_t secret[RW_TLSCTX_SECRET_LEN], const char *listener,
			  uint8_t out[RW_TLSCTX_TICKET_KEYS_LEN])
{
	/* key name (16) | HMAC key (32) | AES key (32), each an HMAC-SHA256
	 * of a label and the listener name under the generation secret */
	static const char *const labels[3] = { "regwall ticket name", "regwall ticket hmac",
					       "regwall ticket aes" };
	static const size_t lens[3] = { 16, 32, 32 };
	size_t off = 0;
	for (int i = 0; i < 3; i++) {
		unsigned char msg[256], mac[EVP_MAX_MD_SIZE];
		unsigned maclen = 0;
		int n = snprintf((char *)msg, sizeof(msg), "%s|%s", labels[i], listener);
		if (n < 0 || (size_t)n >= sizeof(msg))
			return RW_ERANGE;
		if (!HMAC(EVP_sha256(), secret, RW_TLSCTX_SECRET_LEN, msg, (size_t)n, mac, &maclen) ||
		    maclen < lens[i])
			return RW_EIO;
		memcpy(out + off, mac, lens[i]);
		off += lens[i];
		OPENSSL_cleanse(mac, sizeof(mac));
	}
	return 0;
}

static int rw_tlsctx_on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
			     const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;
	if (SSL_select_next_proto(&sel, outlen, rw_tlsctx_alpn_http11,
				  sizeof(rw_tlsctx_alpn_http11), in,
				  inlen) != OPENSSL_NPN_NEGOTIATED) {
		rw_tlsctx_set_reason(ssl, "alpn");
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* A file's bytes: from the set the parent sent (a worker opens no file)
 * or, without one (the parent's own config check), from disk. NULL when
 * the set lacks it (the parent could not read it) or open fails. */
static BIO *rw_tlsctx_bio(const struct rw_pem_set *pem, const char *path)
{
	if (!path)
		return NULL;
	if (!pem)
		return BIO_new_file(path, "r");
	const struct rw_pem_file *f = rw_pem_set_find(pem, path);
	if (!f || !f->data || f->len > INT_MAX) {
		/* as BIO_new_file would say it: the errno of the parent's read */
		ERR_raise_data(ERR_LIB_SYS, f && f->err ? f->err : ENOENT, "reading %s", path);
		return NULL;
	}
	return BIO_new_mem_buf(f->data, (int)f->len);
}

/* A PEM read loop ends on "no start line": that is the end of the file,
 * anything else is an error. */
static int rw_tlsctx_pem_end(void)
{
	unsigned long e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
		return 1;
	}
	return e == 0;
}

/* Never prompt for a passphrase (a daemon has no terminal): an encrypted
 * key does not load. */
static int rw_tlsctx_no_pass(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

/* The leaf, then the chain, as SSL_CTX_use_certificate_chain_file does. */
static int rw_tlsctx_use_chain(SSL_CTX *ctx, const struct rw_pem_set *pem, const char *path)
{
	BIO *b = rw_tlsctx_bio(pem, path);
	if (!b)
		return 0;
	int ok = 0;
	X509 *x = PEM_read_bio_X509_AUX(b, NULL, rw_tlsctx_no_pass, NULL);
	if (x && SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_clear_chain_certs(ctx) == 1) {
		X509 *ca;
		ok = 1;
		while (ok && (ca = PEM_read_bio_X509(b, NULL, rw_tlsctx_no_pass, NULL)) != NULL) {
			if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
				X509_free(ca);
				ok = 0;
			}
		}
		ok = ok && rw_tlsctx_pem_end();
	}
	X509_free(x);
	BIO_free(b);
	return ok;
}

static int rw_tlsctx_use_key(SSL_CTX *ctx, const struct rw_pem_set *pem, const char *path)
{
	BIO *b = rw_tlsctx_bio(pem, path);
	if (!b)
		return 0;
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, rw_tlsctx_no_pass, NULL);
	BIO_free(b);
	if (!k)
		return 0;
	int ok = SSL_CTX_use_PrivateKey(ctx, k);
	EVP_PKEY_free(k);
	return ok;
}

/* Each subject once in the CertificateRequest list, as
 * SSL_load_client_CA_file does (a bundle may repeat a CA). */
static int rw_tlsctx_has_name(STACK_OF(X509_NAME) *names, const X509_NAME *nm)
{
	for (int i = 0; i < sk_X509_NAME_num(names); i++)
		if (X509_NAME_cmp(sk_X509_NAME_value(names, i), nm) == 0)
			return 1;
	return 0;
}

/* Every certificate and CRL of a PEM bundle into the store (as
 * X509_STORE_load_file does); with names, the certificates' subjects too
 * (the list a server sends in its CertificateRequest). The number of
 * certificates, or -1. */
static int rw_tlsctx_load_cas(X509_STORE *st, STACK_OF(X509_NAME) *names,
			      const struct rw_pem_set *pem, const char *path)
{
	BIO *b = rw_tlsctx_bio(pem, path);
	if (!b)
		return -1;
	STACK_OF(X509_INFO) *inf = PEM_X509_INFO_read_bio(b, NULL, rw_tlsctx_no_pass, NULL);
	BIO_free(b);
	if (!inf)
		return -1;
	int n = 0, ok = 1;
	for (int i = 0; ok && i < sk_X509_INFO_num(inf); i++) {
		X509_INFO *it = sk_X509_INFO_value(inf, i);
		if (it->x509) {
			ok = X509_STORE_add_cert(st, it->x509) == 1;
			n++;
			if (ok && names && !rw_tlsctx_has_name(names, X509_get_subject_name(it->x509))) {
				X509_NAME *nm = X509_NAME_dup(X509_get_subject_name(it->x509));
				ok = nm && sk_X509_NAME_push(names, nm) > 0;
				if (!ok)
					X509_NAME_free(nm);
			}
		}
		if (ok && it->crl)
			ok = X509_STORE_add_crl(st, it->crl) == 1;
	}
	sk_X509_INFO_pop_free(inf, X509_INFO_free);
	return ok ? n : -1;
}

/* Every CRL in a PEM file goes into the store. */
static int rw_tlsctx_load_crl(X509_STORE *st, const struct rw_pem_set *pem, const char *path,
			      char *err, size_t errlen)
{
	BIO *b = rw_tlsctx_bio(pem, path);
	if (!b) {
		if (err && errlen)
			snprintf(err, errlen, "crl %s: cannot open", path);
		ERR_clear_error();
		return RW_EIO;
	}
	size_t n = 0;
	X509_CRL *crl;
	while ((crl = PEM_read_bio_X509_CRL(b, NULL, rw_tlsctx_no_pass, NULL)) != NULL) {
		int ok = X509_STORE_add_crl(st, crl);
		X509_CRL_free(crl);
		if (!ok) {
			BIO_free(b);
			rw_tlsctx_errmsg(err, errlen, "crl", path);
			return RW_EIO;
		}
		n++;
	}
	BIO_free(b);
	ERR_clear_error(); /* the loop ends on "no start line" */
	if (n == 0) {
		if (err && errlen)
			snprintf(err, errlen, "crl %s: no CRL in file", path);
		return RW_EIO;
	}
	return 0;
}

static void rw_tlsctx_common(SSL_CTX *ctx)
{
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* The data path writes from buffers it compacts, in pieces. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
}

int rw_tlsctx_server_new(const struct rw_listener *cfg, const struct rw_tlsctx_sni *sni,
			 const uint8_t *ticket_keys, const struct rw_pem_set *pem, SSL_CTX **out,
			 char *err, size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!cfg->cert || !cfg->key || !sni) {
		if (err && errlen)
			snprintf(err, errlen, "listener %s: cert and key are required", cfg->name);
		return RW_EINVAL;
	}
	if (cfg->client_cert != RW_CCERT_NONE && !cfg->client_ca) {
		if (err && errlen)
			snprintf(err, errlen, "listener %s: client_cert needs client_ca", cfg->name);
		return RW_EINVAL;
	}
	rw_tlsctx_ex_index();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return RW_ENOMEM;
	int rc = RW_EIO;
	rw_tlsctx_common(ctx);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* No server-side cache: the only resumption is by stateless ticket
	 * (TLS 1.2 and 1.3), so workers share nothing but the keys. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_max_early_data(ctx, 0);
	SSL_CTX_set_recv_max_early_data(ctx, 0);
	/* OpenSSL resumes only sessions made under the same context id. */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)cfg->name,
				       (unsigned)strnlen(cfg->name, SSL_MAX_SID_CTX_LENGTH));
	if (ticket_keys) {
		SSL_CTX_set_num_tickets(ctx, 1);
		SSL_CTX_set_timeout(ctx, RW_TLSCTX_TICKET_LIFETIME_S);
		if (SSL_CTX_set_tlsext_ticket_keys(ctx, (void *)ticket_keys,
						   RW_TLSCTX_TICKET_KEYS_LEN) != 1 ||
		    SSL_CTX_set_session_ticket_cb(ctx, NULL, rw_tlsctx_on_ticket, NULL) != 1) {
			rw_tlsctx_errmsg(err, errlen, "ticket keys", cfg->name);
			goto fail;
		}
	} else {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
	}
	if (!rw_tlsctx_use_chain(ctx, pem, cfg->cert)) {
		rw_tlsctx_errmsg(err, errlen, "cert", cfg->cert);
		goto fail;
	}
	/* OpenSSL 3 already compares the key with the certificate while
	 * loading it; its "key values mismatch" says less than our words */
	if (rw_tlsctx_use_key(ctx, pem, cfg->key) != 1 &&
	    ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
		rw_tlsctx_errmsg(err, errlen, "key", cfg->key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		if (err && errlen)
			snprintf(err, errlen, "key does not belong to this certificate: key %s, cert %s",
				 cfg->key, cfg->cert);
		goto fail;
	}
	SSL_CTX_set_client_hello_cb(ctx, rw_tlsctx_on_hello, (void *)sni);
	SSL_CTX_set_tlsext_servername_callback(ctx, rw_tlsctx_on_servername);
	SSL_CTX_set_alpn_select_cb(ctx, rw_tlsctx_on_alpn, NULL);
	if (cfg->client_cert != RW_CCERT_NONE) {
		X509_STORE *st = SSL_CTX_get_cert_store(ctx);
		STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
		if (!names) {
			rc = RW_ENOMEM;
			goto fail;
		}
		if (rw_tlsctx_load_cas(st, names, pem, cfg->client_ca) <= 0) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			rw_tlsctx_errmsg(err, errlen, "client_ca", cfg->client_ca);
			goto fail;
		}
		if (cfg->crl) {
			rc = rw_tlsctx_load_crl(st, pem, cfg->crl, err, errlen);
			if (rc) {
				sk_X509_NAME_pop_free(names, X509_NAME_free);
				goto fail;
			}
			rc = RW_EIO;
			X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		int mode = SSL_VERIFY_PEER;
		if (cfg->client_cert == RW_CCERT_REQUIRED)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, rw_tlsctx_on_verify);
		SSL_CTX_set_verify_depth(ctx, 4);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	*out = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return rc;
}

int rw_tlsctx_client_new(const char *ca_path, const struct rw_pem_set *pem, SSL_CTX **out,
			 char *err, size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return RW_ENOMEM;
	rw_tlsctx_common(ctx);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* from the parent's bytes: the CA file, or the system bundle it read;
	 * without them (the parent's config check) from disk */
	int ok = pem ? rw_tlsctx_load_cas(SSL_CTX_get_cert_store(ctx), NULL, pem,
					  ca_path ? ca_path : RW_PEM_SYSTEM_CA) > 0
		 : ca_path ? SSL_CTX_load_verify_file(ctx, ca_path)
			   : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		rw_tlsctx_errmsg(err, errlen, "upstream_ca", ca_path);
		SSL_CTX_free(ctx);
		return RW_EIO;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_alpn_protos(ctx, rw_tlsctx_alpn_http11, sizeof(rw_tlsctx_alpn_http11))) {
		SSL_CTX_free(ctx);
		return RW_ENOMEM;
	}
	*out = ctx;
	return 0;
}

const char *rw_tlsctx_peer_ok(const SSL *ssl, enum rw_client_cert mode)
{
	if (mode == RW_CCERT_NONE)
		return NULL;
	X509 *peer = SSL_get0_peer_certificate(ssl);
	if (!peer)
		return mode == RW_CCERT_REQUIRED ? "client_cert_missing" : NULL;
	if (SSL_get_verify_result(ssl) != X509_V_OK)
		return "client_cert_invalid";
	return NULL;
}

const char *rw_tlsctx_verify_reason(const SSL *ssl, enum rw_client_cert mode)
{
	if (mode == RW_CCERT_NONE)
		return NULL;
	long v = SSL_get_verify_result(ssl);
	switch (v) {
	case X509_V_OK:
		/* "peer did not return a certificate" leaves the result OK */
		if (mode == RW_CCERT_REQUIRED && !SSL_get0_peer_certificate(ssl))
			return "client_cert_missing";
		return NULL;
	case X509_V_ERR_CERT_REVOKED:
		return "client_cert_revoked";
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "client_cert_expired";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return "client_cert_untrusted";
	default:
		return "client_cert_invalid";
	}
}
