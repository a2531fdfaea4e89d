/* rw_nflog: every real record captured by scripts/capture-nflog.sh against
 * its tcpdump-derived sidecar, crafted records for each refusal path and
 * L4 state, the prefix splitter, and truncation / bit flips of the real
 * records (each copied into an exact-size heap buffer so ASan sees any
 * over-read). Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/rw_err.h"
#include "inspect/rw_nflog.h"

#define NFLOG_DIR "tests/data/nflog/"

/* ---- real records ---- */

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	uint8_t *b = malloc((size_t)n);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

struct kv {
	char key[32];
	char val[128];
};

static size_t read_expect(const char *path, struct kv *kv, size_t max)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[512];
	size_t n = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *eq = strchr(line, '=');
		if (line[0] == '#' || !eq)
			continue;
		*eq = '\0';
		assert_true(n < max);
		assert_true(strlen(line) < sizeof(kv[n].key) && strlen(eq + 1) < sizeof(kv[n].val));
		memcpy(kv[n].key, line, strlen(line) + 1);
		memcpy(kv[n].val, eq + 1, strlen(eq + 1) + 1);
		n++;
	}
	fclose(f);
	return n;
}

static long num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	assert_true(*s && !*end);
	return v;
}

/* tcpdump's letters: F S R P U E W and '.' for ACK */
static uint8_t tcpdump_flags(const char *s)
{
	uint8_t f = 0;
	for (; *s; s++) {
		const char *letters = "FSRPU.EW";
		const char *p = strchr(letters, *s);
		assert_non_null(p);
		static const uint8_t bits[] = { 0x01, 0x02, 0x04, 0x08, 0x20, 0x10, 0x40, 0x80 };
		f |= bits[p - letters];
	}
	return f;
}

static void check_addr(const char *text, int family, const uint8_t *got)
{
	uint8_t want[16];
	assert_int_equal(inet_pton(family, text, want), 1);
	assert_memory_equal(got, want, family == AF_INET ? 4 : 16);
}

static void check_record(const char *base)
{
	char path[512];
	size_t len;
	snprintf(path, sizeof(path), NFLOG_DIR "%s.bin", base);
	uint8_t *rec = read_file(path, &len);
	snprintf(path, sizeof(path), NFLOG_DIR "%s.expect", base);
	struct kv kv[32];
	size_t n = read_expect(path, kv, 32);
	assert_true(n >= 8);

	struct rw_nflog_pkt p;
	enum rw_inspect_result r = rw_nflog_decode(rec, len, &p);
	if (r != RW_INSPECT_OK)
		fail_msg("%s: refused: %s", base, p.why ? p.why : "?");

	int fam = AF_INET;
	bool saw_sport = false, saw_icmp = false;
	for (size_t i = 0; i < n; i++) {
		const char *k = kv[i].key, *v = kv[i].val;
		if (!strcmp(k, "family")) {
			fam = !strcmp(v, "inet6") ? AF_INET6 : AF_INET;
			assert_int_equal(p.family, fam);
			assert_int_equal(p.ip_version, fam == AF_INET ? 4 : 6);
		} else if (!strcmp(k, "group")) {
			assert_int_equal(p.group, num(v));
		} else if (!strcmp(k, "proto")) {
			assert_int_equal(p.proto, num(v));
		} else if (!strcmp(k, "ip_len")) {
			assert_int_equal(p.ip_len, num(v));
		} else if (!strcmp(k, "src")) {
			check_addr(v, fam, p.src);
		} else if (!strcmp(k, "dst")) {
			check_addr(v, fam, p.dst);
		} else if (!strcmp(k, "sport")) {
			assert_true(p.has_ports);
			assert_int_equal(p.sport, num(v));
			saw_sport = true;
		} else if (!strcmp(k, "dport")) {
			assert_int_equal(p.dport, num(v));
		} else if (!strcmp(k, "frag_offset")) {
			assert_int_equal(p.frag_offset, num(v));
		} else if (!strcmp(k, "l4")) {
			enum rw_nflog_l4 want = !strcmp(v, "ok")        ? RW_NFLOG_L4_OK
						: !strcmp(v, "truncated") ? RW_NFLOG_L4_TRUNCATED
						: !strcmp(v, "fragment")  ? RW_NFLOG_L4_FRAGMENT
									  : (enum rw_nflog_l4)99;
			assert_int_equal(p.l4, want);
		} else if (!strcmp(k, "tcp_flags")) {
			assert_int_equal(p.tcp_flags, tcpdump_flags(v));
		} else if (!strcmp(k, "icmp_type")) {
			assert_true(p.has_icmp);
			assert_int_equal(p.icmp_type, num(v));
			saw_icmp = true;
		} else if (!strcmp(k, "icmp_code")) {
			assert_int_equal(p.icmp_code, num(v));
		} else if (!strcmp(k, "prefix")) {
			assert_true(p.has_prefix);
			assert_string_equal(p.prefix, v);
			/* the capture's rules: fragments logged at prerouting (0),
			 * everything else at input (1) */
			assert_true(p.has_hdr);
			assert_int_equal(p.hook, strstr(v, "frag") ? 0 : 1);
		}
	}
	if (!saw_sport)
		assert_false(p.has_ports);
	if (!saw_icmp)
		assert_false(p.has_icmp);
	/* metadata present on every inet record we captured */
	assert_int_equal(p.hw_protocol, fam == AF_INET ? 0x0800 : 0x86dd);
	assert_true(p.indev > 0);
	assert_true(p.has_ts); /* prerouting / input: hooks up to FORWARD */
	assert_true(p.ts_sec > 1500000000u && p.ts_usec < 1000000u);
	assert_true(p.payload_len > 0 && p.payload >= rec && p.payload + p.payload_len <= rec + len);
	assert_int_equal(p.l3_truncated, p.payload_len < p.ip_len);
	free(rec);
}

