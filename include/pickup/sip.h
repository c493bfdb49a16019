/* SPDX-License-Identifier: MIT */
/*
 * The SIP fast-path scanner: one pass over a datagram (or one framed TCP
 * message) that yields the fields a proxy and the pickup engine need, as
 * (pointer, length) views into the caller's buffer, together with a verdict
 * (accept, answer with a status, drop, or hand to the slow path).
 *
 * No allocation and no copies: struct pk_sip_msg is caller-owned (workers
 * keep one in their per-core state) and only valid while the buffer it was
 * scanned from is. All functions here may be called from a worker.
 */
#ifndef PICKUP_SIP_H
#define PICKUP_SIP_H

#include "pickup/common.h"

/* Largest SIP message we accept: offsets in the header table are 16 bit. */
#define PK_SIP_MAX_MSG 65535u
/* Header lines kept in the table; a message with more is answered 400. */
#define PK_SIP_MAX_HDRS 128
/* Values parsed into the fixed arrays below; more are counted, not parsed. */
#define PK_SIP_MAX_VIA 8
#define PK_SIP_MAX_ROUTE 8
#define PK_SIP_MAX_CONTACT 8

/* X-macro: method enum value, canonical token. */
#define PK_SIP_FOREACH_METHOD(_) \
	_(INVITE, "INVITE")      \
	_(ACK, "ACK")            \
	_(BYE, "BYE")            \
	_(CANCEL, "CANCEL")      \
	_(REGISTER, "REGISTER")  \
	_(OPTIONS, "OPTIONS")    \
	_(INFO, "INFO")          \
	_(UPDATE, "UPDATE")      \
	_(PRACK, "PRACK")        \
	_(SUBSCRIBE, "SUBSCRIBE") \
	_(NOTIFY, "NOTIFY")      \
	_(REFER, "REFER")        \
	_(MESSAGE, "MESSAGE")    \
	_(PUBLISH, "PUBLISH")

enum pk_sip_method {
	PK_SIP_METHOD_UNKNOWN = 0,
#define PK_M_ENUM(n, s) PK_SIP_##n,
	PK_SIP_FOREACH_METHOD(PK_M_ENUM)
#undef PK_M_ENUM
	PK_SIP_METHOD_COUNT
};

/*
 * X-macro: header id, full name, compact form (0 if none), single-valued
 * (1: more than one occurrence is an error, RFC 3261 §20 / RFC 4475 §3.3.8).
 */
#define PK_SIP_FOREACH_HDR(_)                            \
	_(VIA, "Via", 'v', 0)                            \
	_(FROM, "From", 'f', 1)                          \
	_(TO, "To", 't', 1)                              \
	_(CALL_ID, "Call-ID", 'i', 1)                    \
	_(CSEQ, "CSeq", 0, 1)                            \
	_(CONTACT, "Contact", 'm', 0)                    \
	_(ROUTE, "Route", 0, 0)                          \
	_(RECORD_ROUTE, "Record-Route", 0, 0)            \
	_(MAX_FORWARDS, "Max-Forwards", 0, 1)            \
	_(CONTENT_LENGTH, "Content-Length", 'l', 1)      \
	_(CONTENT_TYPE, "Content-Type", 'c', 1)          \
	_(SUPPORTED, "Supported", 'k', 0)                \
	_(REQUIRE, "Require", 0, 0)                      \
	_(PROXY_REQUIRE, "Proxy-Require", 0, 0)          \
	_(REPLACES, "Replaces", 0, 1)                    \
	_(EXPIRES, "Expires", 0, 1)                      \
	_(REASON, "Reason", 0, 0)                        \
	_(WARNING, "Warning", 0, 0)                      \
	_(ACCEPT, "Accept", 0, 0)                        \
	_(UNSUPPORTED, "Unsupported", 0, 0)              \
	_(ALLOW, "Allow", 0, 0)                          \
	_(CONTENT_ENCODING, "Content-Encoding", 'e', 0)  \
	_(SUBJECT, "Subject", 's', 0)                    \
	_(EVENT, "Event", 'o', 1)                        \
	_(ALLOW_EVENTS, "Allow-Events", 'u', 0)          \
	_(REFER_TO, "Refer-To", 'r', 1)                  \
	_(REFERRED_BY, "Referred-By", 'b', 1)            \
	_(SESSION_EXPIRES, "Session-Expires", 'x', 1)    \
	_(IDENTITY, "Identity", 'y', 0)                  \
	_(RETRY_AFTER, "Retry-After", 0, 0)              \
	_(MIN_EXPIRES, "Min-Expires", 0, 1)              \
	_(USER_AGENT, "User-Agent", 0, 0)

