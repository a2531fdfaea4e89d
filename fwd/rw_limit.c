/* Shared push token buckets (see rw_limit.h).
 *
 * Why one process-shared robust mutex and not per-slot atomics: claiming a
 * slot for a new name and updating a bucket (tokens and last refill time
 * together) are multi-word updates; lock-free versions would need a
 * 128-bit CAS or seqlocks per slot for a path that runs once per push
 * operation and once per upload read, far from the hot path of pulls.
 * The lock is robust so a worker that dies holding it (crash, SIGKILL)
 * costs the others one EOWNERDEAD, not a deadlock. A bucket caught
 * mid-update is at worst off by one refill; every read clamps it to the
 * capacity, so it cannot grant more than one burst. */
#include "fwd/rw_limit.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/rw_err.h"

/* Fixed-point token units, so refills need no division or floats:
 * one operation = 60000 units, refilled at ops_per_minute units per ms;
 * one byte = 1000 units, refilled at bytes_per_second units per ms. */
#define RW_LIMIT_OP_UNITS UINT64_C(60000)
#define RW_LIMIT_BYTE_UNITS UINT64_C(1000)
/* Rates above these are as good as unlimited and keep every product of
 * rate and capacity inside 64 bits. */
#define RW_LIMIT_OPS_CAP (UINT64_C(1) << 40)
#define RW_LIMIT_BPS_CAP (UINT64_C(1) << 50)

struct rw_limit_bucket {
	uint64_t tokens;  /* units */
	uint64_t last_ms; /* time of the last refill */
	uint8_t started;  /* 0: never used, i.e. full */
};

struct rw_limit_slot {
	uint64_t hash;
	uint8_t used;
	char name[RW_LIMIT_NAME_MAX];
	struct rw_limit_bucket ops;
	struct rw_limit_bucket bytes;
};

struct rw_limit_shm {
	pthread_mutex_t mu;
	size_t map_len; /* as made; a process uses its own copy (struct rw_limit) */
	size_t mask; /* slots - 1; likewise */
	uint64_t overflow_uses;
	uint64_t lock_recoveries;
	/* The rates of the newest worker generation (rw_limit_set_policy):
	 * an old generation still draining must not cap or slow the shared
	 * buckets with the settings it was started with. */
	int have_opts;
	struct rw_policy_opts opts;
	struct rw_limit_slot overflow;
	struct rw_limit_slot slot[];
};

/* A process's handle: the shared table and its geometry as this process
 * mapped it. The length and mask in the shared page are writable by every
 * worker; indexing and unmapping use these private copies, so a worker
 * that scribbles on the page cannot make another process index or unmap
 * outside its mapping. */
struct rw_limit {
	struct rw_limit_shm *s;
	size_t len;
	size_t mask;
};

struct rw_limit_rate {
	uint64_t per_ms; /* units per millisecond; 0 = unlimited */
	uint64_t cap;    /* units */
};

static struct rw_limit_rate ops_rate(const struct rw_policy_opts *o)
{
	struct rw_limit_rate r = { 0, 0 };
	uint64_t n = o->push_ops_per_minute;
	if (n == 0)
		return r;
	if (n > RW_LIMIT_OPS_CAP)
		n = RW_LIMIT_OPS_CAP;
	r.per_ms = n;
	/* burst: burst_ops, else one minute's worth */
	uint64_t burst = o->push_burst_ops ? o->push_burst_ops : n;
	if (burst > RW_LIMIT_OPS_CAP)
		burst = RW_LIMIT_OPS_CAP;
	r.cap = burst * RW_LIMIT_OP_UNITS;
	return r;
}

