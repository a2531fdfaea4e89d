/* The audit chain's writer (rw_audit.h): the key, the file, the chain
 * head, checkpoints, rotation. */
#include "appliance/rw_audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fwd/rw_event.h"

static const char rw_audit_zero_hash[RW_AUDIT_HEX] =
	"0000000000000000000000000000000000000000000000000000000000000000";

static uint64_t rw_audit_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void rw_audit_now(const struct rw_audit *a, char out[RW_EVENT_TIME_LEN])
{
	rw_event_time_iso(a->now_ms ? a->now_ms() : rw_audit_wall_ms(), out);
}

/* ---- the key ---- */

/* The public half next to the key, for `audit verify --pubkey`
 * elsewhere: written to a temporary name and renamed over, so a .pub
 * left from an earlier key never stays beside a new one (none at all
 * rather than another key's). */
static void rw_audit_pub_write(const char *key_path, EVP_PKEY *k)
{
	char pub[4096], tmp[4100];
	snprintf(pub, sizeof(pub), "%s.pub", key_path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", pub);
	(void)unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	bool ok = f && PEM_write_PUBKEY(f, k) == 1 && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (f)
		ok = fclose(f) == 0 && ok;
	else if (fd >= 0)
		close(fd);
	if (ok && rename(tmp, pub) == 0)
		return;
	(void)unlink(tmp);
	(void)unlink(pub);
}

/* The private key's PEM goes through a memory BIO and write(2), not
 * stdio, so the copies of its bytes can be wiped. */
static bool rw_audit_key_write(int fd, EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n = b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1
			 ? BIO_get_mem_data(b, &p)
			 : 0;
	bool ok = n > 0;
	for (long off = 0; ok && off < n;) {
		ssize_t w = write(fd, p + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		ok = w > 0;
		off += ok ? w : 0;
	}
	if (n > 0)
		OPENSSL_cleanse(p, (size_t)n);
	BIO_free(b);
	return ok && fsync(fd) == 0;
}

static int rw_audit_key_create(struct rw_audit *a, struct rw_diag *diag)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!k) {
		rw_diag_err(diag, NULL, 0, "log.audit_key %s: cannot generate an Ed25519 key",
			    a->key_path);
		return RW_EIO;
	}
	int fd = open(a->key_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rw_diag_err(diag, NULL, 0, "log.audit_key %s: cannot create: %s", a->key_path,
			    strerror(errno));
		EVP_PKEY_free(k);
		return RW_EIO;
	}
	bool ok = rw_audit_key_write(fd, k);
	if (close(fd) != 0)
		ok = false;
	if (!ok) {
		rw_diag_err(diag, NULL, 0, "log.audit_key %s: cannot write the new key", a->key_path);
		unlink(a->key_path);
		EVP_PKEY_free(k);
		return RW_EIO;
	}
	rw_audit_pub_write(a->key_path, k);
	a->key = k;
	return 0;
}

/* A PEM private key is a few hundred bytes; more is not one. */
#define RW_AUDIT_KEY_FILE_MAX 8192

static int rw_audit_key_load(struct rw_audit *a, struct rw_diag *diag)
{
	/* O_NONBLOCK: a FIFO there is refused below, not waited on */
	int fd = open(a->key_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return rw_audit_key_create(a, diag);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		rw_diag_err(diag, NULL, 0, "log.audit_key %s: cannot open: %s", a->key_path,
			    strerror(errno));
		if (fd >= 0)
			close(fd);
		return RW_EIO;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		rw_diag_err(diag, NULL, 0,
			    "log.audit_key %s: must be a regular file readable only by its owner "
			    "(mode %04o; chmod 600)",
			    a->key_path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return RW_EPERM;
	}
	if (st.st_uid != geteuid()) {
		/* its owner can read it (sign checkpoints) or swap it */
		rw_diag_err(diag, NULL, 0,
			    "log.audit_key %s: owned by uid %u, not by regwalld's (uid %u); chown it",
			    a->key_path, (unsigned)st.st_uid, (unsigned)geteuid());
		close(fd);
		return RW_EPERM;
	}
	/* read(2) into our own buffer (not stdio's), wiped after parsing */
	char pem[RW_AUDIT_KEY_FILE_MAX];
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, pem + n, sizeof(pem) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == sizeof(pem))
			break;
	}
	close(fd);
	BIO *b = n < sizeof(pem) ? BIO_new_mem_buf(pem, (int)n) : NULL;
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	OPENSSL_cleanse(pem, sizeof(pem));
	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
		rw_diag_err(diag, NULL, 0, "log.audit_key %s: not a PEM Ed25519 private key",
			    a->key_path);
		EVP_PKEY_free(k);
		return RW_EINVAL;
	}
	a->key = k;
	return 0;
}

