/* A worker's event line -> the audit record (rw_audit.h). The worker may
 * be compromised: its line is parsed with jansson, every field it gives
 * is type-, length- and grammar-checked, and only the fields below are
 * copied; seq, prev, time and the worker's pid and generation come from
 * the parent. A push, delete or refused write event that fails a check
 * is still recorded, as kind "invalid" with the field at fault and none
 * of the worker's strings, so a bad event cannot erase an attempt. */
#include "appliance/rw_audit.h"

#include <arpa/inet.h>
#include <string.h>

#include "inspect/rw_oci.h"

#define RW_AUDIT_FIELD_MAX 512u /* identity, certificate subject */

/* Operations that change a repository: a refusal of one is an audit line. */
static const char *const rw_audit_write_ops[] = {
	"manifest_put", "manifest_delete", "blob_delete", "upload_start",
	"upload_mount", "upload_chunk",    "upload_complete", "upload_cancel",
};
static const char *const rw_audit_push_reasons[] = { "manifest_put", "upload_complete",
						     "upload_start", "upload_mount" };
static const char *const rw_audit_delete_reasons[] = { "manifest_delete", "blob_delete" };
static const char *const rw_audit_write_methods[] = { "PUT", "POST", "PATCH", "DELETE" };

#define RW_AUDIT_IN(s, tab) rw_audit_in(s, tab, sizeof(tab) / sizeof(tab[0]))

static bool rw_audit_in(const char *s, const char *const *tab, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(s, tab[i]))
			return true;
	return false;
}

/* A string member, or NULL when absent; *bad when present but not a
 * string, with a NUL inside, or longer than max. */
