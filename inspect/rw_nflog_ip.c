/* L3/L4 decode of an NFLOG PAYLOAD: the packet from its IP header, cut at
 * the rule's snaplen. The packet is attacker-made, the cut is the kernel's:
 * an L3 header we cannot attribute is refused, anything odd further in is
 * reported in out->l4 rather than refused, so the blocked log still shows
 * who sent it. */
#include "inspect/rw_nflog.h"

#include <string.h>
#include <sys/socket.h>

#include "base/rw_cursor.h"
#include "base/rw_err.h"

enum {
	RW_IPPROTO_HOPOPTS = 0,
	RW_IPPROTO_ICMP = 1,
	RW_IPPROTO_TCP = 6,
	RW_IPPROTO_UDP = 17,
	RW_IPPROTO_ROUTING = 43,
	RW_IPPROTO_FRAGMENT = 44,
	RW_IPPROTO_AH = 51,
	RW_IPPROTO_ICMPV6 = 58,
	RW_IPPROTO_DSTOPTS = 60,
};

static int rw_nflog_l3_bad(struct rw_nflog_pkt *out, int err, const char *why)
{
	out->why = why;
	return err;
}

/* The L4 header needed 'need' bytes and only part is here: the kernel cut
 * it (the IP packet is longer than what we got) or the packet itself is
 * that short. */
static void rw_nflog_l4_short(struct rw_nflog_pkt *out)
{
	out->l4 = out->l3_truncated ? RW_NFLOG_L4_TRUNCATED : RW_NFLOG_L4_MALFORMED;
}

/* TCP:
 *   0      2      4          8          12    13     14
 *   | sport| dport| seq      | ack      |doff | flags | window ...
 *   doff (high nibble, 32-bit words) >= 5, header within the segment.
 * UDP:  | sport | dport | length (>= 8) | checksum |
 * ICMP / ICMPv6: | type | code | checksum | ...
 * 'seg_len' is the L4 length the IP header claims; c holds what we got. */
static void rw_nflog_l4(uint8_t proto, struct rw_cursor *c, size_t seg_len, struct rw_nflog_pkt *out)
{
	switch (proto) {
	case RW_IPPROTO_TCP:
	case RW_IPPROTO_UDP:
		if (rw_cur_u16(c, &out->sport) || rw_cur_u16(c, &out->dport)) {
			rw_nflog_l4_short(out);
			return;
		}
		out->has_ports = true;
		break;
	case RW_IPPROTO_ICMP:
	case RW_IPPROTO_ICMPV6:
		if (rw_cur_u8(c, &out->icmp_type) || rw_cur_u8(c, &out->icmp_code)) {
			rw_nflog_l4_short(out);
			return;
		}
		out->has_icmp = true;
		out->l4 = RW_NFLOG_L4_OK;
		return;
	default:
		out->l4 = RW_NFLOG_L4_NONE;
		return;
	}

	if (proto == RW_IPPROTO_UDP) {
		if (rw_cur_u16(c, &out->udp_len)) {
			rw_nflog_l4_short(out);
			return;
		}
		/* A first fragment carries the whole datagram's length, so the
		 * upper bound only holds for unfragmented packets. */
		if (out->udp_len < 8 || (!out->is_fragment && out->udp_len > seg_len))
			out->l4 = RW_NFLOG_L4_MALFORMED;
		else
			out->l4 = RW_NFLOG_L4_OK;
		return;
	}

	/* TCP: bytes 4..11 are seq/ack, then data offset and flags */
	uint8_t doff;
	if (rw_cur_skip(c, 8) || rw_cur_u8(c, &doff) || rw_cur_u8(c, &out->tcp_flags) ||
	    rw_cur_skip(c, 6)) {
		rw_nflog_l4_short(out);
		return;
	}
	size_t hlen = (size_t)(doff >> 4) * 4;
	if (hlen < 20 || (!out->is_fragment && hlen > seg_len))
		out->l4 = RW_NFLOG_L4_MALFORMED;
	else
		out->l4 = RW_NFLOG_L4_OK;
}

/* IPv4:
 *   0        1     2          4     6             8     9       10     12    16    20
 *   |ver|ihl | tos | tot_len  | id  |flags|offset | ttl | proto | csum | src | dst | options
 *   ihl >= 5 (32-bit words), tot_len >= ihl * 4, offset in 8-byte units. */
