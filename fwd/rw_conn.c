#include "fwd/rw_conn.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "base/rw_err.h"

void rw_src_key_make(struct rw_src_key *k, int family, const uint8_t *addr)
{
	memset(k, 0, sizeof(*k));
	k->family = (uint8_t)family;
	if (family == AF_INET)
		memcpy(k->addr, addr, 4);
	else if (family == AF_INET6)
		memcpy(k->addr, addr, 8); /* the /64 */
}

/* Keyed mix of the 17 key bytes. Not a cryptographic PRF: the table is
 * bounded, so the worst an attacker who guesses collisions can do is make
 * probes linear in max_conns, never grow memory. The random seed keeps
 * collisions from being precomputed. */
static size_t rw_src_hash(const struct rw_src_table *s, const struct rw_src_key *k)
{
	uint64_t a, b;
	memcpy(&a, k->addr, 8);
	memcpy(&b, k->addr + 8, 8);
	uint64_t h = s->seed ^ ((uint64_t)k->family * 0x9e3779b97f4a7c15ull);
	h ^= a;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h ^= b;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (size_t)h & (s->cap - 1);
}

static bool rw_src_eq(const struct rw_src_key *a, const struct rw_src_key *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* Index of key's entry, or of the empty slot where it would go. */
static size_t rw_src_find(const struct rw_src_table *s, const struct rw_src_key *k)
{
	size_t i = rw_src_hash(s, k);
	while (s->e[i].count && !rw_src_eq(&s->e[i].key, k))
		i = (i + 1) & (s->cap - 1);
	return i;
}

/* Linear probing with backward-shift deletion: no tombstones, so probe
 * lengths do not degrade after churn. */
static void rw_src_remove_at(struct rw_src_table *s, size_t i)
{
	size_t mask = s->cap - 1;
	size_t j = i;
	for (;;) {
		s->e[i].count = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (!s->e[j].count)
				return;
			size_t home = rw_src_hash(s, &s->e[j].key);
			/* may e[j] move back to i? only if its home is not in (i, j] */
			bool in_between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
			if (!in_between)
				break;
		}
		s->e[i] = s->e[j];
		i = j;
	}
}

int rw_conn_table_init(struct rw_conn_table *t, size_t max_conns, uint32_t max_per_source)
{
	memset(t, 0, sizeof(*t));
	if (max_conns == 0 || max_conns > ((size_t)1 << 24))
		return RW_ERANGE;
	size_t cap = 16;
	while (cap < 2 * max_conns)
		cap <<= 1;
	t->slot = calloc(max_conns, sizeof(*t->slot));
	t->free = calloc(max_conns, sizeof(*t->free));
	t->src.e = calloc(cap, sizeof(*t->src.e));
	if (!t->slot || !t->free || !t->src.e) {
		rw_conn_table_fini(t);
		return RW_ENOMEM;
	}
	if (getrandom(&t->src.seed, sizeof(t->src.seed), GRND_NONBLOCK) != sizeof(t->src.seed))
		t->src.seed = (uint64_t)(uintptr_t)t ^ 0x2545f4914f6cdd1dull;
	t->src.cap = cap;
	t->max_conns = max_conns;
	t->max_per_source = max_per_source;
	/* lowest slot first, for readable debugging */
	for (size_t i = 0; i < max_conns; i++)
		t->free[i] = max_conns - 1 - i;
	t->n_free = max_conns;
	return 0;
}

int rw_conn_table_classes(struct rw_conn_table *t, size_t n_classes)
{
	free(t->slot_class);
	free(t->class_count);
	t->slot_class = NULL;
	t->class_count = NULL;
	t->n_classes = 0;
	t->reserve = 0;
	t->shared_used = 0;
	t->shared_cap = t->max_conns;
	if (n_classes <= 1)
		return 0;
	t->slot_class = calloc(t->max_conns, sizeof(*t->slot_class));
	t->class_count = calloc(n_classes, sizeof(*t->class_count));
	if (!t->slot_class || !t->class_count) {
		free(t->slot_class);
		free(t->class_count);
		t->slot_class = NULL;
		t->class_count = NULL;
		return RW_ENOMEM;
	}
	t->n_classes = n_classes;
	t->reserve = t->max_conns / (2 * n_classes);
	t->shared_cap = t->max_conns - n_classes * t->reserve;
	return 0;
}

size_t rw_conn_class_count(const struct rw_conn_table *t, size_t cls)
{
	return cls < t->n_classes ? t->class_count[cls] : t->n;
}

void rw_conn_table_fini(struct rw_conn_table *t)
{
	free(t->slot);
	free(t->free);
	free(t->src.e);
	free(t->slot_class);
	free(t->class_count);
	memset(t, 0, sizeof(*t));
}

long rw_conn_admit(struct rw_conn_table *t, const struct rw_src_key *key, void *obj)
{
	return rw_conn_admit_class(t, 0, key, obj);
}

long rw_conn_admit_class(struct rw_conn_table *t, size_t cls, const struct rw_src_key *key,
			 void *obj)
{
	if (t->n_free == 0)
		return RW_ETOOBIG;
	bool classes = t->n_classes > 0;
	if (classes && cls >= t->n_classes)
		return RW_EINVAL;
	bool shared = classes && t->class_count[cls] >= t->reserve;
	if (shared && t->shared_used >= t->shared_cap)
		return RW_ETOOBIG;
	size_t i = rw_src_find(&t->src, key);
	struct rw_src_entry *e = &t->src.e[i];
	if (e->count && t->max_per_source && e->count >= t->max_per_source)
		return RW_ERANGE;
	if (!e->count) {
		e->key = *key;
		t->src.used++;
	}
	e->count++;
	size_t s = t->free[--t->n_free];
	t->slot[s] = obj;
	t->n++;
	if (classes) {
		t->slot_class[s] = (uint32_t)cls;
		t->class_count[cls]++;
		t->shared_used += shared;
	}
	return (long)s;
}

void rw_conn_release(struct rw_conn_table *t, size_t slot, const struct rw_src_key *key)
{
	if (slot >= t->max_conns || !t->slot[slot])
		return;
	t->slot[slot] = NULL;
	t->free[t->n_free++] = slot;
	t->n--;
	if (t->n_classes) {
		/* the connection leaving a class above its reservation frees a
		 * shared place (which one does not matter: counts only) */
		size_t cls = t->slot_class[slot];
		if (t->class_count[cls] > t->reserve)
			t->shared_used--;
		t->class_count[cls]--;
	}
	size_t i = rw_src_find(&t->src, key);
	if (!t->src.e[i].count)
		return;
	if (--t->src.e[i].count == 0) {
		t->src.used--;
		rw_src_remove_at(&t->src, i);
	}
}

uint32_t rw_conn_source_count(const struct rw_conn_table *t, const struct rw_src_key *key)
{
	return t->src.e[rw_src_find(&t->src, key)].count;
}
