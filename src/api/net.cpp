#include "api/net.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace sr::api {
namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

AddressSet::AddressSet(const std::vector<std::string>& entries) {
  for (auto& e : entries) {
    auto c = parse_cidr(e);
    if (!c) throw std::invalid_argument("not an IP address or CIDR: " + e);
    nets_.push_back(*c);
  }
}

bool AddressSet::contains(std::string_view ip) const {
  if (nets_.empty()) return false;
  auto a = net::parse_ip(ip);
  if (!a) return false;
  for (auto& n : nets_)
    if (net::contains(n, *a)) return true;
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
    if (!net::parse_ip(entry)) break;  // garbage: believe nothing further left
    hop = entry;
    if (!trusted.contains(entry)) break;
  }
  return std::string(hop);
}

std::string rate_key_ip(std::string_view ip) {
  auto a = net::parse_ip(ip);
  if (!a) return std::string(ip);
  char buf[INET6_ADDRSTRLEN] = {};
  if (a->v4) {  // dotted decimal by hand: inet_ntop formats through sprintf
    std::string out;
    out.reserve(15);
    for (int i = 0; i < 4; ++i) {
      char part[4];
      const auto r = std::to_chars(part, part + sizeof part, a->addr[i]);
      if (i > 0) out += '.';
      out.append(part, r.ptr);
    }
    return out;
  }
  unsigned char prefix[16] = {};
  std::memcpy(prefix, a->addr, 8);
  inet_ntop(AF_INET6, prefix, buf, sizeof buf);
  return std::string(buf) + "/64";
}

}  // namespace sr::api
