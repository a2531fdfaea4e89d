/* Internals of the configuration loader, shared by appliance/rw_config*.c
 * and the unit tests. Nothing outside the loader includes this: the rest of
 * regwall sees only struct rw_policy.
 *
 * Shape (style habit 8): rw_config_scan.c checks the raw text for what
 * libconfig would silently get wrong; libconfig parses; rw_config_schema.c
 * walks every group against one table of settings (names, types, ranges,
 * required); the rw_config_<section>.c builders turn values into the policy
 * with the value parsers of rw_config_parse.c; cross-field checks run last.
 * All problems are collected, none stops the walk. */
#ifndef RW_CONFIG_INT_H
#define RW_CONFIG_INT_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "appliance/rw_units.h"
#include "base/rw_err.h"
#include "rules/rw_policy.h"

/* The largest config file accepted: far above any sane policy, small enough
 * that a mistaken path (a log, a device) is refused rather than parsed. */
#define RW_CFG_MAX_BYTES (4u * 1024 * 1024)

struct rw_cfg_ctx {
	const char *file;     /* name used in messages */
	const char *base_dir; /* relative paths resolve here; NULL = cwd */
	struct rw_diag *diag;
	struct rw_policy *pol;
	int oom; /* an allocation failed: the load fails with RW_ENOMEM */
};

