/* The worker: listeners, admission under overload, the loop's lifetime. */
#include "fwd/rw_fwd.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fwd/rw_chan.h"
#include "rules/rw_decide.h"
#include "fwd/rw_fwd_int.h"
#include "fwd/rw_orig_dst.h"
#include "fwd/rw_listen.h"
#include "fwd/rw_pass.h"
#include "fwd/rw_term.h"
#include "base/rw_err.h"
#include "rules/rw_cidr.h"

/* Accepts per readiness event: bounded so a flood on one listener cannot
 * starve relaying connections. */
#define RW_FWD_ACCEPT_BATCH 64
/* When even the spare fd cannot absorb an accept, listeners pause this
 * long instead of spinning on a readable listen socket. */
#define RW_FWD_PAUSE_MS 100

void rw_fwd_opts_default(struct rw_fwd_opts *o)
{
	*o = (struct rw_fwd_opts){
		.hello_timeout_ms = RW_LIMITS_DEF_HELLO_MS,
		.connect_timeout_ms = RW_LIMITS_DEF_CONNECT_MS,
		.response_timeout_ms = RW_LIMITS_DEF_RESPONSE_MS,
		.idle_timeout_ms = RW_LIMITS_DEF_IDLE_MS,
		.max_conns = RW_LIMITS_DEF_MAX_CONNS,
		.max_per_source = RW_LIMITS_DEF_MAX_PER_SOURCE,
		.max_idle_pipes = 256,
		.backlog = 1024,
		.stop_fd = -1,
		.drain_timeout_ms = RW_LIMITS_DEF_DRAIN_MS,
		.send_alert = 1,
		.handshake_timeout_ms = RW_LIMITS_DEF_HANDSHAKE_MS,
		.header_timeout_ms = RW_LIMITS_DEF_HEADER_MS,
	};
}

void rw_fwd_opts_from_policy(struct rw_fwd_opts *o, const struct rw_policy *p)
{
	const struct rw_limits *l = &p->limits;
	o->hello_timeout_ms = l->hello_timeout_ms;
	o->handshake_timeout_ms = l->handshake_timeout_ms;
	o->header_timeout_ms = l->header_timeout_ms;
	o->idle_timeout_ms = l->idle_timeout_ms;
	o->connect_timeout_ms = l->connect_timeout_ms;
	o->response_timeout_ms = l->response_timeout_ms;
	o->max_conns = l->max_connections;
	o->max_per_source = l->max_per_source;
	o->drain_timeout_ms = l->drain_timeout_ms;
	o->check_sources = 1;
}

uint64_t rw_fwd_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void rw_fwd_emit_refuse(struct rw_fwd_worker *w, const struct rw_fwd_listener *lis,
			const struct sockaddr_storage *ss, const char *reason)
{
	struct rw_fwd_event ev = {
		.time_ms = rw_fwd_wall_ms(),
		.kind = "refuse",
		.reason = reason,
		.listener = lis ? lis->cfg->name : NULL,
	};
	if (ss)
		rw_listen_peer(ss, &ev.src_family, ev.src_addr, &ev.src_port);
	rw_event_emit(&w->ev, &ev);
}

void rw_fwd_linger0(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* A live change to a worker's copy of a network (rules/rw_cidrset.h). */
int rw_fwd_net_change(struct rw_network *net, int add, const struct rw_cidr *c)
{
	return add ? rw_cidrset_net_insert(net, c) : rw_cidrset_net_remove(net, c);
}

/* The interface the connection's SYN came in on: the kernel keeps it for
 * an accepted TCP socket whose listener has IP_PKTINFO / IPV6_RECVPKTINFO
 * set (appliance/rw_workers.c, rw_fwd_worker_new) and hands it out as a
 * PKTINFO control message of IP_PKTOPTIONS / IPV6_2292PKTOPTIONS. 0 when
 * unknown (option missing): then the source counts as not from the VPN. */
static int rw_fwd_ingress_ifindex(int fd, int family)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) * 4];
		struct cmsghdr align;
	} u;
	socklen_t len = sizeof(u.buf);
	int r = family == AF_INET ? getsockopt(fd, IPPROTO_IP, IP_PKTOPTIONS, u.buf, &len)
				  : getsockopt(fd, IPPROTO_IPV6, IPV6_2292PKTOPTIONS, u.buf, &len);
	if (r)
		return 0;
	struct msghdr mh = { .msg_control = u.buf, .msg_controllen = len };
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (family == AF_INET && c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			return pi.ipi_ifindex;
		}
		if (family == AF_INET6 && c->cmsg_level == IPPROTO_IPV6 &&
		    (c->cmsg_type == IPV6_PKTINFO || c->cmsg_type == IPV6_2292PKTINFO) &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			return (int)pi.ipi6_ifindex;
		}
	}
	return 0;
}

