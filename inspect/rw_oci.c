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

#include "base/rw_cursor.h"
#include "base/rw_err.h"

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

/* Methods the table knows; everything else has no route. */
enum oci_method {
	M_GET = 0,
	M_HEAD,
	M_POST,
	M_PUT,
	M_PATCH,
	M_DELETE,
	M_MAX_,
	M_OTHER = M_MAX_,
};

#define EP_MAX_ (EP_REFERRERS + 1)

/* Reference §2, exactly: endpoint x method -> op and the query keys it
 * allows; op UNKNOWN (0) = no such route. Indexed, because the method and
 * endpoint are already known as small numbers when we get here. */
static const struct {
	uint8_t op;
	uint8_t allowed;
} routes[EP_MAX_][M_MAX_] = {
	[EP_BASE][M_GET] = { RW_OCI_OP_BASE, 0 },
	[EP_CATALOG][M_GET] = { RW_OCI_OP_CATALOG, Q_N | Q_LAST },
	[EP_TAGS][M_GET] = { RW_OCI_OP_TAGS_LIST, Q_N | Q_LAST },
	[EP_MANIFEST][M_GET] = { RW_OCI_OP_MANIFEST_GET, 0 },
	[EP_MANIFEST][M_HEAD] = { RW_OCI_OP_MANIFEST_HEAD, 0 },
	[EP_MANIFEST][M_PUT] = { RW_OCI_OP_MANIFEST_PUT, Q_TAG },
	[EP_MANIFEST][M_DELETE] = { RW_OCI_OP_MANIFEST_DELETE, 0 },
	[EP_BLOB][M_GET] = { RW_OCI_OP_BLOB_GET, 0 },
	[EP_BLOB][M_HEAD] = { RW_OCI_OP_BLOB_HEAD, 0 },
	[EP_BLOB][M_DELETE] = { RW_OCI_OP_BLOB_DELETE, 0 },
	[EP_UPLOADS][M_POST] = { RW_OCI_OP_UPLOAD_START, Q_DIGEST | Q_MOUNT | Q_FROM },
	[EP_UPLOAD][M_PATCH] = { RW_OCI_OP_UPLOAD_CHUNK, Q_STATE },
	[EP_UPLOAD][M_PUT] = { RW_OCI_OP_UPLOAD_COMPLETE, Q_DIGEST | Q_STATE },
	[EP_UPLOAD][M_GET] = { RW_OCI_OP_UPLOAD_STATUS, Q_STATE },
	[EP_UPLOAD][M_DELETE] = { RW_OCI_OP_UPLOAD_CANCEL, Q_STATE },
	[EP_REFERRERS][M_GET] = { RW_OCI_OP_REFERRERS, Q_ARTIFACT_TYPE },
};

/* The operation table (rw_oci.h, struct rw_oci_op_info): the single
 * source of each operation's name, class, need and rate-limit flags, read
 * by the classifier (cls), fwd/rw_decide (need, push_op, meters_upload)
 * and the logs. The class comes from the need (CLS_*), never written by
 * hand, so the two cannot disagree.
 *
 * Upload cancel (DELETE on a session) needs push, and so is class push:
 * it discards an unfinished upload and nothing committed, and a push-only
 * identity must be able to clean up its own failed push. distribution's
 * appendAccessRecords asks "delete" for any DELETE; regwall is
 * deliberately more lenient here (docs/design/policy.md, "Upload
 * cancel"). It is still a state change: it spends a push-operation token.
 * The upload status GET reads the state of a push session: push too
 * (reference §4), but it changes nothing, so it spends no token. */
