/* NFLOG record: header and TLVs, two passes (see rw_nflog.h for the wire
 * format). The L3/L4 decode of the PAYLOAD lives in rw_nflog_ip.c. */
#include "inspect/rw_nflog.h"

#include <string.h>
#include <sys/socket.h>

#include "base/rw_cursor.h"
#include "base/rw_err.h"

/* Allowed value sizes per known type (TLV length minus its 4-byte header).
 * The fixed-size ones are kernel ABI structs; a different size means the
 * bytes are not what we think they are, so the record is refused. */
struct rw_nflog_size {
	uint16_t min, max;
};

#define RW_NFLOG_ANY { 0, UINT16_MAX }
#define RW_NFLOG_EXACT(n) { (n), (n) }

static const struct rw_nflog_size rw_nflog_sizes[RW_NFULA_MAX + 1] = {
	[RW_NFULA_UNSPEC] = RW_NFLOG_ANY,
	[RW_NFULA_PACKET_HDR] = RW_NFLOG_EXACT(4), /* be16 hw_protocol, u8 hook, u8 pad */
	[RW_NFULA_MARK] = RW_NFLOG_EXACT(4),
	[RW_NFULA_TIMESTAMP] = RW_NFLOG_EXACT(16), /* be64 sec, be64 usec */
	[RW_NFULA_IFINDEX_INDEV] = RW_NFLOG_EXACT(4),
	[RW_NFULA_IFINDEX_OUTDEV] = RW_NFLOG_EXACT(4),
	[RW_NFULA_IFINDEX_PHYSINDEV] = RW_NFLOG_EXACT(4),
	[RW_NFULA_IFINDEX_PHYSOUTDEV] = RW_NFLOG_EXACT(4),
	[RW_NFULA_HWADDR] = RW_NFLOG_EXACT(12), /* be16 len, u16 pad, u8 addr[8] */
	[RW_NFULA_PAYLOAD] = RW_NFLOG_ANY,
	[RW_NFULA_PREFIX] = { 1, RW_NFLOG_PREFIX_MAX },
	[RW_NFULA_UID] = RW_NFLOG_EXACT(4),
	[RW_NFULA_SEQ] = RW_NFLOG_EXACT(4),
	[RW_NFULA_SEQ_GLOBAL] = RW_NFLOG_EXACT(4),
	[RW_NFULA_GID] = RW_NFLOG_EXACT(4),
	[RW_NFULA_HWTYPE] = RW_NFLOG_EXACT(2),
	[RW_NFULA_HWHEADER] = RW_NFLOG_ANY,
	[RW_NFULA_HWLEN] = RW_NFLOG_EXACT(2),
	[RW_NFULA_CT] = RW_NFLOG_ANY, /* nested; not read */
	[RW_NFULA_CT_INFO] = RW_NFLOG_EXACT(4),
	[RW_NFULA_VLAN] = RW_NFLOG_ANY, /* nested; not read */
	[RW_NFULA_L2HDR] = RW_NFLOG_ANY,
};

struct rw_nflog_attr {
	bool present;
	struct rw_cursor val;
};

static enum rw_inspect_result rw_nflog_refuse(struct rw_nflog_pkt *out, int err, const char *why)
{
	out->err = err;
	out->why = why;
	return RW_INSPECT_REFUSE;
}

/* Pass 1: walk the TLVs, check each length against what remains and each
 * known type's size, refuse duplicates, remember values in tb. Nothing is
 * interpreted here. */
