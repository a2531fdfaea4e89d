/* The policy model: the validated, immutable form of the configuration.
 *
 * appliance/rw_config.c builds it from the libconfig file (and validates it
 * whole); rules/ compiles it into the nftables table; fwd/ reads listeners,
 * identities, roles and rates from it. Nothing here refers to libconfig:
 * the config_t is destroyed once the policy is built.
 *
 * Ownership: one struct rw_policy owns every array and string below it;
 * rw_policy_free() releases all of it. A reload builds a new policy and
 * swaps it in only if valid. */
#ifndef RW_POLICY_H
#define RW_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RW_NAME_MAX 32 /* network, listener, identity, peer names incl. NUL */

/* An address prefix. addr holds the network address with host bits zero
 * (the loader refuses host bits); v4 uses addr[0..3]. */
struct rw_cidr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix; /* 0..32 or 0..128 */
	uint8_t addr[16];
};

/* host:port or [v6]:port */
struct rw_endpoint {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port; /* host order */
};

struct rw_network {
	char name[RW_NAME_MAX];
	struct rw_cidr *cidrs; /* merged: sorted, no overlaps, v4 first then v6 */
	size_t n_cidrs;
	int line; /* config line, for messages */
};

enum rw_listener_mode {
	RW_MODE_TERMINATE = 0,
	RW_MODE_PASSTHROUGH,
};

enum rw_client_cert {
	RW_CCERT_NONE = 0,
	RW_CCERT_OPTIONAL,
	RW_CCERT_REQUIRED,
};

/* A listener whose `listen` is a list of N endpoints is loaded as N
 * entries next to each other, one per endpoint, with the same name and
 * the same settings (each owning its copies): endpoint_index 0..N-1,
 * n_endpoints N. Per entry: its nftables rules, its listening sockets,
 * its connection share. Per name: the meter set, rule comments (so the
 * counters of all its endpoints are summed), NFLOG prefixes and events.
 * n_endpoints 0 (a listener not made by the loader) means 1. */
struct rw_listener {
	char name[RW_NAME_MAX];
	struct rw_endpoint listen;
	unsigned endpoint_index;
	unsigned n_endpoints;
	enum rw_listener_mode mode;
	char *cert, *key, *client_ca, *crl; /* paths; NULL if unset */
	enum rw_client_cert client_cert;
	char **server_names; /* lower-case; "*.suffix" wildcards allowed; NULL =
			      * registry.server_names */
	size_t n_server_names;
	bool allow_ech;
	bool no_tickets; /* tls_tickets = false: no session resumption at all */
	/* allow_from: indexes into policy->networks, plus the "vpn" pseudo-name */
	size_t *allow_nets;
	size_t n_allow_nets;
	bool allow_vpn;
	/* transparent = true: nftables redirects connections for
	 * registry.upstream to this listener (gateway mode, clients keep the
	 * registry's address); the worker serves only those whose original
	 * destination is the upstream (docs/design/transparent.md) */
	bool transparent;
	int line;
	int cert_line, key_line; /* lines of 'cert' and 'key' (0: unset) */
};

enum rw_op_class {
	RW_ROLE_PULL = 0,
	RW_ROLE_PUSH,
	RW_ROLE_DELETE,
};

/* "push:team-a/..." becomes { RW_ROLE_PUSH, "team-a/..." } (a glob) */
struct rw_role {
	enum rw_op_class op;
	char *glob;
};

struct rw_identity {
	char name[RW_NAME_MAX];
	char *cert_subject; /* RFC 2253 DN, NULL if unset */
	char *cert_san;     /* "DNS:x", "URI:x", "email:x"; NULL if unset */
	uint8_t cert_sha256[32];
	bool has_sha256;
	struct rw_role *roles;
	size_t n_roles;
	int line;
};

struct rw_peer {
	char name[RW_NAME_MAX];
	uint8_t public_key[32]; /* decoded from base64 */
	struct rw_cidr *addresses; /* tunnel addresses (WireGuard allowed IPs) */
	size_t n_addresses;
	struct rw_endpoint endpoint; /* family 0 if unset */
	struct rw_role *roles;
	size_t n_roles;
	int line;
};

struct rw_vpn {
	bool enabled; /* false when the config has no vpn section */
	char interface[16]; /* IFNAMSIZ */
	uint16_t listen_port;
	struct rw_cidr address; /* interface address; host bits allowed here */
	char *private_key_file;
	struct rw_peer *peers;
	size_t n_peers;
	char endpoint[256];              /* host:port clients dial ("" = unset); peer add prints it */
	uint64_t address_reuse_after_ms; /* a deleted live peer's address rests this long */
	size_t n_config_peers;           /* peers[0..n) from the file; the rest are live (regwallctl) */
	bool manage_interface;           /* regwalld runs the WireGuard interface (default true) */
};

struct rw_rate {
	uint64_t count;    /* events ... */
	uint64_t per_ms;   /* ... per this many milliseconds (1000 = /second) */
	uint64_t burst;    /* 0 = default */
};

