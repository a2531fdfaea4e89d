/* WireGuard keys (see rw_wg_key.h). */
#include "appliance/rw_wg_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/rw_err.h"

void rw_wg_key_clamp(uint8_t k[RW_WG_KEY_LEN])
{
	k[0] &= 248;
	k[31] = (uint8_t)((k[31] & 127) | 64);
}

int rw_wg_key_is_zero(const uint8_t k[RW_WG_KEY_LEN])
{
	uint8_t acc = 0;
	for (size_t i = 0; i < RW_WG_KEY_LEN; i++)
		acc |= k[i];
	return acc == 0;
}

int rw_wg_key_generate(uint8_t priv[RW_WG_KEY_LEN], uint8_t pub[RW_WG_KEY_LEN])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
	EVP_PKEY *k = NULL;
	int rc = RW_EIO;
	size_t l = RW_WG_KEY_LEN;
	if (!c)
		return RW_ENOMEM;
	if (EVP_PKEY_keygen_init(c) == 1 && EVP_PKEY_keygen(c, &k) == 1 &&
	    EVP_PKEY_get_raw_private_key(k, priv, &l) == 1 && l == RW_WG_KEY_LEN) {
		/* OpenSSL 3 already clamps; again so the bytes match wg's
		 * output whatever the provider does */
		rw_wg_key_clamp(priv);
		rc = rw_wg_key_public(priv, pub);
	}
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(c);
	if (rc)
		OPENSSL_cleanse(priv, RW_WG_KEY_LEN);
	return rc;
}

int rw_wg_key_public(const uint8_t priv[RW_WG_KEY_LEN], uint8_t pub[RW_WG_KEY_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, RW_WG_KEY_LEN);
	size_t l = RW_WG_KEY_LEN;
	int rc = RW_EIO;
	if (!k)
		return RW_EINVAL;
	if (EVP_PKEY_get_raw_public_key(k, pub, &l) == 1 && l == RW_WG_KEY_LEN)
		rc = 0;
	EVP_PKEY_free(k);
	return rc;
}

static const char rw_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void rw_wg_key_to_base64(const uint8_t k[RW_WG_KEY_LEN], char out[RW_WG_KEY_B64_LEN + 1])
{
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < RW_WG_KEY_LEN; i++) {
		acc = (acc << 8) | k[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = rw_b64[(acc >> bits) & 63];
		}
	}
	/* 256 bits = 42 symbols and 4 bits left: one more symbol, then '=' */
	out[o++] = rw_b64[(acc << (6 - bits)) & 63];
	out[o++] = '=';
	out[o] = '\0';
}

static int rw_b64_val(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* 43 symbols carry 258 bits: the last symbol's 2 low bits must be 0
 * (`^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$`), else two strings would
 * name one key. */
int rw_wg_key_from_base64(const char *s, size_t len, uint8_t k[RW_WG_KEY_LEN])
{
	uint8_t tmp[RW_WG_KEY_LEN];
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;
	if (!s || len != RW_WG_KEY_B64_LEN || s[43] != '=')
		return RW_EINVAL;
	for (size_t i = 0; i < 43; i++) {
		int v = rw_b64_val(s[i]);
		if (v < 0)
			return RW_EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			tmp[n++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (n != RW_WG_KEY_LEN || bits != 2 || acc != 0)
		return RW_EINVAL;
	memcpy(k, tmp, sizeof(tmp));
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return 0;
}

void rw_wg_key_to_hex(const uint8_t k[RW_WG_KEY_LEN], char out[RW_WG_KEY_HEX_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < RW_WG_KEY_LEN; i++) {
		out[2 * i] = hx[k[i] >> 4];
		out[2 * i + 1] = hx[k[i] & 15];
	}
	out[RW_WG_KEY_HEX_LEN] = '\0';
}

static int rw_hex_val(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1; /* upper case too: the UAPI writes lower case only */
}

int rw_wg_key_from_hex(const char *s, size_t len, uint8_t k[RW_WG_KEY_LEN])
{
	uint8_t tmp[RW_WG_KEY_LEN];
	if (!s || len != RW_WG_KEY_HEX_LEN)
		return RW_EINVAL;
	for (size_t i = 0; i < RW_WG_KEY_LEN; i++) {
		int hi = rw_hex_val(s[2 * i]), lo = rw_hex_val(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return RW_EINVAL;
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(k, tmp, sizeof(tmp));
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return 0;
}

static int rw_wg_key_create_file(const char *path, uint8_t priv[RW_WG_KEY_LEN], char *why,
				 size_t why_len)
{
	uint8_t pub[RW_WG_KEY_LEN];
	char b64[RW_WG_KEY_B64_LEN + 2];
	int rc = rw_wg_key_generate(priv, pub);
	if (rc) {
		snprintf(why, why_len, "cannot generate a key: %s", rw_strerror(rc));
		return rc;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(why, why_len, "cannot create %s: %s", path, strerror(errno));
		OPENSSL_cleanse(priv, RW_WG_KEY_LEN);
		return RW_EIO;
	}
	rw_wg_key_to_base64(priv, b64);
	b64[RW_WG_KEY_B64_LEN] = '\n';
	ssize_t w = write(fd, b64, RW_WG_KEY_B64_LEN + 1);
	int werr = errno;
	OPENSSL_cleanse(b64, sizeof(b64));
	if (w != RW_WG_KEY_B64_LEN + 1 || fsync(fd) != 0) {
		snprintf(why, why_len, "cannot write %s: %s", path,
			 w < 0 ? strerror(werr) : "short write");
		close(fd);
		unlink(path);
		OPENSSL_cleanse(priv, RW_WG_KEY_LEN);
		return RW_EIO;
	}
	close(fd);
	return 0;
}

int rw_wg_key_load_file(const char *path, int create, uint8_t priv[RW_WG_KEY_LEN],
			int *created, char *why, size_t why_len)
{
	char buf[RW_WG_KEY_B64_LEN + 3];
	struct stat st;
	*created = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT && create) {
		int rc = rw_wg_key_create_file(path, priv, why, why_len);
		if (rc == 0)
			*created = 1;
		return rc;
	}
	if (fd < 0) {
		snprintf(why, why_len, "cannot open %s: %s", path, strerror(errno));
		return errno == ENOENT ? RW_ENOENT : RW_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, why_len, "%s: not a regular file", path);
		close(fd);
		return RW_EINVAL;
	}
	if (st.st_mode & 077) {
		snprintf(why, why_len, "%s: mode %03o lets others read the private key; chmod 600 it",
			 path, (unsigned)(st.st_mode & 0777));
		close(fd);
		return RW_EPERM;
	}
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	size_t len = n > 0 ? (size_t)n : 0;
	if (len && buf[len - 1] == '\n')
		len--;
	int rc = n < 0 ? RW_EIO : rw_wg_key_from_base64(buf, len, priv);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (rc)
		snprintf(why, why_len, "%s: expected one base64 key as `wg genkey` writes it", path);
	else if (rw_wg_key_is_zero(priv))
		snprintf(why, why_len, "%s: an all-zero key is not a key", path), rc = RW_EINVAL;
	return rc;
}
