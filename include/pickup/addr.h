/* SPDX-License-Identifier: MIT */
/*
 * Network addresses as the engine passes them around: a compact IPv4/IPv6
 * address + port (struct pk_addr, 24 bytes, no sockaddr_storage of 128
 * bytes in every packet descriptor), CIDR prefixes for the trusted
 * networks, and the text forms the configuration uses ("127.0.0.1:5060",
 * "[::1]:5075", "10.0.0.0/8").
 *
 * The conversions to and from struct sockaddr are for the socket backend
 * and the control plane; the comparisons are what a worker uses. Every
 * function here is pure (no allocation, no syscall): any thread, workers
 * included, may call them.
 */
#ifndef PICKUP_ADDR_H
#define PICKUP_ADDR_H

#include <arpa/inet.h>
#include <sys/socket.h>

#include "pickup/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X-macro: transport id, lowercase name (configuration, ready file), the
 * token of a Via header. */
#define PK_TRANSPORT_FOREACH(_) \
	_(UDP, "udp", "UDP")    \
	_(TCP, "tcp", "TCP")

enum pk_transport {
#define PK_TRANSPORT_ENUM(id, name, via) PK_TRANSPORT_##id,
	PK_TRANSPORT_FOREACH(PK_TRANSPORT_ENUM)
#undef PK_TRANSPORT_ENUM
	PK_TRANSPORT_COUNT
};

/* "udp"/"tcp", and "UDP"/"TCP" as written in a Via. Any thread. */
const char *pk_transport_name(enum pk_transport t);
const char *pk_transport_via(enum pk_transport t);

/* Longest text form: "[" IPv6 "%" scope "]:" port, NUL included. */
#define PK_ADDR_STRLEN 64

/*
 * An IPv4 or IPv6 address and a port. family is AF_INET (ip[0..3] hold the
 * address, the rest is zero) or AF_INET6; 0 means "no address". port and
 * scope are in host order. Zero-initialise before filling so that two equal
 * addresses compare equal with pk_addr_eq.
 */
struct pk_addr {
	uint16_t family;
	uint16_t port;
	uint32_t scope; /* IPv6 scope id (link-local), else 0 */
	uint8_t ip[16];
};

/* The IPv4 netmask of a prefix length (0..32), network byte order. */
static inline uint32_t pk_ipv4_mask(unsigned prefix_len)
{
	return htonl(prefix_len >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix_len));
}

/* A network prefix: the address bits past `prefix` are zero. */
struct pk_cidr {
	struct pk_addr net; /* port 0 */
	uint8_t prefix;     /* 0..32 (IPv4) or 0..128 (IPv6) */
};

/*
 * Parse "ipv4:port", "[ipv6]:port" (port required, 0..65535; 0 asks the
 * kernel for a free port when binding), or a bare address when port_opt
 * (the port is then 0). No host names: a listener must name an address.
 * Returns 0 or -EINVAL.
 */
int pk_addr_parse(struct pk_str text, bool port_opt, struct pk_addr *out);

/* Parse a bare IP literal ("10.1.2.3", "::1", "[::1]" with brackets as in
 * a SIP URI host). Returns 0 or -EINVAL. */
int pk_addr_parse_ip(struct pk_str text, struct pk_addr *out);

/* "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128). Bits past
 * the prefix must be zero ("10.1.0.0/8" is refused: it is almost always a
 * typo). Returns 0 or -EINVAL. */
int pk_cidr_parse(struct pk_str text, struct pk_cidr *out);

/* Text form: "1.2.3.4:5060", "[::1]:5060" (with_port), or the address only.
 * Always NUL-terminated; returns the length. */
int pk_addr_format(const struct pk_addr *a, bool with_port, char *out, size_t cap);

/* Address and port equal (scope too). */
static inline bool pk_addr_eq(const struct pk_addr *a, const struct pk_addr *b)
{
	return a->family == b->family && a->port == b->port && a->scope == b->scope &&
	       memcmp(a->ip, b->ip, 16) == 0;
}

/* Same IP, ports ignored. */
static inline bool pk_addr_ip_eq(const struct pk_addr *a, const struct pk_addr *b)
{
	return a->family == b->family && memcmp(a->ip, b->ip, 16) == 0;
}

/* 0.0.0.0 or :: (a listener bound to every local address). */
bool pk_addr_is_any(const struct pk_addr *a);

/* Is a inside the prefix c? Different families never match (an IPv4-mapped
 * IPv6 address is compared as the IPv4 address it maps). */
bool pk_cidr_match(const struct pk_cidr *c, const struct pk_addr *a);

/* Conversions for the socket API. to_sockaddr returns the length to pass to
 * bind/sendmsg (0 when a has no family); from_sockaddr returns 0 or -EAFNOSUPPORT.
 * An IPv4-mapped IPv6 address ("::ffff:1.2.3.4") is turned into AF_INET. */
socklen_t pk_addr_to_sockaddr(const struct pk_addr *a, struct sockaddr_storage *ss);
int pk_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct pk_addr *out);

#ifdef __cplusplus
}
#endif

#endif /* PICKUP_ADDR_H */
