/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of pk_rcu (dataplane/pickup/rcu.c): a reader that holds a
 * pointer keeps the writer's deferred free from running until it reports a
 * quiescent state; callbacks run in the order they were deferred, each
 * only after its own grace period; synchronize waits for online readers but
 * not offline ones.
 *
 * This program never calls rte_eal_init: every test here is also the proof
 * that rte_rcu_qsbr and our defer queue work without the EAL (the socket
 * backend has none).
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "pickup/rcu.h"

/* ---- a log of callbacks that ran ---- */

static int ran[64];
static unsigned n_ran;

static void record(void *arg)
{
	ran[n_ran++] = (int)(intptr_t)arg;
}

static void reset_log(void)
{
	n_ran = 0;
}

/* ---- a reader thread driven step by step with semaphores ---- */

struct reader {
	struct pk_rcu *rcu;
	unsigned tid;
	pthread_t th;
	sem_t go;   /* main -> reader: do the next step */
	sem_t done; /* reader -> main: step done */
	int steps;  /* how many "quiescent" steps to perform before leaving */
	_Atomic(int *) const *shared; /* the published pointer */
	int seen;		      /* value read through it while holding */
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	pk_rcu_reader_register(r->rcu, r->tid);
	/* Step 0: take a reference and keep it. */
	if (r->shared != NULL) {
		/* Acquire: pairs with the writer's release store of the pointer. */
		int *p = atomic_load_explicit(r->shared, memory_order_acquire);

		r->seen = p != NULL ? *p : -1;
	}
	sem_post(&r->done);
	for (int i = 0; i < r->steps; i++) {
		sem_wait(&r->go);
		pk_rcu_quiescent(r->rcu, r->tid);
		sem_post(&r->done);
	}
	sem_wait(&r->go);
	pk_rcu_reader_unregister(r->rcu, r->tid);
	sem_post(&r->done);
	return NULL;
}

static void reader_start(struct reader *r, struct pk_rcu *rcu, unsigned tid, int steps,
			 _Atomic(int *) const *shared)
{
	r->rcu = rcu;
	r->tid = tid;
	r->steps = steps;
	r->shared = shared;
	r->seen = 0;
	sem_init(&r->go, 0, 0);
	sem_init(&r->done, 0, 0);
	assert_int_equal(pthread_create(&r->th, NULL, reader_main, r), 0);
	sem_wait(&r->done); /* registered and holding */
}

/* Let the reader do one step and wait for it. */
static void reader_step(struct reader *r)
{
	sem_post(&r->go);
	sem_wait(&r->done);
}

static void reader_finish(struct reader *r)
{
	reader_step(r); /* unregister */
	pthread_join(r->th, NULL);
	sem_destroy(&r->go);
	sem_destroy(&r->done);
}

/* ---- tests ---- */

static void test_create_bounds(void **state)
{
	struct pk_rcu *rcu;

	(void)state;
	assert_null(pk_rcu_create(0));
	rcu = pk_rcu_create(4);
	assert_non_null(rcu);
	assert_int_equal(pk_rcu_reader_register(rcu, 4), -EINVAL);
	assert_int_equal(pk_rcu_reader_register(rcu, 3), 0);
	pk_rcu_reader_unregister(rcu, 3);
	pk_rcu_destroy(rcu);
}

struct box {
	int value;
	int *freed_flag;
};

static void box_free(void *arg)
{
	struct box *b = arg;

	*b->freed_flag = 1;
	free(b);
}

/* A reader holding the old pointer keeps it alive; its quiescent state
 * releases it. */
static void test_reader_blocks_reclaim(void **state)
{
	struct pk_rcu *rcu = pk_rcu_create(2);
	struct box *old = malloc(sizeof(*old)), *nw = malloc(sizeof(*nw));
	_Atomic(int *) shared;
	int freed = 0, freed_new = 0;
	struct reader r;

	(void)state;
	old->value = 1;
	old->freed_flag = &freed;
	nw->value = 2;
	nw->freed_flag = &freed_new;
	atomic_store_explicit(&shared, &old->value, memory_order_release);
	reader_start(&r, rcu, 1, 1, &shared);
	assert_int_equal(r.seen, 1);

	/* Writer: publish the new version, retire the old one. */
	atomic_store_explicit(&shared, &nw->value, memory_order_release);
	assert_int_equal(pk_rcu_defer(rcu, box_free, old), 0);
	assert_int_equal(pk_rcu_pending(rcu), 1);
	assert_int_equal(pk_rcu_reclaim(rcu), 0);
	assert_int_equal(freed, 0);
	assert_int_equal(pk_rcu_reclaim(rcu), 0); /* still held, however often we try */
	assert_int_equal(freed, 0);

	reader_step(&r); /* quiescent */
	assert_int_equal(pk_rcu_reclaim(rcu), 1);
	assert_int_equal(freed, 1);
	assert_int_equal(pk_rcu_pending(rcu), 0);
	assert_int_equal(freed_new, 0);

	reader_finish(&r);
	box_free(nw);
	pk_rcu_destroy(rcu);
}

