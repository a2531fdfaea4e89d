/* OCI distribution classifier: method + origin-form target -> operation.
 *
 *   /v2/ <name> / <endpoint...> [ "?" key=value *( "&" key=value ) ]
 *        team/app  manifests/v1
 *        a/manifests/b  blobs/sha256:...     (a name may contain endpoint words)
 *
 * The endpoint is matched at the END of the path and the name is whatever
 * comes before it, validated with the spec grammar (reference §1): that is
 * how the registry routes, so both sides agree on which repository a
 * request touches. Everything not canonical is UNKNOWN rather than
 * normalised: normalising is where a firewall and a registry disagree. */
#include "inspect/rw_oci.h"

#include <string.h>

#include "inspect/rw_cursor.h"
#include "inspect/rw_err.h"

enum oci_ep {
	EP_BASE = 0,
	EP_CATALOG,
	EP_TAGS,      /* <name>/tags/list */
	EP_MANIFEST,  /* <name>/manifests/<ref> */
	EP_BLOB,      /* <name>/blobs/<digest> */
	EP_UPLOADS,   /* <name>/blobs/uploads/ */
	EP_UPLOAD,    /* <name>/blobs/uploads/<id> */
	EP_REFERRERS, /* <name>/referrers/<digest> */
};

/* Query parameters, as a bit set. */
enum {
	Q_DIGEST = 1u << 0,
	Q_MOUNT = 1u << 1,
	Q_FROM = 1u << 2,
	Q_N = 1u << 3,
	Q_LAST = 1u << 4,
	Q_TAG = 1u << 5,
	Q_ARTIFACT_TYPE = 1u << 6,
	Q_STATE = 1u << 7, /* distribution's opaque upload _state */
};

#define KEY(s) s, sizeof(s) - 1
static const struct {
	const char *key;
	size_t len;
	unsigned bit;
} qkeys[] = {
	{ KEY("digest"), Q_DIGEST }, { KEY("mount"), Q_MOUNT }, { KEY("from"), Q_FROM },
	{ KEY("n"), Q_N },           { KEY("last"), Q_LAST },   { KEY("tag"), Q_TAG },
	{ KEY("artifactType"), Q_ARTIFACT_TYPE },               { KEY("_state"), Q_STATE },
};

/* Reference §2, exactly: method x endpoint -> op, allowed query keys. */
static const struct {
	const char *method;
	size_t mlen;
	enum oci_ep ep;
	enum rw_oci_op op;
	unsigned allowed;
} routes[] = {
	{ KEY("GET"), EP_BASE, RW_OCI_OP_BASE, 0 },
	{ KEY("GET"), EP_CATALOG, RW_OCI_OP_CATALOG, Q_N | Q_LAST },
	{ KEY("GET"), EP_TAGS, RW_OCI_OP_TAGS_LIST, Q_N | Q_LAST },
	{ KEY("GET"), EP_MANIFEST, RW_OCI_OP_MANIFEST_GET, 0 },
	{ KEY("HEAD"), EP_MANIFEST, RW_OCI_OP_MANIFEST_HEAD, 0 },
	{ KEY("PUT"), EP_MANIFEST, RW_OCI_OP_MANIFEST_PUT, Q_TAG },
	{ KEY("DELETE"), EP_MANIFEST, RW_OCI_OP_MANIFEST_DELETE, 0 },
	{ KEY("GET"), EP_BLOB, RW_OCI_OP_BLOB_GET, 0 },
	{ KEY("HEAD"), EP_BLOB, RW_OCI_OP_BLOB_HEAD, 0 },
	{ KEY("DELETE"), EP_BLOB, RW_OCI_OP_BLOB_DELETE, 0 },
	{ KEY("POST"), EP_UPLOADS, RW_OCI_OP_UPLOAD_START, Q_DIGEST | Q_MOUNT | Q_FROM },
	{ KEY("PATCH"), EP_UPLOAD, RW_OCI_OP_UPLOAD_CHUNK, Q_STATE },
	{ KEY("PUT"), EP_UPLOAD, RW_OCI_OP_UPLOAD_COMPLETE, Q_DIGEST | Q_STATE },
	{ KEY("GET"), EP_UPLOAD, RW_OCI_OP_UPLOAD_STATUS, Q_STATE },
	{ KEY("DELETE"), EP_UPLOAD, RW_OCI_OP_UPLOAD_CANCEL, Q_STATE },
	{ KEY("GET"), EP_REFERRERS, RW_OCI_OP_REFERRERS, Q_ARTIFACT_TYPE },
};