/* names of all .bin files, sorted */
static size_t list_records(char names[][128], size_t max)
{
	DIR *d = opendir(NFLOG_DIR);
	assert_non_null(d);
	struct dirent *e;
	size_t n = 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > 4 && l < 128 && !strcmp(e->d_name + l - 4, ".bin")) {
			assert_true(n < max);
			memcpy(names[n], e->d_name, l - 4);
			names[n][l - 4] = '\0';
			n++;
		}
	}
	closedir(d);
	return n;
}

static void test_real_records_match_tcpdump(void **state)
{
	char names[64][128];
	size_t n = list_records(names, 64);
	assert_true(n >= 11); /* the capture script's 11 packets */
	for (size_t i = 0; i < n; i++)
		check_record(names[i]);
}

static void test_real_prefixes_split(void **state)
{
	char names[64][128];
	size_t n = list_records(names, 64);
	for (size_t i = 0; i < n; i++) {
		char path[512];
		size_t len;
		snprintf(path, sizeof(path), NFLOG_DIR "%s.bin", names[i]);
		uint8_t *rec = read_file(path, &len);
		struct rw_nflog_pkt p;
		assert_int_equal(rw_nflog_decode(rec, len, &p), RW_INSPECT_OK);
		char l[32], r[64];
		assert_int_equal(rw_nflog_prefix_split(p.prefix, l, sizeof(l), r, sizeof(r)), 0);
		assert_true(strlen(l) > 0 && strlen(r) > 0);
		free(rec);
	}
}

/* Every truncation and every single-byte flip of every real record: the
 * decoder must answer OK or REFUSE, never crash or over-read (exact-size
 * heap copies, so ASan reports a read one past the end). */
static void test_real_records_mutated(void **state)
{
	char names[64][128];
	size_t n = list_records(names, 64);
	for (size_t i = 0; i < n; i++) {
		char path[512];
		size_t len;
		snprintf(path, sizeof(path), NFLOG_DIR "%s.bin", names[i]);
		uint8_t *rec = read_file(path, &len);
		for (size_t cut = 0; cut <= len; cut++) {
			uint8_t *b = malloc(cut ? cut : 1);
			assert_non_null(b);
			memcpy(b, rec, cut);
			struct rw_nflog_pkt p;
			enum rw_inspect_result r = rw_nflog_decode(b, cut, &p);
			assert_true(r == RW_INSPECT_OK || r == RW_INSPECT_REFUSE);
			if (r == RW_INSPECT_REFUSE)
				assert_true(p.err < 0 && p.why != NULL);
			else
				assert_true(p.payload_len == 0 ||
					    (p.payload >= b && p.payload + p.payload_len <= b + cut));
			if (cut < 4)
				assert_int_equal(r, RW_INSPECT_REFUSE);
			free(b);
		}
		uint8_t *b = malloc(len);
		assert_non_null(b);
		for (size_t at = 0; at < len; at++) {
			memcpy(b, rec, len);
			b[at] ^= 0xff;
			struct rw_nflog_pkt p;
			enum rw_inspect_result r = rw_nflog_decode(b, len, &p);
			assert_true(r == RW_INSPECT_OK || r == RW_INSPECT_REFUSE);
		}
		free(b);
		free(rec);
	}
}

/* ---- crafted records ---- */

struct rec {
	uint8_t b[4096];
	size_t len;
};

static void rec_init(struct rec *r, uint8_t family, uint16_t group)
{
	memset(r, 0, sizeof(*r));
	r->b[0] = family;
	r->b[1] = 0;
	r->b[2] = (uint8_t)(group >> 8);
	r->b[3] = (uint8_t)group;
	r->len = 4;
}

