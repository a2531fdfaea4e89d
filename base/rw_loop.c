/* epoll loop + timer min-heap; see rw_loop.h for the contract. */
#include "base/rw_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "base/rw_err.h"

#define RW_LOOP_BATCH 256

uint64_t rw_loop_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int rw_loop_init(struct rw_loop *l, size_t setsize)
{
	*l = (struct rw_loop){ .epfd = -1 };
	if (setsize == 0 || setsize > (size_t)1 << 24)
		return RW_ERANGE;
	l->fds = calloc(setsize, sizeof(*l->fds));
	if (!l->fds)
		return RW_ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l->fds);
		l->fds = NULL;
		return RW_EIO;
	}
	l->setsize = setsize;
	l->next_gen = 1;
	l->now_ms = rw_loop_clock_ms();
	return 0;
}

void rw_loop_fini(struct rw_loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	for (size_t i = 0; i < l->n_heap; i++)
		l->heap[i]->idx = RW_TIMER_IDLE;
	free(l->heap);
	free(l->fds);
	free(l->pend);
	*l = (struct rw_loop){ .epfd = -1 };
}

static uint32_t rw_loop_epmask(unsigned mask)
{
	uint32_t ev = 0;
	if (mask & RW_LOOP_READ)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (mask & RW_LOOP_WRITE)
		ev |= EPOLLOUT;
	return ev;
}

/* The registration is stored with the wanted bits plus a marker bit, so a
 * registered fd with mask 0 is still told apart from a free slot. */
#define RW_LOOP_REGISTERED 0x80000000u

static int rw_loop_ctl(struct rw_loop *l, int op, int fd, unsigned mask, uint32_t gen)
{
	struct epoll_event ee = { .events = rw_loop_epmask(mask) };
	ee.data.u64 = ((uint64_t)gen << 32) | (uint32_t)fd;
	return epoll_ctl(l->epfd, op, fd, &ee) == 0 ? 0 : RW_EIO;
}

int rw_loop_fd_add(struct rw_loop *l, int fd, unsigned mask, rw_loop_fd_fn *fn, void *arg)
{
	if (fd < 0 || (size_t)fd >= l->setsize || !fn)
		return RW_ERANGE;
	struct rw_loop_fd *f = &l->fds[fd];
	if (f->mask & RW_LOOP_REGISTERED)
		return RW_EEXIST;
	uint32_t gen = l->next_gen++;
	if (l->next_gen == 0)
		l->next_gen = 1;
	int rc = rw_loop_ctl(l, EPOLL_CTL_ADD, fd, mask, gen);
	if (rc)
		return rc;
	mask &= RW_LOOP_READ | RW_LOOP_WRITE;
	*f = (struct rw_loop_fd){ .mask = mask | RW_LOOP_REGISTERED, .kmask = mask,
				  .gen = gen, .fn = fn, .arg = arg };
	return 0;
}

static int rw_loop_mod_now(struct rw_loop *l, int fd, struct rw_loop_fd *f, unsigned mask)
{
	int rc = rw_loop_ctl(l, EPOLL_CTL_MOD, fd, mask, f->gen);
	if (rc)
		return rc;
	f->kmask = mask;
	f->mask = mask | RW_LOOP_REGISTERED;
	return 0;
}

int rw_loop_fd_mod(struct rw_loop *l, int fd, unsigned mask)
{
	if (fd < 0 || (size_t)fd >= l->setsize || !(l->fds[fd].mask & RW_LOOP_REGISTERED))
		return RW_ENOENT;
	struct rw_loop_fd *f = &l->fds[fd];
	mask &= RW_LOOP_READ | RW_LOOP_WRITE;
	if ((f->mask & ~RW_LOOP_REGISTERED) == mask)
		return 0; /* spare the syscall: the data path calls this a lot */
	if (!f->queued && mask != f->kmask) {
		if (l->n_pend == l->cap_pend) {
			size_t cap = l->cap_pend ? l->cap_pend * 2 : 64;
			int *p = realloc(l->pend, cap * sizeof(*p));
			if (!p) /* no room to defer: tell epoll now */
				return rw_loop_mod_now(l, fd, f, mask);
			l->pend = p;
			l->cap_pend = cap;
		}
		l->pend[l->n_pend++] = fd;
		f->queued = true;
	}
	f->mask = mask | RW_LOOP_REGISTERED;
	return 0;
}

