/* WireGuard keys (appliance/rw_wg_key.c): the public keys we compute match
 * `wg pubkey` on vectors made with wg-tools (tests/data/wg/key_vectors.txt,
 * "private public" per line, the last one an unclamped private key), and
 * the strict decoders refuse every second spelling of a key. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appliance/rw_wg_key.h"
#include "base/rw_err.h"

static void test_vectors_match_wg(void **state)
{
	FILE *f = fopen("tests/data/wg/key_vectors.txt", "r");
	assert_non_null(f);
	char priv_s[64], pub_s[64];
	int n = 0;
	while (fscanf(f, "%63s %63s", priv_s, pub_s) == 2) {
		uint8_t priv[32], pub[32], want[32];
		char out[RW_WG_KEY_B64_LEN + 1];
		assert_int_equal(rw_wg_key_from_base64(priv_s, strlen(priv_s), priv), 0);
		assert_int_equal(rw_wg_key_from_base64(pub_s, strlen(pub_s), want), 0);
		assert_int_equal(rw_wg_key_public(priv, pub), 0);
		assert_memory_equal(pub, want, 32);
		rw_wg_key_to_base64(pub, out);
		assert_string_equal(out, pub_s);
		rw_wg_key_to_base64(priv, out);
		assert_string_equal(out, priv_s);
		n++;
	}
	fclose(f);
	assert_int_equal(n, 5);
}

static void test_generate_is_clamped_and_consistent(void **state)
{
	uint8_t a[32], pa[32], b[32], pb[32], chk[32];
	assert_int_equal(rw_wg_key_generate(a, pa), 0);
	assert_int_equal(rw_wg_key_generate(b, pb), 0);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(a[0] & 7, 0);
	assert_int_equal(a[31] & 0xc0, 0x40);
	assert_int_equal(rw_wg_key_public(a, chk), 0);
	assert_memory_equal(chk, pa, 32);
	/* clamping does not change the public key (X25519 clamps inside) */
	a[0] |= 7;
	a[31] |= 0x80;
	assert_int_equal(rw_wg_key_public(a, chk), 0);
	assert_memory_equal(chk, pa, 32);
}

static void test_base64_strict(void **state)
{
	uint8_t k[32];
	const char *good = "jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7EL38=";
	assert_int_equal(rw_wg_key_from_base64(good, 44, k), 0);
	/* trailing bits not zero: a second spelling of the same key */
	assert_int_equal(rw_wg_key_from_base64("jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7EL39=", 44, k),
			 RW_EINVAL);
	assert_int_equal(rw_wg_key_from_base64(good, 43, k), RW_EINVAL);
	assert_int_equal(rw_wg_key_from_base64("jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7EL38==", 45, k),
			 RW_EINVAL);
	assert_int_equal(rw_wg_key_from_base64("jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7E 38=", 44, k),
			 RW_EINVAL);
	assert_int_equal(rw_wg_key_from_base64("jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7EL38A", 44, k),
			 RW_EINVAL);
	assert_int_equal(rw_wg_key_from_base64("jZdBt7x8tyqdytefFlLDwELDIedjlaIj2wT79R7E-38=", 44, k),
			 RW_EINVAL);
	assert_int_equal(rw_wg_key_from_base64(NULL, 44, k), RW_EINVAL);
	/* every byte value round-trips */
	uint8_t all[32], back[32];
	char s[45];
	for (int base = 0; base < 256; base += 32) {
		for (int i = 0; i < 32; i++)
			all[i] = (uint8_t)(base + i);
		rw_wg_key_to_base64(all, s);
		assert_int_equal(strlen(s), 44);
		assert_int_equal(rw_wg_key_from_base64(s, 44, back), 0);
		assert_memory_equal(all, back, 32);
	}
}

static void test_hex_strict(void **state)
{
	uint8_t k[32], back[32];
	char h[65];
	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)(i * 37 + 5);
	rw_wg_key_to_hex(k, h);
	assert_int_equal(strlen(h), 64);
	assert_int_equal(rw_wg_key_from_hex(h, 64, back), 0);
	assert_memory_equal(k, back, 32);
	assert_int_equal(rw_wg_key_from_hex(h, 63, back), RW_EINVAL);
	assert_int_equal(rw_wg_key_from_hex(h, 65, back), RW_EINVAL);
	char bad[65];
	memcpy(bad, h, 65);
	bad[10] = 'g';
	assert_int_equal(rw_wg_key_from_hex(bad, 64, back), RW_EINVAL);
	memcpy(bad, h, 65);
	bad[0] = 'A'; /* upper case is not what the UAPI writes */
	assert_int_equal(rw_wg_key_from_hex(bad, 64, back), RW_EINVAL);
	/* a wg vector: base64 and hex name the same bytes */
	assert_int_equal(rw_wg_key_from_base64("vr4+K90rHsNQ7XZZC1uzQS8s0IxSnLSr3TDZdrWCGgg=", 44, k), 0);
	rw_wg_key_to_hex(k, h);
	assert_string_equal(h, "bebe3e2bdd2b1ec350ed76590b5bb3412f2cd08c529cb4abdd30d976b5821a08");
}

static void test_key_file(void **state)
{
	char dir[] = "/tmp/rw-wgkey-XXXXXX", path[128], why[256];
	uint8_t priv[32], again[32];
	int created = 0;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/wg.key", dir);
	/* missing, no create */
	assert_int_equal(rw_wg_key_load_file(path, 0, priv, &created, why, sizeof(why)), RW_ENOENT);
	/* missing, create: 0600, wg format */
	assert_int_equal(rw_wg_key_load_file(path, 1, priv, &created, why, sizeof(why)), 0);
	assert_int_equal(created, 1);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 45);
	/* read back: same key, not created again */
	assert_int_equal(rw_wg_key_load_file(path, 1, again, &created, why, sizeof(why)), 0);
	assert_int_equal(created, 0);
	assert_memory_equal(priv, again, 32);
	/* world-readable: refused, naming the fix */
	chmod(path, 0644);
	assert_int_equal(rw_wg_key_load_file(path, 1, again, &created, why, sizeof(why)), RW_EPERM);
	assert_non_null(strstr(why, "chmod 600"));
	/* garbage */
	FILE *f = fopen(path, "w");
	fputs("not a key\n", f);
	fclose(f);
	chmod(path, 0600);
	assert_int_equal(rw_wg_key_load_file(path, 1, again, &created, why, sizeof(why)), RW_EINVAL);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_match_wg),
		cmocka_unit_test(test_generate_is_clamped_and_consistent),
		cmocka_unit_test(test_base64_strict),
		cmocka_unit_test(test_hex_strict),
		cmocka_unit_test(test_key_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
