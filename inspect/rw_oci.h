/* OCI distribution API classifier: method + request target -> operation,
 * class (pull / push / delete / admin) and the repository it acts on.
 *
 * Only canonical targets are classified; anything a registry might read
 * differently from us (dot segments, empty components, percent-encoding in
 * the path, unknown or repeated query parameters, names outside the spec
 * grammar) comes back as RW_OCI_OP_UNKNOWN, which policy refuses. Table and
 * rules: docs/design/inspect-http-oci.md. No heap, no I/O. */
#ifndef RW_OCI_H
#define RW_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inspect/rw_http.h"

#define RW_OCI_NAME_MAX 255   /* repository name */
#define RW_OCI_TAG_MAX 128
#define RW_OCI_DIGEST_MAX 255
#define RW_OCI_REF_MAX 255    /* tag or digest */
#define RW_OCI_UPLOAD_ID_MAX 255
#define RW_OCI_MEDIA_TYPE_MAX 255
#define RW_OCI_MAX_TAGS 16    /* ?tag= on one manifest PUT */
#define RW_OCI_STATE_MAX 4096 /* opaque _state query value */

enum rw_oci_op {
	RW_OCI_OP_UNKNOWN = 0,
	RW_OCI_OP_BASE,            /* GET /v2/ */
	RW_OCI_OP_CATALOG,         /* GET /v2/_catalog */
	RW_OCI_OP_TAGS_LIST,       /* GET <name>/tags/list */
	RW_OCI_OP_MANIFEST_GET,
	RW_OCI_OP_MANIFEST_HEAD,
	RW_OCI_OP_MANIFEST_PUT,
	RW_OCI_OP_MANIFEST_DELETE,
	RW_OCI_OP_BLOB_GET,
	RW_OCI_OP_BLOB_HEAD,
	RW_OCI_OP_BLOB_DELETE,
	RW_OCI_OP_UPLOAD_START,    /* POST uploads/ (with ?digest=: monolithic) */
	RW_OCI_OP_UPLOAD_MOUNT,    /* POST uploads/?mount=&from= */
	RW_OCI_OP_UPLOAD_CHUNK,    /* PATCH uploads/<id> */
	RW_OCI_OP_UPLOAD_COMPLETE, /* PUT uploads/<id>?digest= */
	RW_OCI_OP_UPLOAD_STATUS,   /* GET uploads/<id> */
	RW_OCI_OP_UPLOAD_CANCEL,   /* DELETE uploads/<id> */
	RW_OCI_OP_REFERRERS,       /* GET <name>/referrers/<digest> */
	RW_OCI_OP_MAX_,
};

enum rw_oci_class {
	RW_OCI_CLASS_UNKNOWN = 0,
	RW_OCI_CLASS_PULL,
	RW_OCI_CLASS_PUSH,
	RW_OCI_CLASS_DELETE,
	RW_OCI_CLASS_ADMIN, /* catalog: lists every repository */
	RW_OCI_CLASS_MAX_,
};

struct rw_oci_req {
	enum rw_oci_op op;
	enum rw_oci_class cls;
	char repo[RW_OCI_NAME_MAX + 1];       /* "" for base and catalog */
	char reference[RW_OCI_REF_MAX + 1];   /* manifests: tag or digest; blobs/referrers: digest */
	bool reference_is_digest;
	char digest[RW_OCI_DIGEST_MAX + 1];   /* ?digest= (uploads) or ?mount= */
	char from[RW_OCI_NAME_MAX + 1];       /* ?from= of a mount */
	char upload_id[RW_OCI_UPLOAD_ID_MAX + 1];
	char tags[RW_OCI_MAX_TAGS][RW_OCI_TAG_MAX + 1]; /* ?tag= on manifest PUT; [0, n_tags) */
	unsigned n_tags;
	bool has_n;
	uint32_t n;                           /* ?n= of tags/list and catalog */
	char last[RW_OCI_NAME_MAX + 1];       /* ?last= (a tag, or a name for catalog) */
	char artifact_type[RW_OCI_MEDIA_TYPE_MAX + 1]; /* referrers ?artifactType= */
	const char *why;                      /* unknown: a static reason for the log */
};

