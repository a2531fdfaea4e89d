/* The audit file's format and its verifier (rw_audit_verify.h). The file
 * is untrusted input here: whoever could write it may have edited it. */
#include "appliance/rw_audit_verify.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "base/rw_err.h"

static const char rw_audit_zero[RW_AUDIT_HEX] =
	"0000000000000000000000000000000000000000000000000000000000000000";

void rw_audit_hex(const uint8_t *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int rw_audit_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool rw_audit_unhex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = rw_audit_nibble(s[2 * i]), lo = rw_audit_nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

void rw_audit_sha256_hex(const void *p, size_t n, char out[RW_AUDIT_HEX])
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	SHA256(p, n, md);
	rw_audit_hex(md, sizeof(md), out);
}

void rw_audit_line_hash(const char *line, size_t len, char out[RW_AUDIT_HEX])
{
	uint8_t md[SHA256_DIGEST_LENGTH] = { 0 };
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	/* out of memory here leaves a hash no line has: verify fails, the
	 * writer's next line will not chain (both loud) */
	if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1)
		(void)(EVP_DigestUpdate(c, line, len) == 1 && EVP_DigestUpdate(c, "\n", 1) == 1 &&
		       EVP_DigestFinal_ex(c, md, NULL) == 1);
	EVP_MD_CTX_free(c);
	rw_audit_hex(md, sizeof(md), out);
}

void rw_audit_key_fp(const uint8_t raw[32], char out[RW_AUDIT_HEX])
{
	rw_audit_sha256_hex(raw, 32, out);
}

