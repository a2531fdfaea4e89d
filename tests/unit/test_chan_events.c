/* Worker events on the channel (issue 9): the EVENT body check
 * (rw_chan_parse: '\n'-ended JSON lines, nothing the parent could split
 * wrongly), and the worker's sink (rw_chan_sink), which gathers the events
 * of one loop turn into one message: sent at the end of the turn on a
 * real rw_loop, at once without one, in several messages when they do not
 * fit in one, counted as dropped (per event) when the socket is full, and
 * flushed before a STATS message so the counts there cover them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/rw_err.h"
#include "base/rw_loop.h"
#include "fwd/rw_chan.h"

static size_t msg(uint8_t *buf, uint16_t type, const void *body, size_t len)
{
	struct rw_chan_hdr h = { .type = type, .len = (uint32_t)len };
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), body, len);
	return sizeof(h) + len;
}

static int parse_events(const char *body, size_t len)
{
	uint8_t buf[RW_CHAN_MSG_MAX];
	struct rw_chan_hdr h;
	const uint8_t *b;
	return rw_chan_parse(buf, msg(buf, RW_CHAN_EVENT, body, len), &h, &b);
}
#define PE(lit) parse_events(lit, sizeof(lit) - 1)

static void test_parse_events(void **state)
{
	(void)state;
	assert_int_equal(PE("{}\n"), 0);
	assert_int_equal(PE("{\"a\":1}\n{\"b\":2}\n{}\n"), 0);
	assert_int_equal(PE("{\"a\":1}"), RW_EPROTO);          /* not ended by '\n' */
	assert_int_equal(PE("{\"a\":1}\n{\"b\":2}"), RW_EPROTO); /* last line cut */
	assert_int_equal(PE("{}\n\n{}\n"), RW_EPROTO);           /* empty line */
	assert_int_equal(PE("{\n"), RW_EPROTO);                  /* one byte */
	assert_int_equal(PE("{}\nx}\n"), RW_EPROTO);             /* not an object */
	assert_int_equal(PE("\n"), RW_EPROTO);
	assert_int_equal(PE(""), RW_EPROTO);
	assert_int_equal(PE("{\"a\":\"\0\"}\n"), RW_EPROTO); /* NUL inside */
}

/* One message from s (non-blocking): its EVENT lines counted into
 * *lines; the type, or -1 when nothing is there. */
static int take(int s, unsigned *lines, struct rw_chan_stats *st)
{
	uint8_t buf[RW_CHAN_MSG_MAX];
	ssize_t n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0)
		return -1;
	struct rw_chan_hdr h;
	const uint8_t *b;
	assert_int_equal(rw_chan_parse(buf, (size_t)n, &h, &b), 0);
	if (h.type == RW_CHAN_EVENT) {
		for (uint32_t i = 0; i < h.len; i++)
			*lines += b[i] == '\n';
	} else if (h.type == RW_CHAN_STATS && st) {
		memcpy(st, b, sizeof(*st));
	}
	return h.type;
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
}

static struct rw_fwd_event ev_of(const char *reason)
{
	struct rw_fwd_event ev = { .time_ms = 1, .kind = "refuse", .reason = reason,
				   .listener = "l" };
	return ev;
}

