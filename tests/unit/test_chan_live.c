/* Live network changes as channel deltas (issue 9): the NET_ADD / NET_DEL
 * message checks (rw_chan_parse), the sorted insert/delete the worker
 * applies (rw_fwd_net_change, against a brute-force model), and a real
 * worker on 127.0.0.1 whose second-line source check follows each delta
 * on its channel before its next accept; a delta out of order, for
 * another generation or naming a missing prefix ends the worker with
 * RW_EPROTO after a LOG message. Bans (BAN_ADD / BAN_DEL) reach the same
 * worker's admission: a banned source is reset with banned_l7 before its
 * network is looked at, for any generation, an address ban nested in a
 * banned prefix outlives the prefix's deletion, an expired ban lets the
 * source in again, and bans given at the start (a boot bundle's) hold
 * from the first connection. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fwd/rw_chan.h"
#include "fwd/rw_fwd.h"
#include "base/rw_loop.h"
#include "base/rw_err.h"
#include "rules/rw_cidr.h"

static struct rw_cidr C(const char *t)
{
	struct rw_cidr c;
	assert_int_equal(rw_cidr_parse(t, &c, 0), 0);
	return c;
}

static size_t net_msg(uint8_t *buf, uint16_t type, const struct rw_chan_net *m)
{
	struct rw_chan_hdr h = { .type = type, .len = sizeof(*m) };
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), m, sizeof(*m));
	return sizeof(h) + sizeof(*m);
}

static struct rw_chan_net mk(uint64_t seq, uint32_t gen, uint32_t net, const char *cidr)
{
	struct rw_chan_net m = { .seq = seq, .gen = gen, .net = net };
	struct rw_cidr c = C(cidr);
	m.family = c.family;
	m.prefix = c.prefix;
	memcpy(m.addr, c.addr, 16);
	return m;
}

static void test_parse_net(void **state)
{
	(void)state;
	uint8_t buf[RW_CHAN_MSG_MAX];
	struct rw_chan_hdr h;
	const uint8_t *body;
	const char *good[] = { "192.0.2.0/24", "192.0.2.7/32", "0.0.0.0/0", "2001:db8::/32",
			       "2001:db8::1/128", "::/0" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct rw_chan_net m = mk(1, 1, 0, good[i]);
		size_t n = net_msg(buf, RW_CHAN_NET_ADD, &m);
		assert_int_equal(rw_chan_parse(buf, n, &h, &body), 0);
		assert_int_equal(h.type, RW_CHAN_NET_ADD);
		n = net_msg(buf, RW_CHAN_NET_DEL, &m);
		assert_int_equal(rw_chan_parse(buf, n, &h, &body), 0);
	}
	struct rw_chan_net m = mk(1, 1, 0, "192.0.2.0/24");
	size_t n = net_msg(buf, RW_CHAN_NET_ADD, &m);
	/* one byte short / long */
	struct rw_chan_hdr bad = { .type = RW_CHAN_NET_ADD, .len = sizeof(m) - 1 };
	memcpy(buf, &bad, sizeof(bad));
	assert_int_equal(rw_chan_parse(buf, n - 1, &h, &body), RW_EPROTO);
	bad.len = sizeof(m) + 1;
	memcpy(buf, &bad, sizeof(bad));
	buf[n] = 0;
	assert_int_equal(rw_chan_parse(buf, n + 1, &h, &body), RW_EPROTO);
	/* host bits, prefix too long, family, unused bytes, seq 0 */
	struct rw_chan_net v = m;
	v.addr[3] = 1;
	assert_int_equal(rw_chan_parse(buf, net_msg(buf, RW_CHAN_NET_ADD, &v), &h, &body), RW_EPROTO);
	v = m;
	v.prefix = 33;
	assert_int_equal(rw_chan_parse(buf, net_msg(buf, RW_CHAN_NET_DEL, &v), &h, &body), RW_EPROTO);
	v = m;
	v.family = 0;
	assert_int_equal(rw_chan_parse(buf, net_msg(buf, RW_CHAN_NET_ADD, &v), &h, &body), RW_EPROTO);
	v = m;
	v.addr[4] = 1; /* past an IPv4 address */
	assert_int_equal(rw_chan_parse(buf, net_msg(buf, RW_CHAN_NET_ADD, &v), &h, &body), RW_EPROTO);
	v = m;
	v.zero[5] = 1;
	assert_int_equal(rw_chan_parse(buf, net_msg(buf, RW_CHAN_NET_ADD, &v), &h, &body), RW_EPROTO);
	v = m;
	v.seq = 0;
	assert_int_equal(rw_chan_parse(buf, net_msg(buf, RW_CHAN_NET_ADD, &v), &h, &body), RW_EPROTO);
	v = mk(1, 1, 0, "2001:db8::/32");
	v.prefix = 129;
	assert_int_equal(rw_chan_parse(buf, net_msg(buf, RW_CHAN_NET_ADD, &v), &h, &body), RW_EPROTO);
	v = mk(1, 1, 0, "2001:db8::/32");
	v.addr[15] = 1;
	assert_int_equal(rw_chan_parse(buf, net_msg(buf, RW_CHAN_NET_ADD, &v), &h, &body), RW_EPROTO);
	/* a STATS of the old size is refused now that it carries live_seq */
	struct rw_chan_hdr sh = { .type = RW_CHAN_STATS, .len = 32 };
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &sh, sizeof(sh));
	assert_int_equal(rw_chan_parse(buf, sizeof(sh) + 32, &h, &body), RW_EPROTO);
}

