// Private helpers shared by the config translation units (load, secrets, check). Not a public API.
#pragma once
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/secret.hpp"

namespace sr::config::detail {

// An IP address or CIDR range: "10.0.0.1", "10.0.0.0/8", "::1", "fd00::/8".
struct IpRange {
  int family = 4;  // 4 or 6
  std::array<unsigned char, 16> addr{};
  int prefix = 32;  // 0..32 or 0..128
};
std::optional<IpRange> parse_ip_range(std::string_view s);
// Entirely inside 127.0.0.0/8 or ::1 (IPv4-mapped loopback included).
bool is_loopback(const IpRange& r);

// Why a key is too weak ("shorter than 32 bytes", ...), or empty when it is strong enough.
std::string secret_weakness(const SecretBytes& s);

// The interesting parts of a database or Redis URL (libpq URI syntax for PostgreSQL).
struct DbUrl {
  std::string scheme;              // sqlite | postgresql | redis | rediss | unix
  std::vector<std::string> hosts;  // empty: local socket
  std::string sslmode;             // as given in the query, empty if absent
  std::string path;                // sqlite file, unix socket, database name
};
// nullopt with *why set when the text is not an accepted database_url.
std::optional<DbUrl> parse_database_url(std::string_view url, std::string* why);
std::optional<DbUrl> parse_redis_url(std::string_view url, std::string* why);
// localhost, loopback literals, unix socket paths, empty (libpq default: local socket).
bool is_local_host(std::string_view host);
// The URL with any password replaced by "***", safe for messages.
std::string redact_url(std::string_view url);

}  // namespace sr::config::detail
