/* TLS session resumption in terminate mode (fwd/rw_tlsctx): a ticket
 * resumes only for the server name it was made for, only on the listener
 * and worker generation that issued it, and the resumed connection keeps
 * the verified client certificate. Real OpenSSL handshakes over memory
 * BIOs, TLS 1.3 and 1.2. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "fwd/rw_tlsctx.h"
#include "base/rw_err.h"

#define CERTS "tests/data/certs/"
#define NAME_A "registry.example.test"
#define NAME_B "push.registry.example.test"

static char *g_names[] = { NAME_A, NAME_B };
static const struct rw_tlsctx_sni g_sni = { g_names, 2 };

static struct rw_listener listener(const char *name)
{
	struct rw_listener l = { .mode = RW_MODE_TERMINATE,
				 .cert = CERTS "server.pem",
				 .key = CERTS "server.key",
				 .client_ca = CERTS "ca.pem",
				 .crl = CERTS "crl.pem",
				 .client_cert = RW_CCERT_REQUIRED };
	snprintf(l.name, sizeof(l.name), "%s", name);
	return l;
}

/* A server context for listener `name` whose ticket keys derive from a
 * secret filled with `seed` (seed < 0: no tickets). */
static SSL_CTX *server(const char *name, int seed)
{
	struct rw_listener l = listener(name);
	uint8_t secret[RW_TLSCTX_SECRET_LEN], keys[RW_TLSCTX_TICKET_KEYS_LEN];
	if (seed >= 0) {
		memset(secret, seed, sizeof(secret));
		assert_int_equal(rw_tlsctx_ticket_keys(secret, name, keys), 0);
	}
	SSL_CTX *ctx = NULL;
	char err[256];
	assert_int_equal(rw_tlsctx_server_new(&l, &g_sni, seed >= 0 ? keys : NULL, NULL, &ctx, err,
					      sizeof(err)),
			 0);
	return ctx;
}

static SSL_CTX *client(int version)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	assert_non_null(c);
	SSL_CTX_set_min_proto_version(c, version);
	SSL_CTX_set_max_proto_version(c, version);
	/* the client keeps its sessions itself (no internal cache needed) */
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	assert_int_equal(SSL_CTX_load_verify_file(c, CERTS "ca.pem"), 1);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	assert_int_equal(SSL_CTX_use_certificate_file(c, CERTS "client.pem", SSL_FILETYPE_PEM), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(c, CERTS "client.key", SSL_FILETYPE_PEM), 1);
	return c;
}

struct conn {
	SSL *cli, *srv;
	bool done;
};

/* Handshake over a BIO pair; then let the client read what the server
 * sent after it (the TLS 1.3 NewSessionTicket). */
static void handshake(struct conn *k, SSL_CTX *sctx, SSL_CTX *cctx, const char *sni,
		      SSL_SESSION *resume)
{
	memset(k, 0, sizeof(*k));
	k->cli = SSL_new(cctx);
	k->srv = SSL_new(sctx);
	assert_non_null(k->cli);
	assert_non_null(k->srv);
	BIO *cb, *sb;
	assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
	SSL_set_bio(k->cli, cb, cb);
	SSL_set_bio(k->srv, sb, sb);
	SSL_set_connect_state(k->cli);
	SSL_set_accept_state(k->srv);
	SSL_set_tlsext_host_name(k->cli, sni);
	SSL_set1_host(k->cli, sni);
	if (resume)
		assert_int_equal(SSL_set_session(k->cli, resume), 1);
	bool cdone = false, sdone = false;
	for (int i = 0; i < 100 && !(cdone && sdone); i++) {
		if (!cdone) {
			int r = SSL_do_handshake(k->cli);
			if (r == 1)
				cdone = true;
			else
				assert_int_equal(SSL_get_error(k->cli, r), SSL_ERROR_WANT_READ);
		}
		if (!sdone) {
			int r = SSL_do_handshake(k->srv);
			if (r == 1)
				sdone = true;
			else
				assert_int_equal(SSL_get_error(k->srv, r), SSL_ERROR_WANT_READ);
		}
	}
	assert_true(cdone && sdone);
	/* post-handshake messages (tickets) reach the client */
	char b[16];
	assert_int_equal(SSL_write(k->srv, "x", 1), 1);
	assert_int_equal(SSL_read(k->cli, b, sizeof(b)), 1);
	k->done = true;
}

static void conn_free(struct conn *k)
{
	/* a client session freed without close_notify is marked not
	 * resumable by OpenSSL's client side */
	SSL_shutdown(k->cli);
	SSL_free(k->cli);
	SSL_free(k->srv);
}

/* A first full handshake; returns the client's session for resumption. */
static SSL_SESSION *first(SSL_CTX *sctx, SSL_CTX *cctx, const char *sni)
{
	struct conn k;
	handshake(&k, sctx, cctx, sni, NULL);
	assert_int_equal(SSL_session_reused(k.srv), 0);
	SSL_SESSION *s = SSL_get1_session(k.cli);
	assert_non_null(s);
	conn_free(&k);
	return s;
}

static bool same_client_cert(SSL *srv)
{
	FILE *f = fopen(CERTS "client.pem", "r");
	assert_non_null(f);
	X509 *want = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	const X509 *got = SSL_get0_peer_certificate(srv);
	bool same = got && X509_cmp(got, want) == 0;
	X509_free(want);
	return same;
}