/* ---- the file's last line ---- */

/* Where the chain in fd stands: *seq 0 for an empty file. A torn last
 * line (no '\n': a crash mid-write) is cut off; *torn says how many bytes,
 * torn_hash their SHA-256. */
static int rw_audit_tail(struct rw_audit *a, int fd, uint64_t *seq, char head[RW_AUDIT_HEX],
			 uint64_t *torn, char torn_hash[RW_AUDIT_HEX], struct rw_diag *diag)
{
	struct stat st;
	*seq = 0;
	*torn = 0;
	memcpy(head, rw_audit_zero_hash, RW_AUDIT_HEX);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rw_diag_err(diag, NULL, 0, "log.audit %s: not a regular file", a->path);
		return RW_EINVAL;
	}
	if (st.st_size == 0)
		return 0;
	size_t win = 2 * RW_AUDIT_LINE_MAX;
	off_t start = st.st_size > (off_t)win ? st.st_size - (off_t)win : 0;
	size_t n = (size_t)(st.st_size - start);
	char *buf = malloc(n);
	if (!buf)
		return RW_ENOMEM;
	ssize_t got = pread(fd, buf, n, start);
	int rc = 0;
	if (got != (ssize_t)n) {
		rw_diag_err(diag, NULL, 0, "log.audit %s: cannot read its end", a->path);
		rc = RW_EIO;
		goto out;
	}
	size_t end = n; /* one past the last complete line's '\n' */
	while (end > 0 && buf[end - 1] != '\n')
		end--;
	if (end < n) {
		/* only our own half-written line is cut, nothing else */
		const char *frag = buf + end;
		size_t flen = n - end;
		if ((end == 0 && start > 0) || flen < 7 || memcmp(frag, "{\"seq\":", 7) != 0) {
			rw_diag_err(diag, NULL, 0,
				    "log.audit %s: does not end with a complete audit line; move it "
				    "away or fix it",
				    a->path);
			rc = RW_EINVAL;
			goto out;
		}
		rw_audit_sha256_hex(frag, flen, torn_hash);
		if (ftruncate(fd, start + (off_t)end) != 0) {
			rw_diag_err(diag, NULL, 0, "log.audit %s: cannot cut its torn last line: %s",
				    a->path, strerror(errno));
			rc = RW_EIO;
			goto out;
		}
		*torn = flen;
	}
	if (end == 0)
		goto out; /* the file held only a torn first line */
	size_t ls = end - 1;
	while (ls > 0 && buf[ls - 1] != '\n')
		ls--;
	if (ls == 0 && start > 0) {
		rw_diag_err(diag, NULL, 0, "log.audit %s: last line too long for an audit line",
			    a->path);
		rc = RW_EINVAL;
		goto out;
	}
	struct rw_audit_rec r;
	char why[160];
	if (rw_audit_parse_line(buf + ls, end - 1 - ls, &r, why, sizeof(why))) {
		rw_diag_err(diag, NULL, 0,
			    "log.audit %s: its last line is not an audit line (%s); move the file "
			    "away or fix it",
			    a->path, why);
		rc = RW_EINVAL;
		goto out;
	}
	*seq = r.seq;
	rw_audit_line_hash(buf + ls, end - 1 - ls, head);
out:
	free(buf);
	return rc;
}

static int rw_audit_open_fd(struct rw_audit *a, struct rw_diag *diag)
{
	int fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0) {
		rw_diag_err(diag, NULL, 0, "log.audit %s: cannot open: %s", a->path, strerror(errno));
		return -1;
	}
	return fd;
}

/* ---- lines ---- */

static void rw_audit_sync_soon(struct rw_audit *a)
{
	a->dirty = true;
	if (a->loop)
		(void)rw_loop_timer_arm(a->loop, &a->sync_t, 0);
	else
		(void)rw_audit_sync(a);
}

