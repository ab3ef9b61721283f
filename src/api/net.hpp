// Address helpers: client IP resolution behind trusted proxies, CIDR allowlists.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/net_address.hpp"

namespace sr::api {

// The parser lives in util (config validation uses the same one).
using net::Cidr;
using net::parse_cidr;

class AddressSet {
 public:
  AddressSet() = default;
  // Throws std::invalid_argument naming the bad entry.
  explicit AddressSet(const std::vector<std::string>& entries);
  bool contains(std::string_view ip) const;
  bool empty() const noexcept { return nets_.empty(); }

 private:
  std::vector<Cidr> nets_;
};

// The client IP: the socket peer, unless the peer is a trusted proxy; then the right-most address
// of X-Forwarded-For that is not itself a trusted proxy (malformed entries stop the walk and the
// last trusted hop is used).
std::string client_ip(std::string_view peer, std::string_view xff, const AddressSet& trusted);

// The address a per-IP rate limit is keyed on: IPv4 as is; IPv6 reduced to its /64 prefix, since
// one subscriber usually holds a whole /64 and could otherwise rotate through 2^64 buckets.
std::string rate_key_ip(std::string_view ip);

}  // namespace sr::api
