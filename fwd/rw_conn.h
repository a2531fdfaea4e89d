/* Connection admission and bookkeeping for one worker: a bounded table of
 * connection slots and a bounded hash table of live connections per source
 * address.
 *
 * Both are sized once from the limits and never grow, so an attacker can
 * not make the worker allocate more by opening connections: admission
 * either finds room or refuses. The per-source table holds one entry per
 * source with at least one live connection, so it can never hold more than
 * max_conns entries; it is sized at twice that (rounded up to a power of
 * two) to keep probe sequences short.
 *
 * IPv6 sources are counted per /64: one subscriber usually owns a whole
 * /64 and could otherwise rotate addresses to dodge the limit.
 *
 * Listeners (classes) share the table, but each has a reserved share:
 * with n > 1 classes, half of max_conns is split evenly as reservations
 * and the other half is shared. A class below its reservation is always
 * admitted (while the table has room, which the reservations guarantee);
 * above it, only while the shared half has room. So slow clients filling
 * one listener cannot starve another. */
#ifndef RW_CONN_H
#define RW_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rw_src_key {
	uint8_t family; /* AF_INET / AF_INET6 */
	uint8_t addr[16];
};

struct rw_src_entry {
	struct rw_src_key key;
	uint32_t count; /* 0 = empty slot */
};

struct rw_src_table {
	struct rw_src_entry *e;
	size_t cap;  /* power of two */
	size_t used; /* entries with count > 0 */
	uint64_t seed;
};

struct rw_conn_table {
	void **slot;      /* owner's per-connection objects; NULL = free */
	size_t max_conns;
	size_t n;         /* slots in use */
	size_t *free;     /* stack of free slot indexes */
	size_t n_free;
	uint32_t max_per_source; /* 0 = no per-source limit */
	struct rw_src_table src;
	/* per-class reservations (rw_conn_table_classes); n_classes 0 = none */
	uint32_t *slot_class;  /* class of each slot in use */
	size_t *class_count;   /* live connections per class */
	size_t n_classes;
	size_t reserve;        /* reserved slots per class */
	size_t shared_used;    /* connections above their class's reservation */
	size_t shared_cap;     /* max_conns - n_classes * reserve */
};

/* Make the key for an address as the limit counts it (v6 -> its /64).
 * addr is 4 or 16 bytes in network order. */
void rw_src_key_make(struct rw_src_key *k, int family, const uint8_t *addr);

int rw_conn_table_init(struct rw_conn_table *t, size_t max_conns, uint32_t max_per_source);
void rw_conn_table_fini(struct rw_conn_table *t);

/* Split the table into n_classes classes with reserved shares (see
 * above); before any admission. n_classes <= 1: one shared pool. */
int rw_conn_table_classes(struct rw_conn_table *t, size_t n_classes);

/* Admit one connection from key: returns the slot index (>= 0) and
 * stores obj there, or RW_ETOOBIG when the worker is full, or RW_ERANGE
 * when that source is at its limit. Nothing changes on refusal. */
long rw_conn_admit(struct rw_conn_table *t, const struct rw_src_key *key, void *obj);
/* The same for a connection of class cls (< n_classes): RW_ETOOBIG also
 * when cls is above its reservation and the shared part is full. */
long rw_conn_admit_class(struct rw_conn_table *t, size_t cls, const struct rw_src_key *key,
			 void *obj);
/* Live connections of class cls. */
size_t rw_conn_class_count(const struct rw_conn_table *t, size_t cls);
/* Release a slot admitted with key. */
void rw_conn_release(struct rw_conn_table *t, size_t slot, const struct rw_src_key *key);
/* Live connections counted for key. */
uint32_t rw_conn_source_count(const struct rw_conn_table *t, const struct rw_src_key *key);

#endif