size_t rw_audit_cp_msg(uint64_t seq, const char *prev, const char *time, const char *key_fp,
		       char *out, size_t cap)
{
	int n = snprintf(out, cap, "regwall-audit-checkpoint-v1\nseq=%" PRIu64 "\nprev=%s\ntime=%s\nkey=%s\n",
			 seq, prev, time, key_fp);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t rw_audit_cp_line(uint64_t seq, const char *prev, const char *time, const char *key_fp,
			const char *sig_hex, char *out, size_t cap)
{
	int n = snprintf(out, cap,
			 "{\"seq\":%" PRIu64 ",\"prev\":\"%s\",\"time\":\"%s\",\"kind\":\"checkpoint\","
			 "\"key\":\"%s\",\"sig\":\"%s\"}",
			 seq, prev, time, key_fp, sig_hex);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

bool rw_audit_sig_ok(const uint8_t pub[32], const uint8_t sig[64], const char *msg, size_t len)
{
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = k && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 &&
		  EVP_DigestVerify(ctx, sig, 64, (const unsigned char *)msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return ok;
}

/* ---- one line ---- */

static int rw_audit_why(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int rw_audit_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

static bool rw_audit_is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A string member of at most cap-1 bytes into out; -1 if absent or not. */
static int rw_audit_str(json_t *o, const char *key, char *out, size_t cap)
{
	json_t *s = json_object_get(o, key);
	if (!json_is_string(s) || json_string_length(s) >= cap ||
	    strlen(json_string_value(s)) != json_string_length(s))
		return -1;
	memcpy(out, json_string_value(s), json_string_length(s) + 1);
	return 0;
}

static bool rw_audit_time_ok(const char *t)
{
	if (!t[0])
		return false;
	for (const char *p = t; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == 'T' || *p == 'Z' || *p == ':' || *p == '.' ||
		      *p == '-'))
			return false;
	return true;
}

static const char *const rw_audit_kinds[] = { "open", "push", "delete", "refuse",
					      "invalid", "lost", "checkpoint" };

static int rw_audit_parse_obj(json_t *o, const char *line, size_t len, struct rw_audit_rec *r,
			      char *why, size_t whylen)
{
	json_t *seq = json_object_get(o, "seq");
	if (!json_is_integer(seq) || json_integer_value(seq) < 1)
		return rw_audit_why(why, whylen, "no seq (a positive integer)");
	r->seq = (uint64_t)json_integer_value(seq);
	if (rw_audit_str(o, "prev", r->prev, sizeof(r->prev)) || !rw_audit_is_hex(r->prev, 64))
		return rw_audit_why(why, whylen, "no prev (64 lowercase hex digits)");
	if (rw_audit_str(o, "time", r->time, sizeof(r->time)) || !rw_audit_time_ok(r->time))
		return rw_audit_why(why, whylen, "no time (ISO 8601)");
	if (rw_audit_str(o, "kind", r->kind, sizeof(r->kind)))
		return rw_audit_why(why, whylen, "no kind");
	size_t k = 0, nk = sizeof(rw_audit_kinds) / sizeof(rw_audit_kinds[0]);
	while (k < nk && strcmp(r->kind, rw_audit_kinds[k]) != 0)
		k++;
	if (k == nk)
		return rw_audit_why(why, whylen, "unknown kind");
	if (!strcmp(r->kind, "open")) {
		if (rw_audit_str(o, "key", r->key, sizeof(r->key)) || !rw_audit_is_hex(r->key, 64) ||
		    rw_audit_str(o, "pubkey", r->pubkey, sizeof(r->pubkey)) ||
		    !rw_audit_is_hex(r->pubkey, 64))
			return rw_audit_why(why, whylen, "open line without key and pubkey");
	}
	if (!strcmp(r->kind, "checkpoint")) {
		if (rw_audit_str(o, "key", r->key, sizeof(r->key)) || !rw_audit_is_hex(r->key, 64) ||
		    rw_audit_str(o, "sig", r->sig, sizeof(r->sig)) || !rw_audit_is_hex(r->sig, 128))
			return rw_audit_why(why, whylen, "checkpoint without key and sig");
		/* one form only: nothing in the line escapes the signature */
		char canon[512];
		size_t n = rw_audit_cp_line(r->seq, r->prev, r->time, r->key, r->sig, canon,
					    sizeof(canon));
		if (!n || n != len || memcmp(canon, line, len) != 0)
			return rw_audit_why(why, whylen, "checkpoint line not in its one form");
	}
	return 0;
}

int rw_audit_parse_line(const char *line, size_t len, struct rw_audit_rec *r, char *why,
			size_t whylen)
{
	memset(r, 0, sizeof(*r));
	if (len == 0)
		return rw_audit_why(why, whylen, "empty line");
	if (len >= RW_AUDIT_LINE_MAX)
		return rw_audit_why(why, whylen, "line longer than %u bytes", RW_AUDIT_LINE_MAX - 1);
	if (memchr(line, '\0', len))
		return rw_audit_why(why, whylen, "NUL byte in the line");
	json_error_t err;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
	if (!o)
		return rw_audit_why(why, whylen, "not JSON (%s at column %d)", err.text, err.column);
	int rc = json_is_object(o) ? rw_audit_parse_obj(o, line, len, r, why, whylen)
				   : rw_audit_why(why, whylen, "not a JSON object");
	json_decref(o);
	return rc;
}

/* ---- the verifier ---- */

int rw_audit_verify_init(struct rw_audit_verify *v, const uint8_t *pubkey)
{
	memset(v, 0, sizeof(*v));
	v->buf = malloc(RW_AUDIT_LINE_MAX);
	if (!v->buf)
		return RW_ENOMEM;
	if (pubkey) {
		v->pinned = true;
		memcpy(v->pin, pubkey, 32);
		rw_audit_key_fp(pubkey, v->pin_fp);
	}
	return 0;
}

void rw_audit_verify_fini(struct rw_audit_verify *v)
{
	free(v->buf);
	v->buf = NULL;
}

static void rw_audit_fail(struct rw_audit_verify *v, const char *file, uint64_t line,
			  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void rw_audit_fail(struct rw_audit_verify *v, const char *file, uint64_t line,
			  const char *fmt, ...)
{
	if (v->failed)
		return;
	v->failed = true;
	snprintf(v->fail_file, sizeof(v->fail_file), "%s", file);
	v->fail_line = line;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
}

void rw_audit_verify_begin(struct rw_audit_verify *v, const char *name)
{
	snprintf(v->file, sizeof(v->file), "%s", name);
	v->line_no = 0;
	v->buf_len = 0;
	v->files++;
}

/* Is the chain continued by this line? Fails naming the line to blame. */
static void rw_audit_chain(struct rw_audit_verify *v, const struct rw_audit_rec *r)
{
	if (!v->started) {
		v->first_seq = r->seq;
		if (r->seq == 1 && strcmp(r->prev, rw_audit_zero) != 0)
			rw_audit_fail(v, v->file, v->line_no,
				      "seq 1 must have prev 0...0: the start of the chain was changed");
		return;
	}
	bool other_file = strcmp(v->last_file, v->file) != 0;
	if (r->seq == v->seq + 1) {
		if (strcmp(r->prev, v->hash) == 0)
			return;
		if (other_file)
			rw_audit_fail(v, v->last_file, v->last_line,
				      "changed, or a file is missing or out of order: the first line "
				      "of %s (seq %" PRIu64 ") does not chain to this last line",
				      v->file, r->seq);
		else
			rw_audit_fail(v, v->last_file, v->last_line,
				      "changed: its SHA-256 is not the prev of the next line (line %" PRIu64
				      ", seq %" PRIu64 ")",
				      v->line_no, r->seq);
	} else if (r->seq > v->seq + 1) {
		rw_audit_fail(v, v->file, v->line_no,
			      "seq %" PRIu64 " follows seq %" PRIu64 " (%s:%" PRIu64 "): %" PRIu64
			      " line(s) removed before this line, or lines reordered",
			      r->seq, v->seq, v->last_file, v->last_line, r->seq - v->seq - 1);
	} else {
		rw_audit_fail(v, v->file, v->line_no,
			      "seq %" PRIu64 " after seq %" PRIu64 " (%s:%" PRIu64
			      "): a line was inserted here, or lines reordered",
			      r->seq, v->seq, v->last_file, v->last_line);
	}
}

static const uint8_t *rw_audit_key_for(const struct rw_audit_verify *v, const char *fp)
{
	if (v->pinned)
		return strcmp(fp, v->pin_fp) == 0 ? v->pin : NULL;
	for (unsigned i = 0; i < v->n_keys; i++)
		if (strcmp(fp, v->key_fps[i]) == 0)
			return v->keys[i];
	return NULL;
}

static void rw_audit_open_line(struct rw_audit_verify *v, const struct rw_audit_rec *r)
{
	uint8_t raw[32];
	char fp[RW_AUDIT_HEX];
	if (!rw_audit_unhex(r->pubkey, raw, 32))
		return;
	rw_audit_key_fp(raw, fp);
	if (strcmp(fp, r->key) != 0) {
		rw_audit_fail(v, v->file, v->line_no, "open line: key is not the pubkey's fingerprint");
		return;
	}
	if (v->pinned || rw_audit_key_for(v, fp) || v->n_keys == RW_AUDIT_KEYS_MAX)
		return;
	memcpy(v->keys[v->n_keys], raw, 32);
	memcpy(v->key_fps[v->n_keys], fp, RW_AUDIT_HEX);
	v->n_keys++;
}

static void rw_audit_checkpoint_line(struct rw_audit_verify *v, const struct rw_audit_rec *r)
{
	const uint8_t *pub = rw_audit_key_for(v, r->key);
	if (!pub) {
		if (v->pinned)
			rw_audit_fail(v, v->file, v->line_no,
				      "checkpoint signed by key %.16s..., not the given public key "
				      "(%.16s...)",
				      r->key, v->pin_fp);
		else
			rw_audit_fail(v, v->file, v->line_no,
				      "checkpoint signed by key %.16s..., which no earlier open line "
				      "announced",
				      r->key);
		return;
	}
	char msg[512];
	uint8_t sig[64];
	size_t n = rw_audit_cp_msg(r->seq, r->prev, r->time, r->key, msg, sizeof(msg));
	if (!n || !rw_audit_unhex(r->sig, sig, 64) || !rw_audit_sig_ok(pub, sig, msg, n)) {
		rw_audit_fail(v, v->file, v->line_no, "bad checkpoint signature");
		return;
	}
	if (v->cp_key[0] && strcmp(v->cp_key, r->key) != 0 && v->key_changes++ == 0) {
		snprintf(v->key_change_file, sizeof(v->key_change_file), "%s", v->file);
		v->key_change_line = v->line_no;
	}
	memcpy(v->cp_key, r->key, RW_AUDIT_HEX);
	v->checkpoints++;
	v->cp_seq = r->seq;
	snprintf(v->cp_file, sizeof(v->cp_file), "%s", v->file);
	v->cp_line = v->line_no;
	v->tail_lines = 0;
}

/* One complete line: len bytes without its '\n'. */
static void rw_audit_verify_line(struct rw_audit_verify *v, const char *line, size_t len)
{
	struct rw_audit_rec r;
	char why[160];
	if (rw_audit_parse_line(line, len, &r, why, sizeof(why))) {
		rw_audit_fail(v, v->file, v->line_no, "not an audit line: %s", why);
		return;
	}
	rw_audit_chain(v, &r);
	if (v->failed)
		return;
	if (v->expect && r.seq == v->expect_seq) {
		v->expect_seen = true;
		if (len != v->expect_len || memcmp(line, v->expect_line, len) != 0) {
			rw_audit_fail(v, v->file, v->line_no,
				      "seq %" PRIu64 " is not the checkpoint given with --checkpoint: "
				      "rewritten",
				      r.seq);
			return;
		}
	}
	if (!strcmp(r.kind, "open"))
		rw_audit_open_line(v, &r);
	if (!strcmp(r.kind, "checkpoint")) {
		rw_audit_checkpoint_line(v, &r);
	} else {
		if (v->tail_lines++ == 0) {
			snprintf(v->tail_file, sizeof(v->tail_file), "%s", v->file);
			v->tail_line = v->line_no;
		}
	}
	if (v->failed)
		return;
	rw_audit_line_hash(line, len, v->hash);
	v->started = true;
	v->seq = r.seq;
	snprintf(v->last_file, sizeof(v->last_file), "%s", v->file);
	v->last_line = v->line_no;
	v->lines++;
}

void rw_audit_verify_feed(struct rw_audit_verify *v, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0 && !v->failed) {
		const char *nl = memchr(p, '\n', len);
		size_t take = nl ? (size_t)(nl - p) : len;
		if (v->buf_len + take >= RW_AUDIT_LINE_MAX) {
			/* fail now, not at the line's end: a line without one
			 * (/dev/zero, a huge file with no '\n') would be read
			 * to its end first */
			rw_audit_fail(v, v->file, v->line_no + 1,
				      "not an audit line: longer than %u bytes", RW_AUDIT_LINE_MAX - 1);
			return;
		}
		memcpy(v->buf + v->buf_len, p, take);
		v->buf_len += take;
		p += take;
		len -= take;
		if (!nl)
			break;
		p++;
		len--;
		v->line_no++;
		rw_audit_verify_line(v, v->buf, v->buf_len);
		v->buf_len = 0;
	}
}

void rw_audit_verify_end(struct rw_audit_verify *v)
{
	if (!v->failed && v->buf_len > 0)
		rw_audit_fail(v, v->file, v->line_no + 1,
			      "torn: the file ends inside this line (no newline): truncated");
	v->buf_len = 0;
}

void rw_audit_verify_file(struct rw_audit_verify *v, const char *path)
{
	rw_audit_verify_begin(v, path);
	FILE *f = fopen(path, "rb");
	if (!f) {
		rw_audit_fail(v, path, 0, "cannot open: %s", strerror(errno));
		return;
	}
	char chunk[65536];
	size_t n;
	while (!v->failed && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rw_audit_verify_feed(v, chunk, n);
	if (ferror(f))
		rw_audit_fail(v, path, v->line_no, "read error");
	fclose(f);
	rw_audit_verify_end(v);
}

int rw_audit_verify_expect(struct rw_audit_verify *v, const char *line, size_t len, char *why,
			   size_t whylen)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	struct rw_audit_rec r;
	if (rw_audit_parse_line(line, len, &r, why, whylen))
		return -1;
	if (strcmp(r.kind, "checkpoint") != 0 || len >= sizeof(v->expect_line))
		return rw_audit_why(why, whylen, "not a checkpoint line");
	v->expect = true;
	v->expect_seq = r.seq;
	memcpy(v->expect_line, line, len);
	v->expect_len = len;
	return 0;
}

void rw_audit_verify_finish(struct rw_audit_verify *v)
{
	if (v->failed || !v->expect || v->expect_seen)
		return;
	if (v->started && v->first_seq > v->expect_seq)
		rw_audit_fail(v, v->file, 1,
			      "the files start at seq %" PRIu64 ", after the given checkpoint (seq %" PRIu64
			      "): give the older files too",
			      v->first_seq, v->expect_seq);
	else
		rw_audit_fail(v, v->started ? v->last_file : v->file, v->started ? v->last_line : 0,
			      "the chain ends at seq %" PRIu64 ", before the checkpoint given with "
			      "--checkpoint (seq %" PRIu64 "): truncated",
			      v->seq, v->expect_seq);
}

enum rw_audit_result rw_audit_verify_result(const struct rw_audit_verify *v)
{
	if (v->failed || !v->started)
		return RW_AUDIT_BAD;
	return v->tail_lines ? RW_AUDIT_UNSIGNED : RW_AUDIT_VERIFIED;
}

int rw_audit_pubkey_load(const char *arg, uint8_t out[32], char *why, size_t whylen)
{
	if (rw_audit_unhex(arg, out, 32))
		return 0;
	FILE *f = fopen(arg, "r");
	if (!f)
		return rw_audit_why(why, whylen, "%s: neither 64 hex digits nor a readable file (%s)",
				    arg, strerror(errno));
	EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	size_t len = 32;
	int rc = 0;
	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(k, out, &len) != 1 || len != 32)
		rc = rw_audit_why(why, whylen, "%s: not a PEM Ed25519 public key", arg);
	EVP_PKEY_free(k);
	return rc;
}