static void check_resumes(int version)
{
	SSL_CTX *s = server("tls", 1), *c = client(version);
	SSL_SESSION *sess = first(s, c, NAME_A);
	assert_int_equal(SSL_SESSION_is_resumable(sess), 1);

	struct conn k;
	handshake(&k, s, c, NAME_A, sess);
	assert_int_equal(SSL_session_reused(k.srv), 1);
	/* the identity comes with the session: verified certificate, OK */
	assert_true(same_client_cert(k.srv));
	assert_null(rw_tlsctx_peer_ok(k.srv, RW_CCERT_REQUIRED));
	assert_string_equal(rw_tlsctx_sni(k.srv), NAME_A);
	conn_free(&k);

	/* the same ticket for the other name this listener serves: a full
	 * handshake, and the name seen is the one sent now */
	handshake(&k, s, c, NAME_B, sess);
	assert_int_equal(SSL_session_reused(k.srv), 0);
	assert_true(same_client_cert(k.srv)); /* verified afresh */
	assert_string_equal(rw_tlsctx_sni(k.srv), NAME_B);
	conn_free(&k);

	SSL_SESSION_free(sess);
	SSL_CTX_free(s);
	SSL_CTX_free(c);
}

static void test_resume_tls13(void **state)
{
	check_resumes(TLS1_3_VERSION);
}

static void test_resume_tls12(void **state)
{
	check_resumes(TLS1_2_VERSION);
}

/* A new worker generation (new secret) or another listener (other keys,
 * other session id context) does not accept the ticket. */
static void test_ticket_bound_to_generation_and_listener(void **state)
{
	const int versions[2] = { TLS1_3_VERSION, TLS1_2_VERSION };
	for (int v = 0; v < 2; v++) {
		SSL_CTX *c = client(versions[v]);
		SSL_CTX *gen1 = server("tls", 1);
		SSL_SESSION *sess = first(gen1, c, NAME_A);

		SSL_CTX *gen2 = server("tls", 2);
		struct conn k;
		handshake(&k, gen2, c, NAME_A, sess);
		assert_int_equal(SSL_session_reused(k.srv), 0);
		conn_free(&k);

		SSL_CTX *other = server("other", 1);
		handshake(&k, other, c, NAME_A, sess);
		assert_int_equal(SSL_session_reused(k.srv), 0);
		conn_free(&k);

		/* and the issuing generation still does */
		handshake(&k, gen1, c, NAME_A, sess);
		assert_int_equal(SSL_session_reused(k.srv), 1);
		conn_free(&k);

		SSL_SESSION_free(sess);
		SSL_CTX_free(gen1);
		SSL_CTX_free(gen2);
		SSL_CTX_free(other);
		SSL_CTX_free(c);
	}
}

/* Without keys no ticket is issued, so nothing can resume. */
static void test_no_keys_no_tickets(void **state)
{
	const int versions[2] = { TLS1_3_VERSION, TLS1_2_VERSION };
	for (int v = 0; v < 2; v++) {
		SSL_CTX *s = server("tls", -1), *c = client(versions[v]);
		SSL_SESSION *sess = first(s, c, NAME_A);
		struct conn k;
		handshake(&k, s, c, NAME_A, sess);
		assert_int_equal(SSL_session_reused(k.srv), 0);
		conn_free(&k);
		SSL_SESSION_free(sess);
		SSL_CTX_free(s);
		SSL_CTX_free(c);
	}
}

static void test_key_derivation(void **state)
{
	uint8_t s1[RW_TLSCTX_SECRET_LEN], s2[RW_TLSCTX_SECRET_LEN];
	memset(s1, 7, sizeof(s1));
	memset(s2, 7, sizeof(s2));
	s2[31] ^= 1;
	uint8_t a[RW_TLSCTX_TICKET_KEYS_LEN], b[RW_TLSCTX_TICKET_KEYS_LEN],
		x[RW_TLSCTX_TICKET_KEYS_LEN], y[RW_TLSCTX_TICKET_KEYS_LEN];
	assert_int_equal(rw_tlsctx_ticket_keys(s1, "tls", a), 0);
	assert_int_equal(rw_tlsctx_ticket_keys(s1, "tls", b), 0);
	assert_memory_equal(a, b, sizeof(a)); /* every worker derives the same */
	assert_int_equal(rw_tlsctx_ticket_keys(s1, "tls2", x), 0);
	assert_int_equal(rw_tlsctx_ticket_keys(s2, "tls", y), 0);
	for (size_t off = 0; off < sizeof(a); off += 16) {
		assert_memory_not_equal(a + off, x + off, 16);
		assert_memory_not_equal(a + off, y + off, 16);
	}
	/* name, HMAC and AES keys are not the same bytes */
	assert_memory_not_equal(a, a + 16, 16);
	assert_memory_not_equal(a + 16, a + 48, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resume_tls13),
		cmocka_unit_test(test_resume_tls12),
		cmocka_unit_test(test_ticket_bound_to_generation_and_listener),
		cmocka_unit_test(test_no_keys_no_tickets),
		cmocka_unit_test(test_key_derivation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
