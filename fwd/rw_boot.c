/* The boot bundle (see rw_boot.h). */
#include "fwd/rw_boot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/rw_cursor.h"
#include "base/rw_err.h"
#include "rules/rw_policy_pack.h"

static const char rw_boot_magic[8] = { 'R', 'W', 'B', 'O', 'O', 'T', '0', '2' };

/* ---- writing ---- */

struct rw_boot_buf {
	uint8_t *p;
	size_t n, cap;
	int err;
};

static void rw_boot_put(struct rw_boot_buf *w, const void *src, size_t n)
{
	if (w->err)
		return;
	if (n > RW_BOOT_MAX || w->n > RW_BOOT_MAX - n) {
		w->err = RW_ETOOBIG;
		return;
	}
	if (w->n + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap < w->n + n)
			cap *= 2;
		uint8_t *np = realloc(w->p, cap);
		if (!np) {
			w->err = RW_ENOMEM;
			return;
		}
		w->p = np;
		w->cap = cap;
	}
	memcpy(w->p + w->n, src, n);
	w->n += n;
}

static void rw_boot_u32(struct rw_boot_buf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	rw_boot_put(w, b, 4);
}

/* One list of bans: its count, then each entry (rw_boot.h). */
static void rw_boot_ban_part(struct rw_boot_buf *w, const struct rw_bans_part *p)
{
	if (p->set.n > UINT32_MAX)
		w->err = w->err ? w->err : RW_ETOOBIG;
	rw_boot_u32(w, (uint32_t)p->set.n);
	for (size_t i = 0; i < p->set.n; i++) {
		const struct rw_cidr *c = &p->set.v[i];
		uint8_t e[2 + 16];
		e[0] = c->family;
		e[1] = c->prefix;
		memcpy(e + 2, c->addr, 16);
		rw_boot_put(w, e, sizeof(e));
		rw_boot_u32(w, (uint32_t)(p->exp[i] >> 32));
		rw_boot_u32(w, (uint32_t)p->exp[i]);
	}
}

int rw_boot_pack(const struct rw_boot *b, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	uint8_t *pol = NULL;
	size_t pol_len = 0;
	int rc = rw_policy_pack(&b->pol, &pol, &pol_len);
	if (rc)
		return rc;
	struct rw_boot_buf w = { 0 };
	rw_boot_put(&w, rw_boot_magic, sizeof(rw_boot_magic));
	rw_boot_u32(&w, b->generation);
	rw_boot_u32(&w, b->slot);
	rw_boot_u32(&w, (uint32_t)(b->live_seq >> 32));
	rw_boot_u32(&w, (uint32_t)b->live_seq);
	rw_boot_u32(&w, b->tickets ? 1u : 0u);
	uint8_t zero[RW_TLSCTX_SECRET_LEN] = { 0 };
	rw_boot_put(&w, b->tickets ? b->secret : zero, RW_TLSCTX_SECRET_LEN);
	rw_boot_u32(&w, b->uid);
	rw_boot_u32(&w, b->gid);
	uint8_t uv = b->user_valid ? 1 : 0;
	rw_boot_put(&w, &uv, 1);
	size_t un = strnlen(b->user, sizeof(b->user) - 1);
	uint8_t ul = (uint8_t)un;
	rw_boot_put(&w, &ul, 1);
	rw_boot_put(&w, b->user, un);
	if (pol_len > UINT32_MAX)
		w.err = RW_ETOOBIG;
	rw_boot_u32(&w, (uint32_t)pol_len);
	rw_boot_put(&w, pol, pol_len);
	free(pol);
	rw_boot_ban_part(&w, &b->bans.host);
	rw_boot_ban_part(&w, &b->bans.pfx);
	/* files the parent could not read are not sent: the worker reports
	 * them missing (the parent's check refused the config anyway) */
	uint32_t n_files = 0;
	for (size_t i = 0; i < b->pem.n; i++)
		n_files += b->pem.v[i].data != NULL;
	rw_boot_u32(&w, n_files);
	for (size_t i = 0; i < b->pem.n; i++) {
		const struct rw_pem_file *f = &b->pem.v[i];
		if (!f->data)
			continue;
		size_t pl = strlen(f->path);
		if (pl == 0 || pl > UINT16_MAX || f->len > RW_PEM_FILE_MAX)
			w.err = w.err ? w.err : RW_ETOOBIG;
		uint8_t l2[2] = { (uint8_t)(pl >> 8), (uint8_t)pl };
		rw_boot_put(&w, l2, 2);
		rw_boot_put(&w, f->path, pl);
		rw_boot_u32(&w, (uint32_t)f->len);
		rw_boot_put(&w, f->data, f->len);
	}
	if (w.err) {
		if (w.p)
			OPENSSL_cleanse(w.p, w.n);
		free(w.p);
		return w.err;
	}
	*out = w.p;
	*len = w.n;
	return 0;
}

