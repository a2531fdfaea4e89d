/* The parent's NFLOG capture: one netlink socket bound to log.nflog_group,
 * read straight with libmnl (why not libpcap: docs/design/blocked-log.md
 * §1, loss accounting).
 *
 * rw_nflog_cap_open() runs as root before anything drops privileges: it
 * binds the group (NFULNL_CFG_CMD_BIND needs CAP_NET_ADMIN), asks for the
 * packet cut to a bounded copy range, sequence numbers on every record
 * (NFULNL_CFG_F_SEQ), a short flush timeout and a large receive buffer
 * (SO_RCVBUFFORCE). The socket is non-blocking; the loop calls
 * rw_nflog_cap_read() when it is readable.
 *
 * Each record is handed to the callback exactly as libpcap would hand a
 * DLT_NFLOG record (the netlink message without its nlmsghdr), so
 * inspect/rw_nflog_decode() applies and the pcap file can use
 * LINKTYPE_NFLOG. Losses the kernel reports (recv ENOBUFS) and truncated
 * datagrams are counted here; the exact number of records lost follows
 * from the gaps in the records' sequence numbers (rw_blocked). */
#ifndef RW_NFLOG_CAP_H
#define RW_NFLOG_CAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/rw_err.h"

#define RW_NFLOG_CAP_COPY 128      /* packet bytes per record (from L3) */
#define RW_NFLOG_CAP_RCVBUF (8u << 20)
#define RW_NFLOG_CAP_FLUSH_CS 5    /* kernel flush timeout, 1/100 s */
#define RW_NFLOG_CAP_QTHRESH 64    /* records batched per datagram at most */

typedef void rw_nflog_cap_fn(void *ctx, const uint8_t *rec, size_t len);

struct rw_nflog_cap {
	int fd;
	uint16_t group;
	uint32_t portid;
	uint8_t *buf;
	size_t buf_size;
	uint64_t enobufs;   /* recv() said the kernel dropped datagrams */
	uint64_t truncated; /* a datagram larger than buf (MSG_TRUNC) */
	uint64_t records;   /* records handed to the callback */
};

/* fd -1 until opened. */
void rw_nflog_cap_init(struct rw_nflog_cap *c);
/* Open and bind group. diag says what failed (EBUSY/EPERM: another
 * reader owns the group, or no CAP_NET_ADMIN). */
int rw_nflog_cap_open(struct rw_nflog_cap *c, uint16_t group, struct rw_diag *diag);
/* Read what is queued now (at most max_datagrams), calling fn per record.
 * Returns 0, or RW_EIO on an unexpected socket error. */
int rw_nflog_cap_read(struct rw_nflog_cap *c, unsigned max_datagrams, rw_nflog_cap_fn *fn,
		      void *ctx);
void rw_nflog_cap_close(struct rw_nflog_cap *c);

#endif