#define CLS_NOTHING RW_OCI_CLASS_UNKNOWN
#define CLS_IDENTIFIED RW_OCI_CLASS_PULL
#define CLS_PULL RW_OCI_CLASS_PULL
#define CLS_PULL_ALL RW_OCI_CLASS_ADMIN
#define CLS_PUSH RW_OCI_CLASS_PUSH
#define CLS_MOUNT RW_OCI_CLASS_PUSH
#define CLS_DELETE RW_OCI_CLASS_DELETE
#define OP(op, name, need, push_op, meters) \
	[RW_OCI_OP_##op] = { name, CLS_##need, RW_OCI_NEED_##need, push_op, meters }

static const struct rw_oci_op_info ops[RW_OCI_OP_MAX_] = {
	/*  op               name               need        push_op meters_upload */
	OP(UNKNOWN,         "unknown",         NOTHING,    false, false),
	OP(BASE,            "base",            IDENTIFIED, false, false),
	OP(CATALOG,         "catalog",         PULL_ALL,   false, false),
	OP(TAGS_LIST,       "tags_list",       PULL,       false, false),
	OP(MANIFEST_GET,    "manifest_get",    PULL,       false, false),
	OP(MANIFEST_HEAD,   "manifest_head",   PULL,       false, false),
	OP(MANIFEST_PUT,    "manifest_put",    PUSH,       true,  true),
	OP(MANIFEST_DELETE, "manifest_delete", DELETE,     true,  false),
	OP(BLOB_GET,        "blob_get",        PULL,       false, false),
	OP(BLOB_HEAD,       "blob_head",       PULL,       false, false),
	OP(BLOB_DELETE,     "blob_delete",     DELETE,     true,  false),
	OP(UPLOAD_START,    "upload_start",    PUSH,       true,  true), /* monolithic: ?digest= + body */
	OP(UPLOAD_MOUNT,    "upload_mount",    MOUNT,      true,  false),
	OP(UPLOAD_CHUNK,    "upload_chunk",    PUSH,       true,  true),
	OP(UPLOAD_COMPLETE, "upload_complete", PUSH,       true,  true),
	OP(UPLOAD_STATUS,   "upload_status",   PUSH,       false, false),
	OP(UPLOAD_CANCEL,   "upload_cancel",   PUSH,       true,  false),
	OP(REFERRERS,       "referrers",       PULL,       false, false),
};
#undef OP

const struct rw_oci_op_info *rw_oci_op_info(enum rw_oci_op op)
{
	return &ops[(unsigned)op < RW_OCI_OP_MAX_ ? op : RW_OCI_OP_UNKNOWN];
}

const char *rw_oci_op_str(enum rw_oci_op op)
{
	return rw_oci_op_info(op)->name;
}

enum rw_oci_class rw_oci_op_class(enum rw_oci_op op)
{
	return rw_oci_op_info(op)->cls;
}

enum rw_oci_need rw_oci_op_need(enum rw_oci_op op)
{
	return rw_oci_op_info(op)->need;
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

/* Every string empty, every scalar zero: the state of an UNKNOWN result.
 * Only the first byte of each buffer is written (see rw_oci.h). */
static void reset(struct rw_oci_req *out, const char *why)
{
	out->op = RW_OCI_OP_UNKNOWN;
	out->cls = RW_OCI_CLASS_UNKNOWN;
	out->repo[0] = '\0';
	out->reference[0] = '\0';
	out->reference_is_digest = false;
	out->digest[0] = '\0';
	out->from[0] = '\0';
	out->upload_id[0] = '\0';
	out->n_tags = 0;
	out->has_n = false;
	out->n = 0;
	out->last[0] = '\0';
	out->artifact_type[0] = '\0';
	out->why = why;
}

static int unknown(struct rw_oci_req *out, const char *why)
{
	/* Never leave half a classification behind. */
	reset(out, why);
	return 0;
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
static const bool path_chars[256] = { PC64(0), PC64(64), PC64(128), PC64(192) };

#define OCI_MAX_SEGS 160 /* a 255-byte name has at most 128 components */

static bool span_is(const char *p, size_t len, const char *lit, size_t litlen)
{
	return len == litlen && memcmp(p, lit, len) == 0;
}

#define SPAN_IS(p, len, lit) span_is((p), (len), (lit), sizeof(lit) - 1)

/*
 * Why a path that failed somewhere is not canonical. The fast path below
 * never looks at the path as a whole: it anchors the endpoint at the end
 * and lets the name grammar and the reference checks reject everything
 * else (each only accepts path characters, non-empty components, no dot
 * segments). That rejects the same paths, but for the log this re-derives
 * the reason in the order the checks are documented: characters, /v2/,
 * component count, empty components, dot segments, then the stage that
 * failed. Only refused requests pay for it.
 */
static const char *path_why(const char *target, size_t plen, const char *stage_why)
{
	for (size_t i = 0; i < plen; i++)
		if (!path_chars[(uint8_t)target[i]])
			return "character not allowed in path";
	if (plen < 4 || memcmp(target, "/v2/", 4) != 0)
		return "not under /v2/";
	const char *p = target + 4;
	size_t n = plen - 4, start = 0, segs = 0;
	if (n == 0 || SPAN_IS(p, n, "_catalog"))
		return stage_why;
	for (size_t i = 0; i <= n; i++)
		if (i == n || p[i] == '/')
			segs++;
	if (segs > OCI_MAX_SEGS)
		return "too many path components";
	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != '/')
			continue;
		if (i == start && i != n)
			return "empty path component";
		if (SPAN_IS(p + start, i - start, ".") || SPAN_IS(p + start, i - start, ".."))
			return "dot segment";
		start = i + 1;
	}
	return stage_why;
}

/* The parts of a path after "/v2/" as offsets into it. */
struct oci_path {
	enum oci_ep ep;
	size_t name_len;           /* name = p[0, name_len) */
	size_t last_off, last_len; /* the component after the endpoint word */
};

/*
 *   <name> / blobs / uploads / <id>      the three last '/' (s3 s2 s1)
 *            <PP>    <P>       <L>       are all the endpoint needs
 *
 * Recognise the endpoint anchored at the end and split off the name. The
 * suffixes are distinguished by a literal at a fixed distance from the end,
 * so at most one can match. Returns NULL or the reason; validates nothing
 * but the literals (the caller checks the name and the last component).
 */
static const char *match_path(const char *p, size_t n, struct oci_path *o)
{
	o->name_len = 0;
	o->last_off = o->last_len = 0;
	if (n == 0) {
		o->ep = EP_BASE;
		return NULL;
	}
	if (SPAN_IS(p, n, "_catalog")) {
		o->ep = EP_CATALOG;
		return NULL;
	}
	const char *s1 = memrchr(p, '/', n);
	if (!s1)
		return "no registry endpoint";
	size_t l1 = (size_t)(s1 - p);
	const char *s2 = memrchr(p, '/', l1);
	if (!s2)
		return l1 + 1 == n ? "trailing slash" : "no registry endpoint";
	size_t l2 = (size_t)(s2 - p);
	const char *s3 = memrchr(p, '/', l2);
	size_t pp_off = s3 ? (size_t)(s3 - p) + 1 : 0;
	const char *lp = s1 + 1, *pw = s2 + 1, *ppw = p + pp_off;
	size_t llen = n - l1 - 1, plen = l1 - l2 - 1, pplen = l2 - pp_off;
	bool uploads = s3 && SPAN_IS(pw, plen, "uploads") && SPAN_IS(ppw, pplen, "blobs");

	o->last_off = l1 + 1;
	o->last_len = llen;
	o->name_len = l2;
	if (uploads && llen == 0) {
		o->ep = EP_UPLOADS;
		o->name_len = pp_off - 1;
	} else if (llen == 0) {
		return "trailing slash";
	} else if (uploads) {
		o->ep = EP_UPLOAD;
		o->name_len = pp_off - 1;
	} else if (SPAN_IS(pw, plen, "blobs")) {
		o->ep = EP_BLOB;
	} else if (SPAN_IS(pw, plen, "manifests")) {
		o->ep = EP_MANIFEST;
	} else if (SPAN_IS(pw, plen, "tags") && SPAN_IS(lp, llen, "list")) {
		o->ep = EP_TAGS;
	} else if (SPAN_IS(pw, plen, "referrers")) {
		o->ep = EP_REFERRERS;
	} else {
		return "no registry endpoint";
	}
	return NULL;
}

static enum oci_method method_of(const char *m, size_t len)
{
	/* case-sensitive (RFC 9110 §9.1), as the head parser has it */
	switch (len) {
	case 3:
		return SPAN_IS(m, len, "GET") ? M_GET : SPAN_IS(m, len, "PUT") ? M_PUT : M_OTHER;
	case 4:
		return SPAN_IS(m, len, "HEAD") ? M_HEAD : SPAN_IS(m, len, "POST") ? M_POST : M_OTHER;
	case 5:
		return SPAN_IS(m, len, "PATCH") ? M_PATCH : M_OTHER;
	case 6:
		return SPAN_IS(m, len, "DELETE") ? M_DELETE : M_OTHER;
	default:
		return M_OTHER;
	}
}

/* Opaque ids as registries issue them (UUIDs, base64url). */
static bool valid_upload_id(const char *s, size_t len)
{
	if (len == 0 || len > RW_OCI_UPLOAD_ID_MAX)
		return false;
	if (SPAN_IS(s, len, ".") || SPAN_IS(s, len, "..")) /* dot segments, not ids */
		return false;
	return rw_oci_all_class(s, len, RW_OCI_C_UPID);
}

/* type "/" subtype, RFC 6838 restricted-name characters, no parameters. */
static bool valid_media_type(const char *s, size_t len)
{
	if (len == 0 || len > RW_OCI_MEDIA_TYPE_MAX)
		return false;
	const char *slash = memchr(s, '/', len);
	if (!slash || slash == s)
		return false;
	size_t tl = (size_t)(slash - s);
	return tl + 1 < len && rw_oci_all_class(s, tl, RW_OCI_C_MEDIA) &&
	       rw_oci_all_class(slash + 1, len - tl - 1, RW_OCI_C_MEDIA);
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

/* Query values are form-decoded as Go's url.ParseQuery does it on the
 * registry side ('+' is a space, %XX a byte), so we validate what the
 * registry will see. A value that decodes to more than RW_OCI_STATE_MAX
 * bytes, or has a bad escape, is malformed; one that is well-formed but
 * longer than the field it goes to is simply invalid (every validator has
 * a length limit below its field's size). */
enum q_dec {
	QD_OK = 0,
	QD_MALFORMED,
	QD_INVALID,
};

/* One %XX at v[i] (i on the '%'): the byte, or -1. */
static int pct_byte(const uint8_t *v, size_t len, size_t i)
{
	if (len - i < 3)
		return -1;
	int h = hexval(v[i + 1]), l = hexval(v[i + 2]);
	if (h < 0 || l < 0)
		return -1;
	return h * 16 + l;
}

/* The count n of decoded bytes against the limits, and the NUL. */
static enum q_dec q_decoded(char *dst, size_t cap, size_t n, size_t *outlen)
{
	if (n > RW_OCI_STATE_MAX)
		return QD_MALFORMED;
	if (n >= cap)
		return QD_INVALID;
	dst[n] = '\0';
	*outlen = n;
	return QD_OK;
}

/* Byte by byte, for values with a '+' (which no value we keep may hold,
 * but a bad escape after it must still say "malformed"). */
static enum q_dec q_decode_slow(const uint8_t *v, size_t len, char *dst, size_t cap,
				size_t *outlen)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		int c = v[i];
		if (c == '%') {
			if ((c = pct_byte(v, len, i)) < 0)
				return QD_MALFORMED;
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (n + 1 < cap)
			dst[n] = (char)c;
		n++;
	}
	return q_decoded(dst, cap, n, outlen);
}

/* Decode v[0..len) into dst (cap bytes incl. the NUL). */
static enum q_dec q_decode(const uint8_t *v, size_t len, char *dst, size_t cap, size_t *outlen)
{
	if (memchr(v, '+', len))
		return q_decode_slow(v, len, dst, cap, outlen);
	/* Runs between escapes are copied whole (skopeo sends every digest
	 * as sha256%3A...); once the value is past the field's size only the
	 * count goes on, for the verdict. */
	size_t n = 0, i = 0;
	for (;;) {
		const uint8_t *pct = memchr(v + i, '%', len - i);
		size_t run = pct ? (size_t)(pct - (v + i)) : len - i;
		if (n + run < cap)
			memcpy(dst + n, v + i, run);
		n += run;
		i += run;
		if (!pct)
			break;
		int c = pct_byte(v, len, i);
		if (c < 0)
			return QD_MALFORMED;
		if (n + 1 < cap)
			dst[n] = (char)c;
		n++;
		i += 3;
	}
	return q_decoded(dst, cap, n, outlen);
}

/* _state is opaque to policy: validate its decoded bytes where they lie,
 * [A-Za-z0-9_=-]{1,4096}, without copying them anywhere. */
static enum q_dec q_state(const uint8_t *v, size_t len)
{
	const uint8_t *t = rw_oci_ctype;
	size_t i = 0, n = 0;
	bool bad = false;
	while (i < len) {
		/* runs of plain base64url */
		size_t run = rw_oci_run(v + i, len - i, RW_OCI_C_B64);
		i += run;
		n += run;
		if (i == len)
			break;
		int c = v[i];
		if (c == '%') {
			if ((c = pct_byte(v, len, i)) < 0)
				return QD_MALFORMED;
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		bad |= !(t[c] & RW_OCI_C_B64);
		i++;
		n++;
	}
	if (n > RW_OCI_STATE_MAX)
		return QD_MALFORMED;
	return n == 0 || bad ? QD_INVALID : QD_OK;
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

static unsigned query_key(const uint8_t *k, size_t len)
{
	const char *s = (const char *)k;
	switch (len) {
	case 1: return s[0] == 'n' ? Q_N : 0;
	case 3: return SPAN_IS(s, len, "tag") ? Q_TAG : 0;
	case 4: return SPAN_IS(s, len, "last") ? Q_LAST : SPAN_IS(s, len, "from") ? Q_FROM : 0;
	case 5: return SPAN_IS(s, len, "mount") ? Q_MOUNT : 0;
	case 6: return SPAN_IS(s, len, "digest") ? Q_DIGEST : SPAN_IS(s, len, "_state") ? Q_STATE : 0;
	case 12: return SPAN_IS(s, len, "artifactType") ? Q_ARTIFACT_TYPE : 0;
	default: return 0;
	}
}

/* One value, decoded into the field it belongs to and validated there. */
static enum q_dec query_value(unsigned bit, enum oci_ep ep, const uint8_t *v, size_t vlen,
			      struct rw_oci_req *out)
{
	size_t n = 0;
	enum q_dec d;
	switch (bit) {
	case Q_DIGEST:
	case Q_MOUNT:
		if ((d = q_decode(v, vlen, out->digest, sizeof(out->digest), &n)) != QD_OK)
			return d;
		return rw_oci_valid_digest(out->digest, n) ? QD_OK : QD_INVALID;
	case Q_FROM:
		if ((d = q_decode(v, vlen, out->from, sizeof(out->from), &n)) != QD_OK)
			return d;
		return rw_oci_valid_name(out->from, n) ? QD_OK : QD_INVALID;
	case Q_N: {
		char num[12];
		if ((d = q_decode(v, vlen, num, sizeof(num), &n)) != QD_OK)
			return d;
		out->has_n = parse_n(num, n, &out->n);
		return out->has_n ? QD_OK : QD_INVALID;
	}
	case Q_LAST:
		if ((d = q_decode(v, vlen, out->last, sizeof(out->last), &n)) != QD_OK)
			return d;
		return (ep == EP_CATALOG ? rw_oci_valid_name(out->last, n)
					 : rw_oci_valid_tag(out->last, n)) ? QD_OK : QD_INVALID;
	case Q_TAG: {
		char spare[RW_OCI_TAG_MAX + 1]; /* a tag past the limit is decoded, then refused */
		bool room = out->n_tags < RW_OCI_MAX_TAGS;
		char *dst = room ? out->tags[out->n_tags] : spare;
		if ((d = q_decode(v, vlen, dst, sizeof(spare), &n)) != QD_OK)
			return d;
		if (!room || !rw_oci_valid_tag(dst, n))
			return QD_INVALID;
		out->n_tags++;
		return QD_OK;
	}
	case Q_ARTIFACT_TYPE:
		if ((d = q_decode(v, vlen, out->artifact_type, sizeof(out->artifact_type), &n)) !=
		    QD_OK)
			return d;
		return valid_media_type(out->artifact_type, n) ? QD_OK : QD_INVALID;
	case Q_STATE:
		return q_state(v, vlen);
	default:
		return QD_INVALID;
	}
}

/*
 *   ? key=value *( & key=value )     keys literal, each at most once
 *     _state=xR1G...%3D%3D&digest=sha256%3A2e8b...   except tag
 *
 * Returns NULL or the reason it is not acceptable.
 */
static const char *parse_query(const char *q, size_t qlen, enum oci_ep ep, unsigned allowed,
			       unsigned *seen, struct rw_oci_req *out)
{
	struct rw_cursor c;
	*seen = 0;
	if (qlen == 0)
		return "empty query";
	rw_cur_init(&c, q, qlen);
	for (;;) {
		const uint8_t *amp = memchr(rw_cur_ptr(&c), '&', rw_cur_left(&c));
		size_t plen = amp ? (size_t)(amp - rw_cur_ptr(&c)) : rw_cur_left(&c);
		struct rw_cursor param;
		if (rw_cur_sub(&c, plen, &param))
			return "query parse error"; /* cannot happen: plen <= left */
		bool more = rw_cur_skip(&c, 1) == 0; /* the '&' */
		const uint8_t *eq = memchr(param.buf, '=', param.len);
		if (!eq)
			return "query parameter without '='";
		size_t klen = (size_t)(eq - param.buf);
		unsigned bit = query_key(param.buf, klen);
		if (!bit || !(allowed & bit))
			return "query parameter not allowed here";
		if ((*seen & bit) && bit != Q_TAG)
			return "query parameter repeated";
		*seen |= bit;
		rw_cur_skip(&param, klen + 1);
		switch (query_value(bit, ep, rw_cur_ptr(&param), rw_cur_left(&param), out)) {
		case QD_OK:
			break;
		case QD_MALFORMED:
			return "query value malformed or too long";
		case QD_INVALID:
			return "query value invalid";
		}
		if (!more)
			break;
		if (rw_cur_left(&c) == 0)
			return "empty query parameter";
	}
	return NULL;
}

/* Copy a validated span (its length is below cap: the validators said so). */
static void copy_out(char *dst, const char *src, size_t len)
{
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static int classify(enum oci_method m, const char *target, size_t tlen, struct rw_oci_req *out)
{
	reset(out, NULL);
	const char *qmark = memchr(target, '?', tlen);
	size_t plen = qmark ? (size_t)(qmark - target) : tlen;
	if (plen < 4 || memcmp(target, "/v2/", 4) != 0)
		return unknown(out, path_why(target, plen, "not under /v2/"));

	const char *path = target + 4;
	struct oci_path pp;
	const char *why = match_path(path, plen - 4, &pp);
	if (why)
		return unknown(out, path_why(target, plen, why));
	if (pp.ep != EP_BASE && pp.ep != EP_CATALOG && !rw_oci_valid_name(path, pp.name_len))
		return unknown(out, path_why(target, plen, "repository name invalid"));

	if (m == M_OTHER || routes[pp.ep][m].op == RW_OCI_OP_UNKNOWN)
		return unknown(out, path_why(target, plen, "method not allowed on this endpoint"));

	const char *lp = path + pp.last_off;
	size_t ll = pp.last_len;
	switch (pp.ep) {
	case EP_MANIFEST:
		out->reference_is_digest = memchr(lp, ':', ll) != NULL;
		if (out->reference_is_digest ? !rw_oci_valid_digest(lp, ll)
					     : !rw_oci_valid_tag(lp, ll))
			return unknown(out, path_why(target, plen, "manifest reference invalid"));
		copy_out(out->reference, lp, ll);
		break;
	case EP_BLOB:
	case EP_REFERRERS:
		if (!rw_oci_valid_digest(lp, ll))
			return unknown(out, path_why(target, plen, "digest invalid"));
		out->reference_is_digest = true;
		copy_out(out->reference, lp, ll);
		break;
	case EP_UPLOAD:
		if (!valid_upload_id(lp, ll))
			return unknown(out, path_why(target, plen, "upload id invalid"));
		copy_out(out->upload_id, lp, ll);
		break;
	case EP_BASE:
	case EP_CATALOG:
	case EP_TAGS:
	case EP_UPLOADS:
		break;
	}
	/* From here on every path byte has passed a grammar. */
	copy_out(out->repo, path, pp.name_len);

	enum rw_oci_op op = (enum rw_oci_op)routes[pp.ep][m].op;
	unsigned seen = 0;
	if (qmark) {
		why = parse_query(qmark + 1, tlen - plen - 1, pp.ep, routes[pp.ep][m].allowed, &seen,
				  out);
		if (why)
			return unknown(out, why);
	}
	if (pp.ep == EP_UPLOADS) {
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

int rw_oci_classify(const char *method, size_t mlen, const char *target, size_t tlen,
		    struct rw_oci_req *out)
{
	if (!out)
		return RW_EINVAL;
	if (!method || !target) {
		reset(out, NULL);
		return RW_EINVAL;
	}
	return classify(method_of(method, mlen), target, tlen, out);
}

int rw_oci_classify_http(const struct rw_http_req *req, struct rw_oci_req *out)
{
	if (!req || !out)
		return RW_EINVAL;
	return rw_oci_classify((const char *)req->method_tok.ptr, req->method_tok.len,
			       (const char *)req->target.ptr, req->target.len, out);
}
