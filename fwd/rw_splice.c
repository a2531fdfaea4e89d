#include "fwd/rw_splice.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/rw_err.h"

/* One pipe's default capacity; asking for more per call only returns
 * short counts. */
/* Pipe capacity asked for (F_SETPIPE_SZ; the kernel's default of 64 KiB is
 * kept if refused). A larger pipe lets one readiness event move more bytes
 * between the two sockets, so a bulk transfer is not paced by event
 * round trips; pages are taken only while bytes are in flight. */
#define RW_SPLICE_PIPE_SIZE (1u << 20)
#define RW_SPLICE_CHUNK RW_SPLICE_PIPE_SIZE
/* Syscalls per step before yielding to other connections. */
#define RW_SPLICE_BUDGET 32

int rw_pipe_pool_init(struct rw_pipe_pool *pool, size_t max_idle, size_t max_open)
{
	*pool = (struct rw_pipe_pool){ .max_idle = max_idle, .max_open = max_open };
	pool->scratch = malloc(RW_SPLICE_SCRATCH);
	if (!pool->scratch)
		return RW_ENOMEM;
	if (max_idle) {
		pool->idle = calloc(max_idle, sizeof(*pool->idle));
		if (!pool->idle)
			return RW_ENOMEM;
	}
	return 0;
}

void rw_pipe_pool_fini(struct rw_pipe_pool *pool)
{
	for (size_t i = 0; i < pool->n_idle; i++) {
		close(pool->idle[i].rd);
		close(pool->idle[i].wr);
	}
	free(pool->idle);
	free(pool->scratch);
	*pool = (struct rw_pipe_pool){ 0 };
}

int rw_pipe_get(struct rw_pipe_pool *pool, struct rw_pipe *p)
{
	if (pool->n_idle > 0) {
		*p = pool->idle[--pool->n_idle];
		pool->reused++;
		return 0;
	}
	if (pool->max_open && pool->n_open >= pool->max_open)
		return RW_ETOOBIG;
	int fds[2];
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
		return RW_EIO;
	(void)fcntl(fds[1], F_SETPIPE_SZ, (int)RW_SPLICE_PIPE_SIZE);
	p->rd = fds[0];
	p->wr = fds[1];
	pool->n_open++;
	pool->created++;
	return 0;
}

void rw_pipe_put(struct rw_pipe_pool *pool, struct rw_pipe *p, bool empty)
{
	if (p->rd < 0)
		return;
	if (empty && pool->n_idle < pool->max_idle) {
		pool->idle[pool->n_idle++] = *p;
	} else {
		close(p->rd);
		close(p->wr);
		pool->n_open--;
	}
	p->rd = p->wr = -1;
}

void rw_splice_dir_init(struct rw_splice_dir *d, int from, int to, const uint8_t *head,
			size_t head_len)
{
	*d = (struct rw_splice_dir){ .from = from, .to = to, .pipe = { -1, -1 } };
	if (head && head_len) {
		d->head = head;
		d->head_len = head_len;
	}
}

void rw_splice_dir_release(struct rw_splice_dir *d, struct rw_pipe_pool *pool)
{
	rw_pipe_put(pool, &d->pipe, d->in_pipe == 0);
	d->in_pipe = 0;
	free(d->own);
	d->own = NULL;
	d->head = NULL;
}

static int rw_splice_fail(struct rw_splice_dir *d, int e)
{
	d->err = e;
	return (e == ECONNRESET || e == EPIPE || e == ECONNABORTED || e == ETIMEDOUT)
		       ? RW_EPROTO
		       : RW_EIO;
}

/* The copy stage (rw_splice.h): one recv into the pool's scratch and one
 * send of what came. 1 = go on, 0 = *rc is the step's result. */
