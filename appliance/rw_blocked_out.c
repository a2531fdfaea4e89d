#include "appliance/rw_blocked_out.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "appliance/rw_path.h"
#include "base/rw_err.h"

#define RW_BLOCKED_LOSS_RESERVE 4
#define RW_PCAP_LINKTYPE_NFLOG 239u

void rw_blocked_item_free(struct rw_blocked_item *it)
{
	if (!it)
		return;
	free(it->line);
	free(it->rec);
	free(it);
}

static void rw_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Little-endian classic pcap (tcpdump and Wireshark read either order;
 * a fixed order keeps the "is this our file" check a byte compare). */
void rw_blocked_pcap_header(uint8_t out[24])
{
	rw_le32(out, 0xa1b2c3d4u);
	out[4] = 2, out[5] = 0, out[6] = 4, out[7] = 0; /* version 2.4 */
	rw_le32(out + 8, 0);
	rw_le32(out + 12, 0);
	rw_le32(out + 16, 65535);
	rw_le32(out + 20, RW_PCAP_LINKTYPE_NFLOG);
}

static int rw_out_open(const char *path, bool pcap, bool *bad, uint64_t *size)
{
	(void)rw_path_mkparents(path, 0750);
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	*size = (uint64_t)st.st_size;
	if (!pcap)
		return fd;
	uint8_t want[24], have[24];
	rw_blocked_pcap_header(want);
	if (st.st_size == 0) {
		if (write(fd, want, sizeof(want)) != (ssize_t)sizeof(want)) {
			close(fd);
			return -1;
		}
		*size = sizeof(want);
		return fd;
	}
	/* someone else's file, or ours from another link type: leave it */
	if (pread(fd, have, sizeof(have), 0) != (ssize_t)sizeof(have) ||
	    memcmp(have, want, sizeof(want)) != 0) {
		*bad = true;
		close(fd);
		errno = EEXIST;
		return -1;
	}
	return fd;
}

/* path -> path.1 -> ... -> path.keep (the oldest goes), only if path is
 * still the file we hold; then a fresh path. */
