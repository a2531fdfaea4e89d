/* The settings table: every setting regwall knows, with its kind, range and
 * whether it is required (style habit 8, after OpenSSH's keywords[]).
 *
 * libconfig accepts any name silently, so a typo ("alow_from") would
 * otherwise switch a protection off without a word. Every group is walked
 * against its table; anything not in it is an error. Kinds and ranges are
 * checked here once, so the section builders can read values without
 * re-reporting. docs/design/config.md documents this table: keep both in
 * step. */
#include "appliance/rw_config.h"
#include "appliance/rw_config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RW_N(a) (sizeof(a) / sizeof((a)[0]))
#define RW_STR(n) { n, RW_CK_STRING, false, 0, 0, NULL }
#define RW_STR_REQ(n) { n, RW_CK_STRING, true, 0, 0, NULL }
#define RW_BOOL(n) { n, RW_CK_BOOL, false, 0, 0, NULL }
#define RW_INT(n, lo, hi) { n, RW_CK_INT, false, lo, hi, NULL }
#define RW_STRS(n) { n, RW_CK_STRINGS, false, 0, 0, NULL }
#define RW_SEC(name, keys) { name, keys, RW_N(keys), false }

static const struct rw_cfg_key rw_cfg_keys_registry[] = {
	RW_STR_REQ("upstream"),
	RW_BOOL("upstream_tls"),
	RW_STR("upstream_ca"),
	RW_STRS("server_names"),
	RW_STRS("other_addresses"),
};
const struct rw_cfg_section rw_cfg_sec_registry = RW_SEC("registry", rw_cfg_keys_registry);

static const struct rw_cfg_section rw_cfg_sec_networks = { "networks", NULL, 0, true };

static const struct rw_cfg_key rw_cfg_keys_listener[] = {
	RW_STR_REQ("name"),
	{ "listen", RW_CK_STRING_OR_STRINGS, true, 0, 0, NULL },
	RW_STR("mode"),
	RW_STR("cert"),
	RW_STR("key"),
	RW_STR("client_ca"),
	RW_STR("crl"),
	RW_STR("client_cert"),
	RW_STRS("server_names"),
	RW_BOOL("allow_ech"),
	RW_BOOL("tls_tickets"),
	RW_BOOL("transparent"),
	{ "allow_from", RW_CK_STRINGS, true, 0, 0, NULL },
};
const struct rw_cfg_section rw_cfg_sec_listener = RW_SEC("listeners[]", rw_cfg_keys_listener);

static const struct rw_cfg_key rw_cfg_keys_identity[] = {
	RW_STR_REQ("name"),
	RW_STR("cert_subject"),
	RW_STR("cert_san"),
	RW_STR("cert_sha256"),
	{ "roles", RW_CK_STRINGS, true, 0, 0, NULL },
};
const struct rw_cfg_section rw_cfg_sec_identity = RW_SEC("identities[]", rw_cfg_keys_identity);

static const struct rw_cfg_key rw_cfg_keys_peer[] = {
	RW_STR_REQ("name"),
	RW_STR_REQ("public_key"),
	{ "address", RW_CK_STRING_OR_STRINGS, true, 0, 0, NULL },
	RW_STR("endpoint"),
	RW_STRS("roles"),
};
const struct rw_cfg_section rw_cfg_sec_peer = RW_SEC("vpn.peers[]", rw_cfg_keys_peer);

static const struct rw_cfg_key rw_cfg_keys_vpn[] = {
	RW_STR_REQ("interface"),
	RW_INT("listen_port", 1, 65535),
	RW_STR_REQ("address"),
	RW_STR_REQ("private_key_file"),
	{ "peers", RW_CK_LIST, false, 0, 0, &rw_cfg_sec_peer },
	RW_STR("endpoint"),
	RW_STR("address_reuse_after"),
	RW_BOOL("manage_interface"),
};
const struct rw_cfg_section rw_cfg_sec_vpn = RW_SEC("vpn", rw_cfg_keys_vpn);

static const struct rw_cfg_key rw_cfg_keys_push_rate[] = {
	RW_INT("ops_per_minute", 1, 1000000000),
	RW_INT("bytes_per_second", 1, INT64_C(1000000000000)),
	RW_INT("burst_ops", 1, 1000000000),
	/* below a few KiB an upload would crawl in tiny reads */
	RW_INT("burst_bytes", 1024, INT64_C(1000000000000)),
};
const struct rw_cfg_section rw_cfg_sec_push_rate =
	RW_SEC("policy.push_rate", rw_cfg_keys_push_rate);

