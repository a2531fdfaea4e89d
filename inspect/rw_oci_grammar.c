/* OCI name / tag / digest grammar (distribution-spec v1.1.1 and image-spec).
 *
 *   name      = component *( "/" component )                <= 255 bytes
 *   component = [a-z0-9]+ *( ( "." / "_" / "__" / "-"+ ) [a-z0-9]+ )
 *   tag       = [a-zA-Z0-9_] [a-zA-Z0-9._-]{0,127}
 *   digest    = algorithm ":" encoded                        <= 255 bytes
 *   algorithm = [a-z0-9]+ *( [+._-] [a-z0-9]+ )
 *   encoded   = [a-zA-Z0-9=_-]+ ; sha256: [a-f0-9]{64}, sha512: [a-f0-9]{128}
 *
 * Hand-written scanners rather than regex: they run per request on the
 * data path and must not allocate. Each is one pass with a table lookup
 * per byte (rw_oci_ctype, and a small automaton for names), because these
 * loops are most of what classifying a request costs. tests/unit/test_oci.c
 * checks them against the spec's regular expressions. */
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "inspect/rw_oci.h"

/* The classes as constant expressions, evaluated for all 256 bytes at
 * compile time (as rw_http_ctype is). */
#define G_LOWER(c) ((c) >= 'a' && (c) <= 'z')
#define G_UPPER(c) ((c) >= 'A' && (c) <= 'Z')
#define G_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define G_ALNUM(c) (G_LOWER(c) || G_UPPER(c) || G_DIGIT(c))
#define G_LALNUM(c) (G_LOWER(c) || G_DIGIT(c))
#define G_HEXL(c) (G_DIGIT(c) || ((c) >= 'a' && (c) <= 'f'))
#define G_TAG(c) (G_ALNUM(c) || (c) == '.' || (c) == '_' || (c) == '-')
#define G_B64(c) (G_ALNUM(c) || (c) == '=' || (c) == '_' || (c) == '-')
#define G_UPID(c) (G_ALNUM(c) || (c) == '.' || (c) == '_' || (c) == '=' || (c) == '-')
#define G_MEDIA(c) (G_ALNUM(c) || (c) == '!' || (c) == '#' || (c) == '$' || (c) == '&' || \
		    (c) == '^' || (c) == '_' || (c) == '.' || (c) == '+' || (c) == '-')
#define G_ALGSEP(c) ((c) == '+' || (c) == '.' || (c) == '_' || (c) == '-')
#define G_TAG0(c) (G_ALNUM(c) || (c) == '_')
#define G(c) (uint8_t)((G_LALNUM(c) ? RW_OCI_C_LALNUM : 0u) | (G_HEXL(c) ? RW_OCI_C_HEXL : 0u) | \
		       (G_TAG(c) ? RW_OCI_C_TAG : 0u) | (G_B64(c) ? RW_OCI_C_B64 : 0u) |      \
		       (G_UPID(c) ? RW_OCI_C_UPID : 0u) | (G_MEDIA(c) ? RW_OCI_C_MEDIA : 0u) | \
		       (G_ALGSEP(c) ? RW_OCI_C_ALGSEP : 0u) | (G_TAG0(c) ? RW_OCI_C_TAG0 : 0u))
#define G4(c) G(c), G((c) + 1), G((c) + 2), G((c) + 3)
#define G16(c) G4(c), G4((c) + 4), G4((c) + 8), G4((c) + 12)
#define G64(c) G16(c), G16((c) + 16), G16((c) + 32), G16((c) + 48)

const uint8_t rw_oci_ctype[256] = { G64(0), G64(64), G64(128), G64(192) };

#ifdef __SSE2__
/* Sixteen bytes per test for the two long runs a request carries: the 64
 * or 128 hex digits of a digest and the ~200 base64url bytes of _state.
 * Bit k of the result: byte k is NOT of the class. */
static inline __m128i v_in(__m128i v, unsigned char lo, unsigned char hi)
{
	__m128i x = _mm_sub_epi8(v, _mm_set1_epi8((char)lo));
	return _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8((char)(hi - lo))), x);
}

static inline unsigned v_not_hexl(__m128i v)
{
	__m128i ok = _mm_or_si128(v_in(v, '0', '9'), v_in(v, 'a', 'f'));
	return ~(unsigned)_mm_movemask_epi8(ok) & 0xffffu;
}

static inline unsigned v_not_b64(__m128i v)
{
	__m128i ok = _mm_or_si128(_mm_or_si128(v_in(v, '0', '9'), v_in(v, 'A', 'Z')),
				  v_in(v, 'a', 'z'));
	ok = _mm_or_si128(ok, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('=')),
					   _mm_cmpeq_epi8(v, _mm_set1_epi8('_'))));
	ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
	return ~(unsigned)_mm_movemask_epi8(ok) & 0xffffu;
}
#endif

size_t rw_oci_run(const uint8_t *b, size_t len, uint8_t cls)
{
	size_t i = 0;
#ifdef __SSE2__
	if (cls == RW_OCI_C_HEXL || cls == RW_OCI_C_B64) {
		while (len - i >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
			unsigned bad = cls == RW_OCI_C_HEXL ? v_not_hexl(v) : v_not_b64(v);
			if (bad)
				return i + (size_t)__builtin_ctz(bad);
			i += 16;
		}
	}
#endif
	const uint8_t *t = rw_oci_ctype;
	while (len - i >= 8 && (t[b[i]] & t[b[i + 1]] & t[b[i + 2]] & t[b[i + 3]] & t[b[i + 4]] &
				t[b[i + 5]] & t[b[i + 6]] & t[b[i + 7]] & cls))
		i += 8;
	while (i < len && (t[b[i]] & cls))
		i++;
	return i;
}

