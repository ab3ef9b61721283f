// The one parser of IP addresses and CIDR ranges ("10.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"),
// shared by the configuration checks and the request path (trusted proxies, /metrics allowlist).
#pragma once
#include <optional>
#include <string_view>

namespace sr::net {

// An IPv4 or IPv6 network. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is held as IPv4, so that
// one client cannot appear under two spellings.
struct Cidr {
  unsigned char addr[16] = {};  // IPv4: the first 4 bytes, the rest zero
  int bits = 0;                 // prefix length: 0..32 (IPv4) or 0..128 (IPv6)
  bool v4 = false;
};

// One address, no prefix; surrounding spaces and tabs are ignored. nullopt for anything else,
// including embedded NUL bytes (inet_pton would stop reading at them) and more than 45 characters.
std::optional<Cidr> parse_ip(std::string_view text);
// An address ("/32" or "/128" implied) or a CIDR range. The prefix is 1..3 decimal digits. A mapped
// IPv4 address with a prefix is accepted only as "::ffff:a.b.c.d/96..128" (the IPv4 range /0../32);
// a shorter prefix would mix IPv4 and IPv6 space and is refused.
std::optional<Cidr> parse_cidr(std::string_view text);

// Whether `inner` (an address or a range) lies entirely within `net`. Families never mix.
bool contains(const Cidr& net, const Cidr& inner);

// Entirely inside 127.0.0.0/8 or ::1.
bool is_loopback(const Cidr& c);
// Entirely inside address space that is not routed on the public Internet: loopback, RFC 1918
// (10/8, 172.16/12, 192.168/16), shared CGNAT space (100.64/10), link-local (169.254/16, fe80::/10)
// and IPv6 unique local addresses (fc00::/7, RFC 4193).
bool is_non_public(const Cidr& c);

}  // namespace sr::net
