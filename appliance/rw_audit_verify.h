/* The push audit chain's file format, shared by the writer (rw_audit.c,
 * in regwalld's parent) and the verifier (`regwallctl audit verify`).
 * docs/design/audit.md has the whole story; in short:
 *
 *   one JSON object per line, '\n' terminated, written by one process:
 *     {"seq":N,"prev":"<64 hex>","time":"...","kind":"...",...}\n
 *   seq      1, 2, 3, ... without gaps, across restarts and rotated files
 *   prev     hex SHA-256 of the previous line's exact bytes, its '\n'
 *            included; 64 zeros before seq 1
 *   kind     "open" (the writer started or reopened the file; carries the
 *            public key), "push", "delete", "refuse", "invalid" (a worker
 *            event that failed validation), "lost" (lines that could not
 *            be written), "checkpoint"
 *   checkpoint lines have one fixed form (rw_audit_cp_line) and an Ed25519
 *   signature over rw_audit_cp_msg: their seq, prev (the chain head they
 *   seal), time and the key's fingerprint. The verifier rebuilds the line
 *   from its fields and compares bytes, so no byte of it is unsigned.
 *
 * The verifier reads untrusted bytes: every line is bounded
 * (RW_AUDIT_LINE_MAX), parsed by jansson with duplicate keys refused, and
 * every field type- and length-checked; it reports the first problem with
 * its file and line and stops. */
#ifndef RW_AUDIT_VERIFY_H
#define RW_AUDIT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RW_AUDIT_LINE_MAX 16384u /* bytes of a line, '\n' included */
#define RW_AUDIT_HEX 65          /* 64 hex digits + NUL */
#define RW_AUDIT_SIG_HEX 129     /* 64-byte Ed25519 signature as hex + NUL */
#define RW_AUDIT_TIME_MAX 32
#define RW_AUDIT_KEYS_MAX 16     /* keys an unpinned verify accepts from "open" lines */

/* hex SHA-256 of n bytes (lowercase) */
void rw_audit_sha256_hex(const void *p, size_t n, char out[RW_AUDIT_HEX]);
/* a line's chain hash: SHA-256 of its len bytes followed by '\n' */
void rw_audit_line_hash(const char *line, size_t len, char out[RW_AUDIT_HEX]);
/* the key's fingerprint: hex SHA-256 of its 32 raw public-key bytes */
void rw_audit_key_fp(const uint8_t raw[32], char out[RW_AUDIT_HEX]);
/* lowercase hex of n bytes; out holds 2n+1 */
void rw_audit_hex(const uint8_t *p, size_t n, char *out);
/* exactly 2n hex digits (either case) -> n bytes; false otherwise */
bool rw_audit_unhex(const char *s, uint8_t *out, size_t n);

/* What a checkpoint's signature covers (text, no NUL counted):
 * "regwall-audit-checkpoint-v1\nseq=N\nprev=H\ntime=T\nkey=FP\n".
 * Returns the length, or 0 when cap is too small. */
size_t rw_audit_cp_msg(uint64_t seq, const char *prev, const char *time, const char *key_fp,
		       char *out, size_t cap);
/* The one form of a checkpoint line (no '\n'). 0 when cap is too small. */
size_t rw_audit_cp_line(uint64_t seq, const char *prev, const char *time, const char *key_fp,
			const char *sig_hex, char *out, size_t cap);
/* Ed25519 check of sig (64 bytes) over msg by the raw public key. */
bool rw_audit_sig_ok(const uint8_t pub[32], const uint8_t sig[64], const char *msg, size_t len);

/* One line's chain fields. */
struct rw_audit_rec {
	uint64_t seq;
	char prev[RW_AUDIT_HEX];
	char kind[16];
	char time[RW_AUDIT_TIME_MAX];
	/* checkpoint: key fingerprint and signature; open: key and pubkey */
	char key[RW_AUDIT_HEX];
	char sig[RW_AUDIT_SIG_HEX];
	char pubkey[RW_AUDIT_HEX]; /* open: 32 raw bytes as hex */
};