bool rw_oci_all_class(const char *s, size_t len, uint8_t cls)
{
	return rw_oci_run((const uint8_t *)s, len, cls) == len;
}

/* Names: an automaton over five byte classes. States say what may come
 * next; only N_ALNUM (inside a run of [a-z0-9]) may end a component. */
enum {
	NC_OTHER = 0,
	NC_ALNUM, /* [a-z0-9] */
	NC_DOT,
	NC_US,
	NC_DASH,
	NC_SLASH,
	NC_MAX_,
};

enum {
	N_NEED = 0, /* start of a component, or after "." / "__": [a-z0-9] only */
	N_ALNUM,    /* may end here */
	N_US1,      /* after one "_": "_" or [a-z0-9] */
	N_DASH,     /* after "-"+: "-" or [a-z0-9] */
	N_ERR,      /* absorbing */
	N_MAX_,
};

#define NC(c) (uint8_t)(G_LALNUM(c) ? NC_ALNUM : (c) == '.' ? NC_DOT : (c) == '_' ? NC_US : \
			(c) == '-' ? NC_DASH : (c) == '/' ? NC_SLASH : NC_OTHER)
#define NC4(c) NC(c), NC((c) + 1), NC((c) + 2), NC((c) + 3)
#define NC16(c) NC4(c), NC4((c) + 4), NC4((c) + 8), NC4((c) + 12)
#define NC64(c) NC16(c), NC16((c) + 16), NC16((c) + 32), NC16((c) + 48)
static const uint8_t name_cls[256] = { NC64(0), NC64(64), NC64(128), NC64(192) };

static const uint8_t name_next[N_MAX_][NC_MAX_] = {
	/*            other  alnum    dot     us      dash    slash */
	[N_NEED] = { N_ERR, N_ALNUM, N_ERR, N_ERR, N_ERR, N_ERR },
	[N_ALNUM] = { N_ERR, N_ALNUM, N_NEED, N_US1, N_DASH, N_NEED },
	[N_US1] = { N_ERR, N_ALNUM, N_ERR, N_NEED, N_ERR, N_ERR },
	[N_DASH] = { N_ERR, N_ALNUM, N_ERR, N_ERR, N_DASH, N_ERR },
	[N_ERR] = { N_ERR, N_ERR, N_ERR, N_ERR, N_ERR, N_ERR },
};

bool rw_oci_valid_name(const char *s, size_t len)
{
	if (!s || len == 0 || len > RW_OCI_NAME_MAX)
		return false;
	const uint8_t *b = (const uint8_t *)s;
	unsigned st = N_NEED;
	for (size_t i = 0; i < len; i++) {
		if (st == N_ALNUM) {
			/* inside a run of [a-z0-9], where most bytes are */
			while (i < len && (rw_oci_ctype[b[i]] & RW_OCI_C_LALNUM))
				i++;
			if (i == len)
				break;
		}
		st = name_next[st][name_cls[b[i]]];
		if (st == N_ERR)
			return false;
	}
	return st == N_ALNUM;
}

bool rw_oci_valid_tag(const char *s, size_t len)
{
	if (!s || len == 0 || len > RW_OCI_TAG_MAX)
		return false;
	if (!(rw_oci_ctype[(uint8_t)s[0]] & RW_OCI_C_TAG0))
		return false;
	return rw_oci_all_class(s + 1, len - 1, RW_OCI_C_TAG);
}

static bool lower_alnum(char c)
{
	return rw_oci_ctype[(uint8_t)c] & RW_OCI_C_LALNUM;
}

bool rw_oci_valid_digest(const char *s, size_t len)
{
	if (!s || len == 0 || len > RW_OCI_DIGEST_MAX)
		return false;
	/* The two registered algorithms, and nearly every digest on the wire:
	 * with this prefix the general rules below reduce to exactly these. */
	if (len >= 7 && memcmp(s, "sha256:", 7) == 0)
		return len == 7 + 64 && rw_oci_all_class(s + 7, 64, RW_OCI_C_HEXL);
	if (len >= 7 && memcmp(s, "sha512:", 7) == 0)
		return len == 7 + 128 && rw_oci_all_class(s + 7, 128, RW_OCI_C_HEXL);
	const char *colon = memchr(s, ':', len);
	if (!colon)
		return false;
	size_t alen = (size_t)(colon - s), elen = len - alen - 1;
	/* algorithm: components of [a-z0-9]+ joined by single [+._-] */
	if (alen == 0 || !lower_alnum(s[0]) || !lower_alnum(s[alen - 1]))
		return false;
	for (size_t i = 1; i < alen; i++) {
		if (lower_alnum(s[i]))
			continue;
		bool sep = rw_oci_ctype[(uint8_t)s[i]] & RW_OCI_C_ALGSEP;
		if (!sep || !lower_alnum(s[i - 1]))
			return false;
	}
	if (elen == 0)
		return false;
	return rw_oci_all_class(colon + 1, elen, RW_OCI_C_B64);
}