/* ---- reading ---- */

static int rw_boot_fail(char *err, size_t errlen, int rc, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "boot bundle: %s", what);
	return rc;
}

/* One list of bans (host: the address list, else the prefix list) into
 * b->bans, each entry checked: a valid ban of the list's kind, after the
 * one before it, not overlapping it. The count is checked against the
 * bytes left before anything grows. */
static int rw_boot_ban_part_read(struct rw_cursor *c, bool host, struct rw_boot *b, char *err,
				 size_t errlen)
{
	uint32_t n;
	if (rw_cur_u32(c, &n) || n > rw_cur_left(c) / RW_BOOT_BAN_LEN)
		return rw_boot_fail(err, errlen, RW_EPROTO, "bad ban count");
	for (uint32_t i = 0; i < n; i++) {
		struct rw_cidr ban = { 0 };
		uint32_t hi, lo;
		if (rw_cur_u8(c, &ban.family) || rw_cur_u8(c, &ban.prefix) ||
		    rw_cur_copy(c, ban.addr, sizeof(ban.addr)) || rw_cur_u32(c, &hi) ||
		    rw_cur_u32(c, &lo))
			return rw_boot_fail(err, errlen, RW_EPROTO, "truncated ban");
		if (!rw_bans_cidr_ok(&ban) || rw_bans_is_host(&ban) != host)
			return rw_boot_fail(err, errlen, RW_EPROTO, "bad ban entry");
		if (hi == 0 && lo == 0)
			return rw_boot_fail(err, errlen, RW_EPROTO, "a ban without expiry");
		int rc = rw_bans_append(&b->bans, &ban, (uint64_t)hi << 32 | lo);
		if (rc == RW_ENOMEM)
			return rw_boot_fail(err, errlen, rc, "bans: out of memory");
		if (rc)
			return rw_boot_fail(err, errlen, RW_EPROTO,
					    rc == RW_EEXIST ? "overlapping bans" : "bans out of order");
	}
	return 0;
}