static int rw_splice_copy(struct rw_splice_dir *d, struct rw_pipe_pool *pool, uint64_t *mv,
			  int *rc)
{
	ssize_t n = recv(d->from, pool->scratch, RW_SPLICE_SCRATCH, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EINTR)
			return 1;
		*rc = (errno == EAGAIN || errno == EWOULDBLOCK) ? RW_SPLICE_WANT_READ
								 : rw_splice_fail(d, errno);
		return 0;
	}
	if (n == 0) {
		d->eof = true;
		return 1;
	}
	/* A short read with the FIN already seen took the last bytes (TCP
	 * queues the FIN after them). When the other direction is done too,
	 * the connection ends right here: no recv that returns 0, no epoll
	 * change, one loop turn less. (While the other direction still runs,
	 * ending this one early only moves the socket's epoll change to this
	 * turn: measured, it costs as much as the recv it saves.) Not in the
	 * splice stage: a splice may stop short of the queue's end when the
	 * pipe runs out of slots. */
	if ((size_t)n < RW_SPLICE_SCRATCH && d->fin_seen && d->last)
		d->eof = true;
	ssize_t m = send(d->to, pool->scratch, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (m < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			*rc = rw_splice_fail(d, errno);
			return 0;
		}
		m = 0;
	}
	d->bytes += (uint64_t)m;
	*mv += (uint64_t)m;
	if (m < n) { /* the rest waits for a writable 'to' as the head */
		size_t rest = (size_t)(n - m);
		d->own = malloc(rest);
		if (!d->own) {
			d->err = ENOMEM;
			*rc = RW_EIO;
			return 0;
		}
		memcpy(d->own, pool->scratch + m, rest);
		d->rests++;
		d->head = d->own;
		d->head_len = rest;
		d->head_off = 0;
		*rc = RW_SPLICE_WANT_WRITE;
		return 0;
	}
	if (d->eof)
		return 1; /* the FIN goes on now */
	if ((size_t)n < RW_SPLICE_SCRATCH) { /* short read: most likely empty now */
		*rc = RW_SPLICE_WANT_READ;
		return 0;
	}
	return 1;
}


int rw_splice_dir_step(struct rw_splice_dir *d, struct rw_pipe_pool *pool, uint64_t *moved)
{
	uint64_t mv = 0;
	int rc = 0;
	if (moved)
		*moved = 0;
	if (d->err)
		return rw_splice_fail(d, d->err);
	if (d->shut)
		return RW_SPLICE_DONE;

	for (int budget = RW_SPLICE_BUDGET; budget > 0; budget--) {
		if (d->head) {
			ssize_t n = send(d->to, d->head + d->head_off, d->head_len - d->head_off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					rc = RW_SPLICE_WANT_WRITE;
					goto out;
				}
				if (errno == EINTR)
					continue;
				rc = rw_splice_fail(d, errno);
				goto out;
			}
			d->head_off += (size_t)n;
			d->bytes += (uint64_t)n;
			mv += (uint64_t)n;
			if (d->head_off == d->head_len) {
				d->head = NULL;
				free(d->own);
				d->own = NULL;
				if (!d->eof) { /* read when epoll says there is something */
					rc = RW_SPLICE_WANT_READ;
					goto out;
				}
			}
			continue;
		}
		if (d->in_pipe > 0) {
			ssize_t n = splice(d->pipe.rd, NULL, d->to, NULL, d->in_pipe,
					   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0) {
				if (errno == EAGAIN) {
					rc = RW_SPLICE_WANT_WRITE;
					goto out;
				}
				if (errno == EINTR)
					continue;
				rc = rw_splice_fail(d, errno);
				goto out;
			}
			d->in_pipe -= (size_t)n;
			d->bytes += (uint64_t)n;
			mv += (uint64_t)n;
			if (d->in_pipe == 0)
				rw_pipe_put(pool, &d->pipe, true);
			continue;
		}
		if (d->eof) {
			if (!d->last && shutdown(d->to, SHUT_WR) != 0 && errno != ENOTCONN) {
				rc = rw_splice_fail(d, errno);
				goto out;
			}
			d->shut = true;
			rc = RW_SPLICE_DONE;
			goto out;
		}
		if (d->bytes < RW_SPLICE_COPY_MAX && d->pipe.rd < 0 && pool->scratch) {
			if (!rw_splice_copy(d, pool, &mv, &rc))
				goto out;
			continue;
		}
		if (d->pipe.rd < 0) {
			int prc = rw_pipe_get(pool, &d->pipe);
			if (prc) {
				d->err = EMFILE;
				rc = prc;
				goto out;
			}
		}
		ssize_t n = splice(d->from, NULL, d->pipe.wr, NULL, RW_SPLICE_CHUNK,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0) {
			if (errno == EAGAIN) {
				/* nothing in flight: the pipe goes back while we wait */
				rw_pipe_put(pool, &d->pipe, true);
				rc = RW_SPLICE_WANT_READ;
				goto out;
			}
			if (errno == EINTR)
				continue;
			rc = rw_splice_fail(d, errno);
			goto out;
		}
		if (n == 0) {
			d->eof = true;
			rw_pipe_put(pool, &d->pipe, true);
			continue;
		}
		d->in_pipe = (size_t)n;
	}
	/* Budget spent with work left: wait for the event that is already
	 * pending so the loop serves others first. */
	rc = (d->head || d->in_pipe) ? RW_SPLICE_WANT_WRITE : RW_SPLICE_WANT_READ;
out:
	if (moved)
		*moved = mv;
	return rc;
}
