/* regwall error convention: functions return 0 on success or a negative
 * RW_E* code; the edge (main, control socket, log) turns it into text once
 * with rw_strerror(). Details that only the failing function knows (a file
 * and line, the netlink object that failed) go into a caller-supplied
 * struct rw_diag, never to stderr from deep inside a module. */
#ifndef RW_ERR_H
#define RW_ERR_H

#include <stddef.h>
#include <stdio.h>

enum rw_err {
	RW_OK = 0,
	RW_ENOMEM = -1,      /* allocation failed */
	RW_EINVAL = -2,      /* bad argument or bad input value */
	RW_EINCOMPLETE = -3, /* need more bytes (parsers) */
	RW_ERANGE = -4,      /* number or length out of range */
	RW_ECONFIG = -5,     /* configuration invalid (see diag) */
	RW_ENETLINK = -6,    /* netlink send/recv failed */
	RW_EKERNEL = -7,     /* kernel refused a batch (see diag) */
	RW_EUNKNOWN = -8,    /* outcome unknown (ENOBUFS on acks): re-read state */
	RW_ENOENT = -9,      /* no such object */
	RW_EEXIST = -10,     /* object exists / overlaps */
	RW_EIO = -11,        /* file or socket I/O failed (errno in diag) */
	RW_EPERM = -12,      /* missing privilege */
	RW_EPROTO = -13,     /* peer spoke the protocol wrongly */
	RW_ETOOBIG = -14,    /* over a configured cap */
	RW_ETIMEDOUT = -15,  /* waited past a deadline */
	RW_ERR_MAX_ = -16
};

const char *rw_strerror(int err);

/* Diagnostics collected by a module for the edge to print. Messages are
 * stored whole, already formatted as "FILE:LINE: what is wrong" where a
 * location exists. Bounded: after RW_DIAG_MAX messages further ones are
 * counted in 'dropped' but not stored. */
#define RW_DIAG_MAX 64
#define RW_DIAG_LEN 512

struct rw_diag {
	unsigned n_err;
	unsigned n_warn;
	unsigned n;       /* stored messages */
	unsigned dropped; /* messages not stored (over RW_DIAG_MAX) */
	struct {
		int is_warning;
		int line; /* for the print order; <= 0: none */
		char text[RW_DIAG_LEN];
	} msg[RW_DIAG_MAX];
};

void rw_diag_init(struct rw_diag *d);
/* Record an error / warning. 'file' may be NULL (then no location prefix),
 * 'line' <= 0 means no line. */
void rw_diag_err(struct rw_diag *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void rw_diag_warn(struct rw_diag *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Print all stored messages, one per line, to the stream ("warning: "
 * prefix on warnings), in line order: a config's errors are found in
 * passes (syntax, sections, cross-checks), an admin reads the file top
 * down. Messages with the same line, and those without one (after all
 * others), keep the order they were recorded in. */
void rw_diag_print(const struct rw_diag *d, FILE *out);

#endif
