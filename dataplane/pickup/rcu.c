/* SPDX-License-Identifier: MIT */
/*
 * pk_rcu: quiescent-state-based reclamation for the structures that workers
 * read without locks (the group index, the ringing-call table).
 *
 * The grace-period machinery is DPDK's rte_rcu_qsbr, used on plain
 * cache-aligned heap memory: it needs no EAL. What rte_rcu_qsbr does not
 * give us without the EAL is a deferred-free queue (rte_rcu_qsbr_dq is built
 * on rte_ring, which lives in EAL memzones), so this file keeps its own: a
 * FIFO of (token, callback) records. A writer takes a token with
 * rte_rcu_qsbr_start() when it retires a block; the record may run once
 * rte_rcu_qsbr_check() says every registered reader has reported a quiescent
 * state after that token.
 *
 * Ownership: workers (readers) only touch their own counter through
 * rte_rcu_qsbr_quiescent/online/offline. The defer queue belongs to the
 * writers (control-plane threads) and is protected by q_lock; callbacks are
 * run under run_lock so that they run in the order they were deferred even
 * when two control threads reclaim at the same time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <rte_common.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>

#include "pickup/rcu.h"

struct pk_rcu_cb {
	struct pk_rcu_cb *next;
	uint64_t token; /* rte_rcu_qsbr_start() value taken when deferred */
	void (*fn)(void *arg);
	void *arg;
};

struct pk_rcu {
	struct rte_rcu_qsbr *qsbr; /* cache-aligned, rte_rcu_qsbr_get_memsize() */
	unsigned max_threads;
	pthread_mutex_t q_lock;	  /* protects head/tail/pending */
	pthread_mutex_t run_lock; /* serialises callback execution */
	struct pk_rcu_cb *head, *tail;
	unsigned pending;
};

struct pk_rcu *pk_rcu_create(unsigned max_threads)
{
	struct pk_rcu *rcu;
	size_t sz;

	if (max_threads == 0)
		return NULL;
	rcu = calloc(1, sizeof(*rcu));
	if (rcu == NULL)
		return NULL;
	sz = rte_rcu_qsbr_get_memsize(max_threads);
	if (sz == (size_t)1 || sz == 0) /* returns 1 on bad max_threads */
		goto fail;
	sz = RTE_ALIGN_CEIL(sz, RTE_CACHE_LINE_SIZE);
	rcu->qsbr = aligned_alloc(RTE_CACHE_LINE_SIZE, sz);
	if (rcu->qsbr == NULL)
		goto fail;
	if (rte_rcu_qsbr_init(rcu->qsbr, max_threads) != 0)
		goto fail;
	rcu->max_threads = max_threads;
	pthread_mutex_init(&rcu->q_lock, NULL);
	pthread_mutex_init(&rcu->run_lock, NULL);
	return rcu;
fail:
	free(rcu->qsbr);
	free(rcu);
	return NULL;
}

void pk_rcu_destroy(struct pk_rcu *rcu)
{
	struct pk_rcu_cb *cb, *next;

	if (rcu == NULL)
		return;
	/* No reader is registered any more (precondition); the grace period
	 * is then immediate, and what is left runs in deferral order. */
	pk_rcu_synchronize(rcu);
	pthread_mutex_lock(&rcu->run_lock);
	pthread_mutex_lock(&rcu->q_lock);
	cb = rcu->head;
	rcu->head = rcu->tail = NULL;
	rcu->pending = 0;
	pthread_mutex_unlock(&rcu->q_lock);
	for (; cb != NULL; cb = next) {
		next = cb->next;
		cb->fn(cb->arg);
		free(cb);
	}
	pthread_mutex_unlock(&rcu->run_lock);
	pthread_mutex_destroy(&rcu->q_lock);
	pthread_mutex_destroy(&rcu->run_lock);
	free(rcu->qsbr);
	free(rcu);
}

int pk_rcu_reader_register(struct pk_rcu *rcu, unsigned tid)
{
	if (tid >= rcu->max_threads)
		return -EINVAL;
	if (rte_rcu_qsbr_thread_register(rcu->qsbr, tid) != 0)
		return -EINVAL;
	/* Online copies the current token into this thread's counter and ends
	 * with a seq_cst fence, so that the writer either sees this reader
	 * online or the reader's later loads see the writer's latest
	 * publication (pairs with the release add in rte_rcu_qsbr_start). */
	rte_rcu_qsbr_thread_online(rcu->qsbr, tid);
	return 0;
}

