/* Raw-text checks run before libconfig sees the file.
 *
 * Why a scan of the text and not a check of the parsed values: libconfig
 * 1.5 (Debian 12) turns "ban_after = 5000000000;" into the 32-bit INT
 * 705032704 without any error, and "0xFFFFFFFF" into -1. After parsing the
 * wrong number is indistinguishable from one the admin meant, and range
 * checks cannot help when the truncated value happens to be in range.
 * Re-reading one setting's source line is fragile (several settings share a
 * line, strings and comments contain digits). So this file tokenizes the
 * whole text the way libconfig's scanner does (comments, strings, names,
 * numbers) and flags every integer literal whose magnitude exceeds
 * INT32_MAX and that lacks the L suffix. Floats ("1e10", "3.5") are skipped.
 * Settings that may legitimately be large are also read as int64 and
 * range-checked after parsing (rw_config_schema.c): both guards together.
 *
 * @include is refused: the loader validates and reloads one file as a unit
 * (the design ships one file to every HA node), this scan would not see the
 * included text, and a loader fed from memory must not open arbitrary
 * paths. libconfig treats a line starting with optional blanks then
 * "@include" as the directive, so any such line is refused, whatever
 * comment or string state this tokenizer believes it is in.
 *
 * A string still open at the end of the text is refused here too, with a
 * clearer message than libconfig's "syntax error" at the last line, and
 * because libconfig 1.5 leaks the string's buffer on that path (found by
 * fuzz_config). It leaks the same way on a syntax error right after any
 * string; that case cannot be caught without re-implementing the grammar,
 * costs a few bytes per refused reload, and is suppressed in the fuzzer.
 */
#include "appliance/rw_config_int.h"

#include <string.h>

#include "base/rw_cursor.h"

static int rw_scan_is_digit(uint8_t ch)
{
	return ch >= '0' && ch <= '9';
}

