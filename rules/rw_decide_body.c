/* The half of a request's decision that looks past the request target:
 * what the registry will read from the head fields and the body (see
 * rw_decide.h and docs/design/policy.md, "What the registry reads").
 *
 * Why this exists: distribution 2.8 reads mount, from, digest and _state
 * with Go's Request.FormValue. For POST, PUT and PATCH with
 * Content-Type application/x-www-form-urlencoded that parses the body too,
 * and body values win over the query; multipart/form-data bodies are
 * parsed for any method and fill in what the query lacks. A decision made
 * on the query alone is then a decision about another request. No
 * registry client sends a form to /v2/, so a form media type is refused
 * on every request, and a body is refused where the registry reads none
 * (an upload start that is not monolithic, a mount). */
#include "rules/rw_decide.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Case-insensitive (ASCII) search of needle in s[0..n). */
static bool ascii_contains(const uint8_t *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (strncasecmp((const char *)s + i, needle, k) == 0)
			return true;
	return false;
}

static enum rw_verdict refuse(struct rw_decision *d, int status, const char *code,
			      const char *reason, const char *msg)
{
	d->verdict = RW_VERDICT_DENY;
	d->status = status;
	d->code = code;
	d->reason = reason;
	d->counts_push_op = false;
	d->meters_upload = false;
	snprintf(d->message, sizeof(d->message), "regwall: %s", msg);
	return d->verdict;
}

enum rw_verdict rw_decide_body(const struct rw_http_req *http, const struct rw_oci_req *req,
			       struct rw_decision *d)
{
	if (!d)
		return RW_VERDICT_DENY;
	if (!http || !req)
		return refuse(d, 403, "DENIED", "internal", "internal error");
	const struct rw_http_field *ct = NULL;
	for (size_t i = 0; i < http->n_fields; i++) {
		const struct rw_http_field *f = &http->fields[i];
		if (f->name.len != 12 || strncasecmp((const char *)f->name.ptr, "content-type", 12))
			continue;
		/* Go's Header.Get reads the first field, another parser may
		 * read the last: which one counts is not ours to guess. */
		if (ct)
			return refuse(d, 400, "UNSUPPORTED", "content_type_duplicate",
				      "more than one Content-Type field");
		ct = f;
	}
	if (ct) {
		/* Go lower-cases the media type with Unicode rules (U+0130
		 * becomes 'i', U+212A 'k') and trims Unicode spaces, so a
		 * non-ASCII byte could turn into a form type there; media
		 * types are ASCII. */
		for (size_t i = 0; i < ct->value.len; i++)
			if (ct->value.ptr[i] >= 0x80)
				return refuse(d, 400, "UNSUPPORTED", "content_type_invalid",
					      "Content-Type is not ASCII");
		/* Anywhere in the value, not only as the media type: stricter
		 * than Go (which reads "type/subtype" before any ';'), so no
		 * parameter trick or other parser's reading gets a form
		 * through, and no registry media type contains these. */
		if (ascii_contains(ct->value.ptr, ct->value.len, "urlencoded") ||
		    ascii_contains(ct->value.ptr, ct->value.len, "multipart") ||
		    ascii_contains(ct->value.ptr, ct->value.len, "form-data"))
			return refuse(d, 403, "DENIED", "form_body",
				      "a form body (Content-Type urlencoded, multipart or form-data) "
				      "is not part of the registry API: the registry would read "
				      "request parameters from it; send blobs as "
				      "application/octet-stream");
	}
	bool body = http->framing == RW_HTTP_BODY_CHUNKED ||
		    (http->framing == RW_HTTP_BODY_LENGTH && http->content_length > 0);
	bool no_body_op = req->op == RW_OCI_OP_UPLOAD_MOUNT ||
			  (req->op == RW_OCI_OP_UPLOAD_START && !req->digest[0]);
	if (body && no_body_op)
		return refuse(d, 403, "DENIED", "upload_start_body",
			      "an upload start carries a body only with ?digest= (monolithic upload)");
	return RW_VERDICT_ALLOW;
}