void rw_fwd_listen_pktinfo(int fd, int family)
{
	int one = 1;
	if (family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
}

/* The index of interface name, asked on fd (any socket): not
 * if_nametoindex(), which opens an AF_UNIX socket of its own, and the
 * sandbox's seccomp filter kills a worker for that (found by
 * tests/net/test_explain.sh: the first SYN through the VPN interface). */
static int rw_fwd_ifindex(int fd, const char *name)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	size_t n = strnlen(name, sizeof(ifr.ifr_name));
	if (n == 0 || n >= sizeof(ifr.ifr_name))
		return 0;
	memcpy(ifr.ifr_name, name, n);
	return ioctl(fd, SIOCGIFINDEX, &ifr) == 0 ? ifr.ifr_ifindex : 0;
}

static bool rw_fwd_via_vpn(struct rw_fwd_worker *w, int cfd, int family)
{
	int iif = rw_fwd_ingress_ifindex(cfd, family);
	if (iif <= 0)
		return false;
	/* the interface may have been created again with another index */
	if (iif != w->vpn_ifindex)
		w->vpn_ifindex = rw_fwd_ifindex(cfd, w->p->vpn.interface);
	return iif == w->vpn_ifindex;
}

struct rw_fwd_vpn_ask {
	struct rw_fwd_worker *w;
	int cfd, family;
};

static bool rw_fwd_on_vpn(void *arg)
{
	struct rw_fwd_vpn_ask *a = arg;
	return rw_fwd_via_vpn(a->w, a->cfd, a->family);
}

/* The listener's allow_from, as the kernel's input chain decides it: the
 * same function explain reports (rw_decide_source_fn); the interface the
 * SYN came in on is asked of the socket, and only for a VPN peer's
 * address outside the allowing networks. */
static bool rw_fwd_source_allowed(struct rw_fwd_worker *w, const struct rw_fwd_listener *lis,
				  int cfd, uint8_t family, const uint8_t addr[16])
{
	if (!w->o.check_sources)
		return true;
	struct rw_fwd_vpn_ask ask = { .w = w, .cfd = cfd, .family = family };
	const char *net;
	return rw_decide_source_ix(w->p, &w->peer_ix, lis->cfg, family, addr, rw_fwd_on_vpn, &ask,
				   &net);
}

/* A manual ban in force now holds the source (the kernel's early chain
 * drops it before the input chain; with that element gone, this is the
 * only check left). The clock is read only while there are bans; a ban
 * that expired goes at the first connection after. */
static bool rw_fwd_banned(struct rw_fwd_worker *w, uint8_t family, const uint8_t addr[16])
{
	if (rw_bans_count(w->bans) == 0)
		return false;
	uint64_t now = rw_bans_now_ms();
	(void)rw_bans_prune(w->bans, now);
	return rw_bans_find(w->bans, family, addr, now, NULL, NULL);
}

long rw_fwd_admit(struct rw_fwd_worker *w, const struct rw_fwd_listener *lis, int cfd,
		  const struct sockaddr_storage *ss, void *conn, struct rw_src_key *key,
		  uint8_t *family, uint8_t addr[16], uint16_t *port)
{
	rw_listen_peer(ss, family, addr, port);
	rw_src_key_make(key, *family, addr);
	const char *no = rw_fwd_banned(w, *family, addr) ? "banned_l7"
			 : !rw_fwd_source_allowed(w, lis, cfd, *family, addr) ? "not_allowed_l7"
									       : NULL;
	/* transparent: only what was meant for the upstream (rw_orig_dst.h) */
	if (!no && lis->cfg->transparent)
		no = rw_orig_dst_check(cfd, *family, &w->p->registry.upstream);
	if (no) {
		rw_fwd_linger0(cfd);
		close(cfd);
		rw_fwd_emit_refuse(w, lis, ss, no);
		return RW_EPERM;
	}
	long slot = conn ? rw_conn_admit_class(&w->conns, (size_t)(lis - w->lis), key, conn)
			 : RW_ENOMEM;
	if (slot < 0) {
		/* RST: an overloaded worker should not keep TIME_WAIT state for
		 * connections it never served. */
		rw_fwd_linger0(cfd);
		close(cfd);
		rw_fwd_emit_refuse(w, lis, ss, slot == RW_ERANGE ? "source_limit" : "overload");
	}
	return slot;
}