static const char *rw_audit_get(json_t *ev, const char *key, size_t max, bool *bad)
{
	json_t *v = json_object_get(ev, key);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

static bool rw_audit_token(const char *s)
{
	if (!s[0] || strlen(s) > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

/* No control characters (the file is read by people and by grep). */
static bool rw_audit_printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static bool rw_audit_uint(json_t *ev, const char *key, uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(ev, key);
	*out = 0;
	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static json_t *rw_audit_invalid(const char *kind, const char *field, pid_t pid, unsigned gen)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I}", "kind", "invalid", "claimed_kind", kind,
			 "why", field, "worker_pid", (json_int_t)pid, "worker_generation",
			 (json_int_t)gen);
}

static int rw_audit_set(json_t *o, const char *key, const char *v)
{
	return v ? json_object_set_new(o, key, json_string(v)) : 0;
}

/* Which of the three audit kinds, or NULL. */
static const char *rw_audit_kind(json_t *ev, bool *bad)
{
	const char *kind = rw_audit_get(ev, "kind", 16, bad);
	if (!kind)
		return NULL;
	if (!strcmp(kind, "push") || !strcmp(kind, "delete"))
		return kind;
	if (strcmp(kind, "refuse") != 0)
		return NULL;
	/* a refusal is an audit line when it refused a write request */
	bool b2 = false;
	const char *op = rw_audit_get(ev, "operation", 64, &b2);
	const char *m = rw_audit_get(ev, "method", 16, &b2);
	if (RW_AUDIT_IN(op, rw_audit_write_ops) || RW_AUDIT_IN(m, rw_audit_write_methods))
		return kind;
	return NULL;
}

static json_t *rw_audit_build(json_t *ev, const char *kind, pid_t pid, unsigned gen)
{
	bool bad = false;
#define GET(k, max) rw_audit_get(ev, k, max, &bad); if (bad) return rw_audit_invalid(kind, k, pid, gen)
	const char *reason = GET("reason", 64);
	const char *op = GET("operation", 64);
	const char *method = GET("method", 16);
	const char *listener = GET("listener", 64);
	const char *identity = GET("identity", RW_AUDIT_FIELD_MAX);
	const char *subject = GET("cert_subject", RW_AUDIT_FIELD_MAX);
	const char *src = GET("src", 64);
	const char *repo = GET("repository", RW_OCI_NAME_MAX);
	const char *ref = GET("reference", RW_OCI_REF_MAX);
	const char *digest = GET("digest", RW_OCI_DIGEST_MAX);
	const char *from = GET("from", RW_OCI_NAME_MAX);
	const char *wtime = GET("time", 32);
#undef GET
	if (!reason || !rw_audit_token(reason))
		return rw_audit_invalid(kind, "reason", pid, gen);
	if (!strcmp(kind, "push") && !RW_AUDIT_IN(reason, rw_audit_push_reasons))
		return rw_audit_invalid(kind, "reason", pid, gen);
	if (!strcmp(kind, "delete") && !RW_AUDIT_IN(reason, rw_audit_delete_reasons))
		return rw_audit_invalid(kind, "reason", pid, gen);
	if (op && !rw_audit_token(op))
		return rw_audit_invalid(kind, "operation", pid, gen);
	if (method && !RW_AUDIT_IN(method, rw_audit_write_methods) && strcmp(method, "GET") &&
	    strcmp(method, "HEAD"))
		return rw_audit_invalid(kind, "method", pid, gen);
	if (listener && (!listener[0] || !rw_audit_printable(listener)))
		return rw_audit_invalid(kind, "listener", pid, gen);
	if (identity && !rw_audit_printable(identity))
		return rw_audit_invalid(kind, "identity", pid, gen);
	if (subject && !rw_audit_printable(subject))
		return rw_audit_invalid(kind, "cert_subject", pid, gen);
	uint8_t addr[16];
	if (src && inet_pton(strchr(src, ':') ? AF_INET6 : AF_INET, src, addr) != 1)
		return rw_audit_invalid(kind, "src", pid, gen);
	if (repo && !rw_oci_valid_name(repo, strlen(repo)))
		return rw_audit_invalid(kind, "repository", pid, gen);
	if (from && !rw_oci_valid_name(from, strlen(from)))
		return rw_audit_invalid(kind, "from", pid, gen);
	if (digest && !rw_oci_valid_digest(digest, strlen(digest)))
		return rw_audit_invalid(kind, "digest", pid, gen);
	if (ref && !rw_oci_valid_tag(ref, strlen(ref)) && !rw_oci_valid_digest(ref, strlen(ref)))
		return rw_audit_invalid(kind, "reference", pid, gen);
	if (wtime) {
		for (const char *p = wtime; *p; p++)
			if (!((*p >= '0' && *p <= '9') || strchr("TZ:.-", *p)))
				return rw_audit_invalid(kind, "time", pid, gen);
	}
	uint64_t status, bytes, port;
	if (!rw_audit_uint(ev, "status", 999, &status))
		return rw_audit_invalid(kind, "status", pid, gen);
	if (!rw_audit_uint(ev, "bytes_up", UINT64_C(1) << 62, &bytes))
		return rw_audit_invalid(kind, "bytes_up", pid, gen);
	if (!rw_audit_uint(ev, "src_port", 65535, &port))
		return rw_audit_invalid(kind, "src_port", pid, gen);
	/* the record, in a fixed order */
	json_t *o = json_object();
	int rc = 0;
	rc |= rw_audit_set(o, "kind", kind);
	if (!strcmp(kind, "refuse")) {
		rc |= rw_audit_set(o, "op", op ? op : "unknown");
		/* the registry failed it (502/504), or regwall refused it */
		bool failed = !strcmp(reason, "upstream_failed") || !strcmp(reason, "upstream_timeout");
		rc |= rw_audit_set(o, "result", failed ? "failed" : "refused");
		rc |= rw_audit_set(o, "reason", reason);
	} else {
		rc |= rw_audit_set(o, "op", reason);
		rc |= rw_audit_set(o, "result", "done");
	}
	if (status)
		rc |= json_object_set_new(o, "status", json_integer((json_int_t)status));
	rc |= rw_audit_set(o, "identity", identity);
	rc |= rw_audit_set(o, "cert_subject", subject);
	rc |= rw_audit_set(o, "src", src);
	if (src)
		rc |= json_object_set_new(o, "src_port", json_integer((json_int_t)port));
	rc |= rw_audit_set(o, "listener", listener);
	rc |= rw_audit_set(o, "method", method);
	rc |= rw_audit_set(o, "repository", repo);
	rc |= rw_audit_set(o, "reference", ref);
	rc |= rw_audit_set(o, "digest", digest);
	rc |= rw_audit_set(o, "from", from);
	rc |= json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
	rc |= json_object_set_new(o, "worker_pid", json_integer((json_int_t)pid));
	rc |= json_object_set_new(o, "worker_generation", json_integer((json_int_t)gen));
	rc |= rw_audit_set(o, "worker_time", wtime);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *rw_audit_record_of(struct rw_evline *e, pid_t pid, unsigned generation, int *unparsed)
{
	*unparsed = 0;
	json_t *ev = rw_evline_obj(e);
	if (!ev) {
		*unparsed = 1;
		return NULL;
	}
	bool bad = false;
	const char *kind = rw_audit_kind(ev, &bad);
	return kind ? rw_audit_build(ev, kind, pid, generation) : NULL;
}

json_t *rw_audit_record(const char *line, size_t len, pid_t pid, unsigned generation, int *unparsed)
{
	struct rw_evline e = rw_evline_of(line, len);
	json_t *o = rw_audit_record_of(&e, pid, generation, unparsed);
	rw_evline_fini(&e);
	return o;
}