/* TLV with host-order header and zero padding to 4 */
static void rec_tlv(struct rec *r, uint16_t type, const void *val, size_t vlen)
{
	uint16_t l = (uint16_t)(vlen + 4);
	assert_true(r->len + ((vlen + 4 + 3) & ~(size_t)3) <= sizeof(r->b));
	memcpy(r->b + r->len, &l, 2);
	memcpy(r->b + r->len + 2, &type, 2);
	if (vlen)
		memcpy(r->b + r->len + 4, val, vlen);
	r->len += (vlen + 4 + 3) & ~(size_t)3;
}

static void rec_u32(struct rec *r, uint16_t type, uint32_t v)
{
	uint8_t be[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	rec_tlv(r, type, be, 4);
}

static void rec_str(struct rec *r, uint16_t type, const char *s)
{
	rec_tlv(r, type, s, strlen(s) + 1);
}

/* IPv4 20 bytes, 203.0.113.9 -> 198.51.100.10, given proto/total/frag */
static size_t ipv4(uint8_t *p, uint8_t proto, uint16_t tot, uint16_t frag)
{
	static const uint8_t h[20] = { 0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, 0, 0, 0,
				       203, 0, 113, 9, 198, 51, 100, 10 };
	memcpy(p, h, 20);
	p[2] = (uint8_t)(tot >> 8);
	p[3] = (uint8_t)tot;
	p[6] = (uint8_t)(frag >> 8);
	p[7] = (uint8_t)frag;
	p[9] = proto;
	return 20;
}

static size_t tcp(uint8_t *p, uint16_t sport, uint16_t dport, uint8_t doff, uint8_t flags)
{
	memset(p, 0, 20);
	p[0] = (uint8_t)(sport >> 8);
	p[1] = (uint8_t)sport;
	p[2] = (uint8_t)(dport >> 8);
	p[3] = (uint8_t)dport;
	p[12] = (uint8_t)(doff << 4);
	p[13] = flags;
	return 20;
}

/* a complete record: TCP SYN 203.0.113.9:40000 -> 198.51.100.10:443 */
static void rec_full(struct rec *r)
{
	rec_init(r, AF_INET, 7);
	uint8_t hdr[4] = { 0x08, 0x00, 1, 0 };
	rec_tlv(r, RW_NFULA_PACKET_HDR, hdr, 4);
	rec_str(r, RW_NFULA_PREFIX, "regwall https not_allowed");
	rec_u32(r, RW_NFULA_IFINDEX_INDEV, 3);
	rec_u32(r, RW_NFULA_IFINDEX_OUTDEV, 4);
	rec_u32(r, RW_NFULA_MARK, 0x1234);
	uint8_t ts[16] = { 0, 0, 0, 0, 0x69, 0x2a, 0x00, 0x00, 0, 0, 0, 0, 0, 0x01, 0xe2, 0x40 };
	rec_tlv(r, RW_NFULA_TIMESTAMP, ts, 16);
	rec_u32(r, RW_NFULA_UID, 1000);
	rec_u32(r, RW_NFULA_GID, 100);
	uint8_t pkt[40];
	ipv4(pkt, 6, 40, 0x4000);
	tcp(pkt + 20, 40000, 443, 5, 0x02);
	rec_tlv(r, RW_NFULA_PAYLOAD, pkt, 40);
}

static enum rw_inspect_result decode(const struct rec *r, struct rw_nflog_pkt *p)
{
	/* exact-size heap copy: ASan catches reads past the record */
	uint8_t *b = malloc(r->len ? r->len : 1);
	assert_non_null(b);
	memcpy(b, r->b, r->len);
	enum rw_inspect_result res = rw_nflog_decode(b, r->len, p);
	/* payload points into b: test only scalar fields after this */
	free(b);
	p->payload = NULL;
	return res;
}

static void test_crafted_full(void **state)
{
	struct rec r;
	rec_full(&r);
	struct rw_nflog_pkt p;
	assert_int_equal(decode(&r, &p), RW_INSPECT_OK);
	assert_int_equal(p.family, AF_INET);
	assert_int_equal(p.group, 7);
	assert_string_equal(p.prefix, "regwall https not_allowed");
	assert_true(p.has_hdr);
	assert_int_equal(p.hw_protocol, 0x0800);
	assert_int_equal(p.hook, 1);
	assert_int_equal(p.indev, 3);
	assert_int_equal(p.outdev, 4);
	assert_true(p.has_mark);
	assert_int_equal(p.mark, 0x1234);
	assert_true(p.has_ts);
	assert_int_equal(p.ts_sec, 0x692a0000u);
	assert_int_equal(p.ts_usec, 123456);
	assert_true(p.has_uid && p.has_gid);
	assert_int_equal(p.uid, 1000);
	assert_int_equal(p.gid, 100);
	assert_int_equal(p.payload_len, 40);
	assert_int_equal(p.ip_version, 4);
	assert_int_equal(p.proto, 6);
	assert_int_equal(p.ttl, 64);
	uint8_t src[4] = { 203, 0, 113, 9 }, dst[4] = { 198, 51, 100, 10 };
	assert_memory_equal(p.src, src, 4);
	assert_memory_equal(p.dst, dst, 4);
	assert_int_equal(p.l4, RW_NFLOG_L4_OK);
	assert_true(p.has_ports);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 443);
	assert_int_equal(p.tcp_flags, 0x02);
	assert_false(p.is_fragment);
	assert_false(p.l3_truncated);
}