static const char *const op_names[RW_OCI_OP_MAX_] = {
	[RW_OCI_OP_UNKNOWN] = "unknown",
	[RW_OCI_OP_BASE] = "base",
	[RW_OCI_OP_CATALOG] = "catalog",
	[RW_OCI_OP_TAGS_LIST] = "tags_list",
	[RW_OCI_OP_MANIFEST_GET] = "manifest_get",
	[RW_OCI_OP_MANIFEST_HEAD] = "manifest_head",
	[RW_OCI_OP_MANIFEST_PUT] = "manifest_put",
	[RW_OCI_OP_MANIFEST_DELETE] = "manifest_delete",
	[RW_OCI_OP_BLOB_GET] = "blob_get",
	[RW_OCI_OP_BLOB_HEAD] = "blob_head",
	[RW_OCI_OP_BLOB_DELETE] = "blob_delete",
	[RW_OCI_OP_UPLOAD_START] = "upload_start",
	[RW_OCI_OP_UPLOAD_MOUNT] = "upload_mount",
	[RW_OCI_OP_UPLOAD_CHUNK] = "upload_chunk",
	[RW_OCI_OP_UPLOAD_COMPLETE] = "upload_complete",
	[RW_OCI_OP_UPLOAD_STATUS] = "upload_status",
	[RW_OCI_OP_UPLOAD_CANCEL] = "upload_cancel",
	[RW_OCI_OP_REFERRERS] = "referrers",
};

const char *rw_oci_op_str(enum rw_oci_op op)
{
	if ((unsigned)op >= RW_OCI_OP_MAX_)
		return "unknown";
	return op_names[op];
}

const char *rw_oci_class_str(enum rw_oci_class cls)
{
	switch (cls) {
	case RW_OCI_CLASS_PULL: return "pull";
	case RW_OCI_CLASS_PUSH: return "push";
	case RW_OCI_CLASS_DELETE: return "delete";
	case RW_OCI_CLASS_ADMIN: return "admin";
	case RW_OCI_CLASS_UNKNOWN:
	case RW_OCI_CLASS_MAX_:
		break;
	}
	return "unknown";
}

/* Reference §4: every POST/PATCH/PUT under uploads and every manifest PUT
 * is a push; the upload status GET reads push state, so it is push too;
 * DELETE of anything (upload sessions included) is the delete class, as
 * distribution's appendAccessRecords requires the delete action for it. */
enum rw_oci_class rw_oci_op_class(enum rw_oci_op op)
{
	switch (op) {
	case RW_OCI_OP_BASE:
	case RW_OCI_OP_TAGS_LIST:
	case RW_OCI_OP_MANIFEST_GET:
	case RW_OCI_OP_MANIFEST_HEAD:
	case RW_OCI_OP_BLOB_GET:
	case RW_OCI_OP_BLOB_HEAD:
	case RW_OCI_OP_REFERRERS:
		return RW_OCI_CLASS_PULL;
	case RW_OCI_OP_MANIFEST_PUT:
	case RW_OCI_OP_UPLOAD_START:
	case RW_OCI_OP_UPLOAD_MOUNT:
	case RW_OCI_OP_UPLOAD_CHUNK:
	case RW_OCI_OP_UPLOAD_COMPLETE:
	case RW_OCI_OP_UPLOAD_STATUS:
		return RW_OCI_CLASS_PUSH;
	case RW_OCI_OP_MANIFEST_DELETE:
	case RW_OCI_OP_BLOB_DELETE:
	case RW_OCI_OP_UPLOAD_CANCEL:
		return RW_OCI_CLASS_DELETE;
	case RW_OCI_OP_CATALOG:
		return RW_OCI_CLASS_ADMIN;
	case RW_OCI_OP_UNKNOWN:
	case RW_OCI_OP_MAX_:
		break;
	}
	return RW_OCI_CLASS_UNKNOWN;
}

struct seg {
	size_t off, len; /* within the path */
};

#define OCI_MAX_SEGS 160 /* a 255-byte name has at most 128 components */

static int unknown(struct rw_oci_req *out, const char *why)
{
	/* Never leave half a classification behind. */
	memset(out, 0, sizeof(*out));
	out->op = RW_OCI_OP_UNKNOWN;
	out->cls = RW_OCI_CLASS_UNKNOWN;
	out->why = why;
	return 0;
}

