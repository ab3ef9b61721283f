#include "http/redirect.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace sr::http {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// An IP literal in its binary form (family, 4 or 16 bytes); family 0 when not one.
struct Ip {
  int family = 0;
  unsigned char bytes[16] = {};
  bool operator==(const Ip& o) const {
    return family == o.family && std::memcmp(bytes, o.bytes, sizeof bytes) == 0;
  }
};
Ip parse_ip(const std::string& s) {
  Ip ip;
  if (inet_pton(AF_INET, s.c_str(), ip.bytes) == 1)
    ip.family = AF_INET;
  else if (inet_pton(AF_INET6, s.c_str(), ip.bytes) == 1)
    ip.family = AF_INET6;
  return ip;
}

bool dns_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

// The host part of a Host header, lower case, without brackets or port; empty when malformed.
std::string host_of(std::string_view h) {
  if (h.empty()) return {};
  std::string_view host;
  if (h.front() == '[') {
    auto close = h.find(']');
    if (close == std::string_view::npos) return {};
    host = h.substr(1, close - 1);
    h.remove_prefix(close + 1);
    if (!h.empty() && h.front() != ':') return {};
  } else {
    auto colon = h.find(':');
    host = h.substr(0, colon);
    h = colon == std::string_view::npos ? std::string_view() : h.substr(colon);
  }
  if (!h.empty())  // ":digits"
    for (char c : h.substr(1))
      if (c < '0' || c > '9') return {};
  std::string out = lower(host);
  if (out.empty() || out.size() > 253) return {};
  if (parse_ip(out).family) return out;
  for (char c : out)
    if (!dns_char(c)) return {};
  if (out.back() == '.') out.pop_back();  // "example.com." is example.com
  return out;
}

bool covers(const std::string& name, const std::string& host) {
  Ip a = parse_ip(host), b = parse_ip(name);
  if (a.family || b.family) return a.family && a == b;
  if (name.size() > 2 && name[0] == '*' && name[1] == '.') {
    auto dot = host.find('.');
    return dot != std::string::npos && dot > 0 &&
           host.compare(dot, std::string::npos, name, 1) == 0;
  }
  return name == host;
}

}  // namespace

std::string https_redirect_location(std::string_view host_header, std::string_view target,
                                    const std::vector<std::string>& cert_names,
                                    uint16_t https_port) {
  if (target.empty() || target.front() != '/') return {};
  std::string host = host_of(host_header);
  bool covered = false;
  for (const auto& n : cert_names)
    if (!host.empty() && covers(n, host)) {
      covered = true;
      break;
    }
  if (!covered) {
    host.clear();
    for (const auto& n : cert_names)
      if (n.find('*') == std::string::npos) {
        host = n;
        break;
      }
    if (host.empty()) return {};
  }
  const bool v6 = parse_ip(host).family == AF_INET6;
  std::string loc = "https://";
  loc.reserve(loc.size() + host.size() + 8 + target.size());
  if (v6) loc += '[';
  loc += host;
  if (v6) loc += ']';
  if (https_port != 443) {
    loc += ':';
    loc += std::to_string(https_port);
  }
  loc.append(target.data(), target.size());
  return loc;
}

}  // namespace sr::http
