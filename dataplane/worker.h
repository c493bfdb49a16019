/* SPDX-License-Identifier: MIT */
/*
 * The per-core SIP pipeline: a worker owns one I/O queue and runs
 *     rx burst -> parse (scanner, libosip2 slow path) -> handler by method
 *     -> tx burst
 * until told to stop. What happens to an accepted message is decided by a
 * table of handlers (one per request method, one for responses), filled at
 * start-up: today OPTIONS to pickupd is answered and everything else gets
 * 501 (requests) or is dropped (responses); the proxy, registrar and
 * pickup logic plug in by replacing table entries (see
 * pk_worker_handlers_init and docs/operations.md).
 *
 * Ownership. struct pk_engine is built by main() before any worker starts
 * and is read-only while they run, apart from the stop flag. Each struct
 * pk_worker is written only by its own thread (counters included); its
 * counters are atomics that the control thread reads while it runs
 * (pk_ctr_inc / pk_ctr_get), the rest is read by main() after
 * pthread_join. The group index and the ringing-call table
 * are shared through RCU: a worker is reader tid == its id and reports a
 * quiescent state once per loop iteration, and goes offline while it
 * sleeps in pk_io_wait.
 *
 * This header is private to the daemon (dataplane/), not part of include/.
 */
#ifndef PICKUP_WORKER_H
#define PICKUP_WORKER_H

#include <pthread.h>
#include <stdatomic.h>

#include "pickup/ctr.h"
#include "pickup/engine_conf.h"
#include "pickup/io.h"
#include "pickup/sip.h"
#include "pickup/sip_rewrite.h"
#include "pickup/sip_slow.h"
#include "pickup/ratelimit.h"
#include "pickup/pickup.h" /* dataplane/pickup/pickup.h: pickup counters */
#include "proxy/proxy.h"   /* proxy counters, struct pk_proxy */

struct pk_worker;
struct pk_rcu;
struct pk_groups;
struct pk_calltab;
struct pk_location;
struct pk_ctl;

/*
 * Per-worker counters (X-macro: id, name). Every message received is
 * counted once in rx and then exactly once in one of the outcomes below
 * (answered_*, reject_*, drop_*), so that rx = sum of outcomes.
 */
#define PK_WORKER_FOREACH_COUNTER(_)                                                      \
	_(RX, "rx")                           /* messages from the I/O queue */          \
	_(TX, "tx")                           /* messages handed to the I/O queue */      \
	_(SLOW_PATH, "slow_path")             /* parsed by libosip2 (the scanner declined) */ \
	_(REQUESTS, "requests")               /* accepted requests passed to a handler */ \
	_(RESPONSES, "responses")             /* accepted responses passed to the handler */ \
	_(ANSWERED_OPTIONS, "answered_options") /* 200 to an OPTIONS for pickupd */       \
	_(ANSWERED_NOT_IMPL, "answered_501")  /* 501: no handler for this request yet */  \
	_(ANSWERED_CHECK, "answered_check")   /* 4xx from the UAS checks (420, 415, 406) */ \
	_(REJECTED, "rejected")               /* answered with the parser's status (by status below) */ \
	_(DROP_PARSE, "drop_parse")           /* the parser said drop (bad response, no Via...) */ \
	_(DROP_UNANSWERABLE, "drop_unanswerable") /* to be rejected, but no Via to answer to */ \
	_(DROP_ACK, "drop_ack")               /* ACK: never answered (to our own final answers) */ \
	_(DROP_RESPONSE, "drop_response")     /* responses: nothing to route them to yet */ \
	_(DROP_BUILD, "drop_build")           /* an answer did not fit its buffer */ \
	_(ANSWERED_REGISTER, "answered_register") /* REGISTER answered by the registrar (detail: location counters) */ \
	_(FORWARDED, "forwarded")             /* proxied: a request or response sent on */ \
	_(ANSWERED_PROXY, "answered_proxy")   /* answered by the proxy or pickup logic */ \
	_(DROP_PROXY, "drop_proxy")           /* dropped by them (detail: proxy counters) */ \
	_(ANSWERED_RATELIMIT, "answered_ratelimit") /* 503 + Retry-After: source over limits.requests_per_second */ \
	_(DROP_RATELIMIT, "drop_ratelimit")   /* dropped: source over the limit (over: drop, or twice the limit) */ \
	_(RATELIMIT_SHARED, "ratelimit_shared") /* event: charged to a shared bucket (rate-limit table set busy) */

