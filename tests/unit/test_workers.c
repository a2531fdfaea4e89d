/* Worker supervision (appliance/rw_workers.c) with real forked workers on
 * loopback: a dead worker's stop socket does not take the parent down,
 * and a new generation that cannot start leaves the old one serving. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "appliance/rw_config.h"
#include "appliance/rw_workers.h"

#define CERTS "tests/data/certs/"

static uint16_t free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	getsockname(s, (struct sockaddr *)&a, &l);
	close(s);
	return ntohs(a.sin_port);
}

static void load_x(struct rw_policy *p, uint16_t port, const char *key, const char *extra);

static void load(struct rw_policy *p, uint16_t port, const char *key)
{
	load_x(p, port, key, "");
}

static void load_x(struct rw_policy *p, uint16_t port, const char *key, const char *extra)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "registry = { upstream = \"127.0.0.1:9\"; server_names = [ \"registry.example.test\" ]; };\n"
		 "networks = { lo = [ \"127.0.0.0/8\" ]; };\n"
		 "listeners = ( { name = \"tls\"; listen = \"127.0.0.1:%u\"; mode = \"terminate\";\n"
		 "  cert = \"" CERTS "server.pem\"; key = \"%s\"; client_cert = \"none\";\n"
		 "  allow_from = [ \"lo\" ]; %s } );\n",
		 port, key, extra);
	struct rw_diag d;
	rw_diag_init(&d);
	if (rw_config_load_string(text, "w.conf", p, &d)) {
		rw_diag_print(&d, stderr);
		fail();
	}
}

/* A full TLS handshake with whoever accepts on the port (3 s bound). */
static bool handshake_ok(uint16_t port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 3 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool ok = false;
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0) {
		SSL_CTX *c = SSL_CTX_new(TLS_client_method());
		SSL *ssl = SSL_new(c);
		SSL_set_fd(ssl, s);
		SSL_set_tlsext_host_name(ssl, "registry.example.test");
		ok = SSL_connect(ssl) == 1;
		SSL_free(ssl);
		SSL_CTX_free(c);
		ERR_clear_error();
	}
	close(s);
	return ok;
}

/* Did the server issue a session ticket? (TLS 1.3: it arrives after the
 * handshake; a short read lets the client take it in.) */
static bool got_ticket(uint16_t port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 3 };
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(c);
	SSL_set_fd(ssl, s);
	SSL_set_tlsext_host_name(ssl, "registry.example.test");
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(SSL_connect(ssl), 1);
	struct timeval shortv = { .tv_usec = 500000 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &shortv, sizeof(shortv));
	char b;
	(void)SSL_peek(ssl, &b, 1); /* times out after taking in the ticket */
	ERR_clear_error();
	SSL_SESSION *sess = SSL_get1_session(ssl);
	bool has = sess && SSL_SESSION_has_ticket(sess);
	SSL_SESSION_free(sess);
	SSL_free(ssl);
	SSL_CTX_free(c);
	close(s);
	return has;
}

/* tls_tickets = false: the listener issues none (a full handshake for
 * every connection); by default the workers issue one. */
static void test_tickets_per_listener(void **state)
{
	uint16_t port = free_port();
	struct rw_policy on, off;
	load(&on, port, CERTS "server.key");
	load_x(&off, port, CERTS "server.key", "tls_tickets = false;");
	assert_true(off.listeners[0].no_tickets);
	struct rw_workers ws;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_workers_init(&ws, 1, &d), 0);
	assert_int_equal(rw_workers_start(&ws, &on, &d), 0);
	assert_true(got_ticket(port));
	assert_int_equal(rw_workers_start(&ws, &off, &d), 0);
	assert_false(got_ticket(port));
	rw_workers_fini(&ws);
	rw_policy_free(&on);
	rw_policy_free(&off);
}

static bool alive(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

static void test_dead_worker_does_not_kill_parent(void **state)
{
	uint16_t port = free_port();
	struct rw_policy p;
	load(&p, port, CERTS "server.key");
	struct rw_workers ws;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_workers_init(&ws, 2, &d), 0);
	assert_int_equal(rw_workers_start(&ws, &p, &d), 0);
	assert_true(handshake_ok(port));
	/* slot 0 dies; before its SIGCHLD is handled a new generation starts
	 * and writes "stop" to the dead worker's socket */
	pid_t dead = ws.slot[0].pid;
	kill(dead, SIGKILL);
	waitpid(dead, NULL, 0);
	rw_diag_init(&d);
	assert_int_equal(rw_workers_start(&ws, &p, &d), 0); /* still here: no SIGPIPE */
	assert_true(handshake_ok(port));
	rw_workers_fini(&ws);
	rw_policy_free(&p);
}

