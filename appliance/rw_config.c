/* Configuration loading: text -> raw checks -> libconfig -> table walk ->
 * section builders -> struct rw_policy. See appliance/rw_config_int.h for
 * the shape, docs/design/config.md for the language. */
#include "appliance/rw_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appliance/rw_config_int.h"
#include "rules/rw_cidr.h"

#define RW_CFG_DEFAULT_SOCKET "/run/regwall/ctl.sock"
#define RW_CFG_DEFAULT_STATE "/var/lib/regwall/live.json"

/* ---- messages ---- */

int rw_cfg_line(const config_setting_t *s)
{
	return s ? (int)config_setting_source_line(s) : 0;
}

void rw_cfg_path(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *chain[16];
	size_t n = 0, off = 0;
	for (; s && config_setting_parent(s) && n < 16; s = config_setting_parent(s))
		chain[n++] = s;
	buf[0] = '\0';
	while (n-- > 0 && off < len) {
		const char *name = config_setting_name(chain[n]);
		int w;
		if (name)
			w = snprintf(buf + off, len - off, "%s%s", off ? "." : "", name);
		else
			w = snprintf(buf + off, len - off, "[%d]", config_setting_index(chain[n]));
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static void rw_cfg_vreport(struct rw_cfg_ctx *ctx, int warn, const config_setting_t *s,
			   const char *fmt, va_list ap)
{
	char path[128], msg[RW_DIAG_LEN];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	rw_cfg_path(s, path, sizeof(path));
	if (warn)
		rw_diag_warn(ctx->diag, ctx->file, rw_cfg_line(s), "%s: %s", path, msg);
	else
		rw_diag_err(ctx->diag, ctx->file, rw_cfg_line(s), "%s: %s", path, msg);
}

void rw_cfg_err(struct rw_cfg_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rw_cfg_vreport(ctx, 0, s, fmt, ap);
	va_end(ap);
}

void rw_cfg_warn(struct rw_cfg_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rw_cfg_vreport(ctx, 1, s, fmt, ap);
	va_end(ap);
}

void rw_cfg_err_line(struct rw_cfg_ctx *ctx, int line, const char *fmt, ...)
{
	char msg[RW_DIAG_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rw_diag_err(ctx->diag, ctx->file, line, "%s", msg);
}

/* ---- allocation ---- */

char *rw_cfg_strdup(struct rw_cfg_ctx *ctx, const char *s)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		ctx->oom = 1;
	return d;
}

void *rw_cfg_calloc(struct rw_cfg_ctx *ctx, size_t n, size_t size)
{
	if (n == 0)
		return NULL;
	void *p = calloc(n, size);
	if (!p)
		ctx->oom = 1;
	return p;
}

/* ---- paths ---- */

int rw_cfg_file(struct rw_cfg_ctx *ctx, const config_setting_t *s, char **out)
{
	const char *path = config_setting_get_string(s);
	char *full;
	struct stat st;

	*out = NULL;
	if (path[0] != '/' && ctx->base_dir) {
		if (asprintf(&full, "%s/%s", ctx->base_dir, path) < 0) {
			ctx->oom = 1;
			return RW_ENOMEM;
		}
	} else if (!(full = rw_cfg_strdup(ctx, path))) {
		return RW_ENOMEM;
	}
	if (stat(full, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			rw_cfg_err(ctx, s, "\"%s\": file not found", full);
		else
			rw_cfg_err(ctx, s, "\"%s\": cannot access: %s", full, strerror(errno));
		free(full);
		return RW_ENOENT;
	}
	if (!S_ISREG(st.st_mode)) {
		rw_cfg_err(ctx, s, "\"%s\": not a regular file", full);
		free(full);
		return RW_EINVAL;
	}
	if (access(full, R_OK) != 0) {
		rw_cfg_err(ctx, s, "\"%s\": not readable", full);
		free(full);
		return RW_EPERM;
	}
	*out = full;
	return 0;
}

int rw_cfg_abs_path(struct rw_cfg_ctx *ctx, const config_setting_t *s, size_t max_len,
		    char **out)
{
	const char *path = config_setting_get_string(s);
	*out = NULL;
	/* created at run time, possibly after a chdir("/"): relative would
	 * silently mean something else there */
	if (path[0] != '/') {
		rw_cfg_err(ctx, s, "\"%s\": must be an absolute path", path);
		return RW_EINVAL;
	}
	if (strlen(path) > max_len) {
		rw_cfg_err(ctx, s, "path longer than %zu characters", max_len);
		return RW_ERANGE;
	}
	*out = rw_cfg_strdup(ctx, path);
	return *out ? 0 : RW_ENOMEM;
}

/* ---- loading ---- */

static void rw_cfg_defaults(struct rw_cfg_ctx *ctx, struct rw_policy *p)
{
	p->opts.push_requires_vpn = true;
	p->opts.ban_set_size = 65536;
	p->opts.ban_for_ms = 10 * 60 * 1000;
	p->limits = (struct rw_limits){
		.hello_timeout_ms = RW_LIMITS_DEF_HELLO_MS,
		.handshake_timeout_ms = RW_LIMITS_DEF_HANDSHAKE_MS,
		.header_timeout_ms = RW_LIMITS_DEF_HEADER_MS,
		.idle_timeout_ms = RW_LIMITS_DEF_IDLE_MS,
		.connect_timeout_ms = RW_LIMITS_DEF_CONNECT_MS,
		.response_timeout_ms = RW_LIMITS_DEF_RESPONSE_MS,
		.max_connections = RW_LIMITS_DEF_MAX_CONNS,
		.max_per_source = RW_LIMITS_DEF_MAX_PER_SOURCE,
		.drain_timeout_ms = RW_LIMITS_DEF_DRAIN_MS,
	};
	p->log.nflog_group = 7;
	p->log.blocked_burst = 10;
	p->log.blocked_interval_ms = 10000;
	p->log.blocked_sources = 4096;
	p->log.blocked_max_lines = 1000;
	p->log.blocked_rotate_bytes = 64ull << 20;
	p->log.blocked_keep = 4;
	p->control_socket = rw_cfg_strdup(ctx, RW_CFG_DEFAULT_SOCKET);
	p->state_file = rw_cfg_strdup(ctx, RW_CFG_DEFAULT_STATE);
}

/* owned_text: the caller's heap copy of text, freed here as soon as
 * libconfig has parsed it (a 100,000-prefix file is megabytes; the peak
 * memory of a load matters on small gateway VMs); NULL if not owned. */
/* A VPN peer's tunnel address must not also be in a named network: the
 * data path treats a source inside a peer's addresses as arriving through
 * the tunnel (the input chain accepts those only on the VPN interface), so
 * the same address allowlisted by a network could reach a listener on any
 * link and pass as the peer, push_requires_vpn included. */
static void rw_cfg_check_vpn_overlap(struct rw_cfg_ctx *ctx)
{
	const struct rw_policy *p = ctx->pol;
	if (!p->vpn.enabled)
		return;
	for (size_t i = 0; i < p->n_networks; i++) {
		const struct rw_network *n = &p->networks[i];
		for (size_t j = 0; j < n->n_cidrs; j++) {
			const struct rw_cidr *a = &n->cidrs[j];
			for (size_t k = 0; k < p->vpn.n_peers; k++) {
				const struct rw_peer *peer = &p->vpn.peers[k];
				for (size_t m = 0; m < peer->n_addresses; m++) {
					const struct rw_cidr *b = &peer->addresses[m];
					if (!rw_cidr_contains(a, b->family, b->addr) &&
					    !rw_cidr_contains(b, a->family, a->addr))
						continue;
					char ta[64], tb[64];
					rw_cidr_format(a, ta, sizeof(ta));
					rw_cidr_format(b, tb, sizeof(tb));
					rw_cfg_err_line(ctx, n->line,
							"networks.%s: %s overlaps VPN peer %s's address %s "
							"(a peer's tunnel address must be reachable only "
							"through the VPN)",
							n->name, ta, peer->name, tb);
				}
			}
		}
	}
}

static int rw_cfg_load_text(const char *text, char *owned_text, const char *name,
			    const char *base_dir, struct rw_policy *out, struct rw_diag *diag)
{
	struct rw_policy pol;
	struct rw_cfg_ctx ctx = { .file = name, .base_dir = base_dir, .diag = diag, .pol = &pol };
	unsigned errs_before = diag->n_err;
	bool no_parse;
	config_t cfg;

	memset(&pol, 0, sizeof(pol));
	rw_cfg_prescan(text, name, diag, &no_parse);
	if (no_parse) {
		free(owned_text);
		return RW_ECONFIG;
	}

	config_init(&cfg);
	/* libconfig's config_read_string() copies the whole text into its
	 * scanner buffer; reading it through a memory FILE lets the scanner
	 * take it in small chunks instead (one copy fewer at the peak) */
	int parsed = CONFIG_FALSE;
	FILE *mf = fmemopen((void *)text, strlen(text), "r");
	if (mf) {
		parsed = config_read(&cfg, mf);
		fclose(mf);
	} else {
		parsed = config_read_string(&cfg, text);
	}
	free(owned_text);
	text = NULL;
	if (parsed != CONFIG_TRUE) {
		rw_diag_err(diag, config_error_file(&cfg) ? config_error_file(&cfg) : name,
			    config_error_line(&cfg), "%s", config_error_text(&cfg));
		config_destroy(&cfg);
		return RW_ECONFIG;
	}

	const config_setting_t *root = config_root_setting(&cfg);
	rw_cfg_check_group(&ctx, root, &rw_cfg_sec_root);

	rw_cfg_defaults(&ctx, &pol);
	pol.source_file = rw_cfg_strdup(&ctx, name);
	/* order matters: listeners resolve network names and the vpn section,
	 * opts compares the metrics port with the listeners' */
	rw_cfg_build_registry(&ctx, root);
	rw_cfg_build_networks(&ctx, root);
	rw_cfg_build_vpn(&ctx, root);
	rw_cfg_build_identities(&ctx, root);
	rw_cfg_build_listeners(&ctx, root);
	rw_cfg_build_opts(&ctx, root);
	rw_cfg_check_vpn_overlap(&ctx);
	rw_cfg_check_transparent(&ctx);
	rw_cfg_check_reach(&ctx, root);
	config_destroy(&cfg);

	if (ctx.oom || diag->n_err != errs_before) {
		rw_policy_free(&pol);
		return ctx.oom ? RW_ENOMEM : RW_ECONFIG;
	}
	*out = pol;
	return 0;
}

int rw_config_load_string(const char *text, const char *name, struct rw_policy *out,
			  struct rw_diag *diag)
{
	memset(out, 0, sizeof(*out));
	if (!text || !name || !diag)
		return RW_EINVAL;
	return rw_cfg_load_text(text, NULL, name, NULL, out, diag);
}

/* Whole file into memory, once: the same bytes are scanned and parsed, and
 * a file replaced during a reload cannot be half old, half new. */
static int rw_cfg_read_file(const char *path, char **text, struct rw_diag *diag)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	*text = NULL;
	if (fd < 0) {
		rw_diag_err(diag, path, 0, "cannot open: %s", strerror(errno));
		return RW_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (unsigned long long)st.st_size > RW_CFG_MAX_BYTES) {
		rw_diag_err(diag, path, 0, "not a regular file of at most %u bytes",
			    RW_CFG_MAX_BYTES);
		close(fd);
		return RW_ECONFIG;
	}
	size_t cap = (size_t)st.st_size, len = 0;
	char *buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return RW_ENOMEM;
	}
	/* read until EOF, not st_size: the file may shrink meanwhile */
	while (len < cap) {
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rw_diag_err(diag, path, 0, "read failed: %s", strerror(errno));
			free(buf);
			close(fd);
			return RW_EIO;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	if (memchr(buf, '\0', len)) {
		rw_diag_err(diag, path, 0, "contains a NUL byte: not a text file");
		free(buf);
		return RW_ECONFIG;
	}
	*text = buf;
	return 0;
}

int rw_config_load_file(const char *path, struct rw_policy *out, struct rw_diag *diag)
{
	char *text, *dir;
	memset(out, 0, sizeof(*out));
	if (!path || !diag)
		return RW_EINVAL;
	int r = rw_cfg_read_file(path, &text, diag);
	if (r)
		return r;
	/* relative cert/key paths are relative to the config file, so the
	 * daemon's working directory does not matter */
	const char *slash = strrchr(path, '/');
	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir) {
		free(text);
		return RW_ENOMEM;
	}
	r = rw_cfg_load_text(text, text, path, dir, out, diag);
	free(dir);
	return r;
}