/* Callbacks run in deferral order, each after its own grace period: one
 * deferred after the reader's quiescent state waits for the next one. */
static void test_defer_order(void **state)
{
	struct pk_rcu *rcu = pk_rcu_create(2);
	struct reader r;

	(void)state;
	reset_log();
	/* No reader: the grace period is immediate, order is kept. */
	for (int i = 1; i <= 5; i++)
		assert_int_equal(pk_rcu_defer(rcu, record, (void *)(intptr_t)i), 0);
	assert_int_equal(pk_rcu_reclaim(rcu), 5);
	assert_int_equal(n_ran, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(ran[i], i + 1);

	reset_log();
	reader_start(&r, rcu, 0, 2, NULL);
	assert_int_equal(pk_rcu_defer(rcu, record, (void *)10), 0);
	assert_int_equal(pk_rcu_defer(rcu, record, (void *)11), 0);
	reader_step(&r); /* passes 10 and 11 */
	assert_int_equal(pk_rcu_defer(rcu, record, (void *)12), 0);
	assert_int_equal(pk_rcu_reclaim(rcu), 2);
	assert_int_equal(n_ran, 2);
	assert_int_equal(ran[0], 10);
	assert_int_equal(ran[1], 11);
	assert_int_equal(pk_rcu_pending(rcu), 1);
	assert_int_equal(pk_rcu_reclaim(rcu), 0);
	reader_step(&r);
	assert_int_equal(pk_rcu_reclaim(rcu), 1);
	assert_int_equal(ran[2], 12);
	reader_finish(&r);
	pk_rcu_destroy(rcu);
}

/* A callback may defer more work (it runs after the queue lock is released). */
static struct pk_rcu *chain_rcu;
static void chain(void *arg)
{
	record(arg);
	if ((intptr_t)arg < 3)
		assert_int_equal(pk_rcu_defer(chain_rcu, chain, (void *)((intptr_t)arg + 1)), 0);
}

static void test_callback_defers(void **state)
{
	(void)state;
	reset_log();
	chain_rcu = pk_rcu_create(1);
	assert_int_equal(pk_rcu_defer(chain_rcu, chain, (void *)1), 0);
	assert_int_equal(pk_rcu_reclaim(chain_rcu), 1);
	assert_int_equal(pk_rcu_reclaim(chain_rcu), 1);
	pk_rcu_destroy(chain_rcu); /* runs the last one */
	assert_int_equal(n_ran, 3);
	assert_int_equal(ran[2], 3);
}

/* An offline reader does not hold grace periods; back online it does. */
static void test_offline_reader(void **state)
{
	struct pk_rcu *rcu = pk_rcu_create(1);

	(void)state;
	reset_log();
	assert_int_equal(pk_rcu_reader_register(rcu, 0), 0); /* this thread reads */
	assert_int_equal(pk_rcu_defer(rcu, record, (void *)1), 0);
	assert_int_equal(pk_rcu_reclaim(rcu), 0); /* we are online, not quiescent */
	pk_rcu_reader_offline(rcu, 0);
	assert_int_equal(pk_rcu_reclaim(rcu), 1);
	pk_rcu_synchronize(rcu); /* must not wait for an offline reader */
	pk_rcu_reader_online(rcu, 0);
	assert_int_equal(pk_rcu_defer(rcu, record, (void *)2), 0);
	assert_int_equal(pk_rcu_reclaim(rcu), 0);
	pk_rcu_quiescent(rcu, 0);
	assert_int_equal(pk_rcu_reclaim(rcu), 1);
	assert_int_equal(n_ran, 2);
	pk_rcu_reader_unregister(rcu, 0);
	pk_rcu_destroy(rcu);
}

/* synchronize returns only once a holding reader has been quiescent. */
struct syncer {
	struct pk_rcu *rcu;
	sem_t started, finished;
	atomic_int done;
};

static void *syncer_main(void *arg)
{
	struct syncer *s = arg;

	sem_post(&s->started);
	pk_rcu_synchronize(s->rcu);
	/* Release: pairs with the acquire loads of the test thread. */
	atomic_store_explicit(&s->done, 1, memory_order_release);
	sem_post(&s->finished);
	return NULL;
}

static void test_synchronize_waits(void **state)
{
	struct pk_rcu *rcu = pk_rcu_create(2);
	struct syncer s = { .rcu = rcu };
	struct timespec until;
	struct reader r;
	pthread_t th;

	(void)state;
	sem_init(&s.started, 0, 0);
	sem_init(&s.finished, 0, 0);
	reader_start(&r, rcu, 1, 1, NULL);
	assert_int_equal(pthread_create(&th, NULL, syncer_main, &s), 0);
	sem_wait(&s.started);
	/* The reader holds: synchronize must not finish. Give it ample time
	 * to (wrongly) do so; this wait is for an event that must not come. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 100 * 1000 * 1000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	assert_int_equal(sem_timedwait(&s.finished, &until), -1);
	assert_int_equal(atomic_load_explicit(&s.done, memory_order_acquire), 0);
	reader_step(&r); /* quiescent */
	sem_wait(&s.finished);
	assert_int_equal(atomic_load_explicit(&s.done, memory_order_acquire), 1);
	pthread_join(th, NULL);
	reader_finish(&r);
	sem_destroy(&s.started);
	sem_destroy(&s.finished);
	pk_rcu_destroy(rcu);
}

/* A reader that, once told to, keeps working for delay_ns (a worker in the
 * middle of a burst) and then passes its quiescent state. */
struct late_reader {
	struct pk_rcu *rcu;
	uint64_t delay_ns;
	sem_t registered, go;
	atomic_bool quiesced;
};

static void *late_reader_main(void *arg)
{
	struct late_reader *r = arg;

	pk_rcu_reader_register(r->rcu, 1);
	sem_post(&r->registered);
	sem_wait(&r->go);
	for (uint64_t end = pk_clock_ns() + r->delay_ns; pk_clock_ns() < end;)
		;
	atomic_store_explicit(&r->quiesced, true, memory_order_release);
	pk_rcu_quiescent(r->rcu, 1);
	pk_rcu_reader_unregister(r->rcu, 1);
	return NULL;
}

/* pk_rcu_reclaim_for runs a callback whose grace period ends while it
 * waits (the reader passes its quiescent state 5 ms after the call began;
 * pk_rcu_reclaim alone would run nothing), and returns then, not at its
 * limit. */
static void test_reclaim_for_waits(void **state)
{
	struct pk_rcu *rcu = pk_rcu_create(2);
	struct late_reader r = { .rcu = rcu, .delay_ns = 5000000 };
	pthread_t th;

	(void)state;
	reset_log();
	sem_init(&r.registered, 0, 0);
	sem_init(&r.go, 0, 0);
	atomic_init(&r.quiesced, false);
	assert_int_equal(pthread_create(&th, NULL, late_reader_main, &r), 0);
	sem_wait(&r.registered);
	assert_int_equal(pk_rcu_defer(rcu, record, (void *)(intptr_t)7), 0);
	sem_post(&r.go);
	uint64_t t0 = pk_clock_ns();
	assert_int_equal(pk_rcu_reclaim_for(rcu, 60ull * 1000000000u), 1);
	uint64_t took = pk_clock_ns() - t0;
	assert_true(atomic_load_explicit(&r.quiesced, memory_order_acquire));
	assert_int_equal(n_ran, 1);
	assert_int_equal(ran[0], 7);
	assert_int_equal(pk_rcu_pending(rcu), 0);
	assert_true(took < 30ull * 1000000000u); /* the reader's quiescent state ended it */
	pthread_join(th, NULL);
	sem_destroy(&r.registered);
	sem_destroy(&r.go);
	pk_rcu_destroy(rcu);
}

/* A reader that holds on: pk_rcu_reclaim_for gives up after its limit,
 * runs nothing, and the callback runs at a later reclaim. */
static void test_reclaim_for_bounded(void **state)
{
	struct pk_rcu *rcu = pk_rcu_create(2);
	struct reader r;

	(void)state;
	reset_log();
	reader_start(&r, rcu, 1, 1, NULL);
	assert_int_equal(pk_rcu_defer(rcu, record, (void *)(intptr_t)3), 0);
	uint64_t t0 = pk_clock_ns();
	assert_int_equal(pk_rcu_reclaim_for(rcu, 20000000), 0);
	assert_true(pk_clock_ns() - t0 >= 20000000); /* it did wait its limit */
	assert_int_equal(n_ran, 0);
	assert_int_equal(pk_rcu_pending(rcu), 1);
	reader_step(&r); /* quiescent */
	assert_int_equal(pk_rcu_reclaim_for(rcu, 0), 1);
	assert_int_equal(ran[0], 3);
	reader_finish(&r);
	pk_rcu_destroy(rcu);
}

/* destroy runs what is still queued, in order. */
static void test_destroy_runs_pending(void **state)
{
	struct pk_rcu *rcu = pk_rcu_create(1);

	(void)state;
	reset_log();
	for (int i = 1; i <= 3; i++)
		assert_int_equal(pk_rcu_defer(rcu, record, (void *)(intptr_t)i), 0);
	pk_rcu_destroy(rcu);
	assert_int_equal(n_ran, 3);
	assert_int_equal(ran[0], 1);
	assert_int_equal(ran[2], 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_bounds),
		cmocka_unit_test(test_reader_blocks_reclaim),
		cmocka_unit_test(test_defer_order),
		cmocka_unit_test(test_callback_defers),
		cmocka_unit_test(test_offline_reader),
		cmocka_unit_test(test_synchronize_waits),
		cmocka_unit_test(test_reclaim_for_waits),
		cmocka_unit_test(test_reclaim_for_bounded),
		cmocka_unit_test(test_destroy_runs_pending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
