/* SPDX-License-Identifier: MIT */
/*
 * The fast scanner and libosip2, side by side: both parsers' results turned
 * into JSON records with the same layout, and a field-by-field diff.
 *
 * This is the reference check the design asks for ("tests compare the
 * scanner against libosip2 on every corpus message"); the pk-sipdump tool
 * prints the records and the diff, and the unit tests assert the diff is
 * empty on the ordinary corpus. Records are built with jansson, so the
 * JSON is well-formed for any input bytes.
 *
 * A record in normalised form (PK_SIPREF_NORM) holds only what both
 * parsers can express, written so that values the RFC calls equivalent
 * compare equal: docs/sipdump.md lists each normalisation. The raw form
 * adds what only the scanner has (views as written, URI details).
 *
 * Control plane and tools only: everything here allocates. Call
 * pk_sip_slow_init() once before using the libosip2 side.
 */
#ifndef PICKUP_SIPREF_H
#define PICKUP_SIPREF_H

#include <jansson.h>

#include "pickup/sip.h"

struct osip_message;

/* Record flags. */
#define PK_SIPREF_NORM 1u /* normalised, comparable with the libosip2 record */

/* "ok", "reject", "drop", "slow". */
const char *pk_sipref_verdict_name(enum pk_sip_verdict v);

/*
 * Record of a scanned message (verdict PK_SIP_OK; msg may point into the
 * slow path's scratch). New reference, NULL only when out of memory.
 */
json_t *pk_sipref_from_msg(const struct pk_sip_msg *msg, unsigned flags);

/* Normalised record of a message libosip2 parsed. */
json_t *pk_sipref_from_osip(const struct osip_message *om);

/* Parse buf with libosip2 and return its normalised record, or NULL if
 * libosip2 cannot parse it. */
json_t *pk_sipref_osip_parse(const char *buf, size_t len);

/*
 * Compare two records field by field. Every leaf that differs (or exists
 * on one side only) is appended to diffs as
 * {"field": "via[0].branch", "scanner": a, "osip": b}; arrays of different
 * lengths yield one "<name>.length" entry and are compared up to the
 * shorter one. Returns the number of entries appended.
 */
size_t pk_sipref_diff(const json_t *scanner, const json_t *osip, json_t *diffs);

/* Result of running the scanner (and libosip2) on one message. */
struct pk_sipref_cmp {
	enum pk_sip_verdict fast;    /* pk_sip_scan on the original bytes */
	uint16_t fast_status;	     /* its status and reason */
	const char *fast_why;
	enum pk_sip_verdict verdict; /* pk_sip_parse: fast, then slow path */
	bool slow;		     /* the slow path ran */
	bool osip_ok;		     /* libosip2 parsed the original bytes */
	json_t *diffs;		     /* array, see pk_sipref_diff */
	struct pk_sip_msg *msg;	     /* the final scan (views into buf or scratch) */
	char *scratch;		     /* the slow path's canonical text */
};

/*
 * Scan buf with pk_sip_scan (for the fast path's own verdict) and
 * pk_sip_parse; with compare, also parse it with libosip2 and compare.
 * Both accept: the normalised records are diffed. One accepts and the
 * other does not: a single "verdict" entry. Both refuse: agreement.
 * Returns the number of disagreements (0 without compare), or -1 when out
 * of memory. Release with pk_sipref_cmp_free (also after an error).
 */
int pk_sipref_run(const char *buf, size_t len, bool compare, struct pk_sipref_cmp *cmp);
void pk_sipref_cmp_free(struct pk_sipref_cmp *cmp);

#endif /* PICKUP_SIPREF_H */