static void test_one_message_per_turn(void **state)
{
	(void)state;
	int sv[2];
	pair(sv);
	struct rw_loop l;
	assert_int_equal(rw_loop_init(&l, 64), 0);
	static struct rw_chan_sink s;
	rw_chan_sink_init(&s, sv[0], 7);
	rw_chan_sink_attach(&s, &l);
	struct rw_fwd_event ev = ev_of("sni");
	for (int i = 0; i < 5; i++)
		rw_chan_event_emit(&s, &ev);
	unsigned lines = 0;
	assert_int_equal(take(sv[1], &lines, NULL), -1); /* held until the turn ends */
	assert_true(rw_loop_run_once(&l, 100) >= 1);       /* the 0 ms timer */
	assert_int_equal(take(sv[1], &lines, NULL), RW_CHAN_EVENT);
	assert_int_equal(lines, 5);
	assert_int_equal(take(sv[1], &lines, NULL), -1); /* one message, not five */
	assert_int_equal(s.stats.events_sent, 5);
	/* the next turn's events: a new message */
	rw_chan_event_emit(&s, &ev);
	assert_true(rw_loop_run_once(&l, 100) >= 1);
	lines = 0;
	assert_int_equal(take(sv[1], &lines, NULL), RW_CHAN_EVENT);
	assert_int_equal(lines, 1);
	/* STATS flushes first: its counts cover the events before it */
	rw_chan_event_emit(&s, &ev);
	rw_chan_event_emit(&s, &ev);
	struct rw_chan_stats st = { 0 };
	rw_chan_sink_stats(&s, 3);
	lines = 0;
	assert_int_equal(take(sv[1], &lines, NULL), RW_CHAN_EVENT);
	assert_int_equal(lines, 2);
	assert_int_equal(take(sv[1], &lines, &st), RW_CHAN_STATS);
	assert_int_equal(st.events_sent, 8);
	assert_int_equal(st.conns, 3);
	/* detach sends what is left and cancels the timer */
	rw_chan_event_emit(&s, &ev);
	rw_chan_sink_detach(&s);
	lines = 0;
	assert_int_equal(take(sv[1], &lines, NULL), RW_CHAN_EVENT);
	assert_int_equal(lines, 1);
	assert_int_equal(rw_loop_run_once(&l, 0), 0); /* no timer left */
	/* without a loop: each event at once */
	rw_chan_event_emit(&s, &ev);
	lines = 0;
	assert_int_equal(take(sv[1], &lines, NULL), RW_CHAN_EVENT);
	assert_int_equal(lines, 1);
	assert_int_equal(s.stats.events_dropped, 0);
	rw_loop_fini(&l);
	close(sv[0]);
	close(sv[1]);
}

/* More than one body's worth in one turn: several messages, none lost. */
static void test_overflow_splits(void **state)
{
	(void)state;
	int sv[2];
	pair(sv);
	int big = 4 << 20;
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	struct rw_loop l;
	assert_int_equal(rw_loop_init(&l, 64), 0);
	static struct rw_chan_sink s;
	rw_chan_sink_init(&s, sv[0], 1);
	rw_chan_sink_attach(&s, &l);
	char sni[200];
	memset(sni, 'a', sizeof(sni) - 1);
	sni[sizeof(sni) - 1] = '\0';
	struct rw_fwd_event ev = ev_of("sni");
	ev.sni = sni;
	const unsigned N = 300; /* ~300 B each: about 10 bodies */
	for (unsigned i = 0; i < N; i++)
		rw_chan_event_emit(&s, &ev);
	rw_chan_sink_detach(&s);
	unsigned lines = 0, msgs = 0;
	while (take(sv[1], &lines, NULL) == RW_CHAN_EVENT)
		msgs++;
	assert_int_equal(lines, N);
	assert_true(msgs >= 5 && msgs < N / 10);
	assert_int_equal(s.stats.events_sent, N);
	assert_int_equal(s.stats.events_dropped, 0);
	rw_loop_fini(&l);
	close(sv[0]);
	close(sv[1]);
}

/* A parent that does not read: every event that could not be sent is
 * counted as dropped (each event, not each message), and sent + dropped
 * is what was emitted. */
static void test_full_socket_counts_events(void **state)
{
	(void)state;
	int sv[2];
	pair(sv);
	static struct rw_chan_sink s;
	rw_chan_sink_init(&s, sv[0], 1);
	struct rw_loop l;
	assert_int_equal(rw_loop_init(&l, 64), 0);
	rw_chan_sink_attach(&s, &l);
	struct rw_fwd_event ev = ev_of("overload");
	const unsigned turns = 4000, per = 7;
	for (unsigned t = 0; t < turns; t++) {
		for (unsigned i = 0; i < per; i++)
			rw_chan_event_emit(&s, &ev);
		assert_true(rw_loop_run_once(&l, 100) >= 1);
	}
	assert_true(s.stats.events_dropped > 0);
	assert_int_equal(s.stats.events_sent + s.stats.events_dropped, (uint64_t)turns * per);
	unsigned lines = 0;
	while (take(sv[1], &lines, NULL) == RW_CHAN_EVENT)
		;
	assert_int_equal(lines, s.stats.events_sent);
	rw_chan_sink_detach(&s);
	rw_loop_fini(&l);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_events),
		cmocka_unit_test(test_one_message_per_turn),
		cmocka_unit_test(test_overflow_splits),
		cmocka_unit_test(test_full_socket_counts_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
