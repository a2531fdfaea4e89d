/* The boot bundle a new worker gets (fwd/rw_boot.h): every config of the
 * good corpus with TLS files goes through pack and unpack unchanged; every
 * truncation, a flipped magic, trailing bytes, an over-long count or
 * name, and a file given twice are refused with nothing leaked (the ASan
 * build checks that); so are bans out of their one canonical form (order,
 * overlap, an address among the prefixes, no expiry, a count over what
 * is left). Also writes the fuzzer's seeds when asked
 * (RW_WRITE_SEEDS=DIR). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "appliance/rw_config.h"
#include "base/rw_err.h"
#include "fwd/rw_boot.h"
#include "rules/rw_cidr.h"

static const char *const g_confs[] = {
	"tests/configs/good/02-minimal.conf",
	"tests/configs/good/01-full.conf",
	"tests/configs/good/05-listen-list.conf",
};

static struct rw_cidr C(const char *t)
{
	struct rw_cidr c;
	assert_int_equal(rw_cidr_parse(t, &c, 0), 0);
	return c;
}

/* bans as a parent holds them: addresses, one inside a banned prefix,
 * prefixes of both families (added out of order) */
static const struct {
	const char *cidr;
	uint64_t exp;
} g_bans[] = {
	{ "2001:db8::/48", 1700000000000ull },  { "203.0.113.10/32", 1700000001000ull },
	{ "203.0.113.8/30", (uint64_t)1 << 40 }, { "192.0.2.1/32", 5 },
	{ "2001:db8:1::10/128", 1700000002000ull }, { "198.51.100.0/24", 1700000003000ull },
};
#define N_BANS (sizeof(g_bans) / sizeof(g_bans[0]))