static void test_minimal_record(void **state)
{
	/* just the header: a valid record with nothing in it */
	struct rec r;
	rec_init(&r, AF_INET6, 0xbeef);
	struct rw_nflog_pkt p;
	assert_int_equal(decode(&r, &p), RW_INSPECT_OK);
	assert_int_equal(p.group, 0xbeef);
	assert_int_equal(p.family, AF_INET6);
	assert_false(p.has_prefix || p.has_hdr || p.has_ts || p.has_mark);
	assert_int_equal(p.ip_version, 0);
	assert_int_equal(p.l4, RW_NFLOG_L4_NONE);
}

static void expect_refuse(const struct rec *r, int err, const char *why_part)
{
	struct rw_nflog_pkt p;
	assert_int_equal(decode(r, &p), RW_INSPECT_REFUSE);
	assert_int_equal(p.err, err);
	assert_non_null(p.why);
	if (!strstr(p.why, why_part))
		fail_msg("why '%s' does not mention '%s'", p.why, why_part);
}

static void test_refuse_header(void **state)
{
	struct rec r;
	for (size_t n = 0; n < 4; n++) {
		rec_init(&r, AF_INET, 7);
		r.len = n;
		expect_refuse(&r, RW_EPROTO, "shorter than the nflog header");
	}
	rec_init(&r, AF_INET, 7);
	r.b[1] = 1;
	expect_refuse(&r, RW_EPROTO, "version");
	struct rw_nflog_pkt p;
	assert_int_equal(rw_nflog_decode(NULL, 0, &p), RW_INSPECT_REFUSE);
}

static void test_refuse_tlv_structure(void **state)
{
	struct rec r;
	/* length below the TLV header, for every value 0..3 */
	for (uint16_t l = 0; l < 4; l++) {
		rec_full(&r);
		uint16_t type = RW_NFULA_MARK;
		memcpy(r.b + r.len, &l, 2);
		memcpy(r.b + r.len + 2, &type, 2);
		r.len += 4;
		expect_refuse(&r, RW_EPROTO, "below its header");
	}
	/* length one past the record */
	rec_full(&r);
	uint16_t l = 9, type = RW_NFULA_MARK;
	memcpy(r.b + r.len, &l, 2);
	memcpy(r.b + r.len + 2, &type, 2);
	memset(r.b + r.len + 4, 0, 4);
	r.len += 8;
	expect_refuse(&r, RW_EPROTO, "past the record");
	/* 1..3 trailing bytes that cannot hold a TLV header */
	for (size_t t = 1; t < 4; t++) {
		rec_full(&r);
		r.len += t;
		expect_refuse(&r, RW_EPROTO, "trailing");
	}
}

static void test_refuse_duplicate_and_size(void **state)
{
	struct rec r;
	rec_full(&r);
	rec_u32(&r, RW_NFULA_MARK, 1);
	expect_refuse(&r, RW_EPROTO, "duplicate");
	/* the nested flag does not make it a different type */
	rec_full(&r);
	uint8_t v[4] = { 0, 0, 0, 1 };
	rec_tlv(&r, 0x8000 | RW_NFULA_IFINDEX_INDEV, v, 4);
	expect_refuse(&r, RW_EPROTO, "duplicate");
	/* duplicate payload: which one would be "the" packet? */
	rec_full(&r);
	rec_tlv(&r, RW_NFULA_PAYLOAD, v, 4);
	expect_refuse(&r, RW_EPROTO, "duplicate");

	static const struct {
		uint16_t type;
		size_t bad_len;
	} sizes[] = {
		{ RW_NFULA_PACKET_HDR, 3 }, { RW_NFULA_PACKET_HDR, 8 }, { RW_NFULA_MARK, 2 },
		{ RW_NFULA_TIMESTAMP, 8 },  { RW_NFULA_IFINDEX_INDEV, 5 }, { RW_NFULA_HWADDR, 8 },
		{ RW_NFULA_UID, 0 },        { RW_NFULA_GID, 6 },           { RW_NFULA_HWTYPE, 4 },
		{ RW_NFULA_HWLEN, 1 },      { RW_NFULA_PREFIX, 0 },        { RW_NFULA_CT_INFO, 2 },
	};
	uint8_t zeros[16] = { 0 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		rec_init(&r, AF_INET, 7);
		rec_tlv(&r, sizes[i].type, zeros, sizes[i].bad_len);
		expect_refuse(&r, RW_EPROTO, "size wrong");
	}
}

