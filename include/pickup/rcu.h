/* SPDX-License-Identifier: MIT */
/*
 * Quiescent-state RCU for pickupd's shared read-mostly structures (the group
 * index, the ringing-call table's reusable entries). A thin layer over DPDK's
 * rte_rcu_qsbr -- which works on plain memory, without the EAL -- plus a
 * deferred-reclamation list that the writers use instead of rte_rcu_qsbr_dq
 * (which needs EAL memzones that the socket backend does not have).
 *
 * Readers (workers) never block: they register once with a thread id and
 * report a quiescent state once per loop iteration, when they hold no
 * pointer into a shared structure. Writers publish a new version with a
 * release store, then hand the old one to pk_rcu_defer(); it is freed only
 * after every registered reader has passed a quiescent point.
 */
#ifndef PICKUP_RCU_H
#define PICKUP_RCU_H

#include "pickup/common.h"

struct pk_rcu;

/* Create an RCU domain for up to max_threads reader threads. Returns NULL
 * on allocation failure. Control thread only. */
struct pk_rcu *pk_rcu_create(unsigned max_threads);
/* Run every pending deferred callback (after a final grace period) and free
 * the domain. No reader may be registered any more. */
void pk_rcu_destroy(struct pk_rcu *rcu);

/* A reader thread joins (and goes online) / leaves. tid < max_threads,
 * unique. Called by the reader thread itself. */
int pk_rcu_reader_register(struct pk_rcu *rcu, unsigned tid);
void pk_rcu_reader_unregister(struct pk_rcu *rcu, unsigned tid);

/* A registered reader about to block (poll with a timeout, a long sleep)
 * goes offline so that writers do not wait for it, and back online before
 * it touches a shared structure again. Called by the reader thread itself;
 * worker-safe (one store, plus a fence for online). */
void pk_rcu_reader_offline(struct pk_rcu *rcu, unsigned tid);
void pk_rcu_reader_online(struct pk_rcu *rcu, unsigned tid);

/* Reader: "I hold no references now". Once per worker loop; cheap (one
 * store). Worker-safe. */
void pk_rcu_quiescent(struct pk_rcu *rcu, unsigned tid);

/* Writer side: call fn(arg) once every reader has passed a quiescent state
 * after this call. Never waits for readers (writers share a short mutex);
 * thread-safe among writers. Returns 0 or
 * -ENOMEM (then fn has not been queued and the caller must wait with
 * pk_rcu_synchronize and free it itself). Not for workers. */
int pk_rcu_defer(struct pk_rcu *rcu, void (*fn)(void *arg), void *arg);

/* Writer side: run the deferred callbacks whose grace period is over,
 * without blocking, in the order they were deferred. Returns how many ran.
 * A callback may call pk_rcu_defer but not pk_rcu_reclaim. Control thread
 * (timer). */
unsigned pk_rcu_reclaim(struct pk_rcu *rcu);

/* pk_rcu_reclaim, and while callbacks still wait, checking again for up
 * to max_ns: for a writer that has just deferred and whose readers pass a
 * quiescent state every few microseconds (the workers' loops), so that
 * what it retired comes back in this call rather than at its next one.
 * Never waits longer than max_ns: a reader that holds on leaves its
 * callbacks for the next call. Returns how many ran. Control thread
 * (timer); never from a registered reader that is online. */
unsigned pk_rcu_reclaim_for(struct pk_rcu *rcu, uint64_t max_ns);

/* Writer side: wait until every reader has passed a quiescent state.
 * Blocks; never call it from a registered reader. */
void pk_rcu_synchronize(struct pk_rcu *rcu);

/* How many deferred callbacks wait for their grace period (stats, tests).
 * Control thread. */
unsigned pk_rcu_pending(struct pk_rcu *rcu);

#endif /* PICKUP_RCU_H */