enum pk_worker_counter {
#define PK_WORKER_CTR_ENUM(id, name) PK_WORKER_CTR_##id,
	PK_WORKER_FOREACH_COUNTER(PK_WORKER_CTR_ENUM)
#undef PK_WORKER_CTR_ENUM
	PK_WORKER_CTR_COUNT
};

/* Rejections by status (X-macro: status). OTHER takes the rest. */
#define PK_WORKER_FOREACH_REJECT(_) _(400) _(403) _(406) _(413) _(414) _(415) _(416) _(420) _(483) _(505) _(513)

enum pk_worker_reject {
#define PK_WORKER_REJ_ENUM(code) PK_WORKER_REJ_##code,
	PK_WORKER_FOREACH_REJECT(PK_WORKER_REJ_ENUM)
#undef PK_WORKER_REJ_ENUM
	PK_WORKER_REJ_OTHER,
	PK_WORKER_REJ_COUNT
};

/*
 * Handlers. A request handler gets an accepted request (PK_SIP_OK) and
 * must account for it: answer it, forward it, or drop it, counting the
 * outcome. rx and msg are valid until the handler returns; msg may be
 * modified (scratch use). Handlers run on the worker: no malloc, no lock,
 * no syscall, no logging.
 */
typedef void pk_worker_request_fn(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *msg);
typedef void pk_worker_response_fn(struct pk_worker *w, const struct pk_io_msg *rx,
				   struct pk_sip_msg *msg);

struct pk_worker_handlers {
	/* by method; [PK_SIP_METHOD_UNKNOWN] for methods the scanner does not know */
	pk_worker_request_fn *request[PK_SIP_METHOD_COUNT];
	pk_worker_response_fn *response;
};

/* Today's table: OPTIONS -> pk_worker_handle_options, ACK -> drop,
 * every other request -> pk_worker_handle_not_implemented (501), responses
 * -> drop. Later steps overwrite entries before workers start. */
void pk_worker_handlers_init(struct pk_worker_handlers *h);

/* What every worker shares; read-only while workers run, but for `stop`,
 * the published `trusted` pointer and what only the control thread and the
 * stats readers touch (ctl, the caches). */