static bool seg_is(const char *path, struct seg s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(path + s.off, lit, s.len) == 0;
}

/* Path bytes a canonical registry path can hold: name, tag, digest and
 * upload-id characters. Rules out '%', '\\', ';', '#', '?', spaces,
 * controls and non-ASCII in one place. */
#define PC(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || \
	       ((c) >= '0' && (c) <= '9') || (c) == '/' || (c) == '.' || (c) == '_' || \
	       (c) == '-' || (c) == ':' || (c) == '=' || (c) == '+')
#define PC4(c) PC(c), PC((c) + 1), PC((c) + 2), PC((c) + 3)
#define PC16(c) PC4(c), PC4((c) + 4), PC4((c) + 8), PC4((c) + 12)
#define PC64(c) PC16(c), PC16((c) + 16), PC16((c) + 32), PC16((c) + 48)
/* a table: this runs over every byte of every request path */
static const bool path_chars[256] = { PC64(0), PC64(64), PC64(128), PC64(192) };

static bool path_char(uint8_t c)
{
	return path_chars[c];
}

static bool copy_out(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		return false;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

/* Opaque ids as registries issue them (UUIDs, base64url). */
static bool valid_upload_id(const char *s, size_t len)
{
	if (len == 0 || len > RW_OCI_UPLOAD_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '='))
			return false;
	}
	return true;
}

/* type "/" subtype, RFC 6838 restricted-name characters, no parameters. */
static bool valid_media_type(const char *s, size_t len)
{
	size_t slash = 0, n_slash = 0;
	if (len == 0 || len > RW_OCI_MEDIA_TYPE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '/') {
			slash = i;
			n_slash++;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c != 0 && strchr("!#$&^_.+-", c))))
			return false;
	}
	return n_slash == 1 && slash > 0 && slash < len - 1;
}

static bool valid_state(const char *s, size_t len)
{
	if (len == 0 || len > RW_OCI_STATE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '='))
			return false;
	}
	return true;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* application/x-www-form-urlencoded value decoding, as Go's
 * url.ParseQuery does it on the registry side ('+' is a space), so we
 * validate what the registry will see. Values are short; the cap bounds
 * the stack buffer. */
static bool query_decode(struct rw_cursor *v, char *dst, size_t cap, size_t *outlen)
{
	size_t n = 0;
	uint8_t c;
	/* nothing to decode (the usual case): one copy, no per-byte calls */
	const uint8_t *raw = rw_cur_ptr(v);
	size_t rlen = rw_cur_left(v);
	if (!memchr(raw, '%', rlen) && !memchr(raw, '+', rlen)) {
		if (rlen + 1 > cap)
			return false;
		rw_cur_copy(v, dst, rlen);
		dst[rlen] = '\0';
		*outlen = rlen;
		return true;
	}
	while (rw_cur_u8(v, &c) == 0) {
		if (n + 1 >= cap)
			return false;
		if (c == '%') {
			uint8_t h, l;
			if (rw_cur_u8(v, &h) || rw_cur_u8(v, &l) || hexval(h) < 0 || hexval(l) < 0)
				return false;
			c = (uint8_t)(hexval(h) * 16 + hexval(l));
		} else if (c == '+') {
			c = ' ';
		}
		dst[n++] = (char)c;
	}
	dst[n] = '\0';
	*outlen = n;
	return true;
}

static bool parse_n(const char *s, size_t len, uint32_t *n)
{
	uint64_t v = 0;
	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > 0x7fffffff) /* the registry parses it into a Go int */
		return false;
	*n = (uint32_t)v;
	return true;
}

/* key=value *( "&" key=value ); keys literal, each at most once except
 * tag. Returns NULL or the reason it is not acceptable. */