/* Append line (len bytes, no '\n') as one write. On a failure the file
 * is cut back to where it was, so no partial line stays to break the
 * chain, and the line is counted lost. */
static int rw_audit_write(struct rw_audit *a, char *line, size_t len)
{
	struct stat st;
	if (a->fd < 0 || fstat(a->fd, &st) != 0)
		goto fail;
	line[len] = '\n';
	size_t off = 0;
	while (off < len + 1) {
		ssize_t w = write(a->fd, line + off, len + 1 - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno;
			if (ftruncate(a->fd, st.st_size) != 0) {
				/* a partial line stays: the next line would not chain */
				snprintf(a->last_error, sizeof(a->last_error),
					 "write failed and the partial line could not be cut: %s",
					 strerror(errno));
			} else {
				snprintf(a->last_error, sizeof(a->last_error), "write failed: %s",
					 strerror(w < 0 ? e : ENOSPC));
			}
			line[len] = '\0';
			goto fail;
		}
		off += (size_t)w;
	}
	line[len] = '\0';
	a->seq++;
	rw_audit_line_hash(line, len, a->head);
	a->lines++;
	rw_audit_sync_soon(a);
	return 0;
fail:
	a->write_errors++;
	return RW_EIO;
}

static void rw_audit_cp_due(struct rw_audit *a)
{
	if (a->unsealed >= a->cp_lines)
		(void)rw_audit_checkpoint(a, false);
	else if (a->unsealed == 1 && a->loop)
		(void)rw_loop_timer_arm(a->loop, &a->cp_t, (uint64_t)a->cp_seconds * 1000u);
}

/* Code points a reader of the file would not see as text: C1 controls
 * (a terminal may act on U+009B CSI), U+2028/2029 (line breaks to some
 * viewers), bidi marks and overrides (reorder what is shown). A client's
 * certificate subject may hold them (UTF-8 is kept), so they are written
 * as \uXXXX: the same JSON value, never raw. The bytes are jansson's
 * valid UTF-8, where 0xC2 and 0xE2 only start a character. The width of
 * the one at p, or 0. */
static size_t rw_audit_unsafe(const unsigned char *p, size_t left, unsigned *cp)
{
	if (left >= 2 && p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
		*cp = p[1];
		return 2;
	}
	if (left >= 3 && p[0] == 0xE2 &&
	    ((p[1] == 0x80 && (p[2] == 0x8E || p[2] == 0x8F || (p[2] >= 0xA8 && p[2] <= 0xAE))) ||
	     (p[1] == 0x81 && p[2] >= 0xA6 && p[2] <= 0xA9))) {
		*cp = 0x2000u + ((unsigned)(p[1] & 1) << 6) + (unsigned)(p[2] - 0x80);
		return 3;
	}
	return 0;
}

/* s with those escaped, room for a '\n' and a NUL after it; *len set. */
static char *rw_audit_escape_unsafe(const char *s, size_t *len)
{
	size_t n = strlen(s);
	char *out = malloc(3 * n + 2); /* 2 bytes -> 6 at most */
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		unsigned cp;
		size_t w = rw_audit_unsafe((const unsigned char *)s + i, n - i, &cp);
		if (w) {
			o += (size_t)snprintf(out + o, 7, "\\u%04x", cp);
			i += w;
		} else {
			out[o++] = s[i++];
		}
	}
	out[o] = '\0';
	*len = o;
	return out;
}

static int rw_audit_append_one(struct rw_audit *a, json_t *o)
{
	char t[RW_EVENT_TIME_LEN];
	rw_audit_now(a, t);
	json_t *rec = json_object();
	int rc = json_object_set_new(rec, "seq", json_integer((json_int_t)(a->seq + 1)));
	rc |= json_object_set_new(rec, "prev", json_string(a->head));
	rc |= json_object_set_new(rec, "time", json_string(t));
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		if (strcmp(k, "seq") && strcmp(k, "prev") && strcmp(k, "time"))
			rc |= json_object_set(rec, k, v);
	}
	char *s = rc ? NULL : json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(rec);
	size_t len = 0;
	char *line = s ? rw_audit_escape_unsafe(s, &len) : NULL;
	free(s);
	if (!line || len + 1 >= RW_AUDIT_LINE_MAX) {
		free(line);
		snprintf(a->last_error, sizeof(a->last_error), "cannot build a line");
		return RW_ENOMEM;
	}
	rc = rw_audit_write(a, line, len);
	free(line);
	if (!rc) {
		a->unsealed++;
		rw_audit_cp_due(a);
	}
	return rc;
}