struct pk_engine {
	const struct pk_engine_conf *conf;
	struct pk_io *io;
	struct pk_rcu *rcu;
	struct pk_groups *groups;
	struct pk_calltab *calltab;
	struct pk_location *location; /* registrations and static bindings (include/pickup/location.h) */
	struct pk_proxy *proxy;	  /* routing state (dataplane/proxy/proxy.h) */
	struct pk_pickup *pickup; /* recently picked-up calls (dataplane/pickup/pickup.h) */
	struct pk_worker_handlers handlers;
	unsigned n_workers;
	/* listeners as bound (ports chosen by the kernel filled in) */
	unsigned n_listeners;
	struct pk_io_listener listeners[PK_IO_MAX_LISTENERS];
	/* header lines of our 200 to OPTIONS (Allow from the handler table) */
	char options_hdrs[512];
	uint32_t options_hdrs_len;
	uint64_t tag_secret; /* keys the To-tags of our answers */
	/* The trusted networks in force (include/pickup/engine_conf.h).
	 * Written by the control thread only: release store of a new object,
	 * the old one freed with pk_rcu_defer; workers load it with acquire
	 * (the registrar) and use it until their next quiescent state. */
	_Atomic(struct pk_trusted_set *) trusted;
	/* limits.requests_per_second in force (0: off): set by
	 * pk_engine_prepare, changed by the control thread (`set
	 * rate_limit`). Relaxed store and loads: a self-contained value, each
	 * worker picks it up at its next burst (pk_worker_process). */
	_Atomic uint32_t rate_limit;
	/* The control socket (control/ctl.h), NULL when disabled. Control
	 * thread only. */
	struct pk_ctl *ctl;
	uint64_t start_ns; /* monotonic, when pickupd started (uptime) */
	/* The workers, set by main() before they start and kept until after
	 * they are joined: the stats read their counters (pk_ctr_get). */
	struct pk_worker *workers[PK_ENGINE_MAX_WORKERS];
	/* What the control thread last saw of shared structures that only it
	 * may walk, for threads that may not (pk_ctl_stats_json from the
	 * telemetry thread): the group index after every change or reload,
	 * the ringing-call table's states once a second. Relaxed stores by
	 * the control thread, relaxed loads by any thread: each value is
	 * exact as of its refresh, the set is not one snapshot. */
	struct {
		_Atomic uint64_t version, groups, users, memberships, bytes;
	} groups_cache;
	struct {
		_Atomic uint64_t tracked, trying, ringing, claimed;
	} calls_cache;
	/* Set by main() to end the loops. Release store in main, acquire load
	 * in each worker's loop: whatever main wrote before is visible once a
	 * worker sees true (nothing is, today: it is a plain flag). */
	atomic_bool stop;
};

/* Fill the parts of eng derived from the rest (options_hdrs from the
 * handler table). Call after the handlers are final, before workers start. */
void pk_engine_prepare(struct pk_engine *eng);

/* How many ringing-table and location entries one housekeeping sweep
 * looks at. */
#define PK_ENGINE_SWEEP_BUDGET 4096
/* How long a housekeeping tick waits for the grace period of what its
 * sweep retired: a busy worker's loop is tens of microseconds, an idle
 * one is offline. Without it, claim records and entries came back only at
 * the next tick (docs/calltab.md). */
#define PK_ENGINE_RECLAIM_WAIT_NS 200000u

/* The control thread's periodic work (every PK_CTL_TICK_MS in pickupd):
 * expire ringing calls, claims and registrations, then free what RCU says
 * no worker can see any more, waiting up to wait_ns for the grace period
 * of what the sweep retired (pk_rcu_reclaim_for): PK_ENGINE_RECLAIM_WAIT_NS
 * from a thread of its own, 0 from a worker's own thread (a benchmark's
 * closed loop), which cannot pass a quiescent state while it waits. tid:
 * the caller's RCU and table thread id, registered and offline. */
void pk_engine_housekeep(struct pk_engine *eng, unsigned tid, uint64_t wait_ns);

/* A worker's counters: pk_ctr_inc / pk_ctr_get (include/pickup/ctr.h). */
struct pk_worker {
	unsigned id; /* also the RCU / ringing-table thread id */
	struct pk_engine *eng;
	struct pk_io_queue *q;
	uint64_t now_ns; /* monotonic time of the current burst */
	pthread_t thread;
	struct pk_io *mem_io; /* the backend whose memory this is (pk_io_local_alloc), or NULL */
	/* Counters: written only by this worker (pk_ctr_inc: relaxed load +
	 * relaxed store, a plain add in the generated code), read by the
	 * control socket and telemetry threads with relaxed loads
	 * (pk_ctr_get) while the worker runs. */
	_Atomic uint64_t ctr[PK_WORKER_CTR_COUNT];
	_Atomic uint64_t rejects[PK_WORKER_REJ_COUNT];
	_Atomic uint64_t proxy_ctr[PK_PROXY_CTR_COUNT];
	_Atomic uint64_t pickup_ctr[PK_PICKUP_CTR_COUNT];
	/* The burst being handled: each message is scanned into its slot, all
	 * of them before the first is handled (pk_worker_process). */
	struct pk_sip_msg msg[PK_IO_BURST];
	struct pk_rw rw;       /* the rewrite of the message being forwarded */
	char slow_scratch[PK_SIP_SLOW_SCRATCH];
	struct pk_ratelimit rl; /* per-source request limits (include/pickup/ratelimit.h) */
} __attribute__((aligned(64)));

