// The effective configuration: defaults of the profile < TOML file < STRONGROOM_* environment <
// command-line flags. Every key of SPEC section 11 (and the extra keys below) is read and validated
// here at start; a malformed value is an error naming the key and what was expected; an unknown key
// in the file is an error; an unknown STRONGROOM_* variable is a warning.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "util/secret.hpp"

namespace sr::config {

struct RateRule {
  int64_t count = 0;   // requests
  int64_t period = 0;  // seconds
};

struct Config {
  std::string profile = "development";  // development | production | test
  std::string listen = "127.0.0.1:8080";
  std::string host = "127.0.0.1";  // parsed from listen ("[::1]:8080" for IPv6)
  uint16_t port = 8080;
  std::string data_dir = "./data";
  std::string database_url;  // default sqlite://<data_dir>/strongroom.db
  std::string redis_url;     // empty: in-memory rate-limit counters

  SecretBytes jwt_secret;  // raw key bytes
  std::vector<SecretBytes> jwt_previous_secrets;
  SecretBytes vault_session_key;          // 32 bytes
  std::string jwt_issuer = "strongroom";  // iss and aud

  int64_t access_ttl = 900, refresh_ttl = 604800, vault_ttl = 300, vault_max_ttl = 1800;
  // Absolute lifetime of an auth session from signin: refresh rotation never extends past it.
  int64_t session_max_ttl = 2592000;
  bool cookie_secure = false;
  std::string cookie_samesite = "Strict";  // Strict | Lax
  std::vector<std::string> cors_origins;
  std::vector<std::string> trusted_proxies;  // IPs or CIDRs
  double rate_limit_scale = 1.0;
  std::map<std::string, RateRule> rate_limits;  // overrides of SPEC section 8 rows, by name
  int hash_workers = 0;                         // 0 -> number of cores
  int hash_max_queue = 256;
  int64_t argon2_memory_kib = 19456;
  int64_t argon2_passes = 2;
  int db_pool_size = 10;
  int db_statement_timeout_ms = 5000;
  std::vector<std::string> metrics_allow = {"127.0.0.1", "::1"};
  std::string log_file;
  std::string log_level = "info";
  std::string tls_cert, tls_key;
  bool behind_tls_proxy = false;
  int threads = 0;  // 0 -> number of cores
  int max_connections = 10000;
  bool password_composition_rules = false;
  bool migrate_on_start = true;
  // SQLite only: the server holds the database file exclusively while it runs (docs/storage.md).
  bool sqlite_exclusive = true;

  // Where each secret came from, for `check` ("file", "env", "flag", "generated", "ephemeral",
  // "missing").
  std::string jwt_secret_source, vault_session_key_source;

  // Additions (not in the first contract):
  std::string config_file;            // the TOML file that was read, empty if none
  std::vector<std::string> warnings;  // e.g. unknown STRONGROOM_* variables; the caller logs them
};

struct Sources {
  std::optional<std::string> config_file;    // --config
  std::map<std::string, std::string> flags;  // key -> value from the command line
  bool use_environment = true;               // read STRONGROOM_* (tests may turn off)
};

// Loads and validates. Throws ConfigError listing every problem (each names its key).
// Does not touch the disk beyond reading the config file (secrets: see prepare_secrets).
Config load(const Sources& src);

class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const noexcept { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// Fills missing secrets per profile: development generates them once into <data_dir>/secrets
// (dir 0700, file 0600) and reuses them after a restart; test generates them in memory only;
// production leaves them missing (start refuses, see production_problems()).
void prepare_secrets(Config& c);

enum class Severity { info, warning, error };
struct Finding {
  Severity severity;
  std::string key;      // the config key concerned
  std::string message;  // what is wrong (never the secret itself)
  std::string fix;      // one line
};
// Audits the effective configuration (like Django's check --deploy). deploy=true judges it as a
// production deployment whatever the profile.
std::vector<Finding> check(const Config& c, bool deploy);
// The subset that makes the production profile refuse to start (every one at once).
std::vector<std::string> production_problems(const Config& c);

// 32 random bytes, base64url: what `strongroom gen-secret` prints.
std::string generate_secret();

// Names of every accepted key, for --help and docs.
const std::vector<std::string>& known_keys();

}  // namespace sr::config