static void rw_out_rotate_one(const char *path, unsigned keep, int *fd, bool pcap, bool *bad,
			      uint64_t *size, bool rename_ours)
{
	if (!path)
		return;
	struct stat a, b;
	bool ours = *fd >= 0 && fstat(*fd, &a) == 0 && stat(path, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	if (ours && rename_ours) {
		char from[PATH_MAX + 16], to[PATH_MAX + 16];
		for (unsigned i = keep; i > 1; i--) {
			snprintf(from, sizeof(from), "%s.%u", path, i - 1);
			snprintf(to, sizeof(to), "%s.%u", path, i);
			(void)rename(from, to);
		}
		snprintf(to, sizeof(to), "%s.1", path);
		(void)rename(path, to);
	}
	if (*fd >= 0)
		close(*fd);
	*bad = false;
	*size = 0;
	*fd = rw_out_open(path, pcap, bad, size);
}

static bool rw_out_write_all(int fd, const void *p, size_t n, int *err)
{
	if (fd < 0) {
		*err = EBADF;
		return false;
	}
	ssize_t w = write(fd, p, n);
	if (w == (ssize_t)n)
		return true;
	*err = w < 0 ? errno : ENOSPC;
	return false;
}

/* Runs on the writer thread, without the lock. */
static void rw_out_write_item(struct rw_blocked_out *o, struct rw_blocked_item *it,
			      struct rw_blocked_out_stats *d)
{
	/* no JSON file (only log.blocked_pcap): lines go nowhere by choice,
	 * which is not a loss */
	int err = 0;
	bool ok = !o->path || rw_out_write_all(o->fd, it->line, it->line_len, &err);
	if (ok && o->path)
		d->bytes += it->line_len;
	if (it->type == RW_BLOCKED_ITEM_LOSS) {
		if (ok) {
			d->loss_lines++;
			for (int g = 0; g < RW_BLOCKED_ORIGINS; g++)
				for (int k = 0; k < RW_BLOCKED_LOST_KINDS; k++)
					d->reported[g][k] += it->loss[g][k];
		}
	} else if (!ok) {
		d->write_error[it->origin] += it->weight;
	} else if (it->type == RW_BLOCKED_ITEM_SUMMARY) {
		d->summaries++;
		d->summarised[it->origin] += it->weight;
	} else {
		d->lines[it->origin]++;
	}
	if (!ok)
		d->last_errno = err;
	if (it->rec && o->pcap_path) {
		uint8_t h[16];
		rw_le32(h, (uint32_t)(it->ts_us / 1000000u));
		rw_le32(h + 4, (uint32_t)(it->ts_us % 1000000u));
		rw_le32(h + 8, (uint32_t)it->rec_len);
		rw_le32(h + 12, (uint32_t)it->rec_len);
		struct iovec iov[2] = { { h, sizeof(h) }, { it->rec, it->rec_len } };
		ssize_t w = o->pcap_fd >= 0 ? writev(o->pcap_fd, iov, 2) : -1;
		if (w == (ssize_t)(sizeof(h) + it->rec_len)) {
			d->pcap_records++;
			d->pcap_bytes += (uint64_t)w;
		} else {
			d->pcap_lost++;
		}
	}
}

static void *rw_out_main(void *arg)
{
	struct rw_blocked_out *o = arg;
	pthread_mutex_lock(&o->mu);
	for (;;) {
		while (!o->head && !o->stop && !o->want_rotate)
			pthread_cond_wait(&o->cv, &o->mu);
		struct rw_blocked_item *list = o->head;
		bool rot = o->want_rotate, stop = o->stop;
		o->head = o->tail = NULL;
		o->want_rotate = false;
		struct rw_blocked_out_stats d = o->st; /* a private copy to update */
		pthread_mutex_unlock(&o->mu);

		if (rot) {
			bool unused = false;
			rw_out_rotate_one(o->path, o->keep, &o->fd, false, &unused, &d.bytes, true);
			rw_out_rotate_one(o->pcap_path, o->keep, &o->pcap_fd, true, &o->pcap_bad,
					  &d.pcap_bytes, true);
			d.rotations++;
		}
		size_t n = 0, n_loss = 0;
		while (list) {
			struct rw_blocked_item *it = list;
			list = it->next;
			if (o->max_bytes && o->fd >= 0 && d.bytes + it->line_len > o->max_bytes &&
			    d.bytes > 0) {
				bool bad = false;
				rw_out_rotate_one(o->path, o->keep, &o->fd, false, &bad, &d.bytes, true);
				d.rotations++;
			}
			if (o->pcap_max_bytes && it->rec && o->pcap_fd >= 0 &&
			    d.pcap_bytes + 16 + it->rec_len > o->pcap_max_bytes) {
				rw_out_rotate_one(o->pcap_path, o->keep, &o->pcap_fd, true,
						  &o->pcap_bad, &d.pcap_bytes, true);
				d.rotations++;
			}
			rw_out_write_item(o, it, &d);
			n++;
			n_loss += it->type == RW_BLOCKED_ITEM_LOSS;
			rw_blocked_item_free(it);
		}

		pthread_mutex_lock(&o->mu);
		o->st = d; /* the loop's own counts are apart (q_*) */
		o->n -= n;
		o->n_loss -= n_loss;
		if (stop && !o->head)
			break;
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

int rw_blocked_out_start(struct rw_blocked_out *o, const char *path, const char *pcap_path,
			 uint64_t max_bytes, uint64_t pcap_max_bytes, unsigned keep, size_t cap)
{
	memset(o, 0, sizeof(*o));
	o->fd = o->pcap_fd = -1;
	o->cap = cap ? cap : 1;
	o->keep = keep ? keep : 1;
	o->max_bytes = max_bytes;
	o->pcap_max_bytes = pcap_max_bytes;
	if ((path && !(o->path = strdup(path))) || (pcap_path && !(o->pcap_path = strdup(pcap_path)))) {
		free(o->path);
		free(o->pcap_path);
		return RW_ENOMEM;
	}
	if (o->path) {
		bool unused = false;
		o->fd = rw_out_open(o->path, false, &unused, &o->st.bytes);
		if (o->fd < 0)
			o->st.last_errno = errno;
	}
	if (o->pcap_path) {
		o->pcap_fd = rw_out_open(o->pcap_path, true, &o->pcap_bad, &o->st.pcap_bytes);
		if (o->pcap_fd < 0)
			o->st.last_errno = errno;
	}
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	if (pthread_create(&o->thread, NULL, rw_out_main, o)) {
		rw_blocked_out_stop(o);
		return RW_ENOMEM;
	}
	o->started = true;
	return 0;
}

void rw_blocked_out_stop(struct rw_blocked_out *o)
{
	if (o->started) {
		pthread_mutex_lock(&o->mu);
		o->stop = true;
		pthread_cond_signal(&o->cv);
		pthread_mutex_unlock(&o->mu);
		pthread_join(o->thread, NULL);
		o->started = false;
	}
	while (o->head) {
		struct rw_blocked_item *it = o->head;
		o->head = it->next;
		rw_blocked_item_free(it);
	}
	if (o->fd >= 0)
		close(o->fd);
	if (o->pcap_fd >= 0)
		close(o->pcap_fd);
	o->fd = o->pcap_fd = -1;
	free(o->path);
	free(o->pcap_path);
	o->path = o->pcap_path = NULL;
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->mu);
}

bool rw_blocked_out_push(struct rw_blocked_out *o, struct rw_blocked_item *it)
{
	it->next = NULL;
	pthread_mutex_lock(&o->mu);
	bool loss = it->type == RW_BLOCKED_ITEM_LOSS;
	size_t room = o->cap + (loss ? RW_BLOCKED_LOSS_RESERVE : 0);
	bool ok = o->n < room && (!loss || o->n_loss < RW_BLOCKED_LOSS_RESERVE);
	if (ok) {
		if (o->tail)
			o->tail->next = it;
		else
			o->head = it;
		o->tail = it;
		o->n++;
		o->n_loss += loss;
		pthread_cond_signal(&o->cv);
	} else if (!loss) {
		o->q_full[it->origin] += it->weight;
		if (it->rec)
			o->q_pcap_lost++;
	}
	pthread_mutex_unlock(&o->mu);
	if (!ok)
		rw_blocked_item_free(it);
	return ok;
}

void rw_blocked_out_rotate(struct rw_blocked_out *o)
{
	pthread_mutex_lock(&o->mu);
	o->want_rotate = true;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
}

void rw_blocked_out_stats(struct rw_blocked_out *o, struct rw_blocked_out_stats *st)
{
	pthread_mutex_lock(&o->mu);
	*st = o->st;
	for (int g = 0; g < RW_BLOCKED_ORIGINS; g++)
		st->queue_full[g] += o->q_full[g];
	st->pcap_lost += o->q_pcap_lost;
	pthread_mutex_unlock(&o->mu);
}

bool rw_blocked_out_idle(struct rw_blocked_out *o)
{
	pthread_mutex_lock(&o->mu);
	bool idle = o->n == 0;
	pthread_mutex_unlock(&o->mu);
	return idle;
}