/* Allocate worker id (cache-aligned, zeroed): from its queue's backend, on
 * the NUMA node of the core that will run it (pk_io_local_alloc), else
 * from the process allocator, touched now so that the packet path takes
 * no page fault. NULL on no memory. Control thread; pk_worker_destroy
 * before pk_io_destroy. */
struct pk_worker *pk_worker_create(struct pk_engine *eng, unsigned id);
void pk_worker_destroy(struct pk_worker *w);
/* Start the worker thread / wait for it to return (after eng->stop is set
 * and its queue woken). 0 or a positive errno. Control thread. */
int pk_worker_start(struct pk_worker *w);
void pk_worker_join(struct pk_worker *w);
/* The worker loop for a DPDK lcore (rte_eal_remote_launch through
 * pk_io_dpdk_launch): the same loop, on the lcore's thread; returns 0 once
 * eng->stop is set. Control thread launches it. */
int pk_worker_lcore_main(void *arg);

/* The loop body, exposed for tests and benchmarks: handle n received
 * messages and flush the answers. Worker (or a test acting as one). */
void pk_worker_process(struct pk_worker *w, struct pk_io_msg **msgs, unsigned n);

/* Log the worker's counters (and its queue's) at info level. Control
 * thread, after the worker stopped. */
void pk_worker_log_counters(const struct pk_worker *w);

const char *pk_worker_counter_name(enum pk_worker_counter c);
/* The status of a rejection counter (400 for PK_WORKER_REJ_400), 0 for
 * PK_WORKER_REJ_OTHER. Any thread. */
unsigned pk_worker_reject_status(enum pk_worker_reject r);

static inline void pk_worker_count(struct pk_worker *w, enum pk_worker_counter c)
{
	pk_ctr_inc(&w->ctr[c]);
}

/* ---- helpers for handlers (worker only) ---- */

/*
 * Answer the request msg (received as rx) with status: the response goes
 * back on the connection (TCP) or to the source address (UDP: port per
 * RFC 3261 §18.2.2 / RFC 3581: the source port with rport or when the Via
 * cannot be read, else the Via's sent-by port, default 5060). extra is
 * header lines, each ending in CRLF (may be empty). A To-tag derived from
 * the request is added when the request had none, so retransmissions get
 * the same answer. Returns 0, or -ENOSPC / -EINVAL (counted in drop_build;
 * -EINVAL for an ACK, which is never answered).
 */
int pk_worker_reply(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *msg,
		    unsigned status, const char *reason, struct pk_str extra);

/* Is uri (a Request-URI) pickupd itself: no user part, and a host that is
 * a served domain or the address the message came to (or any listener's)? */
bool pk_worker_uri_is_local(const struct pk_worker *w, const struct pk_io_msg *rx, struct pk_str uri);

/* Is a in the trusted networks in force (the set published in
 * eng->trusted, else the settings' list)? *n gets how many networks there
 * are (0: none configured). Worker: the published set is loaded with
 * acquire and used before the next quiescent state. */
bool pk_worker_trusted(const struct pk_worker *w, const struct pk_addr *a, uint32_t *n);

/* The default handlers, for later tables to reuse. */
void pk_worker_handle_options(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *msg);
void pk_worker_handle_not_implemented(struct pk_worker *w, const struct pk_io_msg *rx,
				      struct pk_sip_msg *msg);
void pk_worker_handle_drop_ack(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *msg);
void pk_worker_handle_drop_response(struct pk_worker *w, const struct pk_io_msg *rx,
				    struct pk_sip_msg *msg);

#endif /* PICKUP_WORKER_H */
