/* SPDX-License-Identifier: MIT */
/*
 * Counters with one writer and any number of readers: a worker's own
 * counters (dataplane/worker.h), its I/O queue's (include/pickup/io.h) and
 * its network layer's (include/pickup/net.h), which the control thread and
 * the telemetry thread read while the worker runs (control socket `stats`,
 * Prometheus `/metrics`, DPDK telemetry).
 *
 * Relaxed load + relaxed store, not an atomic read-modify-write: there is
 * a single writer, so no increment is lost, and the compiler emits a
 * plain add (no lock prefix). Readers need atomicity (no torn value), not
 * ordering: pk_ctr_get's relaxed load pairs with them. A set of counters
 * read this way is exact per counter, not a single instant across them.
 */
#ifndef PICKUP_CTR_H
#define PICKUP_CTR_H

#include <stdatomic.h>
#include <stdint.h>

/* For the name tables of X-macro counter lists of (id, name, description):
 * static const char *const names[] = { PK_FOO_FOREACH_COUNTER(PK_CTR_NAME_OF) }; */
#define PK_CTR_NAME_OF(id, name, desc) name,
#define PK_CTR_DESC_OF(id, name, desc) desc,

/* The owning thread only. */
static inline void pk_ctr_inc(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

/* pk_ctr_inc's n at once (the owning thread only). */
static inline void pk_ctr_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* Any thread. */
static inline uint64_t pk_ctr_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

/* n counters into out (any thread). */
static inline void pk_ctr_copy(uint64_t *out, const _Atomic uint64_t *c, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		out[i] = pk_ctr_get(&c[i]);
}

#endif