static struct rw_limit_rate bytes_rate(const struct rw_policy_opts *o)
{
	struct rw_limit_rate r = { 0, 0 };
	uint64_t n = o->push_bytes_per_second;
	if (n == 0)
		return r;
	if (n > RW_LIMIT_BPS_CAP)
		n = RW_LIMIT_BPS_CAP;
	r.per_ms = n;
	/* burst: burst_bytes, else one second's worth */
	uint64_t burst = o->push_burst_bytes ? o->push_burst_bytes : n;
	if (burst > RW_LIMIT_BPS_CAP)
		burst = RW_LIMIT_BPS_CAP;
	r.cap = burst * RW_LIMIT_BYTE_UNITS;
	return r;
}

/* Tokens the bucket holds at now_ms, without changing it. A clock that
 * went backwards refills nothing. */
static uint64_t bucket_level(const struct rw_limit_bucket *b, const struct rw_limit_rate *r,
			     uint64_t now_ms)
{
	if (!b->started)
		return r->cap;
	uint64_t t = b->tokens < r->cap ? b->tokens : r->cap;
	if (now_ms <= b->last_ms)
		return t;
	uint64_t elapsed = now_ms - b->last_ms;
	uint64_t missing = r->cap - t;
	/* elapsed * per_ms >= missing, tested without the product overflowing */
	if (elapsed >= missing / r->per_ms + 1)
		return r->cap;
	return t + elapsed * r->per_ms;
}

static void bucket_refill(struct rw_limit_bucket *b, const struct rw_limit_rate *r, uint64_t now_ms)
{
	b->tokens = bucket_level(b, r, now_ms);
	if (!b->started || now_ms > b->last_ms)
		b->last_ms = now_ms;
	b->started = 1;
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a */
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* An idle slot whose buckets have both refilled is indistinguishable from
 * a fresh one, so another name may take it over: names of identities
 * removed by a reload do not fill the table for good. */
static bool slot_reclaimable(const struct rw_limit_slot *s, const struct rw_policy_opts *o,
			     uint64_t now_ms)
{
	struct rw_limit_rate ro = ops_rate(o), rb = bytes_rate(o);
	if (ro.per_ms && bucket_level(&s->ops, &ro, now_ms) < ro.cap)
		return false;
	if (rb.per_ms && bucket_level(&s->bytes, &rb, now_ms) < rb.cap)
		return false;
	return true;
}

/* Under the lock. Never NULL: the overflow bucket is the last resort, so
 * a full table limits more tightly rather than not at all. */
static struct rw_limit_slot *slot_find(struct rw_limit *l, const char *who,
				       const struct rw_policy_opts *o, uint64_t now_ms)
{
	size_t n = strnlen(who, RW_LIMIT_NAME_MAX);
	if (n >= RW_LIMIT_NAME_MAX) {
		l->s->overflow_uses++;
		return &l->s->overflow;
	}
	uint64_t h = name_hash(who);
	struct rw_limit_slot *free_slot = NULL;
	for (size_t i = 0; i < RW_LIMIT_PROBE && i <= l->mask; i++) {
		struct rw_limit_slot *s = &l->s->slot[(h + i) & l->mask];
		if (!s->used) {
			if (!free_slot)
				free_slot = s;
			continue;
		}
		if (s->hash == h && strcmp(s->name, who) == 0)
			return s;
		if (!free_slot && slot_reclaimable(s, o, now_ms))
			free_slot = s;
	}
	if (!free_slot) {
		l->s->overflow_uses++;
		return &l->s->overflow;
	}
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = 1;
	free_slot->hash = h;
	memcpy(free_slot->name, who, n + 1);
	return free_slot;
}

/* A handle for the mapping m of len bytes with n slots. */
static int rw_limit_handle(void *m, size_t len, size_t n, struct rw_limit **out)
{
	struct rw_limit *l = malloc(sizeof(*l));
	if (!l) {
		munmap(m, len);
		return RW_ENOMEM;
	}
	l->s = m;
	l->len = len;
	l->mask = n - 1;
	*out = l;
	return 0;
}

/* Map the table: anonymous shared memory (fd < 0), or the memfd fd sized
 * for it here. */
static int rw_limit_map(struct rw_limit **out, size_t slots, int fd)
{
	if (!out || slots == 0 || slots > RW_LIMIT_SLOTS_MAX)
		return RW_EINVAL;
	*out = NULL;
	size_t n = 1;
	while (n < slots)
		n <<= 1;
	size_t len = sizeof(struct rw_limit_shm) + n * sizeof(struct rw_limit_slot);
	if (fd >= 0 && ftruncate(fd, (off_t)len) != 0)
		return RW_EIO;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       fd >= 0 ? MAP_SHARED : MAP_SHARED | MAP_ANONYMOUS, fd, 0);
	if (m == MAP_FAILED)
		return RW_ENOMEM;
	struct rw_limit_shm *sh = m; /* zero-filled by mmap / ftruncate */
	sh->map_len = len;
	sh->mask = n - 1;

	pthread_mutexattr_t a;
	if (pthread_mutexattr_init(&a) != 0) {
		munmap(m, len);
		return RW_EIO;
	}
	int r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (r == 0)
		r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (r == 0)
		r = pthread_mutex_init(&sh->mu, &a);
	pthread_mutexattr_destroy(&a);
	if (r != 0) {
		munmap(m, len);
		return RW_EIO;
	}
	return rw_limit_handle(m, len, n, out);
}