static int rw_scan_is_hex(uint8_t ch)
{
	return rw_scan_is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static int rw_scan_is_name_start(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '*';
}

static int rw_scan_is_name(uint8_t ch)
{
	return rw_scan_is_name_start(ch) || rw_scan_is_digit(ch) || ch == '-' || ch == '_';
}

static unsigned rw_scan_includes(const char *text, const char *file, struct rw_diag *diag)
{
	struct rw_cursor c;
	unsigned errs = 0;
	int line = 1;
	uint8_t ch;
	rw_cur_init(&c, text, strlen(text));
	while (rw_cur_left(&c) > 0) {
		size_t i = 0;
		while (rw_cur_peek_u8(&c, i, &ch) == 0 && (ch == ' ' || ch == '\t'))
			i++;
		if (rw_cur_left(&c) - i >= 8 && memcmp(rw_cur_ptr(&c) + i, "@include", 8) == 0) {
			rw_diag_err(diag, file, line,
				    "@include is not supported: keep the whole configuration in one file");
			errs++;
		}
		while (rw_cur_u8(&c, &ch) == 0 && ch != '\n')
			;
		line++;
	}
	return errs;
}

/* Skip to the end of a "..." string (the opening quote already consumed);
 * backslash escapes the next byte. Newlines inside still count lines.
 * Returns 0 at the closing quote, RW_EINCOMPLETE if the text ends first. */
static int rw_scan_string(struct rw_cursor *c, int *line)
{
	uint8_t ch;
	while (rw_cur_u8(c, &ch) == 0) {
		if (ch == '\n')
			(*line)++;
		if (ch == '"')
			return 0;
		if (ch == '\\' && rw_cur_u8(c, &ch) == 0 && ch == '\n')
			(*line)++;
	}
	return RW_EINCOMPLETE;
}

/* A number starting at the cursor (a digit). Returns 1 if it is an integer
 * literal that libconfig would truncate. */
static int rw_scan_number(struct rw_cursor *c)
{
	uint8_t ch, x;
	uint64_t v = 0;
	int big = 0;
	if (rw_cur_peek_u8(c, 0, &ch) == 0 && ch == '0' && rw_cur_peek_u8(c, 1, &x) == 0 &&
	    (x == 'x' || x == 'X')) {
		rw_cur_skip(c, 2);
		while (rw_cur_peek_u8(c, 0, &ch) == 0 && rw_scan_is_hex(ch)) {
			int d = rw_scan_is_digit(ch) ? ch - '0' : (ch | 0x20) - 'a' + 10;
			if (v > (UINT64_MAX >> 4))
				big = 1;
			else
				v = v << 4 | (uint64_t)d;
			rw_cur_skip(c, 1);
		}
	} else {
		while (rw_cur_peek_u8(c, 0, &ch) == 0 && rw_scan_is_digit(ch)) {
			if (v > (UINT64_MAX - 9) / 10)
				big = 1;
			else
				v = v * 10 + (uint64_t)(ch - '0');
			rw_cur_skip(c, 1);
		}
		if (rw_cur_peek_u8(c, 0, &ch) == 0 && (ch == '.' || ch == 'e' || ch == 'E')) {
			/* a float: consume its remaining characters */
			while (rw_cur_peek_u8(c, 0, &ch) == 0 &&
			       (rw_scan_is_digit(ch) || ch == '.' || ch == 'e' || ch == 'E' ||
				ch == '+' || ch == '-'))
				rw_cur_skip(c, 1);
			return 0;
		}
	}
	if (rw_cur_peek_u8(c, 0, &ch) == 0 && ch == 'L') {
		rw_cur_skip(c, 1);
		return 0;
	}
	return big || v > 2147483647u;
}

unsigned rw_cfg_prescan(const char *text, const char *file, struct rw_diag *diag,
			bool *no_parse)
{
	struct rw_cursor c;
	unsigned errs = rw_scan_includes(text, file, diag);
	*no_parse = errs > 0;
	int line = 1;
	/* Editors on other systems save this; libconfig would only say
	 * "syntax error" at line 1. */
	if ((unsigned char)text[0] == 0xef && (unsigned char)text[1] == 0xbb &&
	    (unsigned char)text[2] == 0xbf) {
		rw_diag_err(diag, file, 1,
			    "the file starts with a UTF-8 byte order mark; save it without one");
		*no_parse = true;
		return errs + 1;
	}
	uint8_t ch, nx;

	rw_cur_init(&c, text, strlen(text));
	while (rw_cur_peek_u8(&c, 0, &ch) == 0) {
		int has_next = rw_cur_peek_u8(&c, 1, &nx) == 0;
		if (ch == '\n') {
			line++;
			rw_cur_skip(&c, 1);
		} else if (ch == '#' || (ch == '/' && has_next && nx == '/')) {
			while (rw_cur_peek_u8(&c, 0, &ch) == 0 && ch != '\n')
				rw_cur_skip(&c, 1);
		} else if (ch == '/' && has_next && nx == '*') {
			rw_cur_skip(&c, 2);
			while (rw_cur_u8(&c, &ch) == 0) {
				if (ch == '\n')
					line++;
				if (ch == '*' && rw_cur_peek_u8(&c, 0, &nx) == 0 && nx == '/') {
					rw_cur_skip(&c, 1);
					break;
				}
			}
		} else if (ch == '"') {
			int start = line;
			rw_cur_skip(&c, 1);
			if (rw_scan_string(&c, &line)) {
				rw_diag_err(diag, file, start, "string never closed (missing '\"')");
				errs++;
				*no_parse = true;
			}
		} else if (rw_scan_is_name_start(ch)) {
			while (rw_cur_peek_u8(&c, 0, &ch) == 0 && rw_scan_is_name(ch))
				rw_cur_skip(&c, 1);
		} else if (rw_scan_is_digit(ch)) {
			if (rw_scan_number(&c)) {
				rw_diag_err(diag, file, line,
					    "integer too large for 32 bits; write it with an L suffix");
				errs++;
			}
		} else {
			rw_cur_skip(&c, 1);
		}
	}
	return errs;
}
