#include "fwd/rw_event.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/rw_err.h"

void rw_event_emit(const struct rw_fwd_events *events, const struct rw_fwd_event *ev)
{
	if (events && events->emit)
		events->emit(events->ctx, ev);
}

static bool rw_event_plain(unsigned char ch)
{
	return ch >= 0x21 && ch <= 0x7e && ch != '\\';
}

size_t rw_event_escape(const void *p, size_t n, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *b = p;
	size_t o = 0, full = 0;
	for (size_t i = 0; i < n; i++)
		full += rw_event_plain(b[i]) ? 1 : 4;
	for (size_t i = 0; i < n; i++) {
		bool plain = rw_event_plain(b[i]);
		size_t need = plain ? 1 : 4;
		/* when the whole does not fit, keep room for "..." */
		size_t reserve = full + 1 > cap ? 3 : 0;
		if (o + need + reserve + 1 > cap) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (plain) {
			out[o++] = (char)b[i];
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[b[i] >> 4];
			out[o++] = hex[b[i] & 15];
		}
	}
	out[o] = '\0';
	return o;
}

void rw_event_time_iso(uint64_t time_ms, char out[RW_EVENT_TIME_LEN])
{
	time_t s = (time_t)(time_ms / 1000u);
	struct tm tm;
	if (!gmtime_r(&s, &tm) ||
	    strftime(out, RW_EVENT_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
		snprintf(out, RW_EVENT_TIME_LEN, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out + 19, RW_EVENT_TIME_LEN - 19, ".%03uZ", (unsigned)(time_ms % 1000u));
}

static int rw_event_set_str(json_t *o, const char *key, const char *v)
{
	if (!v)
		return 0;
	/* Names come from the network (SNI is validated, but keep the log
	 * robust for any future field): invalid UTF-8 must not drop the line. */
	json_t *s = json_string(v);
	if (!s)
		s = json_string("<invalid-utf8>");
	return json_object_set_new(o, key, s) == 0 ? 0 : RW_ENOMEM;
}

static int rw_event_set_u64(json_t *o, const char *key, uint64_t v)
{
	return json_object_set_new(o, key, json_integer((json_int_t)v)) == 0 ? 0 : RW_ENOMEM;
}

char *rw_event_json_line(const struct rw_fwd_event *ev)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int rc = 0;
	char iso[RW_EVENT_TIME_LEN];
	rw_event_time_iso(ev->time_ms, iso);
	rc |= rw_event_set_u64(o, "time_ms", ev->time_ms);
	rc |= rw_event_set_str(o, "time", iso);
	rc |= rw_event_set_str(o, "kind", ev->kind);
	rc |= rw_event_set_str(o, "reason", ev->reason);
	rc |= rw_event_set_str(o, "listener", ev->listener);
	if (ev->src_family == AF_INET || ev->src_family == AF_INET6) {
		char a[INET6_ADDRSTRLEN];
		if (inet_ntop(ev->src_family, ev->src_addr, a, sizeof(a))) {
			rc |= rw_event_set_str(o, "src", a);
			rc |= rw_event_set_u64(o, "src_port", ev->src_port);
		}
	}
	rc |= rw_event_set_str(o, "sni", ev->sni);
	rc |= rw_event_set_str(o, "ja4", ev->ja4);
	rc |= rw_event_set_str(o, "identity", ev->identity);
	rc |= rw_event_set_str(o, "cert_subject", ev->cert_subject);
	rc |= rw_event_set_str(o, "cert_issuer", ev->cert_issuer);
	rc |= rw_event_set_str(o, "method", ev->method);
	rc |= rw_event_set_str(o, "repository", ev->repository);
	rc |= rw_event_set_str(o, "operation", ev->operation);
	rc |= rw_event_set_str(o, "reference", ev->reference);
	rc |= rw_event_set_str(o, "digest", ev->digest);
	rc |= rw_event_set_str(o, "from", ev->from);
	if (ev->status)
		rc |= rw_event_set_u64(o, "status", ev->status);
	rc |= rw_event_set_u64(o, "bytes_up", ev->bytes_up);
	rc |= rw_event_set_u64(o, "bytes_down", ev->bytes_down);
	rc |= rw_event_set_u64(o, "duration_ms", ev->duration_ms);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return line;
}

int rw_event_json_write(FILE *out, const struct rw_fwd_event *ev)
{
	char *line = rw_event_json_line(ev);
	if (!line)
		return RW_ENOMEM;
	int w = fprintf(out, "%s\n", line);
	free(line);
	if (w < 0 || fflush(out) != 0)
		return RW_EIO;
	return 0;
}

void rw_event_json_emit(void *ctx, const struct rw_fwd_event *ev)
{
	/* A log write failure must not stop forwarding; the edge watches the
	 * file (and metrics count events). */
	(void)rw_event_json_write((FILE *)ctx, ev);
}

void rw_event_json_sink(struct rw_fwd_events *events, FILE *out)
{
	events->emit = rw_event_json_emit;
	events->ctx = out;
}
