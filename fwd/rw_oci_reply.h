/* Refusals answered the way registry clients understand them: a complete
 * HTTP/1.1 response with the OCI error body
 *
 *   HTTP/1.1 403 Forbidden
 *   Content-Type: application/json
 *   Docker-Distribution-API-Version: registry/2.0
 *   Content-Length: 78
 *   Retry-After: 3                  (429, or whenever retry_after_s > 0)
 *   WWW-Authenticate: ...           (when given)
 *   Connection: close               (when asked)
 *
 *   {"errors":[{"code":"DENIED","message":"push to team-a/app requires the VPN"}]}
 *
 * docker, skopeo and containerd print "message" to the user, so it should
 * say what to do; "code" is one of the spec's codes. No heap: the caller
 * owns the buffer (1 KiB fits any message up to ~700 bytes). */
#ifndef RW_OCI_REPLY_H
#define RW_OCI_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rw_oci_reply {
	int status;                   /* 400..599 */
	const char *code;             /* [A-Z_]+, e.g. "DENIED", "TOOMANYREQUESTS" */
	const char *message;          /* any bytes; JSON-escaped, non-ASCII becomes '?' */
	bool close;                   /* add Connection: close */
	bool head_request;            /* answering HEAD: headers only, same Content-Length */
	uint64_t retry_after_s;       /* > 0: Retry-After; a 429 always gets one (at least 1) */
	const char *www_authenticate; /* 401 challenge value; NULL = none */
};

/* Write the response into buf[0..cap). 0 and *len = bytes written (a NUL
 * follows when there is room; it is not part of *len); RW_EINVAL for a
 * status outside 400..599, a malformed code, or CR/LF/CTL in
 * www_authenticate; RW_ERANGE when cap is too small (nothing usable). */
int rw_oci_reply_build(const struct rw_oci_reply *r, char *buf, size_t cap, size_t *len);

/* Milliseconds to wait -> Retry-After seconds (rounded up, at least 1). */
uint64_t rw_oci_reply_retry_s(uint64_t wait_ms);

/* The reason phrase we send for a status ("Forbidden"); "Error" if unknown. */
const char *rw_oci_reply_reason(int status);

#endif