static void test_unknown_types_skipped(void **state)
{
	struct rec r;
	rec_full(&r);
	uint8_t junk[7] = { 1, 2, 3, 4, 5, 6, 7 };
	rec_tlv(&r, 99, junk, 7);
	rec_tlv(&r, 99, junk, 3); /* duplicates of unknown types are fine */
	rec_tlv(&r, RW_NFULA_UNSPEC, junk, 1);
	rec_tlv(&r, 0x7fff, junk, 0);
	rec_tlv(&r, RW_NFULA_SEQ, junk, 4); /* known: the instance sequence */
	struct rw_nflog_pkt p;
	assert_int_equal(decode(&r, &p), RW_INSPECT_OK);
	assert_true(p.has_seq);
	assert_int_equal(p.seq, 0x01020304u);
	assert_int_equal(p.dport, 443);
	assert_string_equal(p.prefix, "regwall https not_allowed");
}

static void test_last_padding_may_be_missing(void **state)
{
	struct rec r;
	rec_init(&r, AF_INET, 7);
	rec_str(&r, RW_NFULA_PREFIX, "regwall a b"); /* 12 -> 16 with pad */
	uint8_t one = 0x45;
	rec_tlv(&r, RW_NFULA_PAYLOAD, &one, 1); /* 5 bytes + 3 pad */
	r.len -= 3;
	struct rw_nflog_pkt p;
	/* the record parses; the 1-byte IPv4 payload is then refused at L3 */
	assert_int_equal(decode(&r, &p), RW_INSPECT_REFUSE);
	assert_non_null(strstr(p.why, "IPv4 header cut short"));
	r.len -= 1; /* now the value itself is missing: that is not padding */
	assert_int_equal(decode(&r, &p), RW_INSPECT_REFUSE);
	assert_non_null(strstr(p.why, "past the record"));
}

static void test_refuse_prefix(void **state)
{
	struct rec r;
	rec_init(&r, AF_INET, 7);
	rec_tlv(&r, RW_NFULA_PREFIX, "regwall", 7); /* no NUL */
	expect_refuse(&r, RW_EPROTO, "NUL");
	/* 127 characters + NUL fit; 128 + NUL do not */
	char s[200];
	memset(s, 'x', 127);
	s[127] = '\0';
	rec_init(&r, AF_INET, 7);
	rec_str(&r, RW_NFULA_PREFIX, s);
	struct rw_nflog_pkt p;
	assert_int_equal(decode(&r, &p), RW_INSPECT_OK);
	assert_int_equal(strlen(p.prefix), 127);
	memset(s, 'x', 128);
	s[128] = '\0';
	rec_init(&r, AF_INET, 7);
	rec_str(&r, RW_NFULA_PREFIX, s);
	expect_refuse(&r, RW_EPROTO, "size wrong");
	/* NUL inside: the string ends there */
	rec_init(&r, AF_INET, 7);
	rec_tlv(&r, RW_NFULA_PREFIX, "ab\0cd", 5);
	assert_int_equal(decode(&r, &p), RW_INSPECT_OK);
	assert_string_equal(p.prefix, "ab");
}

static void rec_payload(struct rec *r, uint8_t family, const uint8_t *pkt, size_t len)
{
	rec_init(r, family, 7);
	rec_str(r, RW_NFULA_PREFIX, "regwall https x");
	rec_tlv(r, RW_NFULA_PAYLOAD, pkt, len);
}

