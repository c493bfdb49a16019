/* SPDX-License-Identifier: MIT */
/*
 * Per-source request rate limiting (docs/reliability.md "Hostile input",
 * docs/config.md `limits:`): one source address cannot take more than its
 * share of a worker, whatever it sends.
 *
 * Each worker owns one struct pk_ratelimit (inside its struct pk_worker):
 * a fixed table of PK_RL_SETS sets of PK_RL_WAYS entries, built at start-up,
 * written only by that worker, so there is no lock, no atomic and no
 * allocation per packet. An entry is keyed by a hash of the source IP
 * (port ignored) keyed with a per-worker secret, so nobody outside can aim
 * addresses at one set.
 *
 * Each entry is a token bucket in GCRA form (one "theoretical arrival
 * time" per bucket): interval T = 1 s / requests_per_second, tolerance
 * (burst - 1) * T. A request conforms while tat <= now + tolerance and then
 * moves tat on by T. An entry whose tat is in the past is exactly a full
 * bucket, the same state as no entry at all; that is what eviction uses:
 *
 *  - a new source takes a way whose two tats are both in the past (its
 *    state is worth nothing, so replacing it loses nothing), the emptiest
 *    first;
 *  - when every way of the set still holds a source that is using its
 *    budget, nobody is evicted: the new source is charged to the set's
 *    shared bucket (counted as ratelimit_shared).
 *
 * So an attacker cycling source addresses can never push a limited source
 * out of the table to give it a fresh bucket (only full buckets are ever
 * replaced), and the addresses it cycles through all draw on one shared
 * bucket per set once the set is busy. Filling every set would take
 * PK_RL_SETS * PK_RL_WAYS sources each sending at the limit.
 *
 * Every entry has a second bucket of the same rate and burst, the "over"
 * budget: a request beyond the limit is answered 503 with Retry-After
 * (over: reply) while that budget lasts and dropped after it, and in both
 * modes ACK and CANCEL beyond the limit pass on it (they end transactions
 * that were let in). A source therefore never gets more than twice its
 * limit of work or answers out of a worker: a flood cannot turn pickupd
 * into a reflector.
 */
#ifndef PICKUP_RATELIMIT_H
#define PICKUP_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "pickup/addr.h"
#include "pickup/engine_conf.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PK_RL_SETS 1024 /* power of two */
#define PK_RL_WAYS 4

/* What a message is, for the limiter. */
enum pk_rl_kind {
	PK_RL_REQUEST, /* any request but ACK and CANCEL, and anything unparseable */
	PK_RL_END,     /* ACK or CANCEL: ends a transaction, never answered 503 */
};

enum pk_rl_verdict {
	PK_RL_PASS,  /* within the limit (or an ACK/CANCEL within twice it) */
	PK_RL_REPLY, /* over the limit: answer 503 with Retry-After */
	PK_RL_DROP,  /* over the limit: drop silently */
};

struct pk_rl_entry {
	uint64_t tag;	    /* keyed hash of the source IP, 0: never used */
	uint64_t tat;	    /* the limit's theoretical arrival time, ns */
	uint64_t tat_over;  /* the over budget's */
};

struct pk_rl_set {
	struct pk_rl_entry way[PK_RL_WAYS];
	struct pk_rl_entry shared; /* for sources that found no free way */
};

struct pk_ratelimit {
	bool on;	     /* rate > 0 */
	uint32_t rate;	     /* requests_per_second in force */
	uint32_t burst;	     /* as configured (0: twice the rate) */
	bool reply;	     /* over: reply (else drop) */
	bool exempt_trusted; /* trusted sources are not limited */
	uint32_t retry_after; /* seconds, in the 503 */
	uint64_t interval_ns; /* T */
	uint64_t tolerance_ns; /* (burst - 1) * T */
	uint64_t secret;
	char extra[128];      /* the 503's Retry-After and Warning lines */
	uint32_t extra_len;
	struct pk_rl_set set[PK_RL_SETS];
};

/* Set rl from the settings (all state cleared). secret keys the address
 * hash. Control thread, before the worker starts. */
void pk_ratelimit_init(struct pk_ratelimit *rl, const struct pk_engine_limits *lim, uint64_t secret);

/*
 * Charge one message of kind from src at time now (monotonic ns, non-zero)
 * and say what to do with it. *shared is set when the source had no entry
 * of its own (its set was busy) and the set's shared bucket was charged.
 * rl->on must be true. Worker (pure: touches only rl).
 */
enum pk_rl_verdict pk_ratelimit_check(struct pk_ratelimit *rl, const struct pk_addr *src, enum pk_rl_kind kind,
				      uint64_t now, bool *shared);

/* Change the rate (requests per second, 0: off), every bucket full
 * again: a live `set rate_limit` (docs/control.md). Worker (its own rl). */
void pk_ratelimit_set_rate(struct pk_ratelimit *rl, uint32_t rate);

/* Which set src falls in (tests, and to reason about the table). Any
 * thread (pure). */
unsigned pk_ratelimit_set_of(const struct pk_ratelimit *rl, const struct pk_addr *src);

/* Classify a received datagram or TCP message by its first bytes: -1 for a
 * response ("SIP/2.0 "; never limited), else enum pk_rl_kind. Any thread
 * (pure). */
int pk_ratelimit_kind(const char *data, uint32_t len);

struct pk_worker;
struct pk_io_msg;
struct pk_sip_msg;

/*
 * The worker's hook, before parsing: charge rx to its source. PK_RL_PASS:
 * the pipeline goes on with it; PK_RL_DROP: over the limit, dropped (and
 * counted, drop_ratelimit); PK_RL_REPLY: over the limit, to be answered
 * 503 by pk_ratelimit_reply when its turn in the burst comes (the worker
 * scans a whole burst before handling it: worker.c). Worker.
 */
enum pk_rl_verdict pk_ratelimit_worker(struct pk_worker *w, const struct pk_io_msg *rx);

/* Answer rx 503 with Retry-After (parsed into m, the worker's slot for
 * it), or drop it when it cannot be answered (a response, an ACK, a
 * malformed request); counts answered_ratelimit or drop_ratelimit. Worker. */
void pk_ratelimit_reply(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *m);

#ifdef __cplusplus
}
#endif

#endif /* PICKUP_RATELIMIT_H */