enum pk_sip_hdr_id {
	PK_HDR_OTHER = 0,
#define PK_H_ENUM(id, name, compact, single) PK_HDR_##id,
	PK_SIP_FOREACH_HDR(PK_H_ENUM)
#undef PK_H_ENUM
	PK_HDR_COUNT
};

/* X-macro: option tags we know (Supported / Require / Proxy-Require). */
#define PK_SIP_FOREACH_OPTION(_) \
	_(REPLACES, "replaces")  \
	_(100REL, "100rel")      \
	_(TIMER, "timer")        \
	_(PATH, "path")          \
	_(GRUU, "gruu")          \
	_(OUTBOUND, "outbound")  \
	_(NOREFERSUB, "norefersub") \
	_(EARLY_SESSION, "early-session")

enum pk_sip_option {
#define PK_O_ENUM(id, s) PK_SIP_OPT_##id,
	PK_SIP_FOREACH_OPTION(PK_O_ENUM)
#undef PK_O_ENUM
	PK_SIP_OPT_COUNT
};
#define PK_SIP_OPT_BIT(o) (1u << PK_SIP_OPT_##o)
/* Set in an option mask when the header also named a tag we do not know. */
#define PK_SIP_OPT_UNKNOWN (1u << 31)

/* Outcome of a scan (and of the checks in this header). */
enum pk_sip_verdict {
	PK_SIP_OK = 0,	 /* accepted: fields are valid */
	PK_SIP_REJECT,	 /* answer the request with msg->status, msg->why */
	PK_SIP_DROP,	 /* drop silently (invalid response, unanswerable request) */
	PK_SIP_SLOW,	 /* rare syntax the scanner declines: use the slow path */
};

/* One header line of the message (folded continuation lines included). */
struct pk_sip_hdr {
	uint16_t off;	/* start of the name, from msg->buf */
	uint16_t len;	/* line length including its final CRLF */
	uint16_t voff;	/* value start (after the colon and LWS) */
	uint16_t vlen;	/* value length, trailing LWS trimmed */
	uint8_t id;	/* enum pk_sip_hdr_id */
};

struct pk_sip_via {
	struct pk_str raw;	 /* the whole via-parm ("SIP/2.0/UDP h;branch=x") */
	struct pk_str transport; /* "UDP", "TCP", ... as written */
	struct pk_str host;	 /* sent-by host; IPv6 references keep their [] */
	uint16_t port;		 /* sent-by port, 0 when absent */
	int32_t rport;		 /* -1 absent, 0 present without value, else value */
	struct pk_str branch;	 /* value of branch=, empty when absent */
	struct pk_str received;	 /* value of received=, empty when absent */
	uint8_t hdr;		 /* index of the header line it came from */
};

/* A name-addr or addr-spec with its header parameters (From, To, Route...). */
struct pk_sip_addr {
	struct pk_str raw;     /* the whole value of this entry */
	struct pk_str display; /* display name as written (quotes kept) */
	struct pk_str uri;     /* the URI, without the <> */
	struct pk_str params;  /* header params after the URI, from the first ';' */
	struct pk_str tag;     /* value of tag=, empty when absent */
	int64_t expires;       /* Contact expires= value, -1 absent */
	uint8_t hdr;	       /* header line index */
};

struct pk_sip_replaces {
	struct pk_str call_id;
	struct pk_str to_tag;
	struct pk_str from_tag;
	bool early_only;
};

/*
 * The order of the fields is for the cache: the worker keeps a burst of 32
 * of these, written by the scan and read by the handlers (dataplane/
 * worker.c), so the fields most messages use come first and together, and
 * the arrays that are mostly empty (their first entries used) after them;
 * the header table, one entry per line, last.
 */
struct pk_sip_msg {
	const char *buf; /* the scanned message */
	uint32_t len;	 /* its length up to the end of the body */

	/* verdict details: filled for REJECT / DROP / SLOW */
	uint16_t status;  /* SIP status to answer with (REJECT) */
	const char *why;  /* short static reason text, never NULL */

	bool is_request;
	/* request line */
	enum pk_sip_method method;
	struct pk_str method_tok;
	struct pk_str ruri;
	/* status line */
	uint16_t code;
	struct pk_str reason;