/* ---- the sorted set the worker keeps ---- */

static int key_cmp(const struct rw_cidr *a, const struct rw_cidr *b)
{
	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	return memcmp(a->addr, b->addr, 16);
}

static void check_sorted(const struct rw_network *net)
{
	for (size_t i = 1; i < net->n_cidrs; i++) {
		assert_true(key_cmp(&net->cidrs[i - 1], &net->cidrs[i]) < 0);
		/* disjoint */
		assert_false(rw_cidr_contains(&net->cidrs[i - 1], net->cidrs[i].family,
					      net->cidrs[i].addr));
	}
}

static void test_net_change(void **state)
{
	(void)state;
	struct rw_network net = { .name = "office" };
	/* overlaps both ways, exact deletes */
	struct rw_cidr a = C("192.0.2.0/24"), b = C("198.51.100.0/24"), v6 = C("2001:db8::/48");
	assert_int_equal(rw_fwd_net_change(&net, 1, &v6), 0);
	assert_int_equal(rw_fwd_net_change(&net, 1, &b), 0);
	assert_int_equal(rw_fwd_net_change(&net, 1, &a), 0);
	check_sorted(&net);
	assert_int_equal(net.n_cidrs, 3);
	assert_int_equal(net.cidrs[0].addr[0], 192);
	assert_int_equal(net.cidrs[2].family, AF_INET6);
	struct rw_cidr in = C("192.0.2.128/25"), over = C("192.0.0.0/16"), same = C("192.0.2.0/24");
	assert_int_equal(rw_fwd_net_change(&net, 1, &in), RW_EEXIST);
	assert_int_equal(rw_fwd_net_change(&net, 1, &over), RW_EEXIST);
	assert_int_equal(rw_fwd_net_change(&net, 1, &same), RW_EEXIST);
	struct rw_cidr v6in = C("2001:db8:0:1::/64");
	assert_int_equal(rw_fwd_net_change(&net, 1, &v6in), RW_EEXIST);
	assert_int_equal(rw_fwd_net_change(&net, 0, &in), RW_ENOENT);
	assert_int_equal(rw_fwd_net_change(&net, 0, &over), RW_ENOENT);
	struct rw_cidr a25 = C("192.0.2.0/25");
	assert_int_equal(rw_fwd_net_change(&net, 0, &a25), RW_ENOENT); /* same start, other length */
	assert_int_equal(rw_fwd_net_change(&net, 0, &a), 0);
	assert_int_equal(rw_fwd_net_change(&net, 0, &a), RW_ENOENT);
	assert_int_equal(rw_fwd_net_change(&net, 1, &in), 0); /* room again */
	/* an IPv4 prefix never overlaps an IPv6 one with the same bytes */
	struct rw_cidr v4all = C("0.0.0.0/0");
	assert_int_equal(rw_fwd_net_change(&net, 1, &v4all), RW_EEXIST);
	free(net.cidrs);

	/* 4,000 random /32 and /24 changes against a brute-force model */
	struct rw_network m = { .name = "m" };
	static uint8_t have[256][256]; /* 10.x.y.0/24 present (1) or /32 hosts in it (bits) */
	memset(have, 0, sizeof(have));
	unsigned seed = 12345;
	size_t model_n = 0;
	for (int k = 0; k < 4000; k++) {
		seed = seed * 1103515245u + 12345u;
		unsigned x = (seed >> 8) & 7, y = (seed >> 12) & 7, z = (seed >> 16) & 3;
		bool wide = ((seed >> 20) & 3) == 0;
		char t[40];
		if (wide)
			snprintf(t, sizeof(t), "10.%u.%u.0/24", x, y);
		else
			snprintf(t, sizeof(t), "10.%u.%u.%u/32", x, y, z);
		struct rw_cidr c = C(t);
		uint8_t *cell = &have[x][y];
		uint8_t bit = (uint8_t)(1u << (z + 1));
		bool add = (seed >> 24) & 1;
		int r = rw_fwd_net_change(&m, add, &c);
		int want;
		if (add) {
			bool clash = wide ? *cell != 0 : (*cell & 1) || (*cell & bit);
			want = clash ? RW_EEXIST : 0;
			if (!clash) {
				*cell |= wide ? 1 : bit;
				model_n++;
			}
		} else {
			bool there = wide ? (*cell & 1) : (*cell & bit) != 0;
			want = there ? 0 : RW_ENOENT;
			if (there) {
				*cell &= (uint8_t)~(wide ? 1 : bit);
				model_n--;
			}
		}
		assert_int_equal(r, want);
		assert_int_equal(m.n_cidrs, model_n);
	}
	check_sorted(&m);
	free(m.cidrs);
}