int rw_audit_append(struct rw_audit *a, json_t *o)
{
	/* lines that could not be written are never silent: the next line
	 * that can be written says how many */
	if (a->pending_lost) {
		uint64_t n = a->pending_lost;
		json_t *l = json_pack("{s:s, s:I}", "kind", "lost", "lines", (json_int_t)n);
		int r = l ? rw_audit_append_one(a, l) : RW_ENOMEM;
		json_decref(l);
		if (r) {
			a->lost++;
			a->pending_lost++;
			return r;
		}
		a->pending_lost -= n;
	}
	int rc = rw_audit_append_one(a, o);
	if (rc) {
		a->lost++;
		a->pending_lost++;
	}
	return rc;
}

void rw_audit_workers_dropped(struct rw_audit *a, uint64_t total)
{
	/* a lower count (a worker's stats are its own word) is taken as the
	 * new base, so only increases are lines */
	if (total <= a->workers_dropped) {
		a->workers_dropped = total;
		return;
	}
	json_t *l = json_pack("{s:s, s:s, s:I}", "kind", "lost", "cause", "worker_channel",
			      "worker_events_dropped", (json_int_t)(total - a->workers_dropped));
	/* written or, failing that, counted in lost_lines like any line */
	(void)(l ? rw_audit_append(a, l) : RW_ENOMEM);
	json_decref(l);
	a->workers_dropped = total;
}

int rw_audit_checkpoint(struct rw_audit *a, bool force)
{
	if (!a->key || a->fd < 0 || (!a->unsealed && !force))
		return 0;
	char t[RW_EVENT_TIME_LEN], msg[512], line[640], sig_hex[RW_AUDIT_SIG_HEX];
	rw_audit_now(a, t);
	size_t mlen = rw_audit_cp_msg(a->seq + 1, a->head, t, a->key_fp, msg, sizeof(msg));
	uint8_t sig[64];
	size_t slen = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = mlen && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, a->key) == 1 &&
		  EVP_DigestSign(ctx, sig, &slen, (const unsigned char *)msg, mlen) == 1 &&
		  slen == 64;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		snprintf(a->last_error, sizeof(a->last_error), "cannot sign a checkpoint");
		return RW_EIO;
	}
	rw_audit_hex(sig, 64, sig_hex);
	size_t len = rw_audit_cp_line(a->seq + 1, a->head, t, a->key_fp, sig_hex, line,
				      sizeof(line) - 1);
	int rc = len ? rw_audit_write(a, line, len) : RW_ERANGE;
	if (rc)
		return rc;
	a->checkpoints++;
	a->last_cp_seq = a->seq;
	a->unsealed = 0;
	if (a->loop)
		rw_loop_timer_cancel(a->loop, &a->cp_t);
	return rw_audit_sync(a);
}

int rw_audit_sync(struct rw_audit *a)
{
	if (!a->dirty || a->fd < 0)
		return 0;
	a->dirty = false;
	if (fdatasync(a->fd) != 0) {
		a->sync_errors++;
		snprintf(a->last_error, sizeof(a->last_error), "fdatasync: %s", strerror(errno));
		return RW_EIO;
	}
	return 0;
}

/* ---- open, reopen, close ---- */

static int rw_audit_open_line(struct rw_audit *a, const char *why, uint64_t torn,
			      const char *torn_hash)
{
	char pub_hex[RW_AUDIT_HEX];
	rw_audit_hex(a->pub, 32, pub_hex);
	json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s}", "kind", "open", "reason", why, "pid",
			      (json_int_t)getpid(), "key", a->key_fp, "pubkey", pub_hex);
	if (o && torn) {
		json_object_set_new(o, "torn_bytes", json_integer((json_int_t)torn));
		json_object_set_new(o, "torn_sha256", json_string(torn_hash));
	}
	int rc = o ? rw_audit_append(a, o) : RW_ENOMEM;
	json_decref(o);
	return rc;
}

static void rw_audit_on_sync(struct rw_loop *l, void *arg)
{
	(void)rw_audit_sync(arg);
}