	uint16_t nhdrs;
	uint16_t nvia;	      /* all Via values, even past PK_SIP_MAX_VIA */
	uint16_t ncontact;    /* all Contact values */
	uint16_t nroute, nrr; /* all Route / Record-Route values */
	bool contact_star;    /* Contact: * */
	bool has_replaces;
	uint32_t cseq;
	enum pk_sip_method cseq_method;
	int32_t max_forwards;	/* -1 when absent */
	int32_t content_length; /* -1 when absent */
	int64_t expires;	/* -1 when absent */
	uint32_t supported, require, proxy_require; /* PK_SIP_OPT_* masks */
	struct pk_str cseq_method_tok;
	struct pk_str call_id;
	/* The ringing-call table's key hash of Call-ID and From-tag
	 * (pk_calltab_key_hash), kept by the worker when it started the
	 * call's table loads (pk_worker_prefetch) so that the handlers do not
	 * hash the two again; 0: not computed (pk_sip_scan resets it). */
	uint64_t call_key_hash;
	struct pk_str content_type;
	struct pk_str body;
	/* first line index of each known header, 0xff when absent; sized to
	 * a multiple of 16 so that resetting them is two vector stores */
	uint8_t first[(PK_HDR_COUNT + 15) & ~15];
	uint8_t count[(PK_HDR_COUNT + 15) & ~15]; /* lines of each id (saturates) */

	struct pk_sip_addr from, to;
	struct pk_sip_via via[PK_SIP_MAX_VIA];
	struct pk_sip_addr contact[PK_SIP_MAX_CONTACT];
	struct pk_sip_addr route[PK_SIP_MAX_ROUTE];
	struct pk_sip_addr rr[PK_SIP_MAX_ROUTE];
	struct pk_sip_replaces replaces;
	struct pk_sip_hdr hdrs[PK_SIP_MAX_HDRS];
};

/*
 * Scan one message. len is the datagram length (UDP) or the framed message
 * (TCP; see pk_sip_frame). Bytes past Content-Length are ignored (RFC 3261
 * §18.3) and msg->len says where the message ended. Never reads past len.
 * Returns the verdict; for PK_SIP_REJECT, msg->status and msg->why say what
 * to answer. Worker-safe, no allocation.
 */
enum pk_sip_verdict pk_sip_scan(const char *buf, size_t len, struct pk_sip_msg *msg);

/*
 * TCP framing (RFC 3261 §18.3): how many bytes of buf make the first
 * complete message (headers + Content-Length bytes of body), 0 if more
 * bytes are needed, -1 if the stream is broken (no or bad Content-Length,
 * oversized headers) and the connection must be closed. Leading CRLFs
 * (keep-alives) are counted in the result as their own message of no
 * content: *skip receives how many of them there were.
 */
long pk_sip_frame(const char *buf, size_t len, size_t *skip);

/* Method name and lookup. */
const char *pk_sip_method_name(enum pk_sip_method m);
enum pk_sip_method pk_sip_method_lookup(const char *p, size_t len);
/* Header id of a name (full or compact, any case); PK_HDR_OTHER if unknown. */
enum pk_sip_hdr_id pk_sip_hdr_lookup(const char *p, size_t len);
/* Canonical name of a header id ("Call-ID"). */
const char *pk_sip_hdr_name(enum pk_sip_hdr_id id);

/* Value of header line i as a view. */
static inline struct pk_str pk_sip_hdr_value(const struct pk_sip_msg *m, unsigned i)
{
	return pk_str_make(m->buf + m->hdrs[i].voff, m->hdrs[i].vlen);
}

/* Index of the next line with the same id after line i, or -1. */
int pk_sip_hdr_next(const struct pk_sip_msg *m, int i);

/*
 * Header parameter lookup in a ";name=value;flag" list (Via params, header
 * params, URI params). Returns true if found; *val is empty for a flag.
 * Names compare case-insensitively, LWS around '=' and ';' is allowed.
 */
bool pk_sip_param_get(struct pk_str params, const char *name, struct pk_str *val);

/*
 * pk_sip_param_get for several names in one walk of params: bit i of the
 * result set and vals[i] as pk_sip_param_get(params, names[i], &vals[i])
 * would give (the first parameter of that name, case-insensitively; an
 * empty value when it has none). vals[i] is untouched for a name not
 * found. At most 32 names. pk_sip_param_get is this walk for one name; the
 * proxy reads its own Via parameters on responses with it, uri.c a URI's
 * well-known parameters.
 */
uint32_t pk_sip_params_get(struct pk_str params, const char *const *names, unsigned n,
			   struct pk_str *vals);