static int rw_nflog_ipv4(struct rw_cursor *c, struct rw_nflog_pkt *out)
{
	uint8_t vihl, tos, ttl;
	uint16_t tot, id, frag, csum;
	if (rw_cur_u8(c, &vihl))
		return rw_nflog_l3_bad(out, RW_EPROTO, "IPv4 header cut short");
	if (vihl >> 4 != 4)
		return rw_nflog_l3_bad(out, RW_EPROTO, "payload is not IPv4");
	size_t ihl = (size_t)(vihl & 0x0f) * 4;
	if (ihl < 20)
		return rw_nflog_l3_bad(out, RW_EPROTO, "IPv4 header length below 20");
	if (rw_cur_u8(c, &tos) || rw_cur_u16(c, &tot) || rw_cur_u16(c, &id) ||
	    rw_cur_u16(c, &frag) || rw_cur_u8(c, &ttl) || rw_cur_u8(c, &out->proto) ||
	    rw_cur_u16(c, &csum) || rw_cur_copy(c, out->src, 4) || rw_cur_copy(c, out->dst, 4) ||
	    rw_cur_skip(c, ihl - 20))
		return rw_nflog_l3_bad(out, RW_EPROTO, "IPv4 header cut short");
	if (tot < ihl)
		return rw_nflog_l3_bad(out, RW_EPROTO, "IPv4 total length below header length");
	out->ip_version = 4;
	out->ttl = ttl;
	out->ip_len = tot;
	out->frag_offset = (uint16_t)((frag & 0x1fff) * 8);
	out->is_fragment = (frag & 0x2000) || out->frag_offset != 0;

	size_t seg_len = tot - ihl;
	out->l3_truncated = rw_cur_left(c) < seg_len;
	if (out->frag_offset != 0) {
		out->l4 = RW_NFLOG_L4_FRAGMENT; /* the L4 header is in fragment 0 */
		return 0;
	}
	/* Bytes past tot_len (link padding) are not part of the packet. */
	struct rw_cursor l4;
	(void)rw_cur_sub(c, out->l3_truncated ? rw_cur_left(c) : seg_len, &l4);
	rw_nflog_l4(out->proto, &l4, seg_len, out);
	return 0;
}

/* IPv6:
 *   0                4           6    7         8      24     40
 *   |ver|class|flow  | payload_len| nh | hop lim | src  | dst  | ext headers, L4
 * Extension headers: hop-by-hop 0, routing 43, destination 60
 *   | nh | len (8-byte units, not counting the first 8) | ...
 * fragment 44 (8 bytes): | nh | res | offset(13)|res(2)|M(1) | id (4) |
 * AH 51: | nh | len (4-byte units minus 2) | ... */
static int rw_nflog_ipv6(struct rw_cursor *c, struct rw_nflog_pkt *out)
{
	uint8_t v, skip3[3], nh, hlim;
	uint16_t plen;
	if (rw_cur_u8(c, &v))
		return rw_nflog_l3_bad(out, RW_EPROTO, "IPv6 header cut short");
	if (v >> 4 != 6)
		return rw_nflog_l3_bad(out, RW_EPROTO, "payload is not IPv6");
	if (rw_cur_copy(c, skip3, 3) || rw_cur_u16(c, &plen) || rw_cur_u8(c, &nh) ||
	    rw_cur_u8(c, &hlim) || rw_cur_copy(c, out->src, 16) || rw_cur_copy(c, out->dst, 16))
		return rw_nflog_l3_bad(out, RW_EPROTO, "IPv6 header cut short");
	out->ip_version = 6;
	out->ttl = hlim;
	out->ip_len = 40u + plen;
	out->l3_truncated = rw_cur_left(c) < plen;

	struct rw_cursor l4;
	(void)rw_cur_sub(c, out->l3_truncated ? rw_cur_left(c) : plen, &l4);
	size_t seg_len = plen; /* shrinks as extension headers are passed */

	for (unsigned i = 0;; i++) {
		out->proto = nh;
		if (nh != RW_IPPROTO_HOPOPTS && nh != RW_IPPROTO_ROUTING &&
		    nh != RW_IPPROTO_DSTOPTS && nh != RW_IPPROTO_FRAGMENT && nh != RW_IPPROTO_AH)
			break;
		if (i >= RW_NFLOG_MAX_EXTHDR) {
			out->l4 = RW_NFLOG_L4_NONE; /* bounded walk; L3 stays valid */
			return 0;
		}
		uint8_t next, hl;
		if (rw_cur_peek_u8(&l4, 0, &next) || rw_cur_peek_u8(&l4, 1, &hl)) {
			rw_nflog_l4_short(out);
			return 0;
		}
		size_t len;
		if (nh == RW_IPPROTO_FRAGMENT) {
			uint8_t b2, b3;
			if (rw_cur_peek_u8(&l4, 2, &b2) || rw_cur_peek_u8(&l4, 3, &b3)) {
				rw_nflog_l4_short(out);
				return 0;
			}
			out->is_fragment = true;
			out->frag_offset = (uint16_t)(((unsigned)b2 << 8 | b3) & 0xfff8);
			len = 8;
		} else if (nh == RW_IPPROTO_AH) {
			len = ((size_t)hl + 2) * 4;
		} else {
			len = ((size_t)hl + 1) * 8;
		}
		if (rw_cur_skip(&l4, len)) {
			rw_nflog_l4_short(out);
			return 0;
		}
		seg_len = seg_len >= len ? seg_len - len : 0;
		nh = next;
		if (out->is_fragment && out->frag_offset != 0) {
			out->proto = nh;
			out->l4 = RW_NFLOG_L4_FRAGMENT;
			return 0;
		}
	}
	rw_nflog_l4(out->proto, &l4, seg_len, out);
	return 0;
}

int rw_nflog_decode_ip(uint8_t family, const uint8_t *pkt, size_t len, struct rw_nflog_pkt *out)
{
	struct rw_cursor c;
	rw_cur_init(&c, pkt, len);
	if (family == AF_INET)
		return rw_nflog_ipv4(&c, out);
	if (family == AF_INET6)
		return rw_nflog_ipv6(&c, out);
	return rw_nflog_l3_bad(out, RW_EINVAL, "not an IP family");
}
