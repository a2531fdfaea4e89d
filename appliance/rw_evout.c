/* Non-blocking event output of the parent (rw_evout.h). */
#include "appliance/rw_evout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/rw_err.h"

static void rw_evout_on_write(struct rw_loop *l, int fd, unsigned events, void *arg);

/* Wait for the descriptor to take the rest. A regular file or /dev/null
 * cannot be in epoll (EPERM; a write there does not block anyway): the
 * first refusal marks the output unpollable, and a rest, if ever, is
 * retried by the timer. */
static void rw_evout_want(struct rw_evout *o)
{
	if (!o->loop)
		return;
	if (!o->unpollable && rw_loop_fd_want(o->loop, o->fd, &o->reg, &o->mask,
					      o->len ? RW_LOOP_WRITE : 0, rw_evout_on_write, o) == 0)
		return;
	o->unpollable = true;
	if (o->len && !rw_timer_armed(&o->soon))
		(void)rw_loop_timer_arm(o->loop, &o->soon, RW_EVOUT_RETRY_MS);
}

/* Write what the descriptor takes now. */
static void rw_evout_flush(struct rw_evout *o)
{
	while (o->len > 0) {
		size_t chunk = RW_EVOUT_QUEUE - o->head;
		if (chunk > o->len)
			chunk = o->len;
		ssize_t w = write(o->fd, o->buf + o->head, chunk);
		if (w > 0) {
			o->head = (o->head + (size_t)w) % RW_EVOUT_QUEUE;
			o->len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* closed or broken output: what is queued is lost, counted as
		 * dropped lines would be unknowable; count the error */
		o->write_errors++;
		o->head = o->len = 0;
		break;
	}
	rw_evout_want(o);
}

static void rw_evout_on_write(struct rw_loop *l, int fd, unsigned events, void *arg)
{
	rw_evout_flush(arg);
}

static void rw_evout_on_soon(struct rw_loop *l, void *arg)
{
	rw_evout_flush(arg);
}

int rw_evout_init(struct rw_evout *o, int fd, struct rw_loop *loop)
{
	memset(o, 0, sizeof(*o));
	rw_timer_init(&o->soon, rw_evout_on_soon, o);
	o->fd = fd;
	o->loop = loop;
	o->buf = malloc(RW_EVOUT_QUEUE);
	if (!o->buf)
		return RW_ENOMEM;
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return 0;
}

void rw_evout_fini(struct rw_evout *o)
{
	if (!o->buf)
		return;
	if (o->loop && rw_timer_armed(&o->soon))
		rw_loop_timer_cancel(o->loop, &o->soon);
	o->loop = NULL; /* no registration from here on */
	rw_evout_flush(o);
	if (o->reg) {
		/* the loop may be gone already; the caller removes the fd */
		o->reg = false;
	}
	free(o->buf);
	o->buf = NULL;
}

void rw_evout_line(struct rw_evout *o, const char *line, size_t len)
{
	if (!o->buf)
		return;
	if (o->len + len + 1 > RW_EVOUT_QUEUE) {
		o->dropped++;
		rw_evout_flush(o); /* maybe room next time */
		return;
	}
	size_t tail = (o->head + o->len) % RW_EVOUT_QUEUE;
	size_t first = RW_EVOUT_QUEUE - tail < len ? RW_EVOUT_QUEUE - tail : len;
	memcpy(o->buf + tail, line, first);
	memcpy(o->buf, line + first, len - first);
	o->buf[(tail + len) % RW_EVOUT_QUEUE] = '\n';
	o->len += len + 1;
	o->lines++;
	if (o->loop && (o->reg || rw_timer_armed(&o->soon)))
		; /* a write is due already: when fd takes the backlog, or at
		   * the end of this turn (no epoll_ctl per line or batch) */
	else if (o->loop && rw_loop_timer_arm(o->loop, &o->soon, 0) == 0)
		; /* was idle: written once this loop turn's events are in */
	else
		rw_evout_flush(o); /* no loop: at once */
}