/*
 * Classify one request. method is the request-line method token, target
 * the origin-form request target (path and query), neither NUL-terminated.
 * Always fills *out; returns 0, or RW_EINVAL for NULL arguments. An
 * unclassifiable request is op = UNKNOWN, cls = UNKNOWN, why set.
 *
 * "Fills" means every scalar field and every string (each NUL-terminated,
 * "" when absent); tags[] only below n_tags. Bytes after a string's NUL
 * are not cleared (the struct is 3.9 KB and clearing it cost more than the
 * rest of the classification), so compare results field by field, never
 * with memcmp over the struct.
 */
int rw_oci_classify(const char *method, size_t mlen, const char *target, size_t tlen,
		    struct rw_oci_req *out);
/* The same on a parsed request head. */
int rw_oci_classify_http(const struct rw_http_req *req, struct rw_oci_req *out);

/* What an operation needs of the client; fwd/rw_decide checks exactly
 * this (docs/design/policy.md, decision table). */
enum rw_oci_need {
	RW_OCI_NEED_NOTHING = 0, /* unknown operation: refused */
	RW_OCI_NEED_IDENTIFIED,  /* base: any identified client */
	RW_OCI_NEED_PULL,        /* pull on the repository */
	RW_OCI_NEED_PULL_ALL,    /* catalog: pull on every repository */
	RW_OCI_NEED_PUSH,        /* pull AND push on the repository (+ VPN rule) */
	RW_OCI_NEED_MOUNT,       /* as push, plus pull on ?from= */
	RW_OCI_NEED_DELETE,      /* delete on the repository (+ VPN rule) */
	RW_OCI_NEED_MAX_,
};

/*
 * The one operation table (rw_oci.c, `ops`): what each operation is and
 * needs. The class is derived from the need when the table is built, so
 * the class a log prints is always the right the decision checks:
 *   identified, pull -> pull; pull_all -> admin; push, mount -> push;
 *   delete -> delete; nothing -> unknown.
 */
struct rw_oci_op_info {
	const char *name;       /* rw_oci_op_str */
	enum rw_oci_class cls;  /* rw_oci_op_class */
	enum rw_oci_need need;
	bool push_op;           /* allowed: spends a push-operation token (rw_limit_op) */
	bool meters_upload;     /* carries blob or manifest bytes: paced (rw_limit_bytes) */
};

/* The row of op; any value outside the enum gets the unknown row. */
const struct rw_oci_op_info *rw_oci_op_info(enum rw_oci_op op);

const char *rw_oci_op_str(enum rw_oci_op op);
const char *rw_oci_class_str(enum rw_oci_class cls);
/* The class an operation belongs to (rw_oci_op_info(op)->cls). */
enum rw_oci_class rw_oci_op_class(enum rw_oci_op op);
/* What it needs (rw_oci_op_info(op)->need). */
enum rw_oci_need rw_oci_op_need(enum rw_oci_op op);

/* Spec grammar (distribution-spec v1.1.1, image-spec digest). */
bool rw_oci_valid_name(const char *s, size_t len);   /* also len <= 255 */
bool rw_oci_valid_tag(const char *s, size_t len);
bool rw_oci_valid_digest(const char *s, size_t len); /* also len <= 255 */

/* Byte classes as one lookup table (rw_oci_grammar.c), for the scanners
 * here and in rw_oci.c: a load and a test per byte. */
#define RW_OCI_C_LALNUM 0x01u /* [a-z0-9] */
#define RW_OCI_C_HEXL 0x02u   /* [0-9a-f] */
#define RW_OCI_C_TAG 0x04u    /* [A-Za-z0-9._-] */
#define RW_OCI_C_B64 0x08u    /* [A-Za-z0-9=_-]: digest encoded part, _state */
#define RW_OCI_C_UPID 0x10u   /* [A-Za-z0-9._=-]: upload ids */
#define RW_OCI_C_MEDIA 0x20u  /* RFC 6838 restricted-name characters */
#define RW_OCI_C_ALGSEP 0x40u /* [+._-] between digest algorithm components */
#define RW_OCI_C_TAG0 0x80u   /* [A-Za-z0-9_]: first byte of a tag */
extern const uint8_t rw_oci_ctype[256];
/* Every byte of s[0..len) has a bit of cls (true for len 0). */
bool rw_oci_all_class(const char *s, size_t len, uint8_t cls);
/* The length of the run of bytes with a bit of cls at the start of b. */
size_t rw_oci_run(const uint8_t *b, size_t len, uint8_t cls);

#endif
