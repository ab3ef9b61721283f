#include "util/net_address.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace sr::net {
namespace {

constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The address itself; *mapped tells whether it was written as an IPv4-mapped IPv6 address.
std::optional<Cidr> parse_address(std::string_view text, bool* mapped) {
  *mapped = false;
  // inet_pton reads a C string: an embedded NUL would hide whatever follows it ("1.2.3.4\0junk").
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos)
    return std::nullopt;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = 0;
  Cidr c;
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, buf, &a4) == 1) {
    std::memcpy(c.addr, &a4, 4);
    c.v4 = true;
    c.bits = 32;
    return c;
  }
  if (inet_pton(AF_INET6, buf, &a6) != 1) return std::nullopt;
  if (std::memcmp(a6.s6_addr, kMappedPrefix, 12) == 0) {
    std::memcpy(c.addr, a6.s6_addr + 12, 4);
    c.v4 = true;
    c.bits = 32;
    *mapped = true;
    return c;
  }
  std::memcpy(c.addr, a6.s6_addr, 16);
  c.bits = 128;
  return c;
}

// A range written as a literal, for the tables below.
Cidr net_of(const char* text) {
  return *parse_cidr(text);
}

}  // namespace

std::optional<Cidr> parse_ip(std::string_view text) {
  bool mapped = false;
  return parse_address(trim(text), &mapped);
}

std::optional<Cidr> parse_cidr(std::string_view text) {
  text = trim(text);
  auto slash = text.find('/');
  bool mapped = false;
  auto c = parse_address(text.substr(0, slash), &mapped);
  if (!c || slash == std::string_view::npos) return c;
  auto digits = text.substr(slash + 1);
  if (digits.empty() || digits.size() > 3) return std::nullopt;
  int bits = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return std::nullopt;
    bits = bits * 10 + (ch - '0');
  }
  if (mapped) {
    if (bits < 96 || bits > 128) return std::nullopt;
    bits -= 96;
  }
  if (bits > (c->v4 ? 32 : 128)) return std::nullopt;
  c->bits = bits;
  return c;
}

bool contains(const Cidr& net, const Cidr& inner) {
  if (net.v4 != inner.v4 || inner.bits < net.bits) return false;
  int bits = net.bits;
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((net.addr[i] & mask) != (inner.addr[i] & mask)) return false;
  }
  return true;
}

bool is_loopback(const Cidr& c) {
  static const Cidr v4 = net_of("127.0.0.0/8"), v6 = net_of("::1");
  return contains(v4, c) || contains(v6, c);
}

bool is_non_public(const Cidr& c) {
  static const Cidr nets[] = {
      net_of("127.0.0.0/8"),   net_of("10.0.0.0/8"),
      net_of("172.16.0.0/12"), net_of("192.168.0.0/16"),
      net_of("100.64.0.0/10"), net_of("169.254.0.0/16"),
      net_of("::1"),           net_of("fc00::/7"),
      net_of("fe80::/10"),
  };
  for (const auto& n : nets)
    if (contains(n, c)) return true;
  return false;
}

}  // namespace sr::net
