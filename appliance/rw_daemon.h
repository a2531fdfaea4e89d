/* regwalld's control plane: holds the current policy and the netlink
 * handle, applies and reloads the table, and executes control requests.
 * Single-threaded; the data-path workers (fwd/) will get their policy from
 * here and never touch netlink themselves. */
#ifndef RW_DAEMON_H
#define RW_DAEMON_H

#include <jansson.h>
#include <stdint.h>
#include <time.h>

#include "appliance/rw_ctl.h"
#include "appliance/rw_guard.h"
#include "appliance/rw_state.h"
#include "appliance/rw_workers.h"
#include "base/rw_err.h"
#include "rules/rw_nft.h"
#include "rules/rw_policy.h"

/* Live changes (struct rw_live_change, appliance/rw_state.h) are kept so
 * that a reload (which re-reads the config file) re-applies them instead of
 * silently undoing what an admin did, and saved to policy.state_file so a
 * restart does not either. */

/* A prefix currently held in a network's small live_ set in the kernel
 * (added by regwallctl since the last full apply, which folds them into
 * the main set and empties this list). */
struct rw_live_elem {
	char network[RW_NAME_MAX];
	struct rw_cidr cidr;
};

struct rw_evout;
struct rw_audit;
struct rw_blocked;
struct rw_wg_live;
/* A rule's counts carried over table replaces (the kernel's counters
 * start from zero in every new table), keyed like `regwallctl counters`:
 * chain + rule comment. */
struct rw_daemon_ctr {
	char chain[16];
	char rule[128];
	uint64_t packets, bytes;             /* earlier tables since start */
	uint64_t reload_packets, reload_bytes; /* earlier tables since the reload */
};

struct rw_daemon {
	const char *config_path;
	struct rw_policy pol;
	int have_pol;
	struct rw_nft *nft;
	struct rw_live_change *live;
	size_t n_live, cap_live;
	int state_loaded; /* the state file was read (first load only) */
	struct rw_live_elem *in_live;
	size_t n_in_live, cap_in_live;
	struct rw_workers *workers; /* NULL: firewall only, no data path */
	const struct rw_evout *evout; /* where worker events go (regwalld -f) */
	struct rw_audit *audit; /* the push audit chain (log.audit), or NULL */
	struct rw_blocked *blocked; /* the blocked-attempt log (regwalld -f) */
	struct rw_guard guard; /* keeps the table in force (regwalld -f) */
	int guarded;
	time_t started, last_reload;
	uint64_t applies, reloads, reload_failures, requests;
	uint64_t bans_added; /* manual bans the kernel took (regwallctl ban add) */
	struct rw_daemon_ctr *ctr;
	size_t n_ctr, cap_ctr;
	json_t *last_diff; /* what the last applied reload changed (rw_daemon_diff.h) */
	struct rw_wg_live *wgl; /* the VPN interface and live peers (rw_wg_peers.h); NULL: none run */
	int want_exit;
};

void rw_daemon_init(struct rw_daemon *d, const char *config_path);
void rw_daemon_fini(struct rw_daemon *d);

/* Load the config (into a new policy), replay live changes, compile and
 * apply. On any failure the current policy and kernel table stay; diag
 * says why. Used for the first start and for every reload. */
int rw_daemon_load_apply(struct rw_daemon *d, struct rw_diag *diag);

/* Load every TLS context the workers will build from p (terminate
 * listeners' certificate, key, client CA and CRL; the upstream CA), so a
 * bad file is refused before anything is applied instead of taking the
 * data path down. Each problem goes into diag as FILE:LINE. */
/* pem_out (may be NULL): the TLS files' bytes the check used, for the
 * workers (rw_workers_next_pem); set only when the check passed. */
int rw_daemon_check_tls(const struct rw_policy *p, struct rw_pem_set *pem_out,
			struct rw_diag *diag);

/* Reload (SIGHUP or "reload"): load_apply, then a new generation of
 * workers on the new policy. Counts successes and failures. */
int rw_daemon_reload(struct rw_daemon *d, struct rw_diag *diag);

/* regwalld -f: open the nftables socket and the guard's event monitor
 * before the first apply, so no change after it goes unseen. From then on
 * every apply and reload becomes the guard's reference, and status and
 * counters fail while the kernel's table is missing or differs. */
int rw_daemon_guard_start(struct rw_daemon *d, struct rw_diag *diag);
/* The monitor fd for the loop (-1: none), its readiness, and the loop's
 * tick (at least once a second). */
int rw_daemon_guard_fd(const struct rw_daemon *d);
void rw_daemon_on_nft_event(struct rw_daemon *d);
void rw_daemon_tick(struct rw_daemon *d);

/* Execute a validated request; returns the reply object (caller decrefs). */
json_t *rw_daemon_handle(struct rw_daemon *d, const struct rw_ctl_req *req);

#endif