static void rw_audit_on_cp(struct rw_loop *l, void *arg)
{
	struct rw_audit *a = arg;
	/* a checkpoint that could not be written is tried again */
	if (rw_audit_checkpoint(a, false) && a->loop)
		(void)rw_loop_timer_arm(a->loop, &a->cp_t, (uint64_t)a->cp_seconds * 1000u);
}

int rw_audit_open(struct rw_audit *a, const struct rw_audit_cfg *cfg, struct rw_diag *diag)
{
	memset(a, 0, sizeof(*a));
	a->fd = -1;
	rw_timer_init(&a->sync_t, rw_audit_on_sync, a);
	rw_timer_init(&a->cp_t, rw_audit_on_cp, a);
	a->path = strdup(cfg->path);
	a->key_path = strdup(cfg->key_path ? cfg->key_path : RW_AUDIT_DEFAULT_KEY);
	if (!a->path || !a->key_path) {
		rw_audit_close(a);
		return RW_ENOMEM;
	}
	rw_audit_set_interval(a, cfg->cp_lines, cfg->cp_seconds);
	int rc = rw_audit_key_load(a, diag);
	size_t plen = sizeof(a->pub);
	if (!rc && (EVP_PKEY_get_raw_public_key(a->key, a->pub, &plen) != 1 || plen != 32)) {
		rw_diag_err(diag, NULL, 0, "log.audit_key %s: no raw public key", a->key_path);
		rc = RW_EINVAL;
	}
	if (rc) {
		rw_audit_close(a);
		return rc;
	}
	rw_audit_key_fp(a->pub, a->key_fp);
	a->fd = rw_audit_open_fd(a, diag);
	if (a->fd < 0) {
		rw_audit_close(a);
		return RW_EIO;
	}
	char torn_hash[RW_AUDIT_HEX] = "";
	rc = rw_audit_tail(a, a->fd, &a->seq, a->head, &a->torn_bytes, torn_hash, diag);
	if (!rc && (rc = rw_audit_open_line(a, "start", a->torn_bytes, torn_hash)))
		rw_diag_err(diag, NULL, 0, "log.audit %s: cannot write: %s", a->path,
			    a->last_error[0] ? a->last_error : rw_strerror(rc));
	if (!rc)
		rc = rw_audit_sync(a);
	if (rc) {
		rw_audit_close(a);
		return rc;
	}
	return 0;
}

int rw_audit_reopen(struct rw_audit *a, struct rw_diag *diag)
{
	if (a->fd < 0)
		return RW_EINVAL;
	/* the old file ends sealed */
	(void)rw_audit_checkpoint(a, false);
	(void)rw_audit_sync(a);
	int fd = rw_audit_open_fd(a, diag);
	if (fd < 0)
		return RW_EIO;
	uint64_t seq, torn;
	char head[RW_AUDIT_HEX], torn_hash[RW_AUDIT_HEX] = "";
	int rc = rw_audit_tail(a, fd, &seq, head, &torn, torn_hash, diag);
	/* a new file continues the chain; the same file must end where we are */
	if (!rc && seq != 0 && (seq != a->seq || strcmp(head, a->head) != 0)) {
		rw_diag_err(diag, NULL, 0,
			    "log.audit %s: the file there now does not end with this chain's last "
			    "line (seq %" PRIu64 "); kept writing the old file",
			    a->path, a->seq);
		rc = RW_EEXIST;
	}
	if (rc) {
		close(fd);
		return rc;
	}
	close(a->fd);
	a->fd = fd;
	rc = rw_audit_open_line(a, "reopen", torn, torn_hash);
	if (!rc)
		rc = rw_audit_sync(a);
	return rc;
}

int rw_audit_cfg_from(const struct rw_log_cfg *l, struct rw_audit_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	if (!l->audit)
		return 1;
	cfg->path = l->audit;
	cfg->key_path = l->audit_key;
	cfg->cp_lines = l->audit_cp_lines;
	cfg->cp_seconds = (l->audit_cp_ms + 999u) / 1000u;
	return 0;
}