/* Before waiting: what the loop turn's fd_mod calls left different from
 * epoll's view. Entries of fds deleted or forgotten since are skipped (a
 * new registration of the same number was added with its mask, so it
 * matches or was queued again). */
static void rw_loop_flush(struct rw_loop *l)
{
	for (size_t i = 0; i < l->n_pend; i++) {
		struct rw_loop_fd *f = &l->fds[l->pend[i]];
		if (!f->queued)
			continue;
		f->queued = false;
		unsigned want = f->mask & ~RW_LOOP_REGISTERED;
		if ((f->mask & RW_LOOP_REGISTERED) && want != f->kmask)
			(void)rw_loop_mod_now(l, l->pend[i], f, want);
	}
	l->n_pend = 0;
}

int rw_loop_fd_del(struct rw_loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->setsize || !(l->fds[fd].mask & RW_LOOP_REGISTERED))
		return RW_ENOENT;
	/* Forget the handler even if epoll_ctl fails (fd already closed):
	 * a stale event must never reach it. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->fds[fd] = (struct rw_loop_fd){ 0 };
	return 0;
}

void rw_loop_fd_forget(struct rw_loop *l, int fd)
{
	if (fd >= 0 && (size_t)fd < l->setsize)
		l->fds[fd] = (struct rw_loop_fd){ 0 };
}

/* ---- timers: binary min-heap ordered by (when, seq) ---- */

void rw_timer_init(struct rw_timer *t, rw_loop_timer_fn *fn, void *arg)
{
	*t = (struct rw_timer){ .idx = RW_TIMER_IDLE, .fn = fn, .arg = arg };
}

static bool rw_timer_before(const struct rw_timer *a, const struct rw_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void rw_heap_set(struct rw_loop *l, size_t i, struct rw_timer *t)
{
	l->heap[i] = t;
	t->idx = i;
}

static void rw_heap_up(struct rw_loop *l, size_t i)
{
	struct rw_timer *t = l->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!rw_timer_before(t, l->heap[parent]))
			break;
		rw_heap_set(l, i, l->heap[parent]);
		i = parent;
	}
	rw_heap_set(l, i, t);
}

static void rw_heap_down(struct rw_loop *l, size_t i)
{
	struct rw_timer *t = l->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= l->n_heap)
			break;
		if (c + 1 < l->n_heap && rw_timer_before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!rw_timer_before(l->heap[c], t))
			break;
		rw_heap_set(l, i, l->heap[c]);
		i = c;
	}
	rw_heap_set(l, i, t);
}

void rw_loop_timer_cancel(struct rw_loop *l, struct rw_timer *t)
{
	if (!rw_timer_armed(t))
		return;
	size_t i = t->idx;
	t->idx = RW_TIMER_IDLE;
	l->n_heap--;
	if (i == l->n_heap)
		return;
	rw_heap_set(l, i, l->heap[l->n_heap]);
	/* The moved-in last element may belong above or below slot i. */
	if (i > 0 && rw_timer_before(l->heap[i], l->heap[(i - 1) / 2]))
		rw_heap_up(l, i);
	else
		rw_heap_down(l, i);
}

