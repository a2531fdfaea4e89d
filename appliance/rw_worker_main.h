/* A worker process from its first instruction: it holds its channel to the
 * parent on fd 3 and nothing else of the parent's, receives everything on
 * it (BOOT: the boot bundle fwd/rw_boot.h in a sealed memfd and the push
 * limiter's memfd; then one LISTEN per listener with its socket), builds
 * the data path from those bytes alone (TLS contexts from the PEM bytes:
 * it opens no file), enters its sandbox (rw_sandbox.h), says READY and
 * serves until told to stop.
 *
 * regwalld runs it after exec'ing itself (`regwalld --worker`, a fresh
 * address space: nothing of the parent's memory, keys or config comes
 * along); test programs that are not regwalld run it in the forked child
 * directly, through the same channel messages. */
#ifndef RW_WORKER_MAIN_H
#define RW_WORKER_MAIN_H

/* Exit codes the parent tells apart (appliance/rw_workers.c). */
enum {
	RW_WORKER_EXIT_OK = 0,
	RW_WORKER_EXIT_NOTHING = 3, /* nothing to serve: not restarted */
	RW_WORKER_EXIT_FATAL = 4,   /* could not build (said why on the channel) */
	/* a live change it could not apply (it said why on the channel):
	 * restarted like a crashed worker, on the current policy */
	RW_WORKER_EXIT_LIVE = 5,
	/* could not become a worker (exec failed, no or a bad boot message
	 * from the parent): restarted with backoff like a crash, since
	 * nothing says a second try fails too */
	RW_WORKER_EXIT_BOOT = 6,
};

#define RW_WORKER_CHAN_FD 3
/* how long a new worker waits for its BOOT and LISTEN messages */
#define RW_WORKER_BOOT_MS 10000

/* Runs the worker on its channel; returns the exit code. */
int rw_worker_main(int chan);

#endif