/* --- URIs, parsed on demand ----------------------------------------- */

enum pk_sip_scheme {
	PK_URI_UNKNOWN = 0,
	PK_URI_SIP,
	PK_URI_SIPS,
	PK_URI_TEL,
};

enum pk_sip_host_type {
	PK_HOST_NAME = 0,
	PK_HOST_IPV4,
	PK_HOST_IPV6, /* "[...]" reference, brackets kept in host */
};

struct pk_sip_uri {
	enum pk_sip_scheme scheme;
	struct pk_str scheme_tok;
	struct pk_str user;	/* escapes kept as written; tel: the number */
	struct pk_str password;
	struct pk_str host;
	enum pk_sip_host_type host_type;
	uint16_t port;		/* 0 when absent */
	struct pk_str params;	/* from the first ';' (before any '?') */
	struct pk_str headers;	/* after '?', empty when absent */
	/* well-known parameters, pulled from params */
	struct pk_str transport, maddr, user_param;
	bool lr;
};

/*
 * Parse a URI. sip/sips get the full RFC 3261 §19.1 structure, tel the
 * number and parameters, any other scheme is PK_URI_UNKNOWN with only
 * scheme_tok set (the rest is opaque). Returns 0, or -EINVAL for a sip/sips
 * URI that is not well formed (no host, bad port, bad IPv6 reference,
 * whitespace).
 */
int pk_sip_uri_parse(const char *p, size_t len, struct pk_sip_uri *u);

/*
 * Does uri (a URI as the scanner gives it: Contact, Record-Route, Route,
 * without the angle brackets) start with "sips:", in any case? A
 * five-byte compare, no parse: what pickupd, which speaks no TLS, checks
 * before it keeps a URI it would later have to reach (RFC 5630 §4: a
 * sips: URI is reached over TLS on every hop).
 */
static inline bool pk_sip_uri_is_sips(struct pk_str uri)
{
	return uri.len >= 5 && pk_str_caseeq(pk_str_make(uri.p, 5), PK_STR_LIT("sips:"));
}

/*
 * Compare two user parts (or any URI components) as RFC 3261 §19.1.4 says:
 * case-sensitive, with %HH escapes equal to the characters they stand for.
 */
bool pk_sip_uri_user_eq(struct pk_str a, struct pk_str b);

/* Host compare: case-insensitive (names), exact for IP literals. */
bool pk_sip_uri_host_eq(struct pk_str a, struct pk_str b);

/* --- checks that depend on the role we play ------------------------- */

enum pk_sip_role {
	PK_ROLE_PROXY, /* forwarding the request (RFC 3261 §16.3) */
	PK_ROLE_UAS,   /* answering it ourselves (registrar, OPTIONS) */
};

/*
 * Request checks after a successful scan: for a proxy, Request-URI scheme
 * (416), Max-Forwards (483), Proxy-Require (420); for a UAS also Require
 * (420), Content-Type (415: we only understand application/sdp) and Accept
 * (406: we only produce application/sdp). supported is the mask of options
 * we implement. Fills msg->status/why and returns PK_SIP_REJECT, or OK.
 * The Unsupported header for a 420 is written by pk_sip_unsupported_list.
 */
enum pk_sip_verdict pk_sip_check_request(struct pk_sip_msg *msg, enum pk_sip_role role,
					 uint32_t supported);

/*
 * Write the comma-separated option tags of Require (role UAS) or
 * Proxy-Require (role PROXY) that are not in supported into out.
 * Returns the length written (0 if none), or -1 if cap is too small.
 */
int pk_sip_unsupported_list(const struct pk_sip_msg *msg, enum pk_sip_role role,
			    uint32_t supported, char *out, size_t cap);

/*
 * A response a proxy is about to forward: the Via it goes to is the second
 * one; PK_SIP_DROP when there is none, or its sent-by/received/maddr is a
 * broadcast or multicast address (RFC 4475 §3.3.10). PK_SIP_OK otherwise.
 */
enum pk_sip_verdict pk_sip_check_response_route(struct pk_sip_msg *msg);

/* Option-tag mask of a comma list ("replaces, 100rel"). */
uint32_t pk_sip_options_parse(struct pk_str list);

/* Parse "Replaces: callid;to-tag=a;from-tag=b;early-only" (RFC 3891). */
int pk_sip_replaces_parse(struct pk_str value, struct pk_sip_replaces *r);

#endif /* PICKUP_SIP_H */