int rw_boot_unpack(const uint8_t *buf, size_t len, struct rw_boot *b, char *err, size_t errlen)
{
	memset(b, 0, sizeof(*b));
	if (len > RW_BOOT_MAX)
		return rw_boot_fail(err, errlen, RW_ETOOBIG, "too large");
	struct rw_cursor c;
	rw_cur_init(&c, buf, len);
	const uint8_t *magic;
	uint32_t hi, lo, flags, pol_len, n_files;
	uint8_t uv, ul;
	if (rw_cur_bytes(&c, sizeof(rw_boot_magic), &magic) ||
	    memcmp(magic, rw_boot_magic, sizeof(rw_boot_magic)))
		return rw_boot_fail(err, errlen, RW_EPROTO, "bad magic or version");
	if (rw_cur_u32(&c, &b->generation) || rw_cur_u32(&c, &b->slot) || rw_cur_u32(&c, &hi) ||
	    rw_cur_u32(&c, &lo) || rw_cur_u32(&c, &flags) ||
	    rw_cur_copy(&c, b->secret, sizeof(b->secret)) || rw_cur_u32(&c, &b->uid) ||
	    rw_cur_u32(&c, &b->gid) || rw_cur_u8(&c, &uv) || rw_cur_u8(&c, &ul))
		return rw_boot_fail(err, errlen, RW_EPROTO, "truncated header");
	b->live_seq = (uint64_t)hi << 32 | lo;
	if (flags > 1 || uv > 1 || ul >= sizeof(b->user) ||
	    rw_cur_copy(&c, b->user, ul) || memchr(b->user, '\0', ul)) {
		rw_boot_free(b);
		return rw_boot_fail(err, errlen, RW_EPROTO, "bad header");
	}
	b->tickets = flags == 1;
	b->user_valid = uv == 1;
	/* without tickets there is no secret: all zero (one form per bundle) */
	static const uint8_t zero[RW_TLSCTX_SECRET_LEN];
	if (!b->tickets && memcmp(b->secret, zero, sizeof(zero))) {
		rw_boot_free(b);
		return rw_boot_fail(err, errlen, RW_EPROTO, "a ticket secret without tickets");
	}
	const uint8_t *pol;
	if (rw_cur_u32(&c, &pol_len) || rw_cur_bytes(&c, pol_len, &pol)) {
		rw_boot_free(b);
		return rw_boot_fail(err, errlen, RW_EPROTO, "truncated policy");
	}
	struct rw_diag d;
	rw_diag_init(&d);
	int rc = rw_policy_unpack(pol, pol_len, &b->pol, &d);
	if (rc) {
		char why[256];
		snprintf(why, sizeof(why), "policy: %.200s", d.n ? d.msg[0].text : rw_strerror(rc));
		rw_boot_free(b);
		return rw_boot_fail(err, errlen, rc, why);
	}
	rc = rw_boot_ban_part_read(&c, true, b, err, errlen);
	if (!rc)
		rc = rw_boot_ban_part_read(&c, false, b, err, errlen);
	if (rc) {
		rw_boot_free(b);
		return rc;
	}
	if (rw_cur_u32(&c, &n_files) || n_files > RW_PEM_FILES_MAX) {
		rw_boot_free(b);
		return rw_boot_fail(err, errlen, RW_EPROTO, "bad file count");
	}
	for (uint32_t i = 0; i < n_files; i++) {
		uint16_t pl;
		uint32_t dl;
		const uint8_t *path, *data;
		char p[4097];
		if (rw_cur_u16(&c, &pl) || pl == 0 || pl >= sizeof(p) || rw_cur_bytes(&c, pl, &path) ||
		    memchr(path, '\0', pl) || rw_cur_u32(&c, &dl) || dl > RW_PEM_FILE_MAX ||
		    rw_cur_bytes(&c, dl, &data)) {
			rw_boot_free(b);
			return rw_boot_fail(err, errlen, RW_EPROTO, "bad file entry");
		}
		memcpy(p, path, pl);
		p[pl] = '\0';
		rc = rw_pem_set_add(&b->pem, p, data, dl);
		if (rc) {
			rw_boot_free(b);
			return rw_boot_fail(err, errlen, rc == RW_EEXIST ? RW_EPROTO : rc,
					    rc == RW_EEXIST ? "a file twice" : "file");
		}
	}
	if (rw_cur_left(&c) != 0) {
		rw_boot_free(b);
		return rw_boot_fail(err, errlen, RW_EPROTO, "trailing bytes");
	}
	return 0;
}

void rw_boot_free(struct rw_boot *b)
{
	rw_policy_free(&b->pol);
	memset(&b->pol, 0, sizeof(b->pol));
	rw_pem_set_free(&b->pem);
	rw_bans_free(&b->bans);
	OPENSSL_cleanse(b->secret, sizeof(b->secret));
}