int rw_loop_timer_arm(struct rw_loop *l, struct rw_timer *t, uint64_t after_ms)
{
	rw_loop_timer_cancel(l, t);
	if (l->n_heap == l->cap_heap) {
		size_t cap = l->cap_heap ? l->cap_heap * 2 : 64;
		struct rw_timer **h = realloc(l->heap, cap * sizeof(*h));
		if (!h)
			return RW_ENOMEM;
		l->heap = h;
		l->cap_heap = cap;
	}
	t->when = l->now_ms + after_ms;
	t->seq = l->next_seq++;
	l->heap[l->n_heap] = t;
	t->idx = l->n_heap++;
	rw_heap_up(l, t->idx);
	return 0;
}

/* ---- dispatch ---- */

static int rw_loop_wait_ms(const struct rw_loop *l, int max_wait_ms)
{
	if (l->n_heap == 0)
		return max_wait_ms;
	uint64_t now = rw_loop_clock_ms();
	uint64_t when = l->heap[0]->when;
	uint64_t d = when > now ? when - now : 0;
	if (d > INT32_MAX)
		d = INT32_MAX;
	if (max_wait_ms >= 0 && (uint64_t)max_wait_ms < d)
		return max_wait_ms;
	return (int)d;
}

static int rw_loop_fire_timers(struct rw_loop *l)
{
	/* Timers armed by a callback during this pass wait for the next one,
	 * so a zero-delay re-arm cannot spin here forever. */
	uint64_t seq_limit = l->next_seq;
	int n = 0;
	while (l->n_heap > 0 && !l->stop) {
		struct rw_timer *t = l->heap[0];
		if (t->when > l->now_ms || t->seq >= seq_limit)
			break;
		rw_loop_timer_cancel(l, t);
		t->fn(l, t->arg);
		n++;
	}
	return n;
}

int rw_loop_run_once(struct rw_loop *l, int max_wait_ms)
{
	struct epoll_event evs[RW_LOOP_BATCH];
	rw_loop_flush(l);
	int n = epoll_wait(l->epfd, evs, RW_LOOP_BATCH, rw_loop_wait_ms(l, max_wait_ms));
	if (n < 0) {
		if (errno != EINTR)
			return RW_EIO;
		n = 0;
	}
	l->now_ms = rw_loop_clock_ms();
	int called = 0;
	for (int i = 0; i < n && !l->stop; i++) {
		int fd = (int)(uint32_t)evs[i].data.u64;
		uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
		struct rw_loop_fd *f = &l->fds[fd];
		/* Re-check: an earlier handler in this batch may have removed
		 * or replaced the registration, or narrowed its mask. */
		if (!(f->mask & RW_LOOP_REGISTERED) || f->gen != gen)
			continue;
		unsigned fired = 0;
		if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
			fired |= RW_LOOP_READ;
		if (evs[i].events & EPOLLOUT)
			fired |= RW_LOOP_WRITE;
		fired &= f->mask;
		if ((fired & RW_LOOP_READ) && (evs[i].events & EPOLLRDHUP))
			fired |= RW_LOOP_RDHUP;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			fired |= RW_LOOP_ERROR;
		if (!fired)
			continue;
		f->fn(l, fd, fired, f->arg);
		called++;
	}
	return called + rw_loop_fire_timers(l);
}

int rw_loop_run(struct rw_loop *l)
{
	l->stop = false;
	while (!l->stop) {
		int rc = rw_loop_run_once(l, -1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void rw_loop_stop(struct rw_loop *l)
{
	l->stop = true;
}

int rw_loop_fd_want(struct rw_loop *l, int fd, bool *reg, unsigned *cur, unsigned mask,
		    rw_loop_fd_fn *fn, void *arg)
{
	int rc = 0;
	if (mask == 0) {
		if (*reg)
			rw_loop_fd_del(l, fd);
		*reg = false;
	} else if (!*reg) {
		rc = rw_loop_fd_add(l, fd, mask, fn, arg);
		*reg = rc == 0;
	} else if (*cur != mask) {
		rc = rw_loop_fd_mod(l, fd, mask);
	}
	*cur = mask;
	return rc;
}
