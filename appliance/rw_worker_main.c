/* The worker process (see rw_worker_main.h). */
#include "appliance/rw_worker_main.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "appliance/rw_sandbox.h"
#include "base/rw_err.h"
#include "fwd/rw_boot.h"
#include "fwd/rw_chan.h"
#include "fwd/rw_fwd.h"
#include "fwd/rw_limit.h"

/* What the parent sent, as received. */
struct rw_worker_start {
	struct rw_boot boot;
	struct rw_limit *limit; /* NULL: no push limits */
	int *listen_fds;        /* indexed by policy listener; -1 = not sent */
	size_t n_listen;
};

/* Tell the parent why we stop (it logs it; stderr may be /dev/null).
 * Printable bytes only: the parent's channel check requires it. */
static void rw_worker_say(int chan, uint32_t gen, const char *why)
{
	char msg[RW_CHAN_LOG_MAX];
	int n = snprintf(msg, sizeof(msg), "pid %d: %s", (int)getpid(), why);
	if (n <= 0)
		return;
	size_t len = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
	for (size_t k = 0; k < len; k++)
		if ((unsigned char)msg[k] < 0x20 || msg[k] == 0x7f)
			msg[k] = '?';
	(void)rw_chan_send(chan, RW_CHAN_LOG, gen, msg, len);
}

/* The bundle's bytes from its memfd: sized by fstat, bounded, and equal
 * to what BOOT announced (the parent sealed it against change). */
static int rw_worker_read_bundle(int fd, uint64_t want, struct rw_boot *b, char *why, size_t cap)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != want ||
	    want == 0 || want > RW_BOOT_MAX) {
		snprintf(why, cap, "boot bundle: not the announced %llu bytes",
			 (unsigned long long)want);
		return RW_EPROTO;
	}
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_WRITE)) {
		snprintf(why, cap, "boot bundle: not sealed");
		return RW_EPROTO;
	}
	void *m = mmap(NULL, (size_t)want, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		snprintf(why, cap, "boot bundle: cannot map it");
		return RW_ENOMEM;
	}
	int rc = rw_boot_unpack(m, (size_t)want, b, why, cap);
	munmap(m, (size_t)want);
	return rc;
}

