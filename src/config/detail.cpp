#include "config/detail.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace sr::config::detail {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      auto r = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (r.ec == std::errc() && r.ptr == s.data() + i + 3) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool valid_port(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  unsigned v = 0;
  auto r = std::from_chars(p.data(), p.data() + p.size(), v);
  return r.ec == std::errc() && r.ptr == p.data() + p.size() && v <= 65535;
}

// "host", "host:port", "[v6]", "[v6]:port" -> host (brackets removed); false if malformed.
bool split_host_port(std::string_view hp, std::string& host) {
  if (hp.empty()) {
    host.clear();
    return true;
  }
  if (hp.front() == '[') {
    auto close = hp.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(hp.substr(1, close - 1));
    auto rest = hp.substr(close + 1);
    if (rest.empty()) return true;
    return rest.front() == ':' && valid_port(rest.substr(1));
  }
  auto colon = hp.rfind(':');
  if (colon == std::string_view::npos) {
    host = percent_decode(hp);
    return true;
  }
  if (hp.find(':') != colon) return false;  // a bare IPv6 literal needs brackets
  host = percent_decode(hp.substr(0, colon));
  return valid_port(hp.substr(colon + 1));
}

}  // namespace

std::optional<IpRange> parse_ip_range(std::string_view s) {
  IpRange r;
  std::string addr(s);
  int prefix = -1;
  if (auto slash = s.find('/'); slash != std::string_view::npos) {
    addr = std::string(s.substr(0, slash));
    auto p = s.substr(slash + 1);
    if (p.empty() || p.size() > 3) return std::nullopt;
    auto res = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (res.ec != std::errc() || res.ptr != p.data() + p.size() || prefix < 0) return std::nullopt;
  }
  if (addr.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, addr.c_str(), r.addr.data()) != 1) return std::nullopt;
    r.family = 6;
    r.prefix = prefix < 0 ? 128 : prefix;
    if (r.prefix > 128) return std::nullopt;
  } else {
    if (inet_pton(AF_INET, addr.c_str(), r.addr.data()) != 1) return std::nullopt;
    r.family = 4;
    r.prefix = prefix < 0 ? 32 : prefix;
    if (r.prefix > 32) return std::nullopt;
  }
  return r;
}

bool is_loopback(const IpRange& r) {
  if (r.family == 4) return r.addr[0] == 127 && r.prefix >= 8;
  static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  if (r.prefix == 128 && std::memcmp(r.addr.data(), one, 16) == 0) return true;
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(r.addr.data(), mapped, 12) == 0 && r.addr[12] == 127 && r.prefix >= 104;
}

std::string secret_weakness(const SecretBytes& s) {
  if (s.size() < 32) return "shorter than 32 bytes (" + std::to_string(s.size()) + " bytes)";
  bool seen[256] = {};
  int distinct = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!seen[s.data()[i]]) {
      seen[s.data()[i]] = true;
      ++distinct;
    }
  }
  if (distinct < 16)
    return "low entropy (only " + std::to_string(distinct) + " distinct byte values)";
  return {};
}

bool is_local_host(std::string_view host) {
  if (host.empty() || host.front() == '/' || host.front() == '@') return true;
  std::string h = lower(host);
  if (h.size() > 1 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h == "localhost" || h.ends_with(".localhost")) return true;
  if (auto ip = parse_ip_range(h)) return is_loopback(*ip);
  return false;
}

std::optional<DbUrl> parse_database_url(std::string_view url, std::string* why) {
  DbUrl out;
  auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    *why = "expected sqlite://<path> or postgresql://...";
    return std::nullopt;
  }
  std::string scheme = lower(url.substr(0, sep));
  auto rest = url.substr(sep + 3);
  if (scheme == "sqlite") {
    if (rest.empty()) {
      *why = "sqlite:// needs a file path";
      return std::nullopt;
    }
    out.scheme = "sqlite";
    out.path = std::string(rest);
    return out;
  }
  if (scheme != "postgresql" && scheme != "postgres") {
    *why = "only sqlite:// and postgresql:// (or postgres://) are supported";
    return std::nullopt;
  }
  out.scheme = "postgresql";
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    out.path = percent_decode(rest.substr(slash + 1));
  }
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority = authority.substr(at + 1);
  while (!authority.empty()) {
    auto comma = authority.find(',');
    auto hp = authority.substr(0, comma);
    std::string host;
    if (!split_host_port(hp, host)) {
      *why = "malformed host or port in the URL";
      return std::nullopt;
    }
    out.hosts.push_back(host);
    if (comma == std::string_view::npos) break;
    authority = authority.substr(comma + 1);
  }
  while (!query.empty()) {
    auto amp = query.find('&');
    auto kv = query.substr(0, amp);
    auto eq = kv.find('=');
    std::string k = percent_decode(kv.substr(0, eq));
    std::string v = eq == std::string_view::npos ? "" : percent_decode(kv.substr(eq + 1));
    if (k == "sslmode") {
      static const char* modes[] = {"disable", "allow",     "prefer",
                                    "require", "verify-ca", "verify-full"};
      if (std::find(std::begin(modes), std::end(modes), v) == std::end(modes)) {
        *why = "sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full";
        return std::nullopt;
      }
      out.sslmode = v;
    } else if (k == "host") {
      out.hosts.clear();
      std::string_view hv = v;
      while (true) {
        auto c = hv.find(',');
        out.hosts.emplace_back(hv.substr(0, c));
        if (c == std::string_view::npos) break;
        hv = hv.substr(c + 1);
      }
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return out;
}

std::optional<DbUrl> parse_redis_url(std::string_view url, std::string* why) {
  DbUrl out;
  auto sep = url.find("://");
  std::string scheme = sep == std::string_view::npos ? "" : lower(url.substr(0, sep));
  if (scheme != "redis" && scheme != "rediss" && scheme != "unix") {
    *why = "expected redis://host[:port][/db], rediss://... or unix:///path";
    return std::nullopt;
  }
  out.scheme = scheme;
  auto rest = url.substr(sep + 3);
  if (scheme == "unix") {
    if (rest.empty() || rest.front() != '/') {
      *why = "unix:// needs an absolute socket path";
      return std::nullopt;
    }
    out.path = std::string(rest);
    return out;
  }
  auto authority = rest.substr(0, rest.find_first_of("/?"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority = authority.substr(at + 1);
  std::string host;
  if (authority.empty() || !split_host_port(authority, host) || host.empty()) {
    *why = "malformed host or port in the URL";
    return std::nullopt;
  }
  out.hosts.push_back(host);
  return out;
}

std::string redact_url(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::string(url);
  auto start = sep + 3;
  auto end = url.find_first_of("/?", start);
  if (end == std::string_view::npos) end = url.size();
  auto at = url.substr(start, end - start).rfind('@');
  std::string out(url);
  if (at != std::string_view::npos) {
    auto userinfo = url.substr(start, at);
    auto colon = userinfo.find(':');
    if (colon != std::string_view::npos)
      out = std::string(url.substr(0, start + colon + 1)) + "***" +
            std::string(url.substr(start + at));
  }
  // A password may also sit in the query (libpq's password=...).
  auto p = out.find("password=");
  if (p != std::string::npos && (p == 0 || out[p - 1] == '?' || out[p - 1] == '&')) {
    auto e = out.find('&', p);
    out.replace(p + 9, (e == std::string::npos ? out.size() : e) - (p + 9), "***");
  }
  return out;
}

}  // namespace sr::config::detail