/* ---- a worker following its channel ---- */

struct wfix {
	struct rw_policy pol;
	struct rw_listener lis;
	struct rw_network nets[2];
	size_t allow[1];
	char *names[1];
	int chan[2]; /* [0] the worker's end, [1] the test's (the parent's) */
	struct rw_fwd_worker *w;
	pthread_t th;
	uint16_t port;
	int rc;
};

static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static int n_l7, n_ban, n_other;

static void on_event(void *ctx, const struct rw_fwd_event *ev)
{
	(void)ctx;
	pthread_mutex_lock(&ev_mu);
	if (ev->reason && strcmp(ev->reason, "not_allowed_l7") == 0)
		n_l7++;
	else if (ev->reason && strcmp(ev->reason, "banned_l7") == 0)
		n_ban++;
	else
		n_other++;
	pthread_mutex_unlock(&ev_mu);
}

static void *worker_main(void *arg)
{
	struct wfix *f = arg;
	f->rc = rw_fwd_worker_loop(f->w);
	return NULL;
}

static void wfix_start_bans(struct wfix *f, uint32_t gen, uint64_t seq, struct rw_bans *bans)
{
	memset(f, 0, sizeof(*f));
	static const uint8_t lo[4] = { 127, 0, 0, 1 };
	f->names[0] = "registry.example.test";
	f->pol.registry.upstream.family = AF_INET;
	memcpy(f->pol.registry.upstream.addr, lo, 4);
	f->pol.registry.upstream.port = 9; /* never reached: the tests send no hello */
	f->pol.registry.server_names = f->names;
	f->pol.registry.n_server_names = 1;
	snprintf(f->nets[0].name, sizeof(f->nets[0].name), "other");
	snprintf(f->nets[1].name, sizeof(f->nets[1].name), "office");
	/* office holds a documentation prefix; 127.0.0.1 only comes live */
	f->nets[1].cidrs = malloc(sizeof(struct rw_cidr));
	f->nets[1].cidrs[0] = C("192.0.2.0/24");
	f->nets[1].n_cidrs = 1;
	f->pol.networks = f->nets;
	f->pol.n_networks = 2;
	snprintf(f->lis.name, sizeof(f->lis.name), "pass");
	f->lis.listen.family = AF_INET;
	memcpy(f->lis.listen.addr, lo, 4);
	f->lis.mode = RW_MODE_PASSTHROUGH;
	f->allow[0] = 1;
	f->lis.allow_nets = f->allow;
	f->lis.n_allow_nets = 1;
	f->pol.listeners = &f->lis;
	f->pol.n_listeners = 1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, f->chan), 0);
	struct rw_fwd_opts o;
	rw_fwd_opts_default(&o);
	o.check_sources = 1;
	o.hello_timeout_ms = 60000;
	o.stop_fd = f->chan[0];
	o.live_pol = &f->pol;
	o.live_gen = gen;
	o.live_seq = seq;
	o.bans = bans;
	struct rw_fwd_events ev = { .emit = on_event };
	assert_int_equal(rw_fwd_worker_new(&f->pol, &o, &ev, &f->w), 0);
	f->port = rw_fwd_worker_port(f->w, 0);
	assert_true(f->port != 0);
	pthread_mutex_lock(&ev_mu);
	n_l7 = n_ban = n_other = 0;
	pthread_mutex_unlock(&ev_mu);
	assert_int_equal(pthread_create(&f->th, NULL, worker_main, f), 0);
}