/* "FILE:LINE: <path of s>: message" (path like listeners[0].cert). */
void rw_cfg_err(struct rw_cfg_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void rw_cfg_warn(struct rw_cfg_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "FILE:LINE: message" without a setting path. */
void rw_cfg_err_line(struct rw_cfg_ctx *ctx, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Setting path for messages: "networks.office[1]", "listeners[0].cert". */
void rw_cfg_path(const config_setting_t *s, char *buf, size_t len);
int rw_cfg_line(const config_setting_t *s);

/* strdup that records OOM in ctx; NULL in -> NULL out. */
char *rw_cfg_strdup(struct rw_cfg_ctx *ctx, const char *s);
void *rw_cfg_calloc(struct rw_cfg_ctx *ctx, size_t n, size_t size);

/* A path setting naming a file regwall reads (certs, keys, CAs): must be a
 * readable regular file. Relative paths resolve against ctx->base_dir; the
 * resolved path is stored in *out. Returns 0 or an error (reported). */
int rw_cfg_file(struct rw_cfg_ctx *ctx, const config_setting_t *s, char **out);
/* A path regwall creates at run time (logs, sockets): absolute only. */
int rw_cfg_abs_path(struct rw_cfg_ctx *ctx, const config_setting_t *s, size_t max_len,
		    char **out);

/* ---- the settings table (rw_config_schema.c) ---- */

enum rw_cfg_kind {
	RW_CK_STRING = 0,       /* non-empty string */
	RW_CK_BOOL,
	RW_CK_INT,              /* int or int64 (L suffix), within [min, max] */
	RW_CK_STRINGS,          /* array or list of strings */
	RW_CK_STRING_OR_STRINGS,
	RW_CK_DURATION,         /* "10m" style string, or an int (seconds) */
	RW_CK_GROUP,            /* { ... } checked against sub */
	RW_CK_LIST,             /* ( { ... }, ... ) each checked against sub */
};

struct rw_cfg_section;

struct rw_cfg_key {
	const char *name;
	enum rw_cfg_kind kind;
	bool required;
	int64_t min, max; /* RW_CK_INT only */
	const struct rw_cfg_section *sub;
};

struct rw_cfg_section {
	const char *what; /* "registry", "listeners[]", for messages */
	const struct rw_cfg_key *keys;
	size_t n_keys;
	/* networks: any well-formed name, each an RW_CK_STRINGS */
	bool any_name_is_strings;
};

extern const struct rw_cfg_section rw_cfg_sec_root;
extern const struct rw_cfg_section rw_cfg_sec_registry;
extern const struct rw_cfg_section rw_cfg_sec_listener;
extern const struct rw_cfg_section rw_cfg_sec_identity;
extern const struct rw_cfg_section rw_cfg_sec_vpn;
extern const struct rw_cfg_section rw_cfg_sec_peer;
extern const struct rw_cfg_section rw_cfg_sec_policy;
extern const struct rw_cfg_section rw_cfg_sec_push_rate;
extern const struct rw_cfg_section rw_cfg_sec_conn_rate;
extern const struct rw_cfg_section rw_cfg_sec_limits;
extern const struct rw_cfg_section rw_cfg_sec_log;
extern const struct rw_cfg_section rw_cfg_sec_control;
extern const struct rw_cfg_section rw_cfg_sec_metrics;

/* Walk a group (recursively) against its section: unknown names, kinds,
 * ranges, empty strings, missing required settings. Errors go to ctx. */
void rw_cfg_check_group(struct rw_cfg_ctx *ctx, const config_setting_t *grp,
			const struct rw_cfg_section *sec);

/* Typed getters for the builders. Each returns the member only when it is
 * present and passed the table's checks (a bad one was reported by
 * rw_cfg_check_group already), so builders never report twice. */
const config_setting_t *rw_cfg_member(const config_setting_t *grp, const char *name);
const char *rw_cfg_get_str(const config_setting_t *grp, const char *name);
bool rw_cfg_get_bool(const config_setting_t *grp, const char *name, bool *v);
bool rw_cfg_get_int(const config_setting_t *grp, const struct rw_cfg_section *sec,
		    const char *name, int64_t *v);
/* An RW_CK_STRINGS / RW_CK_STRING_OR_STRINGS member: its element count, or
 * -1 when absent or ill-typed; elements via rw_cfg_elem_str. */
int rw_cfg_get_strings(const config_setting_t *grp, const char *name,
		       const config_setting_t **list);
const char *rw_cfg_elem_str(const config_setting_t *list, int i);
const config_setting_t *rw_cfg_elem(const config_setting_t *list, int i);

/* Edit distance, capped: returns cap + 1 once it is certainly above cap. */
unsigned rw_cfg_edit_distance(const char *a, const char *b, unsigned cap);

/* ---- value parsers (rw_config_parse.c): pure, 0 or RW_E* ---- */



/* "198.51.100.10:5000", "[2001:db8::1]:443"; numeric only; port 1..65535.
 * RW_ERANGE for a bad port, RW_EINVAL otherwise. */
int rw_cfg_parse_endpoint(const char *s, struct rw_endpoint *out);
/* [a-z][a-z0-9_-]{0,30} */
int rw_cfg_check_name(const char *s);
/* DNS name or "*.suffix"; lower-cases s in place. */
int rw_cfg_server_name_norm(char *s);
/* "pull:glob" "push:glob" "delete:glob"; *glob_out points into s. */
int rw_cfg_parse_role(const char *s, enum rw_op_class *op, const char **glob_out);
/* 64 hex digits, or 32 colon-separated pairs; any case. */
int rw_cfg_parse_sha256(const char *s, uint8_t out[32]);
/* WireGuard key: strict base64 of exactly 32 bytes (44 chars, one '='). */
int rw_cfg_parse_wg_key(const char *s, uint8_t out[32]);
/* Linux interface name: 1..15 of [a-zA-Z0-9_.-]. */
int rw_cfg_check_ifname(const char *s);

/* ---- raw text checks (rw_config_scan.c) ---- */

/* Report what libconfig 1.5 would silently get wrong or must not see:
 * integer literals above 32 bits without an L suffix, @include, a string
 * left open at the end of the text. Returns the number of errors reported;
 * *no_parse tells the caller not to hand the text to libconfig at all (it
 * would open the @include'd file, or leak the open string's buffer). */
unsigned rw_cfg_prescan(const char *text, const char *file, struct rw_diag *diag,
			bool *no_parse);

/* ---- section builders ---- */
void rw_cfg_build_registry(struct rw_cfg_ctx *ctx, const config_setting_t *root);
void rw_cfg_build_networks(struct rw_cfg_ctx *ctx, const config_setting_t *root);
void rw_cfg_build_listeners(struct rw_cfg_ctx *ctx, const config_setting_t *root);
void rw_cfg_build_identities(struct rw_cfg_ctx *ctx, const config_setting_t *root);
void rw_cfg_build_vpn(struct rw_cfg_ctx *ctx, const config_setting_t *root);
void rw_cfg_build_opts(struct rw_cfg_ctx *ctx, const config_setting_t *root);
/* roles = [ ... ] of an identity or a peer */
void rw_cfg_build_roles(struct rw_cfg_ctx *ctx, const config_setting_t *grp,
			struct rw_role **roles, size_t *n_roles);

/* The unspecified address (0.0.0.0, ::). */
bool rw_cfg_is_any(const struct rw_endpoint *e);
/* Two endpoints of one family that a socket on one would also take
 * traffic of the other: a wildcard overlaps everything, else equal. */
bool rw_cfg_endpoints_overlap(const struct rw_endpoint *a, const struct rw_endpoint *b);

/* Rights that can never be used (rw_config_reach.c): refused where no
 * push could ever succeed, warned where part of the config is dead. */
void rw_cfg_check_reach(struct rw_cfg_ctx *ctx, const config_setting_t *root);
/* transparent listeners against registry.upstream (rw_config_transparent.c) */
void rw_cfg_check_transparent(struct rw_cfg_ctx *ctx);

#endif
