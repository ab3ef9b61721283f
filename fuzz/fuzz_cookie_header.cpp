// fuzz_cookie_header: sr::api::find_cookie() on arbitrary Cookie headers, parse_cidr(), AddressSet
// and client_ip() with a fuzzed X-Forwarded-For and peer (src/api/cookies.cpp, src/api/net.cpp).
//
// Input: byte 0 selects the mode, FuzzedDataProvider supplies the strings.
#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "api/cookies.hpp"
#include "api/net.hpp"
#include "fuzz_common.hpp"

namespace {

using sr::fuzz::within;

void run_cookies(FuzzedDataProvider& fdp) {
  static const auto plain = sr::api::CookieNames::for_secure(false);
  static const auto secure = sr::api::CookieNames::for_secure(true);
  std::string name = fdp.ConsumeRandomLengthString(40);
  std::string header = fdp.ConsumeRemainingBytesAsString();
  std::vector<std::string_view> names = {
      name,        plain.access,  plain.refresh, plain.csrf_access,
      plain.vault, secure.access, secure.vault,  ""};
  for (std::string_view n : names) {
    std::string_view v = sr::api::find_cookie(header, n);
    FUZZ_CHECK(within(header, v));  // a view into the header, never elsewhere
    FUZZ_CHECK(v.find(';') == std::string_view::npos);
    if (!v.empty()) {
      // The name was really there (a quoted value may keep inner spaces: "a ").
      FUZZ_CHECK(header.find(n) != std::string::npos);
    }
  }
  // A header we build ourselves must give back exactly what we put in.
  std::string value = fdp.ConsumeRandomLengthString(64);
  bool clean = !value.empty() && value.find_first_of("; \t\"") == std::string::npos;
  if (clean) {
    std::string h = "a=1; " + std::string(plain.access) + "=" + value + "; b=2";
    FUZZ_CHECK(sr::api::find_cookie(h, plain.access) == value);
  }
}

std::string format_cidr(const sr::api::Cidr& c) {
  char buf[INET6_ADDRSTRLEN];
  if (c.v4) {
    FUZZ_CHECK(inet_ntop(AF_INET, c.addr, buf, sizeof buf) != nullptr);
  } else {
    FUZZ_CHECK(inet_ntop(AF_INET6, c.addr, buf, sizeof buf) != nullptr);
  }
  return std::string(buf) + "/" + std::to_string(c.bits);
}

void run_cidr(std::string_view text) {
  auto c = sr::api::parse_cidr(text);
  if (!c) return;
  FUZZ_CHECK(c->bits >= 0 && c->bits <= (c->v4 ? 32 : 128));
  if (c->v4)
    for (int i = 4; i < 16; ++i) FUZZ_CHECK(c->addr[i] == 0);
  // Canonical form parses back to the same network.
  std::string canon = format_cidr(*c);
  auto again = sr::api::parse_cidr(canon);
  FUZZ_CHECK(again && again->v4 == c->v4 && again->bits == c->bits &&
             std::memcmp(again->addr, c->addr, 16) == 0);
  // An address belongs to its own network.
  std::string entry(text);
  sr::api::AddressSet set({entry});
  std::string addr_only = canon.substr(0, canon.find('/'));
  FUZZ_CHECK(set.contains(addr_only));
  // /0 contains every address of its family.
  sr::api::AddressSet all({c->v4 ? "0.0.0.0/0" : "::/0"});
  FUZZ_CHECK(all.contains(addr_only));
}

bool is_ip(std::string_view s) {
  return s.find('/') == std::string_view::npos && sr::api::parse_cidr(s).has_value() &&
         s.find_first_of(" \t") == std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void run_client_ip(FuzzedDataProvider& fdp) {
  static const sr::api::AddressSet fixed(
      {"127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8", "::ffff:192.168.0.1"});
  std::vector<std::string> entries;
  const int n = fdp.ConsumeIntegralInRange<int>(0, 3);
  for (int i = 0; i < n; ++i) entries.push_back(fdp.ConsumeRandomLengthString(48));
  std::optional<sr::api::AddressSet> fuzzed;
  try {
    fuzzed.emplace(entries);
    for (auto& e : entries) FUZZ_CHECK(sr::api::parse_cidr(e).has_value());
  } catch (const std::invalid_argument&) {
    bool any_bad = false;
    for (auto& e : entries) any_bad = any_bad || !sr::api::parse_cidr(e).has_value();
    FUZZ_CHECK(any_bad);
  }
  std::string peer = fdp.ConsumeRandomLengthString(48);
  std::string xff = fdp.ConsumeRemainingBytesAsString();
  const sr::api::AddressSet* sets[] = {&fixed, fuzzed ? &*fuzzed : nullptr};
  for (const sr::api::AddressSet* t : sets) {
    if (!t) continue;
    std::string ip = sr::api::client_ip(peer, xff, *t);
    if (xff.empty() || !t->contains(peer)) {
      FUZZ_CHECK(ip == peer);  // an untrusted peer is believed about nothing
      continue;
    }
    if (ip == peer) continue;
    // Otherwise: an address of the XFF list, and every hop to its right is a trusted proxy.
    FUZZ_CHECK(is_ip(ip));
    std::string_view rest = xff;
    bool found = false;
    while (!rest.empty() || !found) {
      auto comma = rest.rfind(',');
      std::string_view entry =
          trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
      if (entry == ip) {
        found = true;
        break;
      }
      FUZZ_CHECK(t->contains(entry));
      if (rest.empty()) break;
    }
    FUZZ_CHECK(found);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 16 * 1024) return 0;  // headers are capped at 16 KiB
  FuzzedDataProvider fdp(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      run_cookies(fdp);
      break;
    case 1:
      run_cidr(sr::fuzz::as_view(data + 1, size - 1));
      break;
    case 2:
      run_client_ip(fdp);
      break;
  }
  return 0;
}
