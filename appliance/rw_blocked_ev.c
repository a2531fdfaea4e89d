/* The blocked log's two front ends: an NFLOG record of a kernel drop, and
 * a worker's refusal event (untrusted JSON). Both become one struct
 * rw_blocked_att, which the flood control admits or counts. */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "appliance/rw_blocked_int.h"
#include "inspect/rw_nflog.h"

static uint64_t rw_blocked_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void rw_blocked_ifname(struct rw_blocked *b, uint32_t idx, char out[16])
{
	out[0] = '\0';
	if (!idx)
		return;
	size_t slot = idx % RW_BLOCKED_IFCACHE;
	if (b->ifc[slot].idx != (int)idx) {
		char name[IF_NAMESIZE];
		if (!if_indextoname(idx, name))
			snprintf(name, sizeof(name), "if%u", (unsigned)idx);
		b->ifc[slot].idx = (int)idx;
		snprintf(b->ifc[slot].name, sizeof(b->ifc[slot].name), "%s", name);
	}
	memcpy(out, b->ifc[slot].name, 16);
}

static const char *rw_blocked_proto(uint8_t p, char buf[8])
{
	switch (p) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "ipv6-icmp";
	default: snprintf(buf, 8, "%u", (unsigned)p); return buf;
	}
}

static void rw_blocked_flags(uint8_t f, char out[12])
{
	static const char letters[] = "FSRPAUEC";
	size_t o = 0;
	for (int i = 0; i < 8; i++)
		if (f & (1u << i))
			out[o++] = letters[i];
	out[o] = '\0';
}

/* The kernel numbers every record of our instance from 0
 * (NFULNL_CFG_F_SEQ): a jump is the count of records it could not deliver
 * (socket overflow, a truncated datagram). */
static void rw_blocked_seq(struct rw_blocked *b, const struct rw_nflog_pkt *pk)
{
	if (!pk->has_seq)
		return;
	uint32_t gap = pk->seq - b->seq_next;
	if (gap < (1u << 31))
		b->kernel_lost += gap;
	/* else: an older number (reordering): not a loss */
	if (gap < (1u << 31))
		b->seq_next = pk->seq + 1;
}

void rw_blocked_on_nflog(struct rw_blocked *b, const uint8_t *rec, size_t len, uint64_t now_ms)
{
	if (!b->on)
		return;
	b->records++;
	struct rw_nflog_pkt pk;
	struct rw_blocked_att a;
	memset(&a, 0, sizeof(a));
	a.origin = RW_BLOCKED_DROP;
	enum rw_inspect_result r = rw_nflog_decode(rec, len, &pk);
	rw_blocked_seq(b, &pk);
	a.time_ms = now_ms;
	a.time_us = now_ms * 1000u;
	if (pk.has_ts && pk.ts_sec < (1ull << 40) && pk.ts_usec < 1000000u) {
		a.time_us = pk.ts_sec * 1000000u + pk.ts_usec;
		a.time_ms = a.time_us / 1000u;
	}
	if (r != RW_INSPECT_OK) {
		b->undecodable++;
		a.reason = "undecodable";
		a.error = pk.why;
	} else {
		a.reason = pk.has_prefix ? rw_blocked_reason(pk.prefix, a.listener,
							     sizeof(a.listener), a.prefix_esc,
							     sizeof(a.prefix_esc))
					 : "other";
		if (pk.ip_version) {
			a.family = a.dst_family = pk.ip_version == 4 ? AF_INET : AF_INET6;
			memcpy(a.src, pk.src, 16);
			memcpy(a.dst, pk.dst, 16);
			char pb[8];
			a.proto = rw_blocked_proto(pk.proto, pb);
			if (a.proto == pb)
				a.proto = NULL; /* numbers below */
			a.has_ports = a.has_dport = pk.has_ports;
			a.sport = pk.sport;
			a.dport = pk.dport;
			if (pk.proto == IPPROTO_TCP && pk.l4 == RW_NFLOG_L4_OK)
				rw_blocked_flags(pk.tcp_flags, a.tcp_flags);
		}
		if (!a.listener[0] && pk.has_ports) {
			const struct rw_blocked_lsn *l =
				rw_blocked_find_lsn(b, NULL, a.family, a.dst, a.dport);
			if (l)
				snprintf(a.listener, sizeof(a.listener), "%s", l->name);
		}
		rw_blocked_ifname(b, pk.indev, a.in_if);
		rw_blocked_ifname(b, pk.outdev, a.out_if);
	}
	if (!rw_blocked_admit(b, &a, now_ms))
		return;
	char pnum[8];
	if (r == RW_INSPECT_OK && pk.ip_version && !a.proto) {
		snprintf(pnum, sizeof(pnum), "%u", (unsigned)pk.proto);
		a.proto = pnum;
	}
	rw_blocked_emit(b, &a, rec, len);
}

static void rw_blocked_cap_cb(void *ctx, const uint8_t *rec, size_t len)
{
	rw_blocked_on_nflog(ctx, rec, len, rw_blocked_now_ms());
}