static const struct rw_cfg_key rw_cfg_keys_conn_rate[] = {
	RW_STR_REQ("per_source"),
	RW_INT("burst", 1, 1000000),
	RW_INT("ban_after", 1, 1000000000),
	{ "ban_for", RW_CK_DURATION, false, 0, 0, NULL },
	RW_INT("ban_set_size", 1, 16777216),
};
const struct rw_cfg_section rw_cfg_sec_conn_rate =
	RW_SEC("policy.conn_rate", rw_cfg_keys_conn_rate);

static const struct rw_cfg_key rw_cfg_keys_policy[] = {
	RW_BOOL("push_requires_vpn"),
	RW_BOOL("pull_needs_role"),
	{ "push_rate", RW_CK_GROUP, false, 0, 0, &rw_cfg_sec_push_rate },
	{ "conn_rate", RW_CK_GROUP, false, 0, 0, &rw_cfg_sec_conn_rate },
};
const struct rw_cfg_section rw_cfg_sec_policy = RW_SEC("policy", rw_cfg_keys_policy);

#define RW_DUR(n) { n, RW_CK_DURATION, false, 0, 0, NULL }
/* Durations are range-checked by the builder (rw_config_opts.c), which
 * knows their units; the table checks only their kind. */
static const struct rw_cfg_key rw_cfg_keys_limits[] = {
	RW_DUR("hello_timeout"),
	RW_DUR("handshake_timeout"),
	RW_DUR("header_timeout"),
	RW_DUR("idle_timeout"),
	RW_DUR("connect_timeout"),
	RW_DUR("response_timeout"),
	/* each connection costs two fds and up to two pipes */
	RW_INT("max_connections", 1, 1048576),
	RW_INT("max_per_source", 0, 1048576),
	RW_DUR("drain_timeout"),
};
const struct rw_cfg_section rw_cfg_sec_limits = RW_SEC("limits", rw_cfg_keys_limits);

static const struct rw_cfg_key rw_cfg_keys_log[] = {
	RW_INT("nflog_group", 0, 65535),
	RW_STR("blocked"),
	RW_STR("blocked_pcap"),
	RW_STR("audit"),
	RW_STR("audit_key"),
	RW_INT("audit_checkpoint_lines", 1, 1000000),
	RW_DUR("audit_checkpoint_interval"),
	RW_INT("blocked_burst", 0, 100000),
	RW_DUR("blocked_interval"),
	RW_INT("blocked_sources", 16, 1048576),
	RW_INT("blocked_max_lines", 1, 10000000),
	RW_INT("blocked_rotate_mb", 0, 1048576),
	RW_INT("blocked_keep", 1, 100),
};
const struct rw_cfg_section rw_cfg_sec_log = RW_SEC("log", rw_cfg_keys_log);

static const struct rw_cfg_key rw_cfg_keys_control[] = { RW_STR("socket"), RW_STR("state") };
const struct rw_cfg_section rw_cfg_sec_control = RW_SEC("control", rw_cfg_keys_control);

static const struct rw_cfg_key rw_cfg_keys_metrics[] = { RW_STR_REQ("listen"), RW_STRS("allow") };
const struct rw_cfg_section rw_cfg_sec_metrics = RW_SEC("metrics", rw_cfg_keys_metrics);

static const struct rw_cfg_key rw_cfg_keys_root[] = {
	{ "registry", RW_CK_GROUP, true, 0, 0, &rw_cfg_sec_registry },
	{ "networks", RW_CK_GROUP, false, 0, 0, &rw_cfg_sec_networks },
	{ "listeners", RW_CK_LIST, true, 0, 0, &rw_cfg_sec_listener },
	{ "identities", RW_CK_LIST, false, 0, 0, &rw_cfg_sec_identity },
	{ "vpn", RW_CK_GROUP, false, 0, 0, &rw_cfg_sec_vpn },
	{ "policy", RW_CK_GROUP, false, 0, 0, &rw_cfg_sec_policy },
	{ "limits", RW_CK_GROUP, false, 0, 0, &rw_cfg_sec_limits },
	{ "log", RW_CK_GROUP, false, 0, 0, &rw_cfg_sec_log },
	{ "control", RW_CK_GROUP, false, 0, 0, &rw_cfg_sec_control },
	{ "metrics", RW_CK_GROUP, false, 0, 0, &rw_cfg_sec_metrics },
};
const struct rw_cfg_section rw_cfg_sec_root = RW_SEC("the top level", rw_cfg_keys_root);

/* Every setting path the table accepts, leaves only: "registry.upstream",
 * "listeners[].allow_from", and "networks.*" for a group of free-form
 * names (regwalld --list-settings; the manual's test compares it with
 * regwall.conf(5)). */
