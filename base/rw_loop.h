/* One epoll event loop per worker, with a binary heap of timers.
 *
 * Shape taken from redis ae.c / ae_epoll.c (2.8.0): handlers live in an
 * array indexed by fd, and before a handler runs the loop re-checks that
 * the fd is still registered for that event. On top of that every
 * registration gets a generation number that travels in the epoll data, so
 * an event that was already returned by epoll_wait() for an fd that a
 * previous handler in the same batch closed (and that accept() may have
 * handed out again) is dropped instead of reaching the new owner.
 *
 * Time is CLOCK_MONOTONIC in milliseconds, cached once per iteration
 * (rw_loop_now_ms). Timers are intrusive (struct rw_timer lives inside the
 * caller's object), so arming and cancelling never allocates; the heap only
 * grows its pointer array. */
#ifndef RW_LOOP_H
#define RW_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RW_LOOP_READ 1u
#define RW_LOOP_WRITE 2u
#define RW_LOOP_ERROR 4u /* EPOLLERR/EPOLLHUP: always reported, never asked for */
/* With RW_LOOP_READ, in the events a handler gets (never in a mask): the
 * peer has sent its FIN (EPOLLRDHUP). Every byte before it is already
 * queued, so a read that returns less than asked has reached the end: the
 * recv that would return 0 can be skipped. */
#define RW_LOOP_RDHUP 8u

struct rw_loop;

/* events: RW_LOOP_* bits that fired (only those still wanted, plus ERROR). */
typedef void rw_loop_fd_fn(struct rw_loop *l, int fd, unsigned events, void *arg);
typedef void rw_loop_timer_fn(struct rw_loop *l, void *arg);

struct rw_loop_fd {
	unsigned mask; /* 0 = not registered */
	unsigned kmask; /* what epoll has (mask may differ until the flush) */
	bool queued;    /* on the pending list */
	uint32_t gen;
	rw_loop_fd_fn *fn;
	void *arg;
};

struct rw_timer {
	uint64_t when;  /* monotonic ms */
	uint64_t seq;   /* arming order: ties fire first-armed first */
	size_t idx;     /* position in the heap; RW_TIMER_IDLE when not armed */
	rw_loop_timer_fn *fn;
	void *arg;
};
#define RW_TIMER_IDLE ((size_t)-1)

struct rw_loop {
	int epfd;
	struct rw_loop_fd *fds; /* indexed by fd, setsize entries */
	size_t setsize;
	uint32_t next_gen;
	struct rw_timer **heap;
	size_t n_heap, cap_heap;
	uint64_t next_seq;
	uint64_t now_ms;
	bool stop;
	/* fds whose fd_mod is not in epoll yet: applied just before the next
	 * epoll_wait, so a change undone or made moot (the fd forgotten and
	 * closed) in the same loop turn costs no system call */
	int *pend;
	size_t n_pend, cap_pend;
};

/* setsize: fds must be < setsize (use the RLIMIT_NOFILE soft limit). */
int rw_loop_init(struct rw_loop *l, size_t setsize);
void rw_loop_fini(struct rw_loop *l); /* does not close registered fds */

/* Register / change / remove interest. mask is RW_LOOP_READ|RW_LOOP_WRITE
 * (0 is allowed: registered but only errors reported). fd_add on an fd
 * already registered returns RW_EEXIST; fd_mod / fd_del on one that is not
 * returns RW_ENOENT. Call fd_del (or fd_forget) before close().
 * fd_add and fd_del reach epoll at once; fd_mod is deferred to the end of
 * the loop turn (events for bits it removed are not dispatched meanwhile),
 * and a failure then is not reported to the caller: the fd just keeps its
 * old kernel mask (only possible if it was closed without fd_del). */
int rw_loop_fd_add(struct rw_loop *l, int fd, unsigned mask, rw_loop_fd_fn *fn, void *arg);
int rw_loop_fd_mod(struct rw_loop *l, int fd, unsigned mask);
int rw_loop_fd_del(struct rw_loop *l, int fd);
/* Forget fd's registration without asking epoll: for a descriptor that is
 * closed right after, which takes it out of the epoll set by itself (a
 * socket no other descriptor shares: not dup'd, not inherited). Saves one
 * epoll_ctl per close on the data path. */
void rw_loop_fd_forget(struct rw_loop *l, int fd);

void rw_timer_init(struct rw_timer *t, rw_loop_timer_fn *fn, void *arg);
static inline bool rw_timer_armed(const struct rw_timer *t)
{
	return t->idx != RW_TIMER_IDLE;
}
/* Arm (or re-arm) to fire after_ms after the loop's current time. A timer
 * fires once; re-arm it from its callback for periodic work. */
int rw_loop_timer_arm(struct rw_loop *l, struct rw_timer *t, uint64_t after_ms);
void rw_loop_timer_cancel(struct rw_loop *l, struct rw_timer *t);

uint64_t rw_loop_clock_ms(void); /* CLOCK_MONOTONIC now, uncached */
static inline uint64_t rw_loop_now_ms(const struct rw_loop *l)
{
	return l->now_ms;
}

/* One iteration: wait for I/O at most max_wait_ms (-1 = until the next
 * timer or forever), dispatch fd events, then expired timers. Returns the
 * number of handlers called, or a negative RW_E* code if epoll failed. */
int rw_loop_run_once(struct rw_loop *l, int max_wait_ms);
/* Iterate until rw_loop_stop(). Returns 0 or a negative RW_E* code. */
int rw_loop_run(struct rw_loop *l);
void rw_loop_stop(struct rw_loop *l);

/* Keep fd's registration at exactly `mask`: add, modify or remove it
 * (mask 0 removes it, so a level-triggered HUP/ERR on a socket with nothing
 * to wait for cannot spin the loop). *reg and *cur hold the current state;
 * arg is passed to fn. Returns 0 or the add/mod error. */
int rw_loop_fd_want(struct rw_loop *l, int fd, bool *reg, unsigned *cur, unsigned mask,
		    rw_loop_fd_fn *fn, void *arg);

#endif