static void test_refuse_l3(void **state)
{
	struct rec r;
	uint8_t pkt[80];
	/* every cut of the 20-byte IPv4 header */
	for (size_t n = 1; n < 20; n++) {
		ipv4(pkt, 6, 40, 0);
		rec_payload(&r, AF_INET, pkt, n);
		expect_refuse(&r, RW_EPROTO, "IPv4 header cut short");
	}
	ipv4(pkt, 6, 40, 0);
	pkt[0] = 0x44; /* IHL 4 */
	rec_payload(&r, AF_INET, pkt, 40);
	expect_refuse(&r, RW_EPROTO, "below 20");
	ipv4(pkt, 6, 40, 0);
	pkt[0] = 0x4f; /* IHL 15 = 60 bytes, only 40 here */
	rec_payload(&r, AF_INET, pkt, 40);
	expect_refuse(&r, RW_EPROTO, "IPv4 header cut short");
	ipv4(pkt, 6, 19, 0);
	rec_payload(&r, AF_INET, pkt, 40);
	expect_refuse(&r, RW_EPROTO, "total length below");
	ipv4(pkt, 6, 40, 0);
	rec_payload(&r, AF_INET6, pkt, 40);
	expect_refuse(&r, RW_EPROTO, "not IPv6");
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x60;
	rec_payload(&r, AF_INET, pkt, 60);
	expect_refuse(&r, RW_EPROTO, "not IPv4");
	for (size_t n = 1; n < 40; n++) {
		rec_payload(&r, AF_INET6, pkt, n);
		expect_refuse(&r, RW_EPROTO, "IPv6 header cut short");
	}
	assert_int_equal(rw_nflog_decode_ip(7, pkt, 40, &(struct rw_nflog_pkt){ 0 }), RW_EINVAL);
}

static struct rw_nflog_pkt decode_ok(const struct rec *r)
{
	struct rw_nflog_pkt p;
	enum rw_inspect_result res = decode(r, &p);
	if (res != RW_INSPECT_OK)
		fail_msg("refused: %s", p.why);
	return p;
}

static void test_l4_states_v4(void **state)
{
	struct rec r;
	uint8_t pkt[80];
	struct rw_nflog_pkt p;

	/* snaplen cut: IP says 40, we have 24 -> truncated, ports known */
	ipv4(pkt, 6, 40, 0);
	tcp(pkt + 20, 1111, 443, 5, 0x02);
	rec_payload(&r, AF_INET, pkt, 24);
	p = decode_ok(&r);
	assert_int_equal(p.l4, RW_NFLOG_L4_TRUNCATED);
	assert_true(p.l3_truncated);
	assert_true(p.has_ports);
	assert_int_equal(p.dport, 443);
	/* cut before the ports */
	rec_payload(&r, AF_INET, pkt, 22);
	p = decode_ok(&r);
	assert_int_equal(p.l4, RW_NFLOG_L4_TRUNCATED);
	assert_false(p.has_ports);
	/* the packet itself is only 24 bytes: malformed, not cut */
	ipv4(pkt, 6, 24, 0);
	rec_payload(&r, AF_INET, pkt, 24);
	p = decode_ok(&r);
	assert_int_equal(p.l4, RW_NFLOG_L4_MALFORMED);
	assert_false(p.l3_truncated);
	/* doff < 5 and doff past the segment */
	ipv4(pkt, 6, 40, 0);
	tcp(pkt + 20, 1111, 443, 4, 0x02);
	rec_payload(&r, AF_INET, pkt, 40);
	assert_int_equal(decode_ok(&r).l4, RW_NFLOG_L4_MALFORMED);
	tcp(pkt + 20, 1111, 443, 6, 0x02);
	rec_payload(&r, AF_INET, pkt, 40);
	assert_int_equal(decode_ok(&r).l4, RW_NFLOG_L4_MALFORMED);
	/* trailing link padding after tot_len is ignored */
	ipv4(pkt, 6, 40, 0);
	tcp(pkt + 20, 1111, 443, 5, 0x12);
	memset(pkt + 40, 0xee, 6);
	rec_payload(&r, AF_INET, pkt, 46);
	p = decode_ok(&r);
	assert_int_equal(p.l4, RW_NFLOG_L4_OK);
	assert_int_equal(p.tcp_flags, 0x12);
	assert_false(p.l3_truncated);

	/* UDP: length below 8, above the segment, and fine */
	ipv4(pkt, 17, 28, 0);
	memset(pkt + 20, 0, 8);
	pkt[21] = 53;
	pkt[23] = 80;
	pkt[25] = 7;
	rec_payload(&r, AF_INET, pkt, 28);
	assert_int_equal(decode_ok(&r).l4, RW_NFLOG_L4_MALFORMED);
	pkt[25] = 9;
	rec_payload(&r, AF_INET, pkt, 28);
	assert_int_equal(decode_ok(&r).l4, RW_NFLOG_L4_MALFORMED);
	pkt[25] = 8;
	rec_payload(&r, AF_INET, pkt, 28);
	p = decode_ok(&r);
	assert_int_equal(p.l4, RW_NFLOG_L4_OK);
	assert_int_equal(p.sport, 53);
	assert_int_equal(p.dport, 80);
	assert_int_equal(p.udp_len, 8);
	/* first fragment: UDP length is the datagram's, larger than this one */
	ipv4(pkt, 17, 28, 0x2000);
	pkt[24] = 0x10;
	rec_payload(&r, AF_INET, pkt, 28);
	p = decode_ok(&r);
	assert_int_equal(p.l4, RW_NFLOG_L4_OK);
	assert_true(p.is_fragment);
	assert_int_equal(p.frag_offset, 0);
	/* later fragment: no L4 even though bytes follow */
	ipv4(pkt, 17, 28, 0x0003);
	rec_payload(&r, AF_INET, pkt, 28);
	p = decode_ok(&r);
	assert_int_equal(p.l4, RW_NFLOG_L4_FRAGMENT);
	assert_int_equal(p.frag_offset, 24);
	assert_false(p.has_ports);

	/* ICMP, IPv4 options, unknown protocol */
	ipv4(pkt, 1, 32, 0);
	pkt[0] = 0x46; /* 4 bytes of options */
	pkt[24] = 3;
	pkt[25] = 13;
	rec_payload(&r, AF_INET, pkt, 32);
	p = decode_ok(&r);
	assert_true(p.has_icmp);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.icmp_code, 13);
	ipv4(pkt, 47, 40, 0);
	rec_payload(&r, AF_INET, pkt, 40);
	p = decode_ok(&r);
	assert_int_equal(p.l4, RW_NFLOG_L4_NONE);
	assert_int_equal(p.proto, 47);
}