static const char *parse_query(const char *q, size_t qlen, enum oci_ep ep, unsigned allowed,
			       unsigned *seen, struct rw_oci_req *out)
{
	struct rw_cursor c;
	char val[RW_OCI_STATE_MAX + 1];
	*seen = 0;
	if (qlen == 0)
		return "empty query";
	rw_cur_init(&c, q, qlen);
	for (;;) {
		const uint8_t *p = rw_cur_ptr(&c);
		size_t left = rw_cur_left(&c), plen = 0;
		while (plen < left && p[plen] != '&')
			plen++;
		struct rw_cursor param;
		if (rw_cur_sub(&c, plen, &param))
			return "query parse error"; /* cannot happen: plen <= left */
		bool more = rw_cur_skip(&c, 1) == 0; /* the '&' */
		const uint8_t *eq = memchr(param.buf, '=', param.len);
		if (!eq)
			return "query parameter without '='";
		size_t klen = (size_t)(eq - param.buf);
		unsigned bit = 0;
		for (size_t i = 0; i < sizeof(qkeys) / sizeof(qkeys[0]); i++)
			if (qkeys[i].len == klen && memcmp(param.buf, qkeys[i].key, klen) == 0)
				bit = qkeys[i].bit;
		if (!bit || !(allowed & bit))
			return "query parameter not allowed here";
		if ((*seen & bit) && bit != Q_TAG)
			return "query parameter repeated";
		*seen |= bit;
		rw_cur_skip(&param, klen + 1);
		size_t vlen;
		if (!query_decode(&param, val, sizeof(val), &vlen))
			return "query value malformed or too long";
		bool ok = false;
		switch (bit) {
		case Q_DIGEST:
		case Q_MOUNT:
			ok = rw_oci_valid_digest(val, vlen) &&
			     copy_out(out->digest, sizeof(out->digest), val, vlen);
			break;
		case Q_FROM:
			ok = rw_oci_valid_name(val, vlen) &&
			     copy_out(out->from, sizeof(out->from), val, vlen);
			break;
		case Q_N:
			ok = parse_n(val, vlen, &out->n);
			out->has_n = ok;
			break;
		case Q_LAST:
			ok = (ep == EP_CATALOG ? rw_oci_valid_name(val, vlen)
					       : rw_oci_valid_tag(val, vlen)) &&
			     copy_out(out->last, sizeof(out->last), val, vlen);
			break;
		case Q_TAG:
			ok = out->n_tags < RW_OCI_MAX_TAGS && rw_oci_valid_tag(val, vlen) &&
			     copy_out(out->tags[out->n_tags], sizeof(out->tags[0]), val, vlen);
			if (ok)
				out->n_tags++;
			break;
		case Q_ARTIFACT_TYPE:
			ok = valid_media_type(val, vlen) &&
			     copy_out(out->artifact_type, sizeof(out->artifact_type), val, vlen);
			break;
		case Q_STATE:
			ok = valid_state(val, vlen);
			break;
		}
		if (!ok)
			return "query value invalid";
		if (!more)
			break;
		if (rw_cur_left(&c) == 0)
			return "empty query parameter";
	}
	return NULL;
}

/* Split the part after "/v2/" into components and recognise the endpoint
 * anchored at the end. Returns NULL, or why the path is not canonical. */
static const char *match_path(const char *path, size_t plen, enum oci_ep *ep, size_t *name_len,
			      struct seg *last)
{
	struct seg segs[OCI_MAX_SEGS];
	size_t n = 0, start = 0;

	if (plen == 0) {
		*ep = EP_BASE;
		return NULL;
	}
	if (plen == 8 && memcmp(path, "_catalog", 8) == 0) {
		*ep = EP_CATALOG;
		return NULL;
	}
	for (size_t i = 0; i <= plen; i++) {
		if (i < plen && path[i] != '/')
			continue;
		if (n == OCI_MAX_SEGS)
			return "too many path components";
		segs[n].off = start;
		segs[n].len = i - start;
		n++;
		start = i + 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct seg s = segs[i];
		if (s.len == 0 && i != n - 1)
			return "empty path component";
		if (seg_is(path, s, ".") || seg_is(path, s, ".."))
			return "dot segment";
	}
	/* Suffixes, each distinguished by a literal at a fixed distance from
	 * the end, so at most one can match. */
	size_t name_segs;
	if (n >= 4 && segs[n - 1].len == 0 && seg_is(path, segs[n - 2], "uploads") &&
	    seg_is(path, segs[n - 3], "blobs")) {
		*ep = EP_UPLOADS;
		name_segs = n - 3;
	} else if (segs[n - 1].len == 0) {
		return "trailing slash";
	} else if (n >= 4 && seg_is(path, segs[n - 2], "uploads") &&
		   seg_is(path, segs[n - 3], "blobs")) {
		*ep = EP_UPLOAD;
		name_segs = n - 3;
	} else if (n >= 3 && seg_is(path, segs[n - 2], "blobs")) {
		*ep = EP_BLOB;
		name_segs = n - 2;
	} else if (n >= 3 && seg_is(path, segs[n - 2], "manifests")) {
		*ep = EP_MANIFEST;
		name_segs = n - 2;
	} else if (n >= 3 && seg_is(path, segs[n - 2], "tags") && seg_is(path, segs[n - 1], "list")) {
		*ep = EP_TAGS;
		name_segs = n - 2;
	} else if (n >= 3 && seg_is(path, segs[n - 2], "referrers")) {
		*ep = EP_REFERRERS;
		name_segs = n - 2;
	} else {
		return "no registry endpoint";
	}
	*name_len = segs[name_segs - 1].off + segs[name_segs - 1].len;
	*last = segs[n - 1];
	if (!rw_oci_valid_name(path, *name_len))
		return "repository name invalid";
	return NULL;
}