int rw_limit_create(struct rw_limit **out, size_t slots)
{
	return rw_limit_map(out, slots, -1);
}

int rw_limit_create_shared(struct rw_limit **out, size_t slots, int *memfd)
{
	*memfd = -1;
	int fd = memfd_create("regwall-limit", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return RW_EIO;
	int r = rw_limit_map(out, slots, fd);
	/* its size is fixed: an attaching process maps exactly this */
	if (!r && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
		r = RW_EIO;
	if (r) {
		if (*out)
			rw_limit_destroy(*out);
		*out = NULL;
		close(fd);
		return r;
	}
	*memfd = fd;
	return 0;
}

int rw_limit_attach(int fd, struct rw_limit **out)
{
	*out = NULL;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return RW_EINVAL;
	size_t len = (size_t)st.st_size;
	if (len < sizeof(struct rw_limit_shm) ||
	    (len - sizeof(struct rw_limit_shm)) % sizeof(struct rw_limit_slot) != 0)
		return RW_EINVAL;
	size_t n = (len - sizeof(struct rw_limit_shm)) / sizeof(struct rw_limit_slot);
	if (n == 0 || n > RW_LIMIT_SLOTS_MAX || (n & (n - 1)) != 0)
		return RW_EINVAL;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return RW_ENOMEM;
	/* the geometry comes from the descriptor's size alone, never from
	 * the shared page */
	return rw_limit_handle(m, len, n, out);
}

void rw_limit_destroy(struct rw_limit *l)
{
	if (!l)
		return;
	munmap(l->s, l->len);
	free(l);
}

/* Bounded: a process that holds the shared lock and stops (a stuck or
 * compromised worker) must not stall the parent's loop (reload, status)
 * or the other workers for longer than this; they then fail closed. */
#define RW_LIMIT_LOCK_MS 200

int rw_limit_lock(struct rw_limit *l)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += (long)RW_LIMIT_LOCK_MS * 1000000L;
	dl.tv_sec += dl.tv_nsec / 1000000000L;
	dl.tv_nsec %= 1000000000L;
	int r = pthread_mutex_timedlock(&l->s->mu, &dl);
	if (r == EOWNERDEAD) {
		/* The dead holder's update may be half done; buckets are
		 * clamped on every read, so carrying on is safe. */
		if (pthread_mutex_consistent(&l->s->mu) != 0)
			return RW_EIO;
		l->s->lock_recoveries++;
		return 0;
	}
	return r == 0 ? 0 : RW_EIO;
}

void rw_limit_unlock(struct rw_limit *l)
{
	pthread_mutex_unlock(&l->s->mu);
}

int rw_limit_set_policy(struct rw_limit *l, const struct rw_policy_opts *o)
{
	if (!l || !o)
		return RW_EINVAL;
	if (rw_limit_lock(l) != 0)
		return RW_EIO;
	l->s->opts = *o;
	l->s->have_opts = 1;
	rw_limit_unlock(l);
	return 0;
}

int rw_limit_op(struct rw_limit *l, const char *who, uint64_t now_ms,
		const struct rw_policy_opts *o, uint64_t *retry_after_ms)
{
	if (!l || !who || !o || !retry_after_ms)
		return RW_EINVAL;
	*retry_after_ms = 0;
	if (rw_limit_lock(l) != 0)
		return RW_EIO;
	if (l->s->have_opts)
		o = &l->s->opts;
	struct rw_limit_rate r = ops_rate(o);
	if (!r.per_ms) {
		rw_limit_unlock(l);
		return 0;
	}
	struct rw_limit_slot *s = slot_find(l, who, o, now_ms);
	bucket_refill(&s->ops, &r, now_ms);
	int ret = 0;
	if (s->ops.tokens >= RW_LIMIT_OP_UNITS) {
		s->ops.tokens -= RW_LIMIT_OP_UNITS;
	} else {
		*retry_after_ms = div_up(RW_LIMIT_OP_UNITS - s->ops.tokens, r.per_ms);
		ret = RW_ETOOBIG;
	}
	rw_limit_unlock(l);
	return ret;
}

uint64_t rw_limit_bytes(struct rw_limit *l, const char *who, uint64_t now_ms, size_t want,
			const struct rw_policy_opts *o, uint64_t *wait_ms)
{
	uint64_t dummy;
	if (!wait_ms)
		wait_ms = &dummy;
	*wait_ms = 1000;
	if (!l || !who || !o)
		return 0;
	*wait_ms = 0;
	if (want == 0)
		return 0;
	if (rw_limit_lock(l) != 0) {
		*wait_ms = 1000;
		return 0;
	}
	if (l->s->have_opts)
		o = &l->s->opts;
	struct rw_limit_rate r = bytes_rate(o);
	if (!r.per_ms) {
		rw_limit_unlock(l);
		return want;
	}
	struct rw_limit_slot *s = slot_find(l, who, o, now_ms);
	bucket_refill(&s->bytes, &r, now_ms);
	uint64_t avail = s->bytes.tokens / RW_LIMIT_BYTE_UNITS;
	uint64_t grant = (uint64_t)want < avail ? (uint64_t)want : avail;
	s->bytes.tokens -= grant * RW_LIMIT_BYTE_UNITS;
	if (grant < (uint64_t)want) {
		/* Wake for a useful amount, not for every byte. */
		uint64_t step = r.cap / RW_LIMIT_BYTE_UNITS / 8;
		if (step == 0)
			step = 1;
		uint64_t need = (uint64_t)want - grant;
		if (need > step)
			need = step;
		uint64_t need_units = need * RW_LIMIT_BYTE_UNITS;
		uint64_t have = s->bytes.tokens;
		*wait_ms = need_units > have ? div_up(need_units - have, r.per_ms) : 1;
		if (*wait_ms == 0)
			*wait_ms = 1;
	}
	rw_limit_unlock(l);
	return grant;
}

int rw_limit_stats(struct rw_limit *l, struct rw_limit_stats *out)
{
	if (!l || !out)
		return RW_EINVAL;
	if (rw_limit_lock(l) != 0)
		return RW_EIO;
	out->overflow_uses = l->s->overflow_uses;
	out->lock_recoveries = l->s->lock_recoveries;
	out->slots = l->mask + 1;
	out->slots_used = 0;
	for (size_t i = 0; i <= l->mask; i++)
		out->slots_used += l->s->slot[i].used;
	rw_limit_unlock(l);
	return 0;
}