static size_t ipv6(uint8_t *p, uint8_t nh, uint16_t plen)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	p[4] = (uint8_t)(plen >> 8);
	p[5] = (uint8_t)plen;
	p[6] = nh;
	p[7] = 63;
	p[8] = 0x20, p[9] = 0x01, p[10] = 0x0d, p[11] = 0xb8, p[23] = 1;
	p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8, p[39] = 2;
	return 40;
}

static void test_l4_states_v6(void **state)
{
	struct rec r;
	uint8_t pkt[512];
	struct rw_nflog_pkt p;

	/* hop-by-hop (8) -> destination options (16) -> TCP */
	ipv6(pkt, 0, 8 + 16 + 20);
	memset(pkt + 40, 0, 24);
	pkt[40] = 60;
	pkt[41] = 0;
	pkt[48] = 6;
	pkt[49] = 1;
	tcp(pkt + 64, 2222, 443, 5, 0x02);
	rec_payload(&r, AF_INET6, pkt, 84);
	p = decode_ok(&r);
	assert_int_equal(p.ip_version, 6);
	assert_int_equal(p.ttl, 63);
	assert_int_equal(p.ip_len, 84);
	assert_int_equal(p.proto, 6);
	assert_int_equal(p.l4, RW_NFLOG_L4_OK);
	assert_int_equal(p.sport, 2222);
	uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	assert_memory_equal(p.src, src, 16);
	/* cut inside the destination options header */
	rec_payload(&r, AF_INET6, pkt, 52);
	p = decode_ok(&r);
	assert_int_equal(p.l4, RW_NFLOG_L4_TRUNCATED);
	assert_false(p.has_ports);

	/* fragment header, offset 0 -> UDP decoded; offset 8 -> fragment */
	ipv6(pkt, 44, 8 + 8);
	memset(pkt + 40, 0, 16);
	pkt[40] = 17;
	pkt[43] = 1; /* M flag */
	pkt[49] = 53, pkt[51] = 53, pkt[52] = 0x05; /* UDP length 1280 */
	rec_payload(&r, AF_INET6, pkt, 56);
	p = decode_ok(&r);
	assert_true(p.is_fragment);
	assert_int_equal(p.l4, RW_NFLOG_L4_OK);
	assert_int_equal(p.proto, 17);
	assert_int_equal(p.dport, 53);
	pkt[43] = 8 | 1; /* offset 1 (8 bytes) */
	rec_payload(&r, AF_INET6, pkt, 56);
	p = decode_ok(&r);
	assert_int_equal(p.l4, RW_NFLOG_L4_FRAGMENT);
	assert_int_equal(p.frag_offset, 8);
	assert_int_equal(p.proto, 17);
	assert_false(p.has_ports);

	/* more extension headers than the walk allows: L3 kept, no L4 */
	size_t n = RW_NFLOG_MAX_EXTHDR + 1;
	ipv6(pkt, 60, (uint16_t)(n * 8 + 20));
	for (size_t i = 0; i < n; i++) {
		memset(pkt + 40 + i * 8, 0, 8);
		pkt[40 + i * 8] = i + 1 < n ? 60 : 6;
	}
	tcp(pkt + 40 + n * 8, 1, 2, 5, 0x02);
	rec_payload(&r, AF_INET6, pkt, 40 + n * 8 + 20);
	p = decode_ok(&r);
	assert_int_equal(p.l4, RW_NFLOG_L4_NONE);
	assert_false(p.has_ports);
	/* exactly the limit still reaches TCP */
	n = RW_NFLOG_MAX_EXTHDR;
	ipv6(pkt, 60, (uint16_t)(n * 8 + 20));
	for (size_t i = 0; i < n; i++) {
		memset(pkt + 40 + i * 8, 0, 8);
		pkt[40 + i * 8] = i + 1 < n ? 60 : 6;
	}
	tcp(pkt + 40 + n * 8, 1, 2, 5, 0x02);
	rec_payload(&r, AF_INET6, pkt, 40 + n * 8 + 20);
	p = decode_ok(&r);
	assert_int_equal(p.l4, RW_NFLOG_L4_OK);
	assert_int_equal(p.dport, 2);

	/* ICMPv6 and "no next header" */
	ipv6(pkt, 58, 8);
	pkt[40] = 135;
	rec_payload(&r, AF_INET6, pkt, 48);
	p = decode_ok(&r);
	assert_true(p.has_icmp);
	assert_int_equal(p.icmp_type, 135);
	ipv6(pkt, 59, 0);
	rec_payload(&r, AF_INET6, pkt, 40);
	p = decode_ok(&r);
	assert_int_equal(p.l4, RW_NFLOG_L4_NONE);
	assert_int_equal(p.proto, 59);
}