static enum rw_inspect_result rw_nflog_index(struct rw_cursor *c, struct rw_nflog_attr *tb,
					     struct rw_nflog_pkt *out)
{
	while (rw_cur_left(c) > 0) {
		uint16_t alen = 0, atype = 0;
		if (rw_cur_left(c) < 4)
			return rw_nflog_refuse(out, RW_EPROTO, "trailing bytes after the last TLV");
		(void)rw_cur_u16_host(c, &alen);
		(void)rw_cur_u16_host(c, &atype);
		if (alen < 4)
			return rw_nflog_refuse(out, RW_EPROTO, "TLV length below its header");
		struct rw_cursor val;
		if (rw_cur_sub(c, (size_t)alen - 4, &val))
			return rw_nflog_refuse(out, RW_EPROTO, "TLV runs past the record");
		/* Padding to 4; the last TLV's padding may be missing from the
		 * record, which is harmless. */
		size_t pad = (((size_t)alen + 3) & ~(size_t)3) - alen;
		(void)rw_cur_skip(c, pad < rw_cur_left(c) ? pad : rw_cur_left(c));

		uint16_t type = atype & 0x7fff; /* NLA_F_NESTED may be set */
		if (type == RW_NFULA_UNSPEC || type > RW_NFULA_MAX)
			continue; /* unknown: newer kernel, skip */
		if (tb[type].present)
			return rw_nflog_refuse(out, RW_EPROTO, "duplicate TLV");
		if (rw_cur_left(&val) < rw_nflog_sizes[type].min ||
		    rw_cur_left(&val) > rw_nflog_sizes[type].max)
			return rw_nflog_refuse(out, RW_EPROTO, "TLV value size wrong for its type");
		tb[type].present = true;
		tb[type].val = val;
	}
	return RW_INSPECT_OK;
}

static uint32_t rw_nflog_u32(const struct rw_nflog_attr *a)
{
	struct rw_cursor c = a->val; /* size checked in pass 1 */
	uint32_t v = 0;
	(void)rw_cur_u32(&c, &v);
	return v;
}

static uint64_t rw_nflog_u64(struct rw_cursor *c)
{
	uint32_t hi = 0, lo = 0;
	(void)rw_cur_u32(c, &hi);
	(void)rw_cur_u32(c, &lo);
	return (uint64_t)hi << 32 | lo;
}

/* Pass 2: read values from the table only. */
static enum rw_inspect_result rw_nflog_fill(const struct rw_nflog_attr *tb, struct rw_nflog_pkt *out)
{
	if (tb[RW_NFULA_PREFIX].present) {
		/* The kernel sends strlen + 1 bytes; anything without a NUL
		 * inside its own length is not a C string we may copy. */
		const struct rw_cursor *p = &tb[RW_NFULA_PREFIX].val;
		const uint8_t *nul = memchr(rw_cur_ptr(p), '\0', rw_cur_left(p));
		if (!nul)
			return rw_nflog_refuse(out, RW_EPROTO, "prefix not NUL-terminated");
		/* at most RW_NFLOG_PREFIX_MAX bytes incl. the NUL (pass 1) */
		memcpy(out->prefix, rw_cur_ptr(p), rw_cur_left(p));
		out->has_prefix = true;
	}
	if (tb[RW_NFULA_PACKET_HDR].present) {
		struct rw_cursor c = tb[RW_NFULA_PACKET_HDR].val;
		(void)rw_cur_u16(&c, &out->hw_protocol);
		(void)rw_cur_u8(&c, &out->hook);
		out->has_hdr = true;
	}
	if (tb[RW_NFULA_IFINDEX_INDEV].present)
		out->indev = rw_nflog_u32(&tb[RW_NFULA_IFINDEX_INDEV]);
	if (tb[RW_NFULA_IFINDEX_OUTDEV].present)
		out->outdev = rw_nflog_u32(&tb[RW_NFULA_IFINDEX_OUTDEV]);
	if (tb[RW_NFULA_MARK].present) {
		out->mark = rw_nflog_u32(&tb[RW_NFULA_MARK]);
		out->has_mark = true;
	}
	if (tb[RW_NFULA_TIMESTAMP].present) {
		struct rw_cursor c = tb[RW_NFULA_TIMESTAMP].val;
		out->ts_sec = rw_nflog_u64(&c);
		out->ts_usec = rw_nflog_u64(&c);
		out->has_ts = true;
	}
	if (tb[RW_NFULA_UID].present) {
		out->uid = rw_nflog_u32(&tb[RW_NFULA_UID]);
		out->has_uid = true;
	}
	if (tb[RW_NFULA_GID].present) {
		out->gid = rw_nflog_u32(&tb[RW_NFULA_GID]);
		out->has_gid = true;
	}
	if (tb[RW_NFULA_SEQ].present) {
		out->seq = rw_nflog_u32(&tb[RW_NFULA_SEQ]);
		out->has_seq = true;
	}
	if (tb[RW_NFULA_PAYLOAD].present) {
		out->payload = rw_cur_ptr(&tb[RW_NFULA_PAYLOAD].val);
		out->payload_len = rw_cur_left(&tb[RW_NFULA_PAYLOAD].val);
	}
	return RW_INSPECT_OK;
}