static void rw_cfg_walk(const struct rw_cfg_section *sec, const char *prefix,
			void (*fn)(const char *path, void *arg), void *arg)
{
	char path[128];
	if (sec->any_name_is_strings) {
		snprintf(path, sizeof(path), "%s.*", prefix);
		fn(path, arg);
		return;
	}
	for (size_t i = 0; i < sec->n_keys; i++) {
		const struct rw_cfg_key *k = &sec->keys[i];
		snprintf(path, sizeof(path), "%s%s%s%s", prefix, prefix[0] ? "." : "", k->name,
			 k->kind == RW_CK_LIST ? "[]" : "");
		if (k->kind == RW_CK_GROUP || k->kind == RW_CK_LIST)
			rw_cfg_walk(k->sub, path, fn, arg);
		else
			fn(path, arg);
	}
}

void rw_config_settings(void (*fn)(const char *path, void *arg), void *arg)
{
	rw_cfg_walk(&rw_cfg_sec_root, "", fn, arg);
}

unsigned rw_cfg_edit_distance(const char *a, const char *b, unsigned cap)
{
	/* Levenshtein over two rows; names are short (a setting name), longer
	 * inputs are simply "far". */
	unsigned row0[33], row1[33];
	size_t la = strlen(a), lb = strlen(b);
	if (la > 32 || lb > 32)
		return cap + 1;
	for (size_t j = 0; j <= lb; j++)
		row0[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		row1[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned sub = row0[j - 1] + (a[i - 1] != b[j - 1]);
			unsigned del = row0[j] + 1, ins = row1[j - 1] + 1;
			unsigned m = sub < del ? sub : del;
			row1[j] = m < ins ? m : ins;
		}
		memcpy(row0, row1, sizeof(row0));
	}
	return row0[lb] > cap ? cap + 1 : row0[lb];
}

static const struct rw_cfg_key *rw_cfg_key_find(const struct rw_cfg_section *sec,
						const char *name)
{
	for (size_t i = 0; i < sec->n_keys; i++)
		if (strcmp(sec->keys[i].name, name) == 0)
			return &sec->keys[i];
	return NULL;
}

static void rw_cfg_unknown(struct rw_cfg_ctx *ctx, const config_setting_t *s,
			   const struct rw_cfg_section *sec)
{
	const char *name = config_setting_name(s);
	const char *best = NULL;
	unsigned best_d = 3;
	for (size_t i = 0; i < sec->n_keys; i++) {
		unsigned d = rw_cfg_edit_distance(name, sec->keys[i].name, 2);
		if (d < best_d) {
			best_d = d;
			best = sec->keys[i].name;
		}
	}
	if (best)
		rw_cfg_err_line(ctx, rw_cfg_line(s),
				"unknown setting '%s' in %s (did you mean '%s'?)", name, sec->what,
				best);
	else
		rw_cfg_err_line(ctx, rw_cfg_line(s), "unknown setting '%s' in %s", name,
				sec->what);
}

static bool rw_cfg_is_strings(const config_setting_t *s)
{
	int t = config_setting_type(s);
	if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
		return false;
	for (int i = 0; i < config_setting_length(s); i++)
		if (config_setting_type(config_setting_get_elem(s, (unsigned)i)) !=
		    CONFIG_TYPE_STRING)
			return false;
	return true;
}

static bool rw_cfg_is_int(const config_setting_t *s)
{
	int t = config_setting_type(s);
	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

/* Kind and range check of one setting; true if usable. Reports otherwise. */
static bool rw_cfg_value_ok(struct rw_cfg_ctx *ctx, const config_setting_t *s,
			    const struct rw_cfg_key *k, bool report)
{
	int t = config_setting_type(s);
	switch (k->kind) {
	case RW_CK_STRING:
		if (t != CONFIG_TYPE_STRING) {
			if (report)
				rw_cfg_err(ctx, s, "expected a string");
			return false;
		}
		if (config_setting_get_string(s)[0] == '\0') {
			if (report)
				rw_cfg_err(ctx, s, "must not be empty");
			return false;
		}
		return true;
	case RW_CK_BOOL:
		if (t != CONFIG_TYPE_BOOL) {
			if (report)
				rw_cfg_err(ctx, s, "expected true or false");
			return false;
		}
		return true;
	case RW_CK_INT: {
		if (!rw_cfg_is_int(s)) {
			if (report)
				rw_cfg_err(ctx, s, "expected an integer");
			return false;
		}
		long long v = config_setting_get_int64(s);
		if (v < k->min || v > k->max) {
			if (report)
				rw_cfg_err(ctx, s, "%lld is out of range %lld..%lld", v,
					   (long long)k->min, (long long)k->max);
			return false;
		}
		return true;
	}
	case RW_CK_STRINGS:
		if (!rw_cfg_is_strings(s)) {
			if (report)
				rw_cfg_err(ctx, s, "expected an array of strings [ \"...\", ... ]");
			return false;
		}
		return true;
	case RW_CK_STRING_OR_STRINGS:
		if (t != CONFIG_TYPE_STRING && !rw_cfg_is_strings(s)) {
			if (report)
				rw_cfg_err(ctx, s, "expected a string or an array of strings");
			return false;
		}
		return true;
	case RW_CK_DURATION:
		if (t != CONFIG_TYPE_STRING && !rw_cfg_is_int(s)) {
			if (report)
				rw_cfg_err(ctx, s,
					   "expected a duration such as \"10m\" or an integer (seconds)");
			return false;
		}
		return true;
	case RW_CK_GROUP:
		if (t != CONFIG_TYPE_GROUP) {
			if (report)
				rw_cfg_err(ctx, s, "expected a group { ... }");
			return false;
		}
		return true;
	case RW_CK_LIST:
		if (t != CONFIG_TYPE_LIST) {
			if (report)
				rw_cfg_err(ctx, s, "expected a list of groups ( { ... }, ... )");
			return false;
		}
		for (int i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
				if (report)
					rw_cfg_err(ctx, e, "expected a group { ... }");
				return false;
			}
		}
		return true;
	}
	return false;
}