static void test_other_families(void **state)
{
	/* bridge family (7): L3 chosen by the ethertype in PACKET_HDR */
	struct rec r;
	uint8_t pkt[40];
	ipv4(pkt, 6, 40, 0);
	tcp(pkt + 20, 5, 6, 5, 0x02);
	rec_init(&r, 7, 7);
	uint8_t hdr[4] = { 0x08, 0x00, 0, 0 };
	rec_tlv(&r, RW_NFULA_PACKET_HDR, hdr, 4);
	rec_tlv(&r, RW_NFULA_PAYLOAD, pkt, 40);
	struct rw_nflog_pkt p = decode_ok(&r);
	assert_int_equal(p.ip_version, 4);
	assert_int_equal(p.dport, 6);
	/* ARP ethertype: payload kept, not decoded */
	rec_init(&r, 3, 7);
	hdr[0] = 0x08, hdr[1] = 0x06;
	rec_tlv(&r, RW_NFULA_PACKET_HDR, hdr, 4);
	rec_tlv(&r, RW_NFULA_PAYLOAD, pkt, 28);
	p = decode_ok(&r);
	assert_int_equal(p.ip_version, 0);
	assert_int_equal(p.payload_len, 28);
}

static void test_prefix_split(void **state)
{
	char l[32], r[32];
	assert_int_equal(rw_nflog_prefix_split("regwall https not_allowed", l, sizeof(l), r, sizeof(r)), 0);
	assert_string_equal(l, "https");
	assert_string_equal(r, "not_allowed");
	assert_int_equal(rw_nflog_prefix_split("regwall a-1.b ban_set", l, sizeof(l), r, sizeof(r)), 0);
	assert_string_equal(l, "a-1.b");
	static const char *bad[] = {
		"",
		"regwall",
		"regwall ",
		"regwall https",
		"regwall https ",
		"regwall  https x",
		"regwall https  x",
		"regwall https x ",
		"regwall https x y",
		"Regwall https x",
		"regwallx https x",
		"other https x",
		"regwall ht/tps x",
		"regwall https x\n",
		" regwall https x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(l, "junk");
		if (rw_nflog_prefix_split(bad[i], l, sizeof(l), r, sizeof(r)) != RW_EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_string_equal(l, "");
	}
	/* sizes: "https" needs 6 */
	assert_int_equal(rw_nflog_prefix_split("regwall https x", l, 6, r, sizeof(r)), 0);
	assert_int_equal(rw_nflog_prefix_split("regwall https x", l, 5, r, sizeof(r)), RW_ERANGE);
	assert_int_equal(rw_nflog_prefix_split("regwall https xy", l, 6, r, 2), RW_ERANGE);
	assert_int_equal(rw_nflog_prefix_split(NULL, l, 6, r, 2), RW_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_records_match_tcpdump),
		cmocka_unit_test(test_real_prefixes_split),
		cmocka_unit_test(test_real_records_mutated),
		cmocka_unit_test(test_crafted_full),
		cmocka_unit_test(test_minimal_record),
		cmocka_unit_test(test_refuse_header),
		cmocka_unit_test(test_refuse_tlv_structure),
		cmocka_unit_test(test_refuse_duplicate_and_size),
		cmocka_unit_test(test_unknown_types_skipped),
		cmocka_unit_test(test_last_padding_may_be_missing),
		cmocka_unit_test(test_refuse_prefix),
		cmocka_unit_test(test_refuse_l3),
		cmocka_unit_test(test_l4_states_v4),
		cmocka_unit_test(test_l4_states_v6),
		cmocka_unit_test(test_other_families),
		cmocka_unit_test(test_prefix_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