static void rw_fwd_spare_open(struct rw_fwd_worker *w)
{
	if (w->spare_fd < 0)
		w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void rw_fwd_pause(struct rw_fwd_worker *w, bool pause)
{
	for (size_t i = 0; i < w->n_lis; i++)
		if (w->lis[i].fd >= 0)
			rw_loop_fd_mod(&w->loop, w->lis[i].fd, pause ? 0 : RW_LOOP_READ);
	w->listeners_paused = pause;
	if (pause)
		rw_loop_timer_arm(&w->loop, &w->resume_timer, RW_FWD_PAUSE_MS);
}

static void rw_fwd_on_resume(struct rw_loop *l, void *arg)
{
	struct rw_fwd_worker *w = arg;
	rw_fwd_spare_open(w);
	rw_fwd_pause(w, false);
}

/* Out of fds: give up the spare, accept the waiting connection and close
 * it at once, so the kernel queue drains and the client learns quickly,
 * and nothing is let through that was not looked at. */
static bool rw_fwd_shed(struct rw_fwd_worker *w, struct rw_fwd_listener *lis)
{
	if (w->spare_fd < 0)
		return false;
	close(w->spare_fd);
	w->spare_fd = -1;
	int cfd;
	struct sockaddr_storage ss;
	int rc = rw_listen_accept(lis->fd, &cfd, &ss);
	if (rc == 0) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(cfd);
		rw_fwd_emit_refuse(w, lis, &ss, "overload");
	}
	rw_fwd_spare_open(w);
	return rc == 0 && w->spare_fd >= 0;
}

static bool rw_fwd_chan_read(struct rw_fwd_worker *w, unsigned budget);

static void rw_fwd_on_accept(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	struct rw_fwd_listener *lis = arg;
	struct rw_fwd_worker *w = lis->w;
	/* A live change sent before this connection came must decide it:
	 * epoll may report the listener before the channel in one batch, so
	 * read what the channel holds first (one recv that finds nothing, per
	 * batch of accepts). A STOP read here ends accepting. */
	if (w->o.live_pol && w->o.stop_fd >= 0 && (!rw_fwd_chan_read(w, 64) || lis->fd < 0))
		return;
	for (int i = 0; i < RW_FWD_ACCEPT_BATCH; i++) {
		int cfd;
		struct sockaddr_storage ss;
		int rc = rw_listen_accept(fd, &cfd, &ss);
		if (rc == RW_EINCOMPLETE)
			return;
		if (rc == RW_ETOOBIG) {
			if (!rw_fwd_shed(w, lis)) {
				rw_fwd_pause(w, true);
				return;
			}
			continue;
		}
		if (rc)
			return;
		if ((size_t)cfd >= w->loop.setsize) {
			close(cfd);
			rw_fwd_emit_refuse(w, lis, &ss, "overload");
			continue;
		}
		if (lis->term)
			rw_term_accept(w, lis, lis->term, cfd, &ss);
		else
			rw_pass_accept(w, lis, cfd, &ss);
	}
}

static void rw_fwd_on_drain(struct rw_loop *l, void *arg)
{
	struct rw_fwd_worker *w = arg;
	if (w->conns.n == 0 || rw_loop_now_ms(l) >= w->drain_deadline_ms)
		rw_loop_stop(l);
	else
		rw_loop_timer_arm(l, &w->drain_timer, 100);
}

static void rw_fwd_on_tick(struct rw_loop *l, void *arg)
{
	struct rw_fwd_worker *w = arg;
	w->o.tick(w->o.tick_ctx, w->conns.n);
	rw_loop_timer_arm(l, &w->tick_timer, w->o.tick_ms);
}

