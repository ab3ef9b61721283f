#include "api/net.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>

namespace sr::api {
namespace {
bool parse_ip(std::string_view text, Cidr& out) {
  // inet_pton reads a C string: an embedded NUL would hide whatever follows it ("1.2.3.4\0junk").
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos) return false;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = 0;
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, buf, &a4) == 1) {
    std::memset(out.addr, 0, 16);
    std::memcpy(out.addr, &a4, 4);
    out.v4 = true;
    out.bits = 32;
    return true;
  }
  if (inet_pton(AF_INET6, buf, &a6) == 1) {
    // IPv4-mapped IPv6 (::ffff:a.b.c.d) is treated as IPv4.
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a6.s6_addr, mapped, 12) == 0) {
      std::memset(out.addr, 0, 16);
      std::memcpy(out.addr, a6.s6_addr + 12, 4);
      out.v4 = true;
      out.bits = 32;
      return true;
    }
    std::memcpy(out.addr, a6.s6_addr, 16);
    out.v4 = false;
    out.bits = 128;
    return true;
  }
  return false;
}
bool in_net(const Cidr& net, const Cidr& ip) {
  if (net.v4 != ip.v4) return false;
  int bits = net.bits;
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((net.addr[i] & mask) != (ip.addr[i] & mask)) return false;
  }
  return true;
}
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::optional<Cidr> parse_cidr(std::string_view text) {
  text = trim(text);
  Cidr c;
  auto slash = text.find('/');
  if (!parse_ip(text.substr(0, slash), c)) return std::nullopt;
  if (slash != std::string_view::npos) {
    auto b = text.substr(slash + 1);
    if (b.empty() || b.size() > 3) return std::nullopt;
    int bits = 0;
    for (char ch : b) {
      if (ch < '0' || ch > '9') return std::nullopt;
      bits = bits * 10 + (ch - '0');
    }
    if (bits > (c.v4 ? 32 : 128)) return std::nullopt;
    c.bits = bits;
  }
  return c;
}

AddressSet::AddressSet(const std::vector<std::string>& entries) {
  for (auto& e : entries) {
    auto c = parse_cidr(e);
    if (!c) throw std::invalid_argument("not an IP address or CIDR: " + e);
    nets_.push_back(*c);
  }
}

bool AddressSet::contains(std::string_view ip) const {
  Cidr a;
  if (nets_.empty() || !parse_ip(trim(ip), a)) return false;
  for (auto& n : nets_)
    if (in_net(n, a)) return true;
  return false;
}

std::string client_ip(std::string_view peer, std::string_view xff, const AddressSet& trusted) {
  if (xff.empty() || !trusted.contains(peer)) return std::string(peer);
  std::string_view hop = peer;
  // Walk X-Forwarded-For from the right: each hop is added by the proxy to its left.
  while (!xff.empty()) {
    auto comma = xff.rfind(',');
    std::string_view entry = trim(comma == std::string_view::npos ? xff : xff.substr(comma + 1));
    xff = comma == std::string_view::npos ? std::string_view{} : xff.substr(0, comma);
    Cidr tmp;
    if (!parse_ip(entry, tmp)) break;  // garbage: believe nothing further left
    hop = entry;
    if (!trusted.contains(entry)) break;
  }
  return std::string(hop);
}

std::string rate_key_ip(std::string_view ip) {
  Cidr a;
  if (!parse_ip(trim(ip), a)) return std::string(ip);
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.v4) {
    inet_ntop(AF_INET, a.addr, buf, sizeof buf);
    return buf;
  }
  unsigned char prefix[16] = {};
  std::memcpy(prefix, a.addr, 8);
  inet_ntop(AF_INET6, prefix, buf, sizeof buf);
  return std::string(buf) + "/64";
}

}  // namespace sr::api
