/* SPDX-License-Identifier: MIT */
/*
 * A lock-free free stack of object indices (a Treiber stack with a tag
 * against ABA), over a caller-provided link array. The ringing-call table
 * and the location service keep their preallocated objects in these: any
 * worker pops and pushes, nobody blocks, nothing is allocated.
 *
 * Indices are stored + 1 in the links and in the head, so 0 ends a chain.
 * The link array may double as the owner's retire lists: an object is on
 * at most one list at a time. Header-only; every function is worker-safe
 * except pk_idx_stack_init (before sharing) and pk_idx_stack_count (only
 * meaningful while nobody pops or pushes).
 */
#ifndef PICKUP_IDX_STACK_H
#define PICKUP_IDX_STACK_H

#include <stdatomic.h>
#include <stdint.h>

#define PK_IDX_STACK_EMPTY UINT32_MAX

struct pk_idx_stack {
	_Atomic uint64_t head;	/* tag << 32 | (top index + 1) */
	_Atomic uint32_t *next; /* index + 1 of the next object, 0 at the end */
	uint32_t n;		/* objects */
};

/* All n objects free, in index order. Plain initialisation: the owner is
 * handed to other threads by something that synchronises (thread start). */
static inline void pk_idx_stack_init(struct pk_idx_stack *s, _Atomic uint32_t *next, uint32_t n)
{
	s->next = next;
	s->n = n;
	for (uint32_t i = 0; i < n; i++)
		atomic_init(&next[i], i + 1 < n ? i + 2 : 0);
	atomic_init(&s->head, n ? 1 : 0);
}

/* Take an object; PK_IDX_STACK_EMPTY when there is none. */
static inline uint32_t pk_idx_stack_pop(struct pk_idx_stack *s)
{
	/* Acquire: pairs with the release CAS of pk_idx_stack_push_chain; the
	 * object's recycled contents and its link are visible. */
	uint64_t h = atomic_load_explicit(&s->head, memory_order_acquire);

	for (;;) {
		uint32_t top = (uint32_t)h, nx;

		if (top == 0)
			return PK_IDX_STACK_EMPTY;
		/* Relaxed: a stale link (top was popped and pushed again
		 * meanwhile) is caught by the tag in the CAS below. */
		nx = atomic_load_explicit(&s->next[top - 1], memory_order_relaxed);
		/* Acquire on success and failure: same pairing as above. */
		if (atomic_compare_exchange_weak_explicit(&s->head, &h, (((h >> 32) + 1) << 32) | nx,
							  memory_order_acquire, memory_order_acquire))
			return top - 1;
	}
}

/* Give back the chain first..last, already linked through next[]. */
static inline void pk_idx_stack_push_chain(struct pk_idx_stack *s, uint32_t first, uint32_t last)
{
	/* Relaxed: the CAS validates it. */
	uint64_t h = atomic_load_explicit(&s->head, memory_order_relaxed);

	do {
		/* Relaxed: published by the release CAS. */
		atomic_store_explicit(&s->next[last], (uint32_t)h, memory_order_relaxed);
		/* Release: pairs with the acquire of pk_idx_stack_pop. */
	} while (!atomic_compare_exchange_weak_explicit(&s->head, &h, (((h >> 32) + 1) << 32) | (first + 1),
							memory_order_release, memory_order_relaxed));
}

/* Objects on the stack (self-checks and tests). */
static inline uint32_t pk_idx_stack_count(const struct pk_idx_stack *s)
{
	uint32_t n = 0;
	/* Acquire: see pk_idx_stack_pop. */
	uint32_t i = (uint32_t)atomic_load_explicit(&s->head, memory_order_acquire);

	while (i != 0 && n <= s->n) {
		n++;
		/* Relaxed: no writer runs (precondition). */
		i = atomic_load_explicit(&s->next[i - 1], memory_order_relaxed);
	}
	return n;
}

#endif /* PICKUP_IDX_STACK_H */