void rw_blocked_on_readable(struct rw_blocked *b, uint64_t now_ms)
{
	(void)now_ms;
	/* a bounded batch per turn: the loop's other work is not starved;
	 * the rest stays queued in the socket (8 MiB) */
	(void)rw_nflog_cap_read(&b->cap, 64, rw_blocked_cap_cb, b);
	/* an unexpected socket error repeats on the next readiness; records
	 * it cost show as a sequence gap */
}

/* --- worker refusals --- */

#define RW_BLOCKED_FIELD_MAX 1024

static bool rw_blocked_token(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* The fields a refusal may add, copied only as bounded strings. */
static const char *const rw_blocked_extra_keys[] = {
	"sni", "identity", "cert_subject", "cert_issuer", "method", "repository",
	"operation", "reference", "ja4", "peer",
};

/* Validate and copy; false for an event that breaks the contract. */
static bool rw_blocked_refusal(struct rw_blocked *b, json_t *o, struct rw_blocked_att *a,
			       json_t *extra, uint64_t now_ms)
{
	const char *reason = json_string_value(json_object_get(o, "reason"));
	if (!reason || !rw_blocked_token(reason, RW_BLOCKED_REASON_MAX - 1))
		return false;
	a->reason = reason;
	json_t *v = json_object_get(o, "listener");
	if (v) {
		const char *l = json_string_value(v);
		if (!l || !rw_blocked_token(l, RW_NAME_MAX - 1))
			return false;
		snprintf(a->listener, sizeof(a->listener), "%s", l);
	}
	a->time_ms = now_ms;
	v = json_object_get(o, "time_ms");
	if (v) {
		if (!json_is_integer(v))
			return false;
		json_int_t t = json_integer_value(v);
		/* the worker's clock is ours; a value far off is not trusted */
		if (t > 0 && (uint64_t)t + 86400000u > now_ms && (uint64_t)t < now_ms + 86400000u)
			a->time_ms = (uint64_t)t;
	}
	a->time_us = a->time_ms * 1000u;
	v = json_object_get(o, "src");
	if (v) {
		const char *s = json_string_value(v);
		if (!s || strlen(s) >= INET6_ADDRSTRLEN)
			return false;
		if (inet_pton(AF_INET, s, a->src) == 1)
			a->family = AF_INET;
		else if (inet_pton(AF_INET6, s, a->src) == 1)
			a->family = AF_INET6;
		else
			return false;
	}
	v = json_object_get(o, "src_port");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 65535)
			return false;
		a->has_ports = true;
		a->sport = (uint16_t)json_integer_value(v);
	}
	for (size_t i = 0; i < sizeof(rw_blocked_extra_keys) / sizeof(char *); i++) {
		v = json_object_get(o, rw_blocked_extra_keys[i]);
		if (!v || json_is_null(v))
			continue;
		const char *s = json_string_value(v);
		if (!s || json_string_length(v) > RW_BLOCKED_FIELD_MAX ||
		    strlen(s) != json_string_length(v))
			return false;
		json_object_set(extra, rw_blocked_extra_keys[i], v);
	}
	a->proto = "tcp";
	const struct rw_blocked_lsn *l =
		a->listener[0] ? rw_blocked_find_lsn(b, a->listener, 0, NULL, 0) : NULL;
	if (l) {
		a->has_dport = true;
		a->dport = l->ep.port;
		if (!l->any) {
			a->dst_family = l->ep.family;
			memcpy(a->dst, l->ep.addr, 16);
		}
	}
	a->extra = extra;
	return true;
}

bool rw_blocked_on_event(struct rw_blocked *b, const char *line, size_t len, uint64_t now_ms)
{
	struct rw_evline e = rw_evline_of(line, len);
	bool r = rw_blocked_on_evline(b, &e, now_ms);
	rw_evline_fini(&e);
	return r;
}

bool rw_blocked_on_evline(struct rw_blocked *b, struct rw_evline *e, uint64_t now_ms)
{
	/* most events are not refusals: no JSON parse for them here */
	if (!b->on || !memmem(e->line, e->len, "\"refuse\"", 8))
		return false;
	json_t *o = rw_evline_obj(e); /* borrowed */
	if (!o) {
		b->bad_events++; /* a worker's line that is not a JSON object */
		return true;
	}
	const char *kind = json_string_value(json_object_get(o, "kind"));
	if (!kind || strcmp(kind, "refuse") != 0)
		return false;
	struct rw_blocked_att a;
	memset(&a, 0, sizeof(a));
	a.origin = RW_BLOCKED_REFUSE;
	json_t *extra = json_object();
	if (!extra || !rw_blocked_refusal(b, o, &a, extra, now_ms)) {
		b->bad_events++;
	} else {
		b->refusals++;
		if (rw_blocked_admit(b, &a, now_ms))
			rw_blocked_emit(b, &a, NULL, 0);
	}
	json_decref(extra);
	return true;
}