static void test_failed_generation_keeps_old(void **state)
{
	uint16_t port = free_port();
	struct rw_policy good, bad;
	load(&good, port, CERTS "server.key");
	/* a key the new workers cannot load (as mid-rotation) */
	load(&bad, port, CERTS "client.key");
	struct rw_workers ws;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_workers_init(&ws, 2, &d), 0);
	assert_int_equal(rw_workers_start(&ws, &good, &d), 0);
	pid_t a = ws.slot[0].pid, b = ws.slot[1].pid;
	assert_true(handshake_ok(port));

	rw_diag_init(&d);
	assert_int_not_equal(rw_workers_start(&ws, &bad, &d), 0);
	assert_true(d.n_err > 0);
	/* the old workers are still the ones in the slots, alive, serving */
	assert_int_equal(ws.slot[0].pid, a);
	assert_int_equal(ws.slot[1].pid, b);
	assert_true(alive(a) && alive(b));
	for (int i = 0; i < 8; i++)
		assert_true(handshake_ok(port));

	/* and a good policy replaces them as usual */
	rw_diag_init(&d);
	assert_int_equal(rw_workers_start(&ws, &good, &d), 0);
	assert_int_not_equal(ws.slot[0].pid, a);
	assert_true(handshake_ok(port));
	rw_workers_fini(&ws);
	rw_policy_free(&good);
	rw_policy_free(&bad);
}

/* A worker killed once is back at once; one killed each time it comes
 * back backs off, is never abandoned while budget is left, and once every
 * slot's budget is spent the supervisor says so (regwalld then exits for
 * the service manager). */
static pid_t wait_restart(struct rw_workers *ws, unsigned i, pid_t old, long long max_ms)
{
	for (long long waited = 0; waited <= max_ms; waited += 10) {
		rw_workers_reap(ws);
		rw_workers_tick(ws);
		if (ws->slot[i].pid && ws->slot[i].pid != old)
			return ws->slot[i].pid;
		usleep(10000);
	}
	return 0;
}

static void test_crash_restart_backoff(void **state)
{
	uint16_t port = free_port();
	struct rw_policy p;
	load(&p, port, CERTS "server.key");
	struct rw_workers ws;
	struct rw_diag d;
	rw_diag_init(&d);
	assert_int_equal(rw_workers_init(&ws, 1, &d), 0);
	assert_int_equal(rw_workers_start(&ws, &p, &d), 0);
	assert_true(handshake_ok(port));
	char why[160];
	pid_t pid;
	pid = ws.slot[0].pid;
	kill(pid, SIGKILL);
	pid_t next = wait_restart(&ws, 0, pid, 200);
	assert_true(next > 0); /* at once: no backoff after a first crash */
	assert_false(rw_workers_failed(&ws, why, sizeof(why)));
	/* a crash loop: killed as soon as it is back */
	int crashes = 1;
	while (crashes < 20 && !rw_workers_failed(&ws, why, sizeof(why))) {
		pid = ws.slot[0].pid;
		if (!pid) {
			usleep(10000);
			rw_workers_reap(&ws);
			rw_workers_tick(&ws);
			continue;
		}
		kill(pid, SIGKILL);
		crashes++;
		/* reaped, and either restarted or waiting for its backoff */
		for (int k = 0; k < 100 && ws.slot[0].pid == pid; k++) {
			usleep(5000);
			rw_workers_reap(&ws);
		}
		assert_int_not_equal(ws.slot[0].pid, pid);
		if (!ws.slot[0].pid)
			assert_true(rw_workers_next_ms(&ws) >= 0); /* a restart is due, not given up */
		if (rw_workers_failed(&ws, why, sizeof(why)))
			break;
		if (!ws.slot[0].pid)
			assert_true(wait_restart(&ws, 0, 0, 5000) > 0);
		/* back on its sockets (reopened if they were closed meanwhile) */
		assert_true(handshake_ok(port));
	}
	assert_true(rw_workers_failed(&ws, why, sizeof(why)));
	assert_non_null(strstr(why, "no worker stays up"));
	assert_in_range(crashes, RW_BACKOFF_BURST + 1, RW_BACKOFF_BURST + 3);
	rw_workers_fini(&ws);
	rw_policy_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dead_worker_does_not_kill_parent),
		cmocka_unit_test(test_failed_generation_keeps_old),
		cmocka_unit_test(test_tickets_per_listener),
		cmocka_unit_test(test_crash_restart_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