/* BOOT, then one LISTEN per listener. */
static int rw_worker_receive(int chan, struct rw_worker_start *s, char *why, size_t cap)
{
	uint8_t *buf = malloc(RW_CHAN_MSG_MAX);
	if (!buf)
		return RW_ENOMEM;
	struct rw_chan_hdr h;
	const uint8_t *body;
	int fds[RW_CHAN_FDS_MAX];
	size_t nf;
	int rc = rw_chan_recv(chan, buf, RW_WORKER_BOOT_MS, &h, &body, fds, RW_CHAN_FDS_MAX, &nf);
	struct rw_chan_boot bm;
	if (!rc && (h.type != RW_CHAN_BOOT || nf < 1)) {
		rc = RW_EPROTO;
		for (size_t i = 0; i < nf; i++)
			close(fds[i]);
	}
	if (rc) {
		snprintf(why, cap, "no boot message from the parent (%s)", rw_strerror(rc));
		free(buf);
		return rc;
	}
	memcpy(&bm, body, sizeof(bm));
	if (nf != 1u + bm.has_limit) {
		for (size_t i = 0; i < nf; i++)
			close(fds[i]);
		snprintf(why, cap, "boot message: %zu descriptors", nf);
		free(buf);
		return RW_EPROTO;
	}
	rc = rw_worker_read_bundle(fds[0], bm.bundle_len, &s->boot, why, cap);
	close(fds[0]);
	if (!rc && bm.has_limit) {
		rc = rw_limit_attach(fds[1], &s->limit);
		if (rc)
			snprintf(why, cap, "push limiter: %s", rw_strerror(rc));
	}
	if (bm.has_limit)
		close(fds[1]);
	if (!rc && (h.gen != s->boot.generation || bm.n_listen != s->boot.pol.n_listeners)) {
		snprintf(why, cap, "boot message: generation or listener count differs from the bundle");
		rc = RW_EPROTO;
	}
	if (!rc && bm.n_listen) {
		s->listen_fds = malloc(bm.n_listen * sizeof(int));
		if (!s->listen_fds)
			rc = RW_ENOMEM;
		else
			for (size_t j = 0; j < bm.n_listen; j++)
				s->listen_fds[j] = -1;
		s->n_listen = s->listen_fds ? bm.n_listen : 0;
	}
	for (uint32_t k = 0; !rc && k < bm.n_listen; k++) {
		struct rw_chan_listen lm;
		rc = rw_chan_recv(chan, buf, RW_WORKER_BOOT_MS, &h, &body, fds, 1, &nf);
		if (rc) {
			snprintf(why, cap, "listening socket %u: %s", k, rw_strerror(rc));
			break;
		}
		if (h.type != RW_CHAN_LISTEN || nf > 1) {
			for (size_t i = 0; i < nf; i++)
				close(fds[i]);
			snprintf(why, cap, "expected a listening socket, got message type %u",
				 (unsigned)h.type);
			rc = RW_EPROTO;
			break;
		}
		memcpy(&lm, body, sizeof(lm));
		if (nf == 0) { /* no socket for it: the worker opens its own */
			if (lm.index >= s->n_listen || s->listen_fds[lm.index] >= 0) {
				snprintf(why, cap, "listening socket %u: bad index", lm.index);
				rc = RW_EPROTO;
			}
			continue;
		}
		int type = 0;
		socklen_t tl = sizeof(type);
		if (lm.index >= s->n_listen || s->listen_fds[lm.index] >= 0 ||
		    getsockopt(fds[0], SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM) {
			close(fds[0]);
			snprintf(why, cap, "listening socket %u: not a new TCP socket for a listener",
				 lm.index);
			rc = RW_EPROTO;
			break;
		}
		s->listen_fds[lm.index] = fds[0];
	}
	free(buf);
	return rc;
}

static void rw_worker_start_free(struct rw_worker_start *s)
{
	for (size_t j = 0; j < s->n_listen; j++)
		if (s->listen_fds[j] >= 0)
			close(s->listen_fds[j]);
	free(s->listen_fds);
	s->listen_fds = NULL;
	s->n_listen = 0;
	rw_boot_free(&s->boot);
	rw_limit_destroy(s->limit);
	s->limit = NULL;
}

/* The channel sink and the worker (for the live change count in STATS). */
struct rw_worker_tickctx {
	struct rw_chan_sink sink;
	struct rw_fwd_worker *w;
};

static void rw_worker_tick(void *ctx, uint64_t conns)
{
	struct rw_worker_tickctx *c = ctx;
	if (c->w)
		c->sink.stats.live_seq = rw_fwd_worker_live_seq(c->w);
	rw_chan_sink_stats(&c->sink, conns);
}

static void rw_worker_devnull(int target)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, target);
		close(fd);
	}
}

