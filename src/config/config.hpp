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

// Defaults are not written here: they come from the key declarations (config/keys.hpp), and a
// default-constructed Config holds the development defaults.
struct Config {
  Config();

  std::string profile;  // development | production | test
  std::string listen;
  std::string host;  // parsed from listen (IPv6 without brackets)
  uint16_t port = 0;
  std::string data_dir;
  std::string database_url;  // default sqlite://<data_dir>/strongroom.db
  std::string redis_url;     // empty: in-memory rate-limit counters

  SecretBytes jwt_secret;  // raw key bytes
  std::vector<SecretBytes> jwt_previous_secrets;
  SecretBytes vault_session_key;  // 32 bytes
  SecretBytes totp_key;           // 32 bytes: seals TOTP secrets at rest (SPEC 13)
  std::string jwt_issuer;         // iss and aud

  int64_t access_ttl = 0, refresh_ttl = 0, vault_ttl = 0, vault_max_ttl = 0;
  // Absolute lifetime of an auth session from signin: refresh rotation never extends past it.
  int64_t session_max_ttl = 0;
  bool cookie_secure = false;
  std::string cookie_samesite;  // Strict | Lax
  std::vector<std::string> cors_origins;
  std::vector<std::string> trusted_proxies;  // IPs or CIDRs
  double rate_limit_scale = 0;
  std::map<std::string, RateRule> rate_limits;  // overrides of ratelimit::kRules, by name
  int hash_workers = 0;                         // 0 -> number of cores
  int hash_max_queue = 0;
  int64_t argon2_memory_kib = 0;
  int64_t argon2_passes = 0;
  int db_pool_size = 0;
  int db_statement_timeout_ms = 0;
  std::vector<std::string> metrics_allow;
  std::string log_file;
  std::string log_level;
  std::string tls_cert, tls_key;
  bool behind_tls_proxy = false;
  // Plain-HTTP listener answering 308 to the HTTPS origin (SPEC 15); empty: none.
  std::string listen_redirect;
  std::string redirect_host;  // parsed from listen_redirect
  uint16_t redirect_port = 0;
  int threads = 0;  // 0 -> number of cores
  int max_connections = 0;
  int max_connections_per_ip = 0;  // SPEC 14; trusted proxies are exempt
  int idle_timeout = 0;            // seconds a kept-alive connection may wait for its next request
  int64_t vault_max_bytes = 0;     // SPEC 14: a vault's entries, as their JSON renderings
  bool password_composition_rules = false;
  bool migrate_on_start = false;
  // SQLite only: the server holds the database file exclusively while it runs (docs/storage.md).
  bool sqlite_exclusive = false;
  std::string backup_dir;       // SPEC 16; default <data_dir>/backups
  int64_t backup_interval = 0;  // seconds between scheduled backups; 0 = off
  int backup_keep = 0;          // backups kept; the oldest beyond are removed
  bool ui = false;              // SPEC 17: serve the web interface

  // Where each secret came from, for `check` ("file", "env", "flag", "generated", "ephemeral",
  // "missing").
  std::string jwt_secret_source, vault_session_key_source, totp_key_source;

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

// Fills missing secrets (jwt_secret, vault_session_key, totp_key) per profile: development
// generates them once into <data_dir>/secrets (dir 0700, file 0600), reuses them after a restart
// and adds the ones an older file lacks; test generates them in memory only; production leaves them
// missing (start refuses, see production_problems()).
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

// 32 random bytes, base64url: what `strongroom gen-secret` prints. Always passes check(): a draw
// that the non-random test would flag (probability below 2^-30) is drawn again.
std::string generate_secret();

// Names of every accepted key (config/keys.hpp has their declarations).
const std::vector<std::string>& known_keys();

}  // namespace sr::config