void pk_rcu_reader_unregister(struct pk_rcu *rcu, unsigned tid)
{
	if (tid >= rcu->max_threads)
		return;
	/* Offline is a release store of 0 to this thread's counter: the
	 * reader's earlier loads of shared data happen before a writer's
	 * acquire load in rte_rcu_qsbr_check sees it offline. */
	rte_rcu_qsbr_thread_offline(rcu->qsbr, tid);
	rte_rcu_qsbr_thread_unregister(rcu->qsbr, tid);
}

void pk_rcu_reader_offline(struct pk_rcu *rcu, unsigned tid)
{
	/* Release store of "offline" (see pk_rcu_reader_unregister). */
	rte_rcu_qsbr_thread_offline(rcu->qsbr, tid);
}

void pk_rcu_reader_online(struct pk_rcu *rcu, unsigned tid)
{
	/* Relaxed token copy + seq_cst fence (see pk_rcu_reader_register). */
	rte_rcu_qsbr_thread_online(rcu->qsbr, tid);
}

void pk_rcu_quiescent(struct pk_rcu *rcu, unsigned tid)
{
	/* Acquire load of the global token (pairs with the release add in
	 * rte_rcu_qsbr_start, done after the writer's publication) and, if it
	 * moved, a release store of it to this thread's counter (pairs with
	 * the acquire load in rte_rcu_qsbr_check): every load this reader did
	 * before now happens before the writer frees what it retired. */
	rte_rcu_qsbr_quiescent(rcu->qsbr, tid);
}

int pk_rcu_defer(struct pk_rcu *rcu, void (*fn)(void *arg), void *arg)
{
	struct pk_rcu_cb *cb = malloc(sizeof(*cb));

	if (cb == NULL)
		return -ENOMEM;
	cb->next = NULL;
	cb->fn = fn;
	cb->arg = arg;
	pthread_mutex_lock(&rcu->q_lock);
	/* The token is taken under q_lock so that tokens increase along the
	 * queue; reclaim can then stop at the first record not yet acked.
	 * rte_rcu_qsbr_start is an atomic add-fetch with release order: the
	 * caller's unpublishing store (done before this call) is visible to a
	 * reader that loads this token with acquire in
	 * rte_rcu_qsbr_quiescent. */
	cb->token = rte_rcu_qsbr_start(rcu->qsbr);
	if (rcu->tail != NULL)
		rcu->tail->next = cb;
	else
		rcu->head = cb;
	rcu->tail = cb;
	rcu->pending++;
	pthread_mutex_unlock(&rcu->q_lock);
	return 0;
}

unsigned pk_rcu_reclaim(struct pk_rcu *rcu)
{
	struct pk_rcu_cb *first, *last = NULL, *cb, *next;
	unsigned n = 0;

	pthread_mutex_lock(&rcu->run_lock);
	pthread_mutex_lock(&rcu->q_lock);
	first = rcu->head;
	/* rte_rcu_qsbr_check(wait=false) does acquire loads of every reader's
	 * counter (pairing with their release stores in quiescent/offline);
	 * it never blocks. */
	for (cb = first; cb != NULL && rte_rcu_qsbr_check(rcu->qsbr, cb->token, false) == 1;
	     cb = cb->next) {
		last = cb;
		n++;
	}
	if (last != NULL) {
		rcu->head = last->next;
		if (rcu->head == NULL)
			rcu->tail = NULL;
		last->next = NULL;
		rcu->pending -= n;
	} else {
		first = NULL;
	}
	pthread_mutex_unlock(&rcu->q_lock);
	/* Outside q_lock: a callback may defer more work. */
	for (cb = first; cb != NULL; cb = next) {
		next = cb->next;
		cb->fn(cb->arg);
		free(cb);
	}
	pthread_mutex_unlock(&rcu->run_lock);
	return n;
}

unsigned pk_rcu_reclaim_for(struct pk_rcu *rcu, uint64_t max_ns)
{
	uint64_t end = pk_clock_ns() + max_ns;
	unsigned n = pk_rcu_reclaim(rcu);

	while (pk_rcu_pending(rcu) != 0 && pk_clock_ns() < end) {
		rte_pause();
		n += pk_rcu_reclaim(rcu);
	}
	return n;
}

void pk_rcu_synchronize(struct pk_rcu *rcu)
{
	/* start (release add) + check(wait=true) spinning with rte_pause until
	 * every online reader reports a counter >= the new token. */
	rte_rcu_qsbr_synchronize(rcu->qsbr, RTE_QSBR_THRID_INVALID);
}

unsigned pk_rcu_pending(struct pk_rcu *rcu)
{
	unsigned n;

	pthread_mutex_lock(&rcu->q_lock);
	n = rcu->pending;
	pthread_mutex_unlock(&rcu->q_lock);
	return n;
}
