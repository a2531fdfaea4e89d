/* NFLOG record decoder (inspect/, part 5).
 *
 * Not yet used by the daemon: the blocked-attempt log (a later issue) is
 * to capture `nflog:<group>` with libpcap (DLT_NFLOG 239) and hand every
 * record to rw_nflog_decode(); today only the unit tests decode captured
 * records (tests/data/nflog) with it. One record = one netlink message without its nlmsghdr:
 *
 *   0      1      2             4
 *   +------+------+-------------+
 *   |family|ver 0 | group (BE)  |   nflog header
 *   +------+------+-------------+
 *   | len (host) | type (host)  |   TLV header; len counts these 4 bytes,
 *   +-------------+-------------+   not the padding; type & 0x7fff
 *   | value ... | pad to 4      |   numbers in values are big-endian
 *   +---------------------------+
 *   | next TLV ...              |
 *
 * Two passes (style habit 3): every TLV is first checked for length and
 * (for known types) size, and duplicate known types are refused, into a
 * table; values are then read only from that table. The PAYLOAD TLV holds
 * the packet from its L3 header, cut to the rule's snaplen; it is decoded
 * into addresses, protocol, ports, TCP flags or ICMP type/code.
 *
 * Results: RW_INSPECT_OK (out filled), RW_INSPECT_REFUSE (out->err and
 * out->why say why). RW_INSPECT_MORE is never returned: a record is a whole
 * netlink message, there is nothing more to wait for.
 *
 * What is refused: a malformed record (header short, version != 0, TLV
 * length < 4 or past the end, wrong size for a known type, duplicate known
 * type, prefix without NUL or longer than 127 characters, trailing bytes),
 * and an L3 header that cannot be attributed (short IPv4/IPv6 header, IHL
 * < 5, IPv4 total length < header, version not matching the family).
 * What is NOT refused: a cut or odd L4 header (the kernel cuts at snaplen,
 * and attackers send odd packets we still want in the log); see l4. */
#ifndef RW_NFLOG_H
#define RW_NFLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inspect/rw_inspect.h"

/* NFULA_* attribute types (linux/netfilter/nfnetlink_log.h), own copy so
 * the decoder does not depend on the build host's kernel headers. */
enum rw_nfula {
	RW_NFULA_UNSPEC = 0,
	RW_NFULA_PACKET_HDR,
	RW_NFULA_MARK,
	RW_NFULA_TIMESTAMP,
	RW_NFULA_IFINDEX_INDEV,
	RW_NFULA_IFINDEX_OUTDEV,
	RW_NFULA_IFINDEX_PHYSINDEV,
	RW_NFULA_IFINDEX_PHYSOUTDEV,
	RW_NFULA_HWADDR,
	RW_NFULA_PAYLOAD,
	RW_NFULA_PREFIX,
	RW_NFULA_UID,
	RW_NFULA_SEQ,
	RW_NFULA_SEQ_GLOBAL,
	RW_NFULA_GID,
	RW_NFULA_HWTYPE,
	RW_NFULA_HWHEADER,
	RW_NFULA_HWLEN,
	RW_NFULA_CT,
	RW_NFULA_CT_INFO,
	RW_NFULA_VLAN,
	RW_NFULA_L2HDR,
	RW_NFULA_MAX = RW_NFULA_L2HDR, /* higher types are skipped */
};

#define RW_NFLOG_PREFIX_MAX 128 /* NF_LOG_PREFIXLEN, incl. NUL */
#define RW_NFLOG_MAX_EXTHDR 8   /* IPv6 extension headers walked at most */

/* How much of the L4 header the payload gave us. */
enum rw_nflog_l4 {
	RW_NFLOG_L4_NONE = 0,  /* no L3, protocol we do not decode, or too many
				* IPv6 extension headers / IPv6 ESP, no next */
	RW_NFLOG_L4_OK,        /* the fields for proto are filled */
	RW_NFLOG_L4_TRUNCATED, /* cut short (snaplen); ports if has_ports */
	RW_NFLOG_L4_FRAGMENT,  /* non-first fragment: no L4 header exists */
	RW_NFLOG_L4_MALFORMED, /* present but impossible (TCP doff < 5 or past
				* the packet, UDP length < 8); ports filled */
};

struct rw_nflog_pkt {
	/* nflog header */
	uint8_t family; /* AF_INET 2 / AF_INET6 10 / other */
	uint16_t group;

	/* metadata TLVs; has_* false when the TLV was absent */
	bool has_prefix;
	char prefix[RW_NFLOG_PREFIX_MAX];
	bool has_hdr;
	uint16_t hw_protocol; /* ethertype, host order */
	uint8_t hook;         /* NF_INET_PRE_ROUTING 0, LOCAL_IN 1, ... */
	uint32_t indev, outdev; /* ifindex, 0 = absent */
	bool has_mark;
	uint32_t mark;
	bool has_ts; /* only for hooks up to FORWARD */
	uint64_t ts_sec, ts_usec;
	bool has_uid, has_gid;
	uint32_t uid, gid;
	/* the instance's sequence number (NFULNL_CFG_F_SEQ): a gap is the
	 * number of records the kernel could not deliver */
	bool has_seq;
	uint32_t seq;

	/* PAYLOAD, borrowed from the record (valid while it is) */
	const uint8_t *payload;
	size_t payload_len;

	/* L3: ip_version 0 when there is no payload or the family is neither
	 * inet nor inet6 (bridge, arp, netdev with other ethertypes) */
	uint8_t ip_version;
	uint8_t src[16], dst[16]; /* v4 in the first 4 bytes */
	uint8_t proto;            /* IPv4 protocol / IPv6 last next-header */
	uint8_t ttl;              /* or hop limit */
	uint32_t ip_len;          /* total length from the header (v6: 40 +
				   * payload length); may exceed payload_len */
	bool l3_truncated;        /* payload_len < ip_len */
	bool is_fragment;         /* v4 MF or offset != 0; v6 Fragment header */
	uint16_t frag_offset;     /* bytes */

	/* L4 */
	enum rw_nflog_l4 l4;
	bool has_ports;           /* TCP/UDP ports known */
	uint16_t sport, dport;
	uint8_t tcp_flags;        /* FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 ... */
	uint16_t udp_len;
	bool has_icmp;
	uint8_t icmp_type, icmp_code;

	/* on RW_INSPECT_REFUSE: a negative RW_E* code and a fixed string */
	int err;
	const char *why;
};

/* Decode one DLT_NFLOG record. out is always fully written (zeroed
 * first). See the header comment for what is refused. */
enum rw_inspect_result rw_nflog_decode(const uint8_t *rec, size_t len, struct rw_nflog_pkt *out);

/* Decode an L3 packet (IPv4 or IPv6, chosen by family) into the L3/L4
 * fields of out. Used by rw_nflog_decode for the PAYLOAD TLV. Returns 0,
 * or a negative RW_E* code with out->why set when the L3 header cannot be
 * attributed. */
int rw_nflog_decode_ip(uint8_t family, const uint8_t *pkt, size_t len, struct rw_nflog_pkt *out);

/* Split a regwall log prefix "regwall <listener> <reason>" into its parts.
 * Exactly three words separated by single spaces; listener and reason made
 * of [A-Za-z0-9_.-], non-empty. Returns 0, RW_EINVAL for anything else
 * (someone else's log rule), RW_ERANGE if a part does not fit its buffer
 * (size includes the NUL). */
int rw_nflog_prefix_split(const char *prefix, char *listener, size_t listener_size,
			  char *reason, size_t reason_size);

#endif