int rw_oci_classify(const char *method, size_t mlen, const char *target, size_t tlen,
		    struct rw_oci_req *out)
{
	if (!out)
		return RW_EINVAL;
	unknown(out, NULL);
	if (!method || !target)
		return RW_EINVAL;

	const char *qmark = memchr(target, '?', tlen);
	size_t plen = qmark ? (size_t)(qmark - target) : tlen;
	for (size_t i = 0; i < plen; i++)
		if (!path_char((uint8_t)target[i]))
			return unknown(out, "character not allowed in path");
	if (plen < 4 || memcmp(target, "/v2/", 4) != 0)
		return unknown(out, "not under /v2/");

	const char *path = target + 4;
	enum oci_ep ep;
	size_t name_len = 0;
	struct seg last = { 0, 0 };
	const char *why = match_path(path, plen - 4, &ep, &name_len, &last);
	if (why)
		return unknown(out, why);

	size_t r;
	for (r = 0; r < sizeof(routes) / sizeof(routes[0]); r++)
		if (routes[r].ep == ep && routes[r].mlen == mlen &&
		    memcmp(routes[r].method, method, mlen) == 0)
			break;
	if (r == sizeof(routes) / sizeof(routes[0]))
		return unknown(out, "method not allowed on this endpoint");

	const char *lp = path + last.off;
	switch (ep) {
	case EP_MANIFEST:
		out->reference_is_digest = memchr(lp, ':', last.len) != NULL;
		if (out->reference_is_digest ? !rw_oci_valid_digest(lp, last.len)
					     : !rw_oci_valid_tag(lp, last.len))
			return unknown(out, "manifest reference invalid");
		copy_out(out->reference, sizeof(out->reference), lp, last.len);
		break;
	case EP_BLOB:
	case EP_REFERRERS:
		if (!rw_oci_valid_digest(lp, last.len))
			return unknown(out, "digest invalid");
		out->reference_is_digest = true;
		copy_out(out->reference, sizeof(out->reference), lp, last.len);
		break;
	case EP_UPLOAD:
		if (!valid_upload_id(lp, last.len))
			return unknown(out, "upload id invalid");
		copy_out(out->upload_id, sizeof(out->upload_id), lp, last.len);
		break;
	case EP_BASE:
	case EP_CATALOG:
	case EP_TAGS:
	case EP_UPLOADS:
		break;
	}
	copy_out(out->repo, sizeof(out->repo), path, name_len);

	enum rw_oci_op op = routes[r].op;
	unsigned seen = 0;
	if (qmark) {
		why = parse_query(qmark + 1, tlen - plen - 1, ep, routes[r].allowed, &seen, out);
		if (why)
			return unknown(out, why);
	}
	if (ep == EP_UPLOADS) {
		/* distribution mounts only with both mount and from; with mount
		 * alone a registry may search every repository (OCI 1.1), which
		 * no "from" policy check can cover: refuse as unknown. */
		if (seen == (Q_MOUNT | Q_FROM))
			op = RW_OCI_OP_UPLOAD_MOUNT;
		else if (seen != 0 && seen != Q_DIGEST)
			return unknown(out, "upload query combination not allowed");
	}
	if (op == RW_OCI_OP_UPLOAD_COMPLETE && !(seen & Q_DIGEST))
		return unknown(out, "upload completion without digest");
	out->op = op;
	out->cls = rw_oci_op_class(op);
	return 0;
}

int rw_oci_classify_http(const struct rw_http_req *req, struct rw_oci_req *out)
{
	if (!req || !out)
		return RW_EINVAL;
	return rw_oci_classify((const char *)req->method_tok.ptr, req->method_tok.len,
			       (const char *)req->target.ptr, req->target.len, out);
}