void rw_audit_reloaded(struct rw_audit *a, const struct rw_log_cfg *l, struct rw_diag *diag)
{
	struct rw_audit_cfg c;
	bool on = rw_audit_cfg_from(l, &c) == 0;
	const char *key = c.key_path ? c.key_path : RW_AUDIT_DEFAULT_KEY;
	if (!a && on)
		rw_diag_warn(diag, NULL, 0,
			     "log.audit: the audit chain starts at the next start of regwalld, not "
			     "at a reload");
	else if (a && !on)
		rw_diag_warn(diag, NULL, 0,
			     "log.audit: removed, but the audit chain (%s) goes on until regwalld "
			     "restarts",
			     a->path);
	else if (a && (strcmp(a->path, c.path) != 0 || strcmp(a->key_path, key) != 0))
		rw_diag_warn(diag, NULL, 0,
			     "log.audit / log.audit_key: changed; the chain stays in %s (key %s) "
			     "until regwalld restarts",
			     a->path, a->key_path);
	if (a && on)
		rw_audit_set_interval(a, c.cp_lines, c.cp_seconds);
}

void rw_audit_set_interval(struct rw_audit *a, uint32_t cp_lines, uint32_t cp_seconds)
{
	a->cp_lines = cp_lines ? cp_lines : RW_AUDIT_DEFAULT_CP_LINES;
	a->cp_seconds = cp_seconds ? cp_seconds : RW_AUDIT_DEFAULT_CP_SECONDS;
}

void rw_audit_attach(struct rw_audit *a, struct rw_loop *loop)
{
	a->loop = loop;
	if (a->unsealed)
		(void)rw_loop_timer_arm(loop, &a->cp_t, (uint64_t)a->cp_seconds * 1000u);
}

void rw_audit_detach(struct rw_audit *a)
{
	if (!a->loop)
		return;
	rw_loop_timer_cancel(a->loop, &a->sync_t);
	rw_loop_timer_cancel(a->loop, &a->cp_t);
	a->loop = NULL;
	(void)rw_audit_sync(a);
}

void rw_audit_close(struct rw_audit *a)
{
	rw_audit_detach(a);
	if (a->fd >= 0) {
		(void)rw_audit_checkpoint(a, false);
		(void)rw_audit_sync(a);
		close(a->fd);
		a->fd = -1;
	}
	EVP_PKEY_free(a->key);
	a->key = NULL;
	free(a->path);
	free(a->key_path);
	a->path = a->key_path = NULL;
}

int rw_audit_event(struct rw_audit *a, const char *line, size_t len, pid_t pid,
		   unsigned generation)
{
	struct rw_evline e = rw_evline_of(line, len);
	int r = rw_audit_event_of(a, &e, pid, generation);
	rw_evline_fini(&e);
	return r;
}

int rw_audit_event_of(struct rw_audit *a, struct rw_evline *e, pid_t pid, unsigned generation)
{
	int unparsed = 0;
	json_t *o = rw_audit_record_of(e, pid, generation, &unparsed);
	if (unparsed)
		a->events_unparsed++;
	if (!o)
		return 0;
	if (!strcmp(json_string_value(json_object_get(o, "kind")), "invalid"))
		a->events_invalid++;
	int rc = rw_audit_append(a, o);
	json_decref(o);
	return rc ? rc : 1;
}

json_t *rw_audit_status_json(const struct rw_audit *a)
{
	char pub_hex[RW_AUDIT_HEX];
	rw_audit_hex(a->pub, 32, pub_hex);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			      "file", a->path ? a->path : "", "key_file",
			      a->key_path ? a->key_path : "", "public_key", pub_hex,
			      "key_fingerprint", a->key_fp, "seq", (json_int_t)a->seq, "lines",
			      (json_int_t)a->lines, "checkpoints", (json_int_t)a->checkpoints,
			      "last_checkpoint_seq", (json_int_t)a->last_cp_seq, "unsealed",
			      (json_int_t)a->unsealed, "invalid_events",
			      (json_int_t)a->events_invalid, "unparsed_events",
			      (json_int_t)a->events_unparsed, "lost_lines", (json_int_t)a->lost,
			      "write_errors", (json_int_t)a->write_errors, "sync_errors",
			      (json_int_t)a->sync_errors);
	if (o && a->workers_dropped)
		json_object_set_new(o, "worker_events_dropped",
				    json_integer((json_int_t)a->workers_dropped));
	if (o && a->torn_bytes)
		json_object_set_new(o, "torn_bytes_cut_at_start", json_integer((json_int_t)a->torn_bytes));
	if (o && a->last_error[0])
		json_object_set_new(o, "last_error", json_string(a->last_error));
	return o;
}