/* a bundle from a config: its policy, bans, two files, a secret */
static void make(const char *conf, struct rw_boot *b, struct rw_policy *p)
{
	struct rw_diag d;
	rw_diag_init(&d);
	memset(p, 0, sizeof(*p));
	if (rw_config_load_file(conf, p, &d) != 0) {
		rw_diag_print(&d, stderr);
		fail_msg("cannot load %s", conf);
	}
	memset(b, 0, sizeof(*b));
	b->generation = 7;
	b->slot = 1;
	b->live_seq = (uint64_t)1 << 40 | 5;
	b->tickets = true;
	for (size_t i = 0; i < sizeof(b->secret); i++)
		b->secret[i] = (uint8_t)(i * 7 + 1);
	b->uid = 65534;
	b->gid = 65534;
	b->user_valid = true;
	snprintf(b->user, sizeof(b->user), "nobody");
	b->pol = *p;
	const uint8_t key[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
	assert_int_equal(rw_pem_set_add(&b->pem, "/etc/regwall/key.pem", key, sizeof(key) - 1), 0);
	assert_int_equal(rw_pem_set_add(&b->pem, RW_PEM_SYSTEM_CA, (const uint8_t *)"", 0), 0);
	for (size_t i = 0; i < N_BANS; i++) {
		struct rw_cidr c = C(g_bans[i].cidr);
		assert_int_equal(rw_bans_add(&b->bans, &c, g_bans[i].exp), 0);
	}
}

/* Where the ban section starts in a packed bundle: after the policy,
 * whose length sits at pl_at (the user name is "nobody"). */
static size_t bans_at(const uint8_t *buf)
{
	size_t pl_at = 8 + 20 + RW_TLSCTX_SECRET_LEN + 8 + 1 + 1 + strlen("nobody");
	uint32_t pl = (uint32_t)buf[pl_at] << 24 | (uint32_t)buf[pl_at + 1] << 16 |
		      (uint32_t)buf[pl_at + 2] << 8 | buf[pl_at + 3];
	return pl_at + 4 + pl;
}

static void put_u32(uint8_t *at, uint32_t v)
{
	at[0] = (uint8_t)(v >> 24);
	at[1] = (uint8_t)(v >> 16);
	at[2] = (uint8_t)(v >> 8);
	at[3] = (uint8_t)v;
}

static void test_roundtrip(void **state)
{
	for (size_t i = 0; i < sizeof(g_confs) / sizeof(g_confs[0]); i++) {
		struct rw_boot b, u;
		struct rw_policy p;
		make(g_confs[i], &b, &p);
		uint8_t *buf, *again;
		size_t n, n2;
		assert_int_equal(rw_boot_pack(&b, &buf, &n), 0);
		char err[256] = "";
		assert_int_equal(rw_boot_unpack(buf, n, &u, err, sizeof(err)), 0);
		assert_int_equal(u.generation, 7);
		assert_int_equal(u.slot, 1);
		assert_true(u.live_seq == ((uint64_t)1 << 40 | 5));
		assert_true(u.tickets);
		assert_memory_equal(u.secret, b.secret, sizeof(b.secret));
		assert_int_equal(u.uid, 65534);
		assert_true(u.user_valid);
		assert_string_equal(u.user, "nobody");
		assert_int_equal(u.pem.n, 2);
		const struct rw_pem_file *k = rw_pem_set_find(&u.pem, "/etc/regwall/key.pem");
		assert_non_null(k);
		assert_memory_equal(k->data, b.pem.v[0].data, b.pem.v[0].len);
		assert_int_equal(u.pol.n_listeners, p.n_listeners);
		assert_int_equal(u.pol.n_networks, p.n_networks);
		/* every ban with its expiry; the address inside the prefix too */
		assert_int_equal(rw_bans_count(&u.bans), N_BANS);
		for (size_t j = 0; j < N_BANS; j++) {
			struct rw_cidr c = C(g_bans[j].cidr);
			assert_true(rw_bans_has(&u.bans, &c, g_bans[j].exp - 1));
			assert_false(rw_bans_has(&u.bans, &c, g_bans[j].exp));
		}
		assert_int_equal(u.bans.host.set.n, 3);
		assert_int_equal(rw_boot_pack(&u, &again, &n2), 0);
		assert_int_equal(n2, n);
		assert_memory_equal(again, buf, n);
		if (getenv("RW_WRITE_SEEDS")) {
			char path[512];
			snprintf(path, sizeof(path), "%s/seed-%zu", getenv("RW_WRITE_SEEDS"), i);
			FILE *f = fopen(path, "wb");
			assert_non_null(f);
			fwrite(buf, 1, n, f);
			fclose(f);
		}
		free(again);
		rw_boot_free(&u);
		/* every cut is refused, and nothing leaks */
		for (size_t cut = 0; cut < n; cut++)
			assert_int_not_equal(rw_boot_unpack(buf, cut, &u, err, sizeof(err)), 0);
		free(buf);
		rw_pem_set_free(&b.pem);
		rw_bans_free(&b.bans);
		rw_policy_free(&p);
	}
}

/* One field broken at a time, each refused with its own reason. */
static void test_refused(void **state)
{
	struct rw_boot b, u;
	struct rw_policy p;
	make(g_confs[0], &b, &p);
	uint8_t *buf;
	size_t n;
	char err[256];
	assert_int_equal(rw_boot_pack(&b, &buf, &n), 0);
	uint8_t *m = malloc(n + 1);

	memcpy(m, buf, n);
	m[7] = '1'; /* the version before bans */
	assert_int_equal(rw_boot_unpack(m, n, &u, err, sizeof(err)), RW_EPROTO);
	assert_non_null(strstr(err, "magic"));

	memcpy(m, buf, n);
	m[n] = 0;
	assert_int_equal(rw_boot_unpack(m, n + 1, &u, err, sizeof(err)), RW_EPROTO);
	assert_non_null(strstr(err, "trailing"));

	/* flags past 1 (offset: magic 8 + 4 u32) */
	memcpy(m, buf, n);
	m[8 + 16 + 3] = 2;
	assert_int_equal(rw_boot_unpack(m, n, &u, err, sizeof(err)), RW_EPROTO);
	assert_non_null(strstr(err, "bad header"));

	/* the user name length past its buffer */
	size_t ul_at = 8 + 20 + RW_TLSCTX_SECRET_LEN + 8 + 1;
	memcpy(m, buf, n);
	m[ul_at] = 200;
	assert_int_equal(rw_boot_unpack(m, n, &u, err, sizeof(err)), RW_EPROTO);

	/* the policy length over what is left */
	size_t pl_at = ul_at + 1 + strlen("nobody");
	memcpy(m, buf, n);
	m[pl_at] = 0x7f;
	assert_int_equal(rw_boot_unpack(m, n, &u, err, sizeof(err)), RW_EPROTO);
	assert_non_null(strstr(err, "truncated policy"));
	free(buf);

	free(m);
	m = NULL;

	/* the bans: each entry checked (the hosts list comes first: 3
	 * addresses, in order 192.0.2.1, 203.0.113.10, 2001:db8:1::10) */
	assert_int_equal(rw_boot_pack(&b, &buf, &n), 0);
	m = malloc(n);
	size_t ba = bans_at(buf), e0 = ba + 4, e1 = e0 + RW_BOOT_BAN_LEN;
	size_t pfx_n = e0 + 3 * RW_BOOT_BAN_LEN, pe0 = pfx_n + 4;
	assert_int_equal(buf[ba + 3], 3);
	assert_int_equal(buf[e0 + 2], 192);
	assert_int_equal(buf[pfx_n + 3], 3);
	struct {
		size_t at;
		uint8_t v;
		const char *why;
	} bad[] = {
		{ e0, AF_UNIX, "bad ban entry" },          /* family */
		{ e0 + 1, 0, "bad ban entry" },            /* /0 */
		{ e0 + 1, 33, "bad ban entry" },           /* past /32 */
		{ e0 + 1, 24, "bad ban entry" },           /* a prefix in the address list */
		{ pe0 + 2 + 3, 1, "bad ban entry" },       /* host bits: 198.51.100.1/24 */
		{ e0 + 2 + 4, 1, "bad ban entry" },        /* a byte past the IPv4 address */
		{ pe0 + 1, 128, "bad ban entry" },         /* an address in the prefix list */
		{ e1 + 2, 1, "out of order" },             /* 1.0.113.10 after 192.0.2.1 */
		{ ba + 3, 200, "bad ban count" },          /* over what is left */
		{ pfx_n + 2, 0xff, "bad ban count" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(m, buf, n);
		m[bad[i].at] = bad[i].v;
		assert_int_equal(rw_boot_unpack(m, n, &u, err, sizeof(err)), RW_EPROTO);
		print_message("ban refused: %s\n", err);
		assert_non_null(strstr(err, bad[i].why));
	}
	/* no expiry */
	memcpy(m, buf, n);
	put_u32(m + e0 + 18, 0);
	put_u32(m + e0 + 22, 0);
	assert_int_equal(rw_boot_unpack(m, n, &u, err, sizeof(err)), RW_EPROTO);
	assert_non_null(strstr(err, "a ban without expiry"));
	/* the first prefix (198.51.100.0/24) made 203.0.113.0/24: it holds
	 * the next one, 203.0.113.8/30 */
	memcpy(m, buf, n);
	m[pe0 + 2] = 203;
	m[pe0 + 3] = 0;
	m[pe0 + 4] = 113;
	assert_int_equal(rw_boot_unpack(m, n, &u, err, sizeof(err)), RW_EPROTO);
	assert_non_null(strstr(err, "overlapping"));
	/* two entries swapped: out of order */
	memcpy(m, buf, n);
	memcpy(m + e0, buf + e1, RW_BOOT_BAN_LEN);
	memcpy(m + e1, buf + e0, RW_BOOT_BAN_LEN);
	assert_int_equal(rw_boot_unpack(m, n, &u, err, sizeof(err)), RW_EPROTO);
	assert_non_null(strstr(err, "out of order"));
	free(buf);

	/* the same path twice */
	const uint8_t x[] = "x";
	struct rw_pem_file dup[2] = { { "/a", (uint8_t *)x, 1, 0 }, { "/a", (uint8_t *)x, 1, 0 } };
	struct rw_pem_set saved = b.pem;
	b.pem.v = dup;
	b.pem.n = 2;
	assert_int_equal(rw_boot_pack(&b, &buf, &n), 0);
	assert_int_equal(rw_boot_unpack(buf, n, &u, err, sizeof(err)), RW_EPROTO);
	assert_non_null(strstr(err, "twice"));
	free(buf);
	b.pem = saved;

	free(m);
	rw_pem_set_free(&b.pem);
	rw_bans_free(&b.bans);
	rw_policy_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
