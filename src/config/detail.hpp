// Private helpers shared by the config translation units (load, secrets, check). Not a public API.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/secret.hpp"

namespace sr::config::detail {

std::string lower(std::string_view s);
std::string upper(std::string_view s);
std::string_view trim(std::string_view s);
// A decimal integer, surrounding whitespace allowed.
std::optional<int64_t> parse_int(std::string_view s);
std::optional<bool> parse_bool(std::string_view s);

// Why a key is too weak or does not look random, or empty when it passes (docs/configuration.md,
// "Secret values"): shorter than 32 bytes; fewer than 16 distinct byte values; printable text
// (valid UTF-8 without control characters); or its base64url spelling reads like words or a
// sequence (word_likeness_bits of at least kWordLikenessLimit).
std::string secret_weakness(const SecretBytes& s);

// log2 of the likelihood ratio "typed by a person" / "uniformly random" of a text in the base64url
// (or base64) alphabet: a mixture of word models (lower case, UPPER CASE, CamelCase, with or
// without separators, English letter frequencies, vowel/consonant alternation) and an "ascending
// sequence" model, against 64 equally likely characters. The mixture is a probability
// distribution over texts, so for a random text P(ratio >= 2^b) <= 2^-b (Markov's inequality).
double word_likeness_bits(std::string_view text);
inline constexpr double kWordLikenessLimit = 30;

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

// What `check` needs to know about a native TLS certificate and key (read with OpenSSL).
struct TlsFiles {
  std::string cert_problem;  // "cannot be read", "holds no PEM certificate", ...; empty: fine
  std::string key_problem;   // likewise for the key (an encrypted key is a problem)
  bool mismatch = false;     // both parsed, but the key is not the certificate's
  int64_t not_before = 0;    // the latest notBefore of the chain, Unix seconds
  int64_t not_after = 0;     // the earliest notAfter of the chain, Unix seconds
};
TlsFiles inspect_tls(const std::string& cert_path, const std::string& key_path);

}  // namespace sr::config::detail