void rw_cfg_check_group(struct rw_cfg_ctx *ctx, const config_setting_t *grp,
			const struct rw_cfg_section *sec)
{
	for (int i = 0; i < config_setting_length(grp); i++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(s);
		if (sec->any_name_is_strings) {
			static const struct rw_cfg_key strs = RW_STRS("*");
			rw_cfg_value_ok(ctx, s, &strs, true);
			continue;
		}
		const struct rw_cfg_key *k = rw_cfg_key_find(sec, name);
		if (!k) {
			rw_cfg_unknown(ctx, s, sec);
			continue;
		}
		if (!rw_cfg_value_ok(ctx, s, k, true))
			continue;
		if (k->kind == RW_CK_GROUP)
			rw_cfg_check_group(ctx, s, k->sub);
		else if (k->kind == RW_CK_LIST)
			for (int j = 0; j < config_setting_length(s); j++)
				rw_cfg_check_group(ctx, config_setting_get_elem(s, (unsigned)j),
						   k->sub);
	}
	for (size_t i = 0; i < sec->n_keys; i++) {
		if (!sec->keys[i].required || config_setting_get_member(grp, sec->keys[i].name))
			continue;
		char path[128];
		rw_cfg_path(grp, path, sizeof(path));
		rw_cfg_err_line(ctx, rw_cfg_line(grp), "%s%smissing required setting '%s'", path,
				path[0] ? ": " : "", sec->keys[i].name);
	}
}

/* ---- getters ---- */

const config_setting_t *rw_cfg_member(const config_setting_t *grp, const char *name)
{
	if (!grp || config_setting_type(grp) != CONFIG_TYPE_GROUP)
		return NULL;
	return config_setting_get_member(grp, name);
}

static const struct rw_cfg_key rw_cfg_key_str = RW_STR("*");

const char *rw_cfg_get_str(const config_setting_t *grp, const char *name)
{
	const config_setting_t *s = rw_cfg_member(grp, name);
	if (!s || !rw_cfg_value_ok(NULL, s, &rw_cfg_key_str, false))
		return NULL;
	return config_setting_get_string(s);
}

bool rw_cfg_get_bool(const config_setting_t *grp, const char *name, bool *v)
{
	const config_setting_t *s = rw_cfg_member(grp, name);
	if (!s || config_setting_type(s) != CONFIG_TYPE_BOOL)
		return false;
	*v = config_setting_get_bool(s) != 0;
	return true;
}

bool rw_cfg_get_int(const config_setting_t *grp, const struct rw_cfg_section *sec,
		    const char *name, int64_t *v)
{
	const config_setting_t *s = rw_cfg_member(grp, name);
	const struct rw_cfg_key *k = rw_cfg_key_find(sec, name);
	if (!s || !k || !rw_cfg_value_ok(NULL, s, k, false))
		return false;
	*v = config_setting_get_int64(s);
	return true;
}

int rw_cfg_get_strings(const config_setting_t *grp, const char *name,
		       const config_setting_t **list)
{
	const config_setting_t *s = rw_cfg_member(grp, name);
	if (!s)
		return -1;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		*list = s;
		return 1;
	}
	if (!rw_cfg_is_strings(s))
		return -1;
	*list = s;
	return config_setting_length(s);
}

const config_setting_t *rw_cfg_elem(const config_setting_t *list, int i)
{
	if (config_setting_type(list) == CONFIG_TYPE_STRING)
		return i == 0 ? list : NULL;
	return config_setting_get_elem(list, (unsigned)i);
}

const char *rw_cfg_elem_str(const config_setting_t *list, int i)
{
	const config_setting_t *e = rw_cfg_elem(list, i);
	return e ? config_setting_get_string(e) : NULL;
}