static void wfix_start(struct wfix *f, uint32_t gen, uint64_t seq)
{
	wfix_start_bans(f, gen, seq, NULL);
}

static void wfix_end(struct wfix *f)
{
	pthread_join(f->th, NULL);
	rw_fwd_worker_free(f->w);
	close(f->chan[0]);
	close(f->chan[1]);
	free(f->nets[1].cidrs);
}

static void send_net(struct wfix *f, uint16_t type, uint64_t seq, uint32_t gen, uint32_t net,
		     const char *cidr)
{
	struct rw_chan_net m = mk(seq, gen, net, cidr);
	assert_int_equal(rw_chan_send(f->chan[1], type, 0, &m, sizeof(m)), 0);
}

/* Connect from 127.0.0.1: 1 = admitted (still open after the admission
 * decision), 0 = reset by the second-line check with the refusal counted
 * in *count (not_allowed_l7: n_l7, banned_l7: n_ban; the worker emits the
 * event just after the reset); an admitted passthrough connection waits
 * for its ClientHello. */
static int try_connect_as(struct wfix *f, int *count)
{
	pthread_mutex_lock(&ev_mu);
	int l7_before = *count;
	pthread_mutex_unlock(&ev_mu);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(f->port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	/* refused: RST within a few ms; admitted: nothing for 100 ms */
	struct pollfd p = { .fd = s, .events = POLLIN };
	int pr = poll(&p, 1, 100);
	close(s);
	/* the worker resets, then emits: wait for the event (bounded) */
	int refused = 0;
	for (int k = 0; k < (pr > 0 ? 200 : 1); k++) {
		pthread_mutex_lock(&ev_mu);
		refused = *count > l7_before;
		pthread_mutex_unlock(&ev_mu);
		if (refused)
			break;
		struct timespec ts = { 0, 5 * 1000000 };
		nanosleep(&ts, NULL);
	}
	assert_int_equal(pr > 0, refused);
	return !refused;
}

static int try_connect(struct wfix *f)
{
	return try_connect_as(f, &n_l7);
}

static void test_worker_follows_deltas(void **state)
{
	(void)state;
	struct wfix f;
	wfix_start(&f, 7, 40);
	assert_int_equal(try_connect(&f), 0); /* not in office yet */
	/* each delta decides the very next connection: sent, then connect at
	 * once (the worker reads its channel before it accepts) */
	uint64_t seq = 40;
	for (int k = 0; k < 50; k++) {
		send_net(&f, RW_CHAN_NET_ADD, ++seq, 7, 1, "127.0.0.1/32");
		assert_int_equal(try_connect(&f), 1);
		send_net(&f, RW_CHAN_NET_DEL, ++seq, 7, 1, "127.0.0.1/32");
		assert_int_equal(try_connect(&f), 0);
	}
	/* a wider prefix, then the file's prefix deleted: still sorted */
	send_net(&f, RW_CHAN_NET_ADD, ++seq, 7, 1, "127.0.0.0/8");
	send_net(&f, RW_CHAN_NET_DEL, ++seq, 7, 1, "192.0.2.0/24");
	assert_int_equal(try_connect(&f), 1);
	assert_int_equal(f.nets[1].n_cidrs, 1);
	assert_int_equal(rw_fwd_worker_live_seq(f.w), seq);
	/* a STOP still stops (and drains at once: no connection open) */
	assert_int_equal(rw_chan_send(f.chan[1], RW_CHAN_STOP, 0, NULL, 0), 0);
	wfix_end(&f);
	assert_int_equal(f.rc, 0);
}

/* Read the worker's LOG message (bounded wait). */
static void expect_log(struct wfix *f, const char *needle)
{
	uint8_t buf[RW_CHAN_MSG_MAX];
	for (int k = 0; k < 50; k++) {
		struct pollfd p = { .fd = f->chan[1], .events = POLLIN };
		assert_true(poll(&p, 1, 2000) > 0);
		ssize_t n = recv(f->chan[1], buf, sizeof(buf), 0);
		assert_true(n > 0);
		struct rw_chan_hdr h;
		const uint8_t *body;
		assert_int_equal(rw_chan_parse(buf, (size_t)n, &h, &body), 0);
		if (h.type != RW_CHAN_LOG)
			continue;
		char text[RW_CHAN_LOG_MAX + 1];
		memcpy(text, body, h.len);
		text[h.len] = 0;
		print_message("worker LOG: %s\n", text);
		assert_non_null(strstr(text, needle));
		return;
	}
	fail_msg("no LOG from the worker");
}

static void test_worker_refuses_bad_deltas(void **state)
{
	(void)state;
	struct {
		uint16_t type;
		uint64_t seq;
		uint32_t gen, net;
		const char *cidr, *log;
	} bad[] = {
		{ RW_CHAN_NET_ADD, 3, 1, 1, "127.0.0.1/32", "out of order" },   /* gap */
		{ RW_CHAN_NET_ADD, 1, 1, 1, "127.0.0.1/32", "out of order" },   /* replay */
		{ RW_CHAN_NET_ADD, 2, 2, 1, "127.0.0.1/32", "generation 2" },  /* other generation */
		{ RW_CHAN_NET_ADD, 2, 1, 5, "127.0.0.1/32", "2 networks" },    /* no such network */
		{ RW_CHAN_NET_ADD, 2, 1, 1, "192.0.2.128/25", "overlaps" },    /* the worker disagrees */
		{ RW_CHAN_NET_DEL, 2, 1, 1, "198.51.100.0/24", "is not in" },  /* not there */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wfix f;
		wfix_start(&f, 1, 1);
		send_net(&f, bad[i].type, bad[i].seq, bad[i].gen, bad[i].net, bad[i].cidr);
		expect_log(&f, bad[i].log);
		wfix_end(&f);
		assert_int_equal(f.rc, RW_EPROTO);
	}
	/* a garbled NET_ADD (host bits) fails rw_chan_parse: on a channel
	 * that carries live changes it ends the worker the same way */
	struct wfix f;
	wfix_start(&f, 1, 1);
	struct rw_chan_net m = mk(2, 1, 1, "127.0.0.0/8");
	m.addr[3] = 1;
	assert_int_equal(rw_chan_send(f.chan[1], RW_CHAN_NET_ADD, 0, &m, sizeof(m)), 0);
	expect_log(&f, "malformed message on the parent's channel (type 6, 52 bytes)");
	wfix_end(&f);
	assert_int_equal(f.rc, RW_EPROTO);
}

static void send_ban(struct wfix *f, uint16_t type, const char *cidr, uint64_t expires_ms)
{
	struct rw_chan_ban m = { .expires_ms = expires_ms };
	struct rw_cidr c = C(cidr);
	m.family = c.family;
	m.prefix = c.prefix;
	memcpy(m.addr, c.addr, 16);
	assert_int_equal(rw_chan_send(f->chan[1], type, 0, &m, sizeof(m)), 0);
}

static void test_worker_follows_bans(void **state)
{
	(void)state;
	struct wfix f;
	wfix_start(&f, 3, 0);
	uint64_t later = rw_bans_now_ms() + 3600 * 1000;
	/* allowed by its network first; each ban decides the next connection */
	send_net(&f, RW_CHAN_NET_ADD, 1, 3, 1, "127.0.0.1/32");
	assert_int_equal(try_connect(&f), 1);
	send_ban(&f, RW_CHAN_BAN_ADD, "127.0.0.0/8", later);
	assert_int_equal(try_connect_as(&f, &n_ban), 0);
	/* an address ban inside the banned prefix; the prefix goes, the
	 * address ban stays, then it goes too */
	send_ban(&f, RW_CHAN_BAN_ADD, "127.0.0.1/32", later);
	send_ban(&f, RW_CHAN_BAN_DEL, "127.0.0.0/8", 0);
	assert_int_equal(try_connect_as(&f, &n_ban), 0);
	send_ban(&f, RW_CHAN_BAN_DEL, "127.0.0.1/32", 0);
	assert_int_equal(try_connect(&f), 1);
	/* a deletion of what the worker does not hold changes nothing */
	send_ban(&f, RW_CHAN_BAN_DEL, "127.0.0.1/32", 0);
	send_ban(&f, RW_CHAN_BAN_DEL, "192.0.2.0/24", 0);
	assert_int_equal(try_connect(&f), 1);
	/* a ban comes before the network check: a source outside every
	 * allowed network but banned is refused as banned */
	send_net(&f, RW_CHAN_NET_DEL, 2, 3, 1, "127.0.0.1/32");
	send_ban(&f, RW_CHAN_BAN_ADD, "127.0.0.1/32", later);
	assert_int_equal(try_connect_as(&f, &n_ban), 0);
	send_ban(&f, RW_CHAN_BAN_DEL, "127.0.0.1/32", 0);
	assert_int_equal(try_connect(&f), 0); /* not_allowed_l7 again */
	send_net(&f, RW_CHAN_NET_ADD, 3, 3, 1, "127.0.0.1/32");
	/* a short ban, then its expiry */
	send_ban(&f, RW_CHAN_BAN_ADD, "127.0.0.1/32", rw_bans_now_ms() + 400);
	assert_int_equal(try_connect_as(&f, &n_ban), 0);
	struct timespec ts = { 0, 500 * 1000000 };
	nanosleep(&ts, NULL);
	assert_int_equal(try_connect(&f), 1);
	/* bans carry no generation or sequence: the live sequence is as the
	 * network changes left it, and the worker is still running */
	assert_int_equal(rw_fwd_worker_live_seq(f.w), 3);
	assert_int_equal(rw_chan_send(f.chan[1], RW_CHAN_STOP, 0, NULL, 0), 0);
	wfix_end(&f);
	assert_int_equal(f.rc, 0);
}

/* Bans given at the start (as a boot bundle brings them) hold from the
 * first connection; the worker changes that object in place. */
static void test_worker_boot_bans(void **state)
{
	(void)state;
	struct rw_bans bans = RW_BANS_INIT;
	struct rw_cidr lo = C("127.0.0.0/30");
	assert_int_equal(rw_bans_add(&bans, &lo, rw_bans_now_ms() + 3600 * 1000), 0);
	struct wfix f;
	wfix_start_bans(&f, 1, 1, &bans);
	send_net(&f, RW_CHAN_NET_ADD, 2, 1, 1, "127.0.0.1/32");
	assert_int_equal(try_connect_as(&f, &n_ban), 0);
	send_ban(&f, RW_CHAN_BAN_DEL, "127.0.0.0/30", 0);
	assert_int_equal(try_connect(&f), 1);
	assert_int_equal(rw_bans_count(&bans), 0);
	assert_int_equal(rw_chan_send(f.chan[1], RW_CHAN_STOP, 0, NULL, 0), 0);
	wfix_end(&f);
	assert_int_equal(f.rc, 0);
	rw_bans_free(&bans);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_net),
		cmocka_unit_test(test_net_change),
		cmocka_unit_test(test_worker_follows_deltas),
		cmocka_unit_test(test_worker_refuses_bad_deltas),
		cmocka_unit_test(test_worker_follows_bans),
		cmocka_unit_test(test_worker_boot_bans),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