struct rw_policy_opts {
	bool push_requires_vpn;       /* default true */
	bool pull_needs_role;         /* default false: a named network grants pull */
	uint64_t push_ops_per_minute; /* 0 = unlimited */
	uint64_t push_bytes_per_second; /* 0 = unlimited */
	uint64_t push_burst_ops;   /* bucket size in operations; 0 = push_ops_per_minute */
	uint64_t push_burst_bytes; /* bucket size in bytes; 0 = push_bytes_per_second */
	struct rw_rate conn_per_source; /* new connections per source; count 0 = none */
	uint64_t ban_after;  /* new connections per minute per source that ban it; 0 = never */
	uint64_t ban_for_ms; /* ban timeout */
	uint32_t ban_set_size; /* max elements per ban / meter set; default 65536 */
};

/* Data-path limits (the config's limits section), per worker process.
 * The defaults are the RW_LIMITS_DEF_* values: the loader sets them, and
 * fwd/rw_fwd_opts_default uses the same ones for callers without a
 * policy. */
#define RW_LIMITS_DEF_HELLO_MS 5000u        /* accept -> whole ClientHello (passthrough) */
#define RW_LIMITS_DEF_HANDSHAKE_MS 10000u   /* accept -> TLS handshake done (terminate) */
#define RW_LIMITS_DEF_HEADER_MS 30000u      /* first byte of a request head -> whole head */
#define RW_LIMITS_DEF_IDLE_MS 300000u       /* no byte either way */
#define RW_LIMITS_DEF_CONNECT_MS 5000u      /* upstream connect() */
/* Request written upstream -> final response head (then 504). Above what
 * a slow registry takes to answer the slowest legitimate request, a
 * multi-GB upload's complete: distribution re-reads and hashes the blob
 * when it has no saved hash state, and its storage driver moves the blob
 * (a rename on a filesystem, a copy on S3): tens of seconds for a few GB
 * (docs/design/config.md, limits). */
#define RW_LIMITS_DEF_RESPONSE_MS 120000u
#define RW_LIMITS_DEF_MAX_CONNS 4096u       /* live connections per worker */
#define RW_LIMITS_DEF_MAX_PER_SOURCE 256u   /* per source address (v6: /64); 0 = none */
/* After a reload or a live change the old workers serve their open
 * connections this long: long enough for any real push (an upload of
 * gigabytes over a slow link), while the idle timeout still ends dead
 * connections and a draining worker closes keep-alive sessions after
 * their current response. */
#define RW_LIMITS_DEF_DRAIN_MS 3600000u

struct rw_limits {
	uint32_t hello_timeout_ms;
	uint32_t handshake_timeout_ms;
	uint32_t header_timeout_ms;
	uint32_t idle_timeout_ms;
	uint32_t connect_timeout_ms;
	uint32_t response_timeout_ms;
	uint32_t max_connections;
	uint32_t max_per_source;
	uint32_t drain_timeout_ms;
};

struct rw_registry {
	struct rw_endpoint upstream;
	bool upstream_tls;
	char *upstream_ca; /* path, NULL if unset */
	char **server_names;
	size_t n_server_names;
	/* registry.other_addresses: the registry host's other addresses
	 * (port = upstream's). The forward chain drops what is forwarded to
	 * them as to the upstream's own; the table's only (not packed for the
	 * workers, which connect to the upstream alone). */
	struct rw_endpoint *other;
	size_t n_other;
};

struct rw_log_cfg {
	uint16_t nflog_group; /* default 7 */
	char *blocked;        /* JSON lines path */
	char *blocked_pcap;
	char *audit;
	/* the audit chain (appliance/rw_audit.h); not packed for the workers */
	char *audit_key;          /* NULL: /var/lib/regwall/audit.key */
	uint32_t audit_cp_lines;  /* 0: default (100) */
	uint32_t audit_cp_ms;     /* 0: default (60 s) */
	/* blocked log flood control and files (docs/design/blocked-log.md) */
	uint32_t blocked_burst;       /* lines per (source, reason) per interval */
	uint32_t blocked_interval_ms; /* summary interval */
	uint32_t blocked_sources;     /* (source, reason) pairs tracked at once */
	uint32_t blocked_max_lines;   /* attempt lines per interval, all sources */
	uint64_t blocked_rotate_bytes; /* rotate each file past this size; 0 = never */
	uint32_t blocked_keep;        /* rotated files kept */
};

struct rw_policy {
	char *source_file; /* the config path it came from */
	struct rw_registry registry;
	struct rw_network *networks;
	size_t n_networks;
	struct rw_listener *listeners;
	size_t n_listeners;
	struct rw_identity *identities;
	size_t n_identities;
	struct rw_vpn vpn;
	struct rw_policy_opts opts;
	struct rw_limits limits;
	struct rw_log_cfg log;
	char *control_socket; /* default /run/regwall/ctl.sock */
	char *state_file;     /* live changes kept across restarts; default
			       * /var/lib/regwall/live.json */
	struct rw_endpoint metrics; /* family 0 if unset */
	/* metrics.allow: who may scrape (parent only; not packed for the
	 * workers). Default loopback: 127.0.0.0/8, ::1/128. */
	struct rw_cidr *metrics_allow;
	size_t n_metrics_allow;
};

void rw_policy_free(struct rw_policy *p); /* frees members, not p itself */

/* Lookup helpers; return NULL / -1 when absent. */
const struct rw_network *rw_policy_network(const struct rw_policy *p, const char *name);
long rw_policy_network_index(const struct rw_policy *p, const char *name);

#endif
