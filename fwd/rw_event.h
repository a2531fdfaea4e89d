/* The narrow decision-event interface between the data path and whoever
 * records decisions (blocked log, audit log, metrics, tests).
 *
 * fwd/ fills one struct rw_fwd_event per decision and hands it to
 * events->emit(). The event and every string in it are only valid during
 * the call: copy what you keep. emit runs on the worker's loop thread and
 * must not block for long (the default writer does one fwrite + fflush).
 *
 * Kinds and reasons (stable tokens, also the JSON values):
 *   "refuse" with reason: "overload" (connection limit of the worker),
 *     "source_limit" (per-source limit), "hello_timeout", "no_sni", "sni"
 *     (name not on the listener's list), "ech", "tls_<refuse code>" (from
 *     inspect, e.g. "tls_not_tls"), "hello_eof" (client closed or reset
 *     before a full hello), "connect_failed", "connect_timeout",
 *     "upstream_error".
 *   "pass" (a passthrough connection ended) with reason: "done" (both
 *     directions finished), "reset" (either side reset), "idle_timeout",
 *     "error" (a socket error other than a reset).
 *   Terminate mode (fwd/rw_term.h lists its reasons): "refuse" for a
 *     refused connection or request, "push" for a push operation the
 *     registry answered: reason "manifest_put" (201), "upload_mount"
 *     (any answer: 201 linked, 202 did not), "upload_complete" and
 *     "upload_start" (monolithic, ?digest=) when 2xx; with repository,
 *     reference, digest (Docker-Content-Digest, else the one asked for),
 *     from (the mount source), status, bytes_up of the request, identity;
 *     "delete" for a manifest or blob deletion the registry answered 2xx
 *     (reason "manifest_delete", also a tag deleted by name, or
 *     "blob_delete"); "term" when a terminated connection ends.
 * Every JSON line carries "time_ms" and "time", the same instant as ISO
 * 8601 UTC with milliseconds ("2026-12-04T03:12:45.123Z").
 * Fields not known for an event are NULL / 0. */
#ifndef RW_EVENT_H
#define RW_EVENT_H

#include <stdint.h>
#include <stdio.h>

struct rw_fwd_event {
	uint64_t time_ms;     /* wall clock (CLOCK_REALTIME), ms since the epoch */
	const char *kind;     /* "refuse" | "pass" */
	const char *reason;
	const char *listener; /* listener name */
	uint8_t src_family;   /* AF_INET / AF_INET6, 0 if unknown */
	uint8_t src_addr[16];
	uint16_t src_port;    /* host order */
	const char *sni;      /* NULL when the hello was not (fully) seen; a refused
			       * name as asked, through rw_event_escape */
	const char *ja4;
	const char *identity; /* terminate mode; NULL in passthrough */
	const char *cert_subject; /* a verified client certificate no identity names,
				   * or the one a refusal (client_cert_*) is about */
	const char *cert_issuer;  /* refusals (client_cert_*): that certificate's issuer */
	const char *method, *repository, *operation, *digest; /* terminate mode */
	const char *reference; /* terminate mode: tag or digest of a pushed manifest */
	const char *from;     /* terminate mode: a mount's source repository */
	unsigned status;      /* terminate mode: the status the client got; 0 = none */
	uint64_t bytes_up;    /* client -> registry, hello included */
	uint64_t bytes_down;  /* registry -> client */
	uint64_t duration_ms; /* accept to decision / close */
};

struct rw_fwd_events {
	void (*emit)(void *ctx, const struct rw_fwd_event *ev);
	void *ctx;
};

/* Longest escaped string rw_event_escape writes, NUL included. */
#define RW_EVENT_STR_MAX 256

/* Untrusted bytes (a refused server name, a name from an unverified
 * certificate) as a printable, bounded event string: bytes 0x21..0x7e
 * other than '\\' stay, every other byte becomes "\\xNN"; output that
 * would not fit in cap (at most RW_EVENT_STR_MAX is needed) ends in "..."
 * and never in a cut escape. Returns the length written. cap >= 4. */
size_t rw_event_escape(const void *p, size_t n, char *out, size_t cap);

/* time_ms as ISO 8601 UTC with milliseconds, "2026-12-04T03:12:45.123Z"
 * (out holds RW_EVENT_TIME_LEN bytes). */
#define RW_EVENT_TIME_LEN 25
void rw_event_time_iso(uint64_t time_ms, char out[RW_EVENT_TIME_LEN]);

/* Call events->emit if events and emit are set. */
void rw_event_emit(const struct rw_fwd_events *events, const struct rw_fwd_event *ev);

/* The event as one JSON object on one line (no '\n'), malloc'd; NULL when
 * out of memory. */
char *rw_event_json_line(const struct rw_fwd_event *ev);
/* Default sink: one JSON object per line (jansson), written and flushed.
 * Returns 0, RW_ENOMEM or RW_EIO. */
int rw_event_json_write(FILE *out, const struct rw_fwd_event *ev);
/* emit-compatible wrapper: ctx is the FILE*. */
void rw_event_json_emit(void *ctx, const struct rw_fwd_event *ev);
/* Fill *events so that every event goes to out as a JSON line. */
void rw_event_json_sink(struct rw_fwd_events *events, FILE *out);

#endif
