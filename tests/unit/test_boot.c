/* The boot bundle a new worker gets (fwd/rw_boot.h): every config of the
 * good corpus with TLS files goes through pack and unpack unchanged; every
 * truncation, a flipped magic, trailing bytes, an over-long count or
 * name, and a file given twice are refused with nothing leaked (the ASan
 * build checks that). Also writes the fuzzer's seeds when asked
 * (RW_WRITE_SEEDS=DIR). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "appliance/rw_config.h"
#include "base/rw_err.h"
#include "fwd/rw_boot.h"

static const char *const g_confs[] = {
	"tests/configs/good/02-minimal.conf",
	"tests/configs/good/01-full.conf",
	"tests/configs/good/05-listen-list.conf",
};

/* a bundle from a config: its policy, two files, a secret */
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
	m[7] = '2'; /* version */
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