/* Stop accepting and drain (a STOP, or the parent went). */
static void rw_fwd_stop(struct rw_fwd_worker *w)
{
	struct rw_loop *l = &w->loop;
	int fd = w->o.stop_fd;
	rw_loop_fd_del(l, fd);
	w->o.stop_fd = -1;
	/* No new connections here. Out of the loop first: the parent still
	 * holds the socket, so epoll would keep reporting it after close.
	 * Closing only drops this process's copy; connections queued on the
	 * socket stay for the next generation, which accepts from it. */
	for (size_t i = 0; i < w->n_lis; i++)
		if (w->lis[i].fd >= 0) {
			rw_loop_fd_del(l, w->lis[i].fd);
			close(w->lis[i].fd);
			w->lis[i].fd = -1;
		}
	rw_loop_timer_cancel(l, &w->resume_timer);
	/* Keep-alive would hold a draining worker for the whole drain time:
	 * idle terminate sessions end now, silent new ones after a 1 s grace,
	 * busy ones after their response.
	 * Passthrough streams are opaque; they end with their client or the
	 * idle timeout. */
	w->draining = true;
	rw_term_drain(w);
	w->drain_deadline_ms = rw_loop_now_ms(l) + w->o.drain_timeout_ms;
	rw_fwd_on_drain(l, w);
}

/* A live change the worker cannot apply: its policy would no longer be
 * the parent's. Say why on the channel and end (the parent restarts the
 * slot on its current policy, rw_workers.c). */