int rw_worker_main(int chan)
{
	/* the parent-death signal, set before the exec, covers us from here:
	 * this is the parent the sandbox checks again after the uid change */
	pid_t parent = getppid();
	/* exec'd as /proc/self/exe, the kernel names us "exe": say what we
	 * are in ps, top and the journal (15 characters at most) */
	(void)prctl(PR_SET_NAME, "regwalld-worker", 0, 0, 0);
	/* connection buffers come and go by the thousand: without a trim
	 * threshold glibc hands the top of the heap back (brk) every few
	 * connections and faults it in again */
	(void)mallopt(M_TRIM_THRESHOLD, 8 << 20);
	(void)mallopt(M_TOP_PAD, 1 << 20);
	signal(SIGPIPE, SIG_IGN);
	struct rw_worker_start s = { 0 };
	char why[512] = "";
	int r = rw_worker_receive(chan, &s, why, sizeof(why));
	if (r) {
		rw_worker_say(chan, 0, why);
		rw_worker_start_free(&s);
		return RW_WORKER_EXIT_BOOT;
	}
	struct rw_boot *b = &s.boot;
	struct rw_fwd_opts o;
	rw_fwd_opts_default(&o);
	rw_fwd_opts_from_policy(&o, &b->pol);
	o.stop_fd = chan;
	o.limit = s.limit;
	o.pem = &b->pem;
	o.ticket_secret = b->tickets ? b->secret : NULL;
	/* a policy with no listener passes none: the worker reports it */
	o.listen_fds = s.n_listen ? s.listen_fds : NULL;
	/* Decision events go to the parent over the channel, never blocking
	 * (rw_chan.h); the heartbeat rides the same channel. */
	static struct rw_worker_tickctx cc;
	rw_chan_sink_init(&cc.sink, chan, b->generation);
	struct rw_fwd_events ev = { .emit = rw_chan_event_emit, .ctx = &cc.sink };
	o.tick = rw_worker_tick;
	o.tick_ctx = &cc;
	o.tick_ms = RW_CHAN_STATS_MS;
	/* Live network changes arrive on the channel (NET_ADD / NET_DEL)
	 * and change this policy in place; it holds every change up to
	 * live_seq. */
	o.live_pol = &b->pol;
	o.live_gen = b->generation;
	o.live_seq = b->live_seq;
	cc.sink.stats.live_seq = b->live_seq;
	/* The manual bans the parent knew when it made the bundle; later ones
	 * arrive on the channel (BAN_ADD / BAN_DEL) and change these in
	 * place. */
	o.bans = &b->bans;
	o.err = why;
	o.errlen = sizeof(why);
	struct rw_fwd_worker *w;
	r = rw_fwd_worker_new(&b->pol, &o, &ev, &w);
	/* the worker took the sockets over (also on failure) */
	free(s.listen_fds);
	s.listen_fds = NULL;
	s.n_listen = 0;
	/* The TLS contexts hold what they need: the files' bytes (keys
	 * among them) go now, wiped. */
	rw_pem_set_free(&b->pem);
	OPENSSL_cleanse(b->secret, sizeof(b->secret));
	cc.w = r ? NULL : w;
	if (!r) /* events leave in batches (RW_CHAN_EVENT_HOLD_MS) */
		rw_chan_sink_attach(&cc.sink, rw_fwd_worker_loop_of(w));
	/* stderr too: a sandboxed worker holds no writable file; what it has
	 * to say goes over the channel (LOG) */
	if (!r)
		rw_worker_devnull(STDERR_FILENO);
	struct rw_sandbox_user u = { .uid = b->uid, .gid = b->gid, .valid = b->user_valid,
				     .parent_pid = (int)parent };
	snprintf(u.name, sizeof(u.name), "%s", b->user);
	if (!r && rw_sandbox_enter(&u, why, sizeof(why))) {
		rw_chan_sink_detach(&cc.sink);
		rw_fwd_worker_free(w);
		cc.w = NULL;
		r = RW_EPERM;
	}
	int code = RW_WORKER_EXIT_OK;
	if (!r) {
		(void)rw_chan_send(chan, RW_CHAN_READY, b->generation, NULL, 0);
		r = rw_fwd_worker_loop(w);
		rw_chan_sink_detach(&cc.sink); /* before the loop goes: sends what is left */
		cc.sink.stats.live_seq = rw_fwd_worker_live_seq(w);
		cc.w = NULL;
		rw_fwd_worker_free(w);
		rw_chan_sink_stats(&cc.sink, 0); /* the last counts, for the parent */
		if (r == RW_EPROTO) { /* a live change it could not apply: logged */
			code = RW_WORKER_EXIT_LIVE;
		} else if (r) {
			rw_worker_say(chan, b->generation, why[0] ? why : rw_strerror(r));
			code = RW_WORKER_EXIT_FATAL;
		}
	} else if (r == RW_ENOENT) {
		code = RW_WORKER_EXIT_NOTHING;
	} else {
		rw_worker_say(chan, b->generation, why[0] ? why : rw_strerror(r));
		code = RW_WORKER_EXIT_FATAL;
	}
	rw_worker_start_free(&s);
	return code;
}