/* Which L3 decoder applies: the nflog family for inet hooks; for bridge
 * and netdev families the ethertype from PACKET_HDR. 0 = none. */
static uint8_t rw_nflog_l3_family(const struct rw_nflog_pkt *out)
{
	if (out->family == AF_INET || out->family == AF_INET6)
		return out->family;
	if (out->has_hdr && out->hw_protocol == 0x0800)
		return AF_INET;
	if (out->has_hdr && out->hw_protocol == 0x86dd)
		return AF_INET6;
	return 0;
}

enum rw_inspect_result rw_nflog_decode(const uint8_t *rec, size_t len, struct rw_nflog_pkt *out)
{
	memset(out, 0, sizeof(*out));
	struct rw_cursor c;
	rw_cur_init(&c, rec, len);

	uint8_t version;
	if (rw_cur_u8(&c, &out->family) || rw_cur_u8(&c, &version) ||
	    rw_cur_u16(&c, &out->group))
		return rw_nflog_refuse(out, RW_EPROTO, "record shorter than the nflog header");
	if (version != 0)
		return rw_nflog_refuse(out, RW_EPROTO, "nflog version is not 0");

	struct rw_nflog_attr tb[RW_NFULA_MAX + 1];
	memset(tb, 0, sizeof(tb));
	if (rw_nflog_index(&c, tb, out) != RW_INSPECT_OK)
		return RW_INSPECT_REFUSE;
	if (rw_nflog_fill(tb, out) != RW_INSPECT_OK)
		return RW_INSPECT_REFUSE;

	uint8_t l3 = rw_nflog_l3_family(out);
	if (out->payload_len > 0 && l3 != 0) {
		int rc = rw_nflog_decode_ip(l3, out->payload, out->payload_len, out);
		if (rc != 0)
			return rw_nflog_refuse(out, rc, out->why ? out->why : "bad L3 header");
	}
	return RW_INSPECT_OK;
}

static bool rw_nflog_word_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == '-';
}

/* Copy one word of [A-Za-z0-9_.-] ending at 'end_ch'; returns the position
 * after it, or NULL. */
static const char *rw_nflog_word(const char *s, char end_ch, char *dst, size_t size, int *rc)
{
	size_t n = 0;
	while (rw_nflog_word_char(s[n]))
		n++;
	if (n == 0 || s[n] != end_ch) {
		*rc = RW_EINVAL;
		return NULL;
	}
	if (n >= size) {
		*rc = RW_ERANGE;
		return NULL;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return end_ch ? s + n + 1 : s + n;
}

int rw_nflog_prefix_split(const char *prefix, char *listener, size_t listener_size,
			  char *reason, size_t reason_size)
{
	static const char tag[] = "regwall ";
	if (!prefix || !listener || !reason || listener_size == 0 || reason_size == 0)
		return RW_EINVAL;
	listener[0] = reason[0] = '\0';
	if (strncmp(prefix, tag, sizeof(tag) - 1) != 0)
		return RW_EINVAL;
	int rc = 0;
	const char *p = rw_nflog_word(prefix + sizeof(tag) - 1, ' ', listener, listener_size, &rc);
	if (p)
		p = rw_nflog_word(p, '\0', reason, reason_size, &rc);
	if (!p) {
		listener[0] = reason[0] = '\0';
		return rc;
	}
	return 0;
}