/* Parse one line (len bytes, without its '\n'). 0, or -1 with why. */
int rw_audit_parse_line(const char *line, size_t len, struct rw_audit_rec *r, char *why,
			size_t whylen);

enum rw_audit_result {
	RW_AUDIT_VERIFIED = 0, /* every line chained, the last line a good checkpoint */
	RW_AUDIT_BAD,          /* a line changed, removed, inserted, reordered, or a bad signature */
	RW_AUDIT_UNSIGNED,     /* chain intact, but lines after the last checkpoint */
};

struct rw_audit_verify {
	/* input */
	bool pinned;            /* --pubkey: every checkpoint must be this key's */
	uint8_t pin[32];
	char pin_fp[RW_AUDIT_HEX];
	/* keys announced by "open" lines (used when not pinned) */
	uint8_t keys[RW_AUDIT_KEYS_MAX][32];
	char key_fps[RW_AUDIT_KEYS_MAX][RW_AUDIT_HEX];
	unsigned n_keys;
	/* position */
	char file[256];
	uint64_t line_no;       /* of the current file, 1-based */
	char *buf;              /* partial line (RW_AUDIT_LINE_MAX) */
	size_t buf_len;
	/* chain so far */
	bool started;
	uint64_t seq;           /* of the last line */
	char hash[RW_AUDIT_HEX]; /* of the last line, '\n' included */
	char last_file[256];    /* where the last line was */
	uint64_t last_line;
	uint64_t first_seq;
	/* a checkpoint kept elsewhere (rw_audit_verify_expect) */
	bool expect;
	uint64_t expect_seq;
	char expect_line[512];
	size_t expect_len;
	bool expect_seen;
	/* results */
	uint64_t lines, checkpoints, files;
	uint64_t cp_seq;        /* seq of the last good checkpoint (0: none) */
	char cp_file[256];
	uint64_t cp_line;
	/* checkpoints signed by another key than the checkpoint before (a
	 * new key file, or lines appended and signed by someone else: only
	 * --pubkey tells which) */
	char cp_key[RW_AUDIT_HEX]; /* fingerprint of the last good checkpoint */
	uint64_t key_changes;
	char key_change_file[256];
	uint64_t key_change_line; /* the first checkpoint with another key */
	uint64_t tail_lines;    /* lines after the last good checkpoint */
	char tail_file[256];
	uint64_t tail_line;     /* the first of them */
	bool failed;
	char fail_file[256];
	uint64_t fail_line;
	char why[384];
};

/* pubkey: 32 raw bytes to pin, or NULL (then keys come from the file's
 * "open" lines, which proves only that the file is self-consistent). */
int rw_audit_verify_init(struct rw_audit_verify *v, const uint8_t *pubkey);
void rw_audit_verify_fini(struct rw_audit_verify *v);
/* A checkpoint line kept off the box (a SIEM's copy): the files must hold
 * exactly this line at its seq, so a file truncated to an earlier
 * checkpoint, or rewritten and re-signed, fails. line may end in '\n'.
 * 0, or -1 with why (not a checkpoint line). */
int rw_audit_verify_expect(struct rw_audit_verify *v, const char *line, size_t len, char *why,
			   size_t whylen);
/* Files are given oldest first; each is fed in any pieces. */
void rw_audit_verify_begin(struct rw_audit_verify *v, const char *name);
void rw_audit_verify_feed(struct rw_audit_verify *v, const void *data, size_t len);
void rw_audit_verify_end(struct rw_audit_verify *v);
/* A whole file by path (an unreadable file is a failure with why). */
void rw_audit_verify_file(struct rw_audit_verify *v, const char *path);
/* After the last file: checks that were waiting for the end (the
 * expected checkpoint seen). */
void rw_audit_verify_finish(struct rw_audit_verify *v);
enum rw_audit_result rw_audit_verify_result(const struct rw_audit_verify *v);

/* A public key given on the command line: 64 hex digits, or a PEM file
 * (SubjectPublicKeyInfo, Ed25519). 0, or -1 with why. */
int rw_audit_pubkey_load(const char *arg, uint8_t out[32], char *why, size_t whylen);

#endif
