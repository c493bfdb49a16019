/* SPDX-License-Identifier: MIT */
/*
 * The slow path: libosip2 as the reference parser for the rare syntax the
 * fast scanner declines (PK_SIP_SLOW). libosip2 allocates and copies, so it
 * never runs for ordinary messages; a worker that takes this path counts it.
 *
 * The slow path parses the message with osip_message_parse, serialises it
 * back into canonical form (no line folding, CRLF line ends) in a scratch
 * buffer the caller owns, and scans that with the fast scanner, so every
 * field is still a view and every validation rule still applies. Views in
 * msg then point into scratch, not into the original buffer.
 */
#ifndef PICKUP_SIP_SLOW_H
#define PICKUP_SIP_SLOW_H

#include "pickup/sip.h"

/*
 * Scratch a worker should give the slow path: the canonical text can be
 * longer than the message (libosip2 writes comma lists one value per line
 * and pads Content-Length).
 */
#define PK_SIP_SLOW_SCRATCH (2u * PK_SIP_MAX_MSG)

/* Initialise libosip2's parser tables and silence its trace output (it
 * would print every parse error on stdout). Call once at start-up, before
 * any worker runs; not thread-safe, not for workers. Returns 0 or -1. */
int pk_sip_slow_init(void);

/*
 * Parse buf with libosip2 and rescan the canonical form (written into
 * scratch, cap bytes; PK_SIP_SLOW_SCRATCH is always enough). Returns the
 * fast scanner's verdict on the canonical form, with msg's views pointing
 * into scratch. A message the scanner refuses once its bare LFs are made
 * CRLF gets that refusal (views into the CRLF copy in scratch), whatever
 * libosip2 would make of it. When libosip2 cannot parse the message either: a request
 * gets PK_SIP_REJECT 400 "unparseable" (or the scanner's own, more precise
 * rejection), its Via/From/To/Call-ID/CSeq scanned from a copy of buf with
 * CRLF line ends written into scratch, so the answer can be built; a
 * response, or a request without a Via, gets PK_SIP_DROP. PK_SIP_DROP too
 * when the canonical text does not fit in cap. Never returns PK_SIP_SLOW.
 * Worker-safe after pk_sip_slow_init (libosip2 only reads its tables), but
 * it allocates and copies (through libosip2): count its use.
 */
enum pk_sip_verdict pk_sip_scan_slow(const char *buf, size_t len, char *scratch, size_t cap,
				     struct pk_sip_msg *msg);

/*
 * The fast scanner, then the slow path when the scanner declines. *slow is
 * set to whether the slow path ran. This is what the engine calls; a
 * worker may call it (the slow path allocates, the fast path does not).
 */
enum pk_sip_verdict pk_sip_parse(const char *buf, size_t len, char *scratch, size_t cap,
				 struct pk_sip_msg *msg, bool *slow);

#endif /* PICKUP_SIP_SLOW_H */