static void rw_fwd_chan_fail(struct rw_fwd_worker *w, const char *what)
{
	char msg[RW_CHAN_LOG_MAX];
	int n = snprintf(msg, sizeof(msg), "pid %d: %s; ending for a restart on the current policy",
			 (int)getpid(), what);
	for (int k = 0; k < n && k < (int)sizeof(msg); k++)
		if ((unsigned char)msg[k] < 0x20 || msg[k] == 0x7f)
			msg[k] = '?';
	if (n > 0)
		(void)rw_chan_send(w->o.stop_fd, RW_CHAN_LOG, w->o.live_gen, msg,
				   (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	w->failed = RW_EPROTO;
	rw_loop_stop(&w->loop);
}

static void rw_fwd_live_fail(struct rw_fwd_worker *w, const struct rw_chan_net *m, uint16_t type,
			     const char *why)
{
	char what[RW_CHAN_LOG_MAX - 64];
	snprintf(what, sizeof(what), "live change #%llu (%s, generation %u, network %u) not applied: %s",
		 (unsigned long long)m->seq, type == RW_CHAN_NET_ADD ? "add" : "del",
		 (unsigned)m->gen, (unsigned)m->net, why);
	rw_fwd_chan_fail(w, what);
}

/* NET_ADD / NET_DEL (rw_chan.h), already checked for form by
 * rw_chan_parse: in order, for this generation, then into the network. */
static void rw_fwd_live_apply(struct rw_fwd_worker *w, uint16_t type, const uint8_t *body)
{
	struct rw_chan_net m;
	memcpy(&m, body, sizeof(m));
	char why[160];
	if (!w->o.live_pol) {
		rw_fwd_live_fail(w, &m, type, "this worker takes no live changes");
		return;
	}
	if (m.gen != w->o.live_gen) {
		snprintf(why, sizeof(why), "it is for generation %u, this worker runs %u",
			 (unsigned)m.gen, (unsigned)w->o.live_gen);
		rw_fwd_live_fail(w, &m, type, why);
		return;
	}
	if (m.seq != w->o.live_seq + 1) {
		snprintf(why, sizeof(why), "out of order: the last one applied is #%llu",
			 (unsigned long long)w->o.live_seq);
		rw_fwd_live_fail(w, &m, type, why);
		return;
	}
	struct rw_policy *p = w->o.live_pol;
	if (m.net >= p->n_networks) {
		snprintf(why, sizeof(why), "the policy has %zu networks", p->n_networks);
		rw_fwd_live_fail(w, &m, type, why);
		return;
	}
	struct rw_cidr c = { .family = m.family, .prefix = m.prefix };
	memcpy(c.addr, m.addr, sizeof(c.addr));
	int r = rw_fwd_net_change(&p->networks[m.net], type == RW_CHAN_NET_ADD, &c);
	if (r) {
		char cs[64];
		rw_cidr_format(&c, cs, sizeof(cs));
		snprintf(why, sizeof(why), "%s %s network %s", cs,
			 r == RW_EEXIST ? "overlaps a prefix of"
			 : r == RW_ENOENT ? "is not in"
					  : "cannot be added to (out of memory):",
			 p->networks[m.net].name);
		rw_fwd_live_fail(w, &m, type, why);
		return;
	}
	w->o.live_seq = m.seq;
}

/* BAN_ADD / BAN_DEL (rw_chan.h), already checked for form by
 * rw_chan_parse. Bans hold for every generation and carry no sequence:
 * nothing to check but memory. A deletion of a ban this worker does not
 * hold (it expired and was pruned) changes nothing. A worker that cannot
 * take an addition ends: a ban it would miss must not be missed silently
 * (the parent restarts it with the bans in its boot bundle). */
static void rw_fwd_ban_apply(struct rw_fwd_worker *w, uint16_t type, const uint8_t *body)
{
	struct rw_chan_ban m;
	memcpy(&m, body, sizeof(m));
	struct rw_cidr c = { .family = m.family, .prefix = m.prefix };
	memcpy(c.addr, m.addr, sizeof(c.addr));
	if (type == RW_CHAN_BAN_DEL) {
		(void)rw_bans_del(w->bans, &c);
		return;
	}
	/* expired ones first: they would only take room */
	(void)rw_bans_prune(w->bans, rw_bans_now_ms());
	int r = rw_bans_add(w->bans, &c, m.expires_ms);
	if (r) {
		char cs[64], what[128];
		rw_cidr_format(&c, cs, sizeof(cs));
		snprintf(what, sizeof(what), "ban of %s not applied: %s", cs, rw_strerror(r));
		rw_fwd_chan_fail(w, what);
	}
}

/* Read what the parent's channel holds (at most budget messages). A
 * well-formed message of another type is neither a stop nor a change.
 * On a channel that carries live changes (live_pol set) a malformed
 * message ends the worker like an inapplicable change (it may have been
 * one); anything else readable (end of file: the parent went; a byte on
 * a pipe or an eventfd, as the tests use) is a stop. Returns false once
 * the worker stopped accepting or failed. */
static bool rw_fwd_chan_read(struct rw_fwd_worker *w, unsigned budget)
{
	for (unsigned k = 0; k < budget && w->o.stop_fd >= 0 && !w->failed; k++) {
		uint8_t buf[RW_CHAN_MSG_MAX];
		ssize_t n = read(w->o.stop_fd, buf, sizeof(buf));
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return true;
		struct rw_chan_hdr h;
		const uint8_t *body;
		bool ok = n > 0 && rw_chan_parse(buf, (size_t)n, &h, &body) == 0;
		if (ok && h.type != RW_CHAN_STOP) {
			if (h.type == RW_CHAN_NET_ADD || h.type == RW_CHAN_NET_DEL)
				rw_fwd_live_apply(w, h.type, body);
			else if (h.type == RW_CHAN_BAN_ADD || h.type == RW_CHAN_BAN_DEL)
				rw_fwd_ban_apply(w, h.type, body);
			continue;
		}
		if (n > 0 && !ok && w->o.live_pol) {
			uint16_t type = 0;
			if ((size_t)n >= sizeof(type))
				memcpy(&type, buf, sizeof(type));
			char what[96];
			snprintf(what, sizeof(what),
				 "malformed message on the parent's channel (type %u, %zd bytes)",
				 (unsigned)type, n);
			rw_fwd_chan_fail(w, what);
			return false;
		}
		rw_fwd_stop(w);
		return false;
	}
	return w->o.stop_fd >= 0 && !w->failed;
}

static void rw_fwd_on_stop(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	(void)l;
	(void)fd;
	(void)events;
	rw_fwd_chan_read(arg, 64);
}

/* rw_fwd_worker_new failed before the listeners took the given sockets
 * over: they are closed all the same, as its contract says. */
static void rw_fwd_close_given(const int *given, size_t n)
{
	for (size_t i = 0; given && i < n; i++)
		if (given[i] >= 0)
			close(given[i]);
}

static size_t rw_fwd_setsize(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > (1u << 20))
		return 1u << 20;
	return rl.rlim_cur < 64 ? 64 : (size_t)rl.rlim_cur;
}

void rw_fwd_worker_free(struct rw_fwd_worker *w)
{
	if (!w)
		return;
	if (w->conns.slot) {
		/* terminate conns first: they share the slot table, and
		 * rw_pass_close_all treats every remaining slot as its own */
		rw_term_close_all(w);
		rw_term_io_pool_free(w);
		rw_pass_close_all(w);
	}
	for (size_t i = 0; i < w->n_lis; i++)
		if (w->lis[i].fd >= 0) {
			rw_loop_fd_del(&w->loop, w->lis[i].fd);
			close(w->lis[i].fd);
		}
	if (w->o.stop_fd >= 0)
		rw_loop_fd_del(&w->loop, w->o.stop_fd);
	if (w->spare_fd >= 0)
		close(w->spare_fd);
	for (size_t i = 0; i < w->n_lis; i++)
		rw_term_listener_free(w->lis[i].term);
	if (w->up_ctx)
		SSL_CTX_free(w->up_ctx);
	free(w->lis);
	rw_conn_table_fini(&w->conns);
	rw_pipe_pool_fini(&w->pipes);
	rw_loop_fini(&w->loop);
	rw_cidrset_index_free(&w->peer_ix);
	rw_bans_free(&w->own_bans); /* o.bans stays the caller's */
	free(w);
}

int rw_fwd_worker_new(const struct rw_policy *p, const struct rw_fwd_opts *o,
		      const struct rw_fwd_events *ev, struct rw_fwd_worker **out)
{
	*out = NULL;
	const int *given = o ? o->listen_fds : NULL;
	struct rw_fwd_worker *w = calloc(1, sizeof(*w));
	if (!w) {
		rw_fwd_close_given(given, p->n_listeners);
		return RW_ENOMEM;
	}
	w->spare_fd = -1;
	w->p = p;
	if (o)
		w->o = *o;
	else
		rw_fwd_opts_default(&w->o);
	if (w->o.live_pol && w->o.live_pol != p)
		w->o.live_pol = NULL; /* deltas change the policy the worker reads, or none */
	w->bans = w->o.bans ? w->o.bans : &w->own_bans;
	w->o.listen_fds = NULL; /* taken over below; the caller's array may go */
	if (ev)
		w->ev = *ev;
	rw_timer_init(&w->resume_timer, rw_fwd_on_resume, w);
	rw_timer_init(&w->drain_timer, rw_fwd_on_drain, w);
	rw_timer_init(&w->tick_timer, rw_fwd_on_tick, w);
	int rc = rw_loop_init(&w->loop, rw_fwd_setsize());
	if (rc) {
		rw_fwd_close_given(given, p->n_listeners);
		free(w);
		return rc;
	}
	/* a policy whose peers overlap (hand-built; the loader refuses it)
	 * or no memory: no index, the lookups scan */
	(void)rw_cidrset_index_peers(&w->peer_ix, p);
	w->lis = calloc(p->n_listeners ? p->n_listeners : 1, sizeof(*w->lis));
	if (w->lis) {
		/* from here on rw_fwd_worker_free closes the given sockets */
		w->n_lis = p->n_listeners;
		for (size_t i = 0; i < w->n_lis; i++)
			w->lis[i].fd = given ? given[i] : -1;
	} else {
		rw_fwd_close_given(given, p->n_listeners);
	}
	rc = w->lis ? rw_conn_table_init(&w->conns, w->o.max_conns, w->o.max_per_source)
		    : RW_ENOMEM;
	/* each listener its reserved share of the connection slots */
	if (!rc)
		rc = rw_conn_table_classes(&w->conns, w->n_lis);
	if (!rc)
		/* each connection holds at most two pipes at a time */
		rc = rw_pipe_pool_init(&w->pipes, w->o.max_idle_pipes, 2 * (size_t)w->o.max_conns);
	size_t served = 0;
	for (size_t i = 0; !rc && i < w->n_lis; i++) {
		struct rw_fwd_listener *lis = &w->lis[i];
		const struct rw_listener *cfg = &p->listeners[i];
		*lis = (struct rw_fwd_listener){ .w = w, .cfg = cfg, .fd = lis->fd };
		lis->names = cfg->n_server_names ? cfg->server_names : p->registry.server_names;
		lis->n_names = cfg->n_server_names ? cfg->n_server_names : p->registry.n_server_names;
		if (cfg->mode == RW_MODE_TERMINATE) {
			/* TLS state before the socket: a listener whose
			 * certificate does not load is never opened */
			char why[256] = "";
			rc = rw_term_listener_new(cfg, lis->names, lis->n_names,
						  cfg->no_tickets ? NULL : w->o.ticket_secret,
						  w->o.pem, &lis->term, why, sizeof(why));
			if (rc && w->o.err && w->o.errlen)
				snprintf(w->o.err, w->o.errlen, "listener %s: %s", cfg->name,
					 why[0] ? why : rw_strerror(rc));
			if (!rc && p->registry.upstream_tls && !w->up_ctx) {
				rc = rw_tlsctx_client_new(p->registry.upstream_ca, w->o.pem, &w->up_ctx, why,
							  sizeof(why));
				if (rc && w->o.err && w->o.errlen)
					snprintf(w->o.err, w->o.errlen, "registry.upstream_ca: %s",
						 why[0] ? why : rw_strerror(rc));
			}
			if (rc)
				break;
		}
		if (lis->fd < 0) {
			const char *step = NULL;
			rc = rw_listen_open(&cfg->listen, w->o.backlog, &lis->fd, &step);
			if (rc && w->o.err && w->o.errlen)
				snprintf(w->o.err, w->o.errlen, "listener %s: %s: %s", cfg->name,
					 step ? step : "open", strerror(errno));
		}
		if (!rc) /* given sockets have it from the parent; idempotent */
			rw_fwd_listen_pktinfo(lis->fd, cfg->listen.family);
		if (!rc)
			rc = rw_loop_fd_add(&w->loop, lis->fd, RW_LOOP_READ, rw_fwd_on_accept, lis);
		lis->port = lis->fd >= 0 ? rw_listen_port(lis->fd) : 0;
		served++;
	}
	if (!rc && served == 0)
		rc = RW_ENOENT;
	if (!rc && w->o.stop_fd >= 0) {
		/* read until empty (rw_fwd_chan_read): never block the loop */
		int fl = fcntl(w->o.stop_fd, F_GETFL);
		if (fl >= 0 && !(fl & O_NONBLOCK))
			(void)fcntl(w->o.stop_fd, F_SETFL, fl | O_NONBLOCK);
		rc = rw_loop_fd_add(&w->loop, w->o.stop_fd, RW_LOOP_READ, rw_fwd_on_stop, w);
	}
	if (!rc && w->o.tick && w->o.tick_ms)
		rc = rw_loop_timer_arm(&w->loop, &w->tick_timer, w->o.tick_ms);
	if (rc) {
		rw_fwd_worker_free(w);
		return rc;
	}
	rw_fwd_spare_open(w);
	*out = w;
	return 0;
}

uint16_t rw_fwd_worker_port(const struct rw_fwd_worker *w, size_t i)
{
	return i < w->n_lis ? w->lis[i].port : 0;
}

size_t rw_fwd_worker_conns(const struct rw_fwd_worker *w)
{
	return w->conns.n;
}

int rw_fwd_worker_loop(struct rw_fwd_worker *w)
{
	int r = rw_loop_run(&w->loop);
	return r ? r : w->failed;
}

struct rw_loop *rw_fwd_worker_loop_of(struct rw_fwd_worker *w)
{
	return &w->loop;
}

uint64_t rw_fwd_worker_live_seq(const struct rw_fwd_worker *w)
{
	return w->o.live_seq;
}

int rw_fwd_worker_run(const struct rw_policy *p, const struct rw_fwd_opts *o,
		      const struct rw_fwd_events *ev)
{
	signal(SIGPIPE, SIG_IGN);
	struct rw_fwd_worker *w;
	int rc = rw_fwd_worker_new(p, o, ev, &w);
	if (rc)
		return rc;
	rc = rw_fwd_worker_loop(w);
	rw_fwd_worker_free(w);
	return rc;
}
