#include "appliance/rw_blocked_read.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "base/rw_err.h"

void rw_blocked_rec_clear(struct rw_blocked_rec *r)
{
	json_decref(r->obj);
	memset(r, 0, sizeof(*r));
}

/* A string member that must fit buf when present. */
static int rw_br_str(json_t *o, const char *key, char *buf, size_t cap, bool required)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return required ? RW_EPROTO : 0;
	const char *s = json_string_value(v);
	if (!s || json_string_length(v) >= cap || strlen(s) != json_string_length(v))
		return RW_EPROTO;
	memcpy(buf, s, json_string_length(v) + 1);
	return 0;
}

int rw_blocked_read_line(const char *line, size_t len, struct rw_blocked_rec *out)
{
	memset(out, 0, sizeof(*out));
	if (len > RW_BLOCKED_LINE_MAX)
		return RW_ETOOBIG;
	json_error_t err;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return RW_EPROTO;
	}
	out->obj = o;
	json_t *t = json_object_get(o, "time_ms");
	int r = 0;
	if (!json_is_integer(t) || json_integer_value(t) < 0)
		r = RW_EPROTO;
	else
		out->time_ms = (uint64_t)json_integer_value(t);
	if (!r)
		r = rw_br_str(o, "kind", out->kind, sizeof(out->kind), true);
	if (!r && strcmp(out->kind, "drop") && strcmp(out->kind, "refuse") &&
	    strcmp(out->kind, "summary") && strcmp(out->kind, "loss"))
		r = RW_EPROTO;
	if (!r)
		r = rw_br_str(o, "of", out->of, sizeof(out->of), false);
	if (!r)
		r = rw_br_str(o, "reason", out->reason, sizeof(out->reason),
			      strcmp(out->kind, "loss") != 0);
	char src[INET6_ADDRSTRLEN];
	src[0] = '\0';
	if (!r)
		r = rw_br_str(o, "src", src, sizeof(src), false);
	if (!r && src[0]) {
		if (inet_pton(AF_INET, src, out->src) == 1)
			out->family = AF_INET;
		else if (inet_pton(AF_INET6, src, out->src) == 1)
			out->family = AF_INET6;
		else
			r = RW_EPROTO;
		out->has_src = !r;
	}
	if (r)
		rw_blocked_rec_clear(out);
	return r;
}

bool rw_blocked_filter_match(const struct rw_blocked_filter *f, const struct rw_blocked_rec *r)
{
	if (f->since_ms && r->time_ms < f->since_ms)
		return false;
	if (f->reason && strcmp(f->reason, r->reason) != 0)
		return false;
	if (f->has_src && (!r->has_src || !rw_cidr_contains(&f->src, r->family, r->src)))
		return false;
	return true;
}

/* Untrusted text to a terminal: printable ASCII stays, the rest \xNN. */
static void rw_br_put(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\')
			fputc(*p, out);
		else
			fprintf(out, "\\x%02x", *p);
	}
}

static void rw_br_val(FILE *out, json_t *v)
{
	if (json_is_string(v))
		rw_br_put(out, json_string_value(v));
	else if (json_is_integer(v))
		fprintf(out, "%lld", (long long)json_integer_value(v));
	else if (json_is_true(v))
		fputs("true", out);
	else if (json_is_false(v))
		fputs("false", out);
	else
		fputs("?", out);
}

static void rw_br_field(FILE *out, json_t *o, const char *key, const char *before)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return;
	fputs(before, out);
	rw_br_val(out, v);
}

static bool rw_br_shown(const char *key)
{
	static const char *const shown[] = { "time", "time_ms", "kind", "of", "reason",
					     "listener", "src", "sport", "dst", "dport" };
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		if (strcmp(key, shown[i]) == 0)
			return true;
	return false;
}

void rw_blocked_print(FILE *out, const struct rw_blocked_rec *r)
{
	json_t *o = r->obj;
	rw_br_field(out, o, "time", "");
	fputc(' ', out);
	rw_br_put(out, r->kind);
	if (r->of[0]) {
		fputc('(', out);
		rw_br_put(out, r->of);
		fputc(')', out);
	}
	if (r->reason[0]) {
		fputc(' ', out);
		rw_br_put(out, r->reason);
	}
	rw_br_field(out, o, "listener", " ");
	rw_br_field(out, o, "src", " ");
	rw_br_field(out, o, "sport", ":");
	if (json_object_get(o, "dst") || json_object_get(o, "dport")) {
		fputs(" ->", out);
		rw_br_field(out, o, "dst", " ");
		rw_br_field(out, o, "dport", json_object_get(o, "dst") ? ":" : " :");
	}
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v) {
		if (rw_br_shown(key) || json_is_object(v) || json_is_array(v) || json_is_null(v))
			continue;
		fputc(' ', out);
		rw_br_put(out, key);
		fputc('=', out);
		rw_br_val(out, v);
	}
	fputc('\n', out);
}
