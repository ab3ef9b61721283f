// The declarations of every configuration key, and the value checks they use.
#include "config/keys.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "config/detail.hpp"
#include "ratelimit/rules.hpp"
#include "util/net_address.hpp"

namespace sr::config {
namespace {

using detail::trim;

constexpr int64_t kTenYears = 315360000;

// ---- value checks ----------------------------------------------------------------------------

bool valid_hostname(std::string_view h) {
  if (h.empty() || h.size() > 253 || h.front() == '.' || h.back() == '.' || h.front() == '-')
    return false;
  bool all_numeric = true;
  char prev = '.';
  for (char ch : h) {
    bool ok = std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.';
    if (!ok || (ch == '.' && (prev == '.' || prev == '-'))) return false;
    if (!std::isdigit(static_cast<unsigned char>(ch)) && ch != '.') all_numeric = false;
    prev = ch;
  }
  if (all_numeric) {  // looks like IPv4: must be one
    auto ip = net::parse_ip(h);
    return ip && ip->v4;
  }
  return true;
}

// An IPv6 literal as written between brackets.
bool ipv6_literal(std::string_view h) {
  return h.find(':') != std::string_view::npos && net::parse_ip(h).has_value() &&
         h.find_first_of(" \t") == std::string_view::npos;
}

// "host:port" or "[v6]:port", port 0..65535.
bool parse_host_port(std::string_view s, std::string& host, uint16_t& port) {
  std::string_view h, p;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return false;
    h = s.substr(1, close - 1);
    p = s.substr(close + 2);
    if (!ipv6_literal(h)) return false;
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return false;
    h = s.substr(0, colon);
    p = s.substr(colon + 1);
    if (h.find(':') != std::string_view::npos || !valid_hostname(h)) return false;
  }
  if (p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), [](char ch) {
        return std::isdigit(static_cast<unsigned char>(ch));
      }))
    return false;
  unsigned v = 0;
  std::from_chars(p.data(), p.data() + p.size(), v);
  if (v > 65535) return false;
  host = std::string(h);
  port = static_cast<uint16_t>(v);
  return true;
}

bool valid_origin(std::string_view o) {
  if (o == "*") return true;
  std::string_view rest;
  if (o.starts_with("https://"))
    rest = o.substr(8);
  else if (o.starts_with("http://"))
    rest = o.substr(7);
  else
    return false;
  if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos) return false;
  std::string_view host = rest, port;
  if (rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos || !ipv6_literal(rest.substr(1, close - 1))) return false;
    host = {};
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return false;
      port = rest.substr(close + 2);
      if (port.empty()) return false;
    }
  } else if (auto c = rest.rfind(':'); c != std::string_view::npos) {
    host = rest.substr(0, c);
    port = rest.substr(c + 1);
    if (port.empty()) return false;
  }
  if (!host.empty() && !valid_hostname(host)) return false;
  if (!port.empty()) {
    auto v = detail::parse_int(port);
    if (!v || *v < 1 || *v > 65535 || port.size() > 5) return false;
  }
  return true;
}

bool valid_ip_range(std::string_view item) {
  return net::parse_cidr(item).has_value();
}

// ---- setters ---------------------------------------------------------------------------------

template <auto Field>
void put_int(Config& c, int64_t v) {
  c.*Field = static_cast<std::remove_reference_t<decltype(c.*Field)>>(v);
}

template <auto Field>
void put_bool(Config& c, bool v) {
  c.*Field = v;
}

// A file path; empty = unset. NUL cannot be passed to the system.
template <auto Field>
bool put_path(Config& c, std::string_view v, std::string*) {
  if (v.find('\0') != std::string_view::npos) return false;
  c.*Field = std::string(trim(v));
  return true;
}

// A directory that must be given: trailing '/' removed.
template <auto Field>
bool put_dir(Config& c, std::string_view v, std::string*) {
  std::string t(trim(v));
  if (t.empty() || t.find('\0') != std::string::npos) return false;
  while (t.size() > 1 && t.back() == '/') t.pop_back();
  c.*Field = t;
  return true;
}

bool put_profile(Config& c, std::string_view v, std::string*) {
  std::string p(trim(v));
  if (p != "development" && p != "production" && p != "test") return false;
  c.profile = p;
  return true;
}

bool put_listen(Config& c, std::string_view v, std::string*) {
  std::string t(trim(v));
  if (!parse_host_port(t, c.host, c.port)) return false;
  c.listen = t;
  return true;
}

bool put_listen_redirect(Config& c, std::string_view v, std::string*) {
  std::string t(trim(v));
  if (t.empty()) {
    c.listen_redirect.clear();
    c.redirect_host.clear();
    c.redirect_port = 0;
    return true;
  }
  if (!parse_host_port(t, c.redirect_host, c.redirect_port)) return false;
  c.listen_redirect = t;
  return true;
}

bool put_database_url(Config& c, std::string_view v, std::string* why) {
  std::string t(trim(v));
  if (!detail::parse_database_url(t, why)) return false;
  c.database_url = t;
  return true;
}

bool put_redis_url(Config& c, std::string_view v, std::string* why) {
  std::string t(trim(v));
  if (!t.empty() && !detail::parse_redis_url(t, why)) return false;
  c.redis_url = t;
  return true;
}

bool put_issuer(Config& c, std::string_view v, std::string*) {
  std::string t(trim(v));
  if (t.empty() || t.size() > 256 ||
      !std::all_of(t.begin(), t.end(), [](char ch) { return ch > 0x20 && ch < 0x7f; }))
    return false;
  c.jwt_issuer = t;
  return true;
}

bool put_samesite(Config& c, std::string_view v, std::string*) {
  std::string t = detail::lower(trim(v));
  if (t != "strict" && t != "lax") return false;
  c.cookie_samesite = t == "strict" ? "Strict" : "Lax";
  return true;
}

bool put_scale(Config& c, std::string_view v, std::string*) {
  std::string_view t = trim(v);
  double d = 0;
  auto res = std::from_chars(t.data(), t.data() + t.size(), d);
  if (t.empty() || res.ec != std::errc() || res.ptr != t.data() + t.size() || !std::isfinite(d) ||
      d <= 0 || d > 1e9)
    return false;
  c.rate_limit_scale = d;
  return true;
}

bool put_log_level(Config& c, std::string_view v, std::string*) {
  std::string t = detail::lower(trim(v));
  static const char* levels[] = {"trace",   "debug", "info",     "warn",
                                 "warning", "error", "critical", "off"};
  if (std::find(std::begin(levels), std::end(levels), t) == std::end(levels)) return false;
  c.log_level = t;
  return true;
}

// ---- the declarations ------------------------------------------------------------------------

constexpr std::string_view kSecretDoc =
    "Accepts hex, base64url, base64 or raw text (see \"Secret values\"); never printed.";

const KeyDecl kKeys[] = {
    {.name = "profile",
     .kind = Kind::text,
     .defaults = {"development"},
     .expected = "development, production or test",
     .help = "development, production or test: decides the defaults below",
     .doc = "Exact, lower case. Resolved first, from any layer.",
     .set_text = put_profile},
    {.name = "listen",
     .kind = Kind::text,
     .defaults = {"127.0.0.1:8080"},
     .expected = "host:port with a port from 0 to 65535 (e.g. 127.0.0.1:8080, [::1]:8080)",
     .help = "address:port to listen on (port 0 picks a free port)",
     .doc = "Host: an IPv4 literal, a host name, or an IPv6 literal in brackets (`[::1]:8080`); "
            "port `0`..`65535` (0 picks a free port; the chosen one is logged in the `listening` "
            "event). Exposed parsed as `host` (IPv6 without brackets) and `port`.",
     .set_text = put_listen},
    {.name = "data_dir",
     .kind = Kind::text,
     .defaults = {"./data"},
     .expected = "a directory path",
     .help = "directory of the SQLite file, the development secrets and the backups",
     .doc = "Non-empty path; trailing `/` removed.",
     .set_text = put_dir<&Config::data_dir>},
    {.name = "database_url",
     .kind = Kind::text,
     .defaults = {"sqlite://<data_dir>/strongroom.db"},
     .expected = "sqlite://<path> or postgresql://user:pass@host:port/db?sslmode=...",
     .help = "sqlite://PATH or postgresql://user:pass@host:port/db?sslmode=...",
     .doc = "`sqlite://<path>` (`sqlite:///abs/path` for an absolute path) or `postgresql://` / "
            "`postgres://` in libpq URI syntax (`user:pass@host:port,host2/db?sslmode=...&host="
            "/socket/dir`). Any other scheme is refused; a `sslmode` outside `disable, allow, "
            "prefer, require, verify-ca, verify-full` is refused. Shown with its password "
            "replaced by `***`.",
     .empty_is_default = true,
     .set_text = put_database_url},
    {.name = "redis_url",
     .kind = Kind::text,
     .expected = "redis://host[:port][/db], rediss://... or unix:///path",
     .help = "Redis for rate-limit counters shared by several instances",
     .doc = "`redis://[user:pass@]host[:port][/db]`, `rediss://...` (TLS) or `unix:///path`. "
            "Unset: rate-limit counters in memory, per process.",
     .set_text = put_redis_url},
    {.name = "jwt_secret",
     .kind = Kind::secret,
     .expected = "a key (base64url, base64, hex or raw text)",
     .help = "HS256 signing key of the tokens",
     .doc = kSecretDoc,
     .shown_default = "dev: generated; test: ephemeral; prod: **required**",
     .secret = &Config::jwt_secret,
     .source = &Config::jwt_secret_source},
    {.name = "jwt_previous_secrets",
     .kind = Kind::secret_list,
     .expected = "comma-separated keys (base64url, base64, hex or raw text)",
     .help = "older signing keys that still verify tokens (rotation); never sign",
     .doc = "Comma-separated or a TOML array.",
     .shown_default = "empty",
     .secrets = &Config::jwt_previous_secrets},
    {.name = "vault_session_key",
     .kind = Kind::secret,
     .expected =
         "a 32-byte key (base64url of 43 characters, hex of 64 characters, or 32 raw bytes)",
     .help = "seals vault sessions (XChaCha20-Poly1305)",
     .doc = "Exactly 32 bytes after decoding. Never printed.",
     .shown_default = "dev: generated; test: ephemeral; prod: **required**",
     .secret = &Config::vault_session_key,
     .source = &Config::vault_session_key_source,
     .exact_bytes = 32},
    {.name = "totp_key",
     .kind = Kind::secret,
     .expected =
         "a 32-byte key (base64url of 43 characters, hex of 64 characters, or 32 raw bytes)",
     .help = "seals the users' TOTP secrets at rest (XChaCha20-Poly1305, SPEC 13)",
     .doc = "Exactly 32 bytes after decoding. Never printed. Changing it makes every enrolled "
            "TOTP secret, every recovery code and every pending mfa_token unusable, and those "
            "users can no longer finish a signin: keep it with the backups and do not rotate it "
            "while users have two-step sign-in on.",
     .shown_default = "dev: generated; test: ephemeral; prod: **required**",
     .secret = &Config::totp_key,
     .source = &Config::totp_key_source,
     .exact_bytes = 32},
    {.name = "jwt_issuer",
     .kind = Kind::text,
     .defaults = {"strongroom"},
     .expected = "a non-empty printable string of at most 256 characters",
     .help = "iss and aud claim of the tokens",
     .doc = "1..256 printable ASCII characters, no spaces.",
     .set_text = put_issuer},
    {.name = "access_ttl",
     .kind = Kind::integer,
     .defaults = {"900"},
     .expected = "a positive integer of seconds",
     .help = "access token lifetime, seconds",
     .doc = "Must not exceed `refresh_ttl`.",
     .min = 1,
     .max = kTenYears,
     .set_int = put_int<&Config::access_ttl>},
    {.name = "refresh_ttl",
     .kind = Kind::integer,
     .defaults = {"604800"},
     .expected = "a positive integer of seconds",
     .help = "refresh token lifetime, seconds",
     .min = 1,
     .max = kTenYears,
     .set_int = put_int<&Config::refresh_ttl>},
    {.name = "vault_ttl",
     .kind = Kind::integer,
     .defaults = {"300"},
     .expected = "a positive integer of seconds",
     .help = "vault session lifetime (sliding), seconds",
     .doc = "Must not exceed `vault_max_ttl`.",
     .min = 1,
     .max = kTenYears,
     .set_int = put_int<&Config::vault_ttl>},
    {.name = "vault_max_ttl",
     .kind = Kind::integer,
     .defaults = {"1800"},
     .expected = "a positive integer of seconds",
     .help = "hard cap of a vault session from unlock, seconds",
     .min = 1,
     .max = kTenYears,
     .set_int = put_int<&Config::vault_max_ttl>},
    {.name = "session_max_ttl",
     .kind = Kind::integer,
     .defaults = {"2592000"},
     .expected = "a positive integer of seconds, at least refresh_ttl",
     .help = "absolute lifetime of an auth session from signin, seconds",
     .doc = "At least `refresh_ttl`: refresh rotation never extends a session past it, so a "
            "stolen-and-refreshed session ends anyway.",
     .min = 1,
     .max = kTenYears,
     .set_int = put_int<&Config::session_max_ttl>},
    {.name = "cookie_secure",
     .kind = Kind::boolean,
     .defaults = {"false", "false", "true"},
     .expected = "true or false",
     .help = "Secure cookies with __Host-/__Secure- name prefixes",
     .doc = "Also `true` by default when TLS is native (`tls_cert`) or declared "
            "(`behind_tls_proxy`); an explicit value wins. Turns HSTS on.",
     .set_bool = put_bool<&Config::cookie_secure>},
    {.name = "cookie_samesite",
     .kind = Kind::text,
     .defaults = {"Strict"},
     .expected = "Strict or Lax (None is refused: the cookies carry credentials)",
     .help = "SameSite attribute of the cookies: Strict or Lax",
     .doc = "Any case, normalized. `None` is refused: the cookies carry credentials.",
     .set_text = put_samesite},
    {.name = "cors_origins",
     .kind = Kind::list,
     .defaults = {"http://localhost:5173,http://127.0.0.1:5173", "", ""},
     .expected = "comma-separated exact origins like https://app.example.com",
     .help = "exact origins allowed by CORS, comma-separated",
     .doc = "`http(s)://host[:port]`, no path or trailing slash; `*` is accepted here but is an "
            "error in production (see checks).",
     .list = &Config::cors_origins,
     .item_ok = valid_origin},
    {.name = "trusted_proxies",
     .kind = Kind::list,
     .expected = "comma-separated IP addresses or CIDR ranges like 10.0.0.0/8",
     .help = "IPs/CIDRs whose X-Forwarded-For is believed",
     .doc = "`10.0.0.0/8`, `fd00::/8`, `192.0.2.7`. `*` is refused; `0.0.0.0/0` loads but "
            "`check` reports it as an error, and a range reaching public address space as a "
            "warning. Connections from these addresses are exempt from "
            "`max_connections_per_ip`.",
     .list = &Config::trusted_proxies,
     .item_ok = valid_ip_range},
    {.name = "rate_limit_scale",
     .kind = Kind::number,
     .defaults = {"1"},
     .expected = "a positive number",
     .help = "multiplies every rate limit",
     .doc = "Positive finite number up to 1e9; below 1 is an error in production.",
     .set_text = put_scale},
    {.name = "rate_limits",
     .kind = Kind::rates,
     .expected = "name=count/period entries",
     .help = "per-rule overrides, e.g. signin=5/60,signup=3/3600",
     .doc = "File: `[rate_limits]` table with `signin = \"5/60\"` or `signin = {count = 5, "
            "period = 60}`; env/flag: `signin=5/60,signup=3/3600`. Count `1`..`1000000000`, "
            "period `1`..`31536000` seconds. Names and defaults: the rate-limit rules table "
            "below. Merged per name across layers.",
     .shown_default = "the rate-limit rules (SPEC 8, 13)"},
    {.name = "hash_workers",
     .kind = Kind::integer,
     .defaults = {"0"},
     .expected = "an integer from 0 (one per core) to 256",
     .help = "password-hash threads (0: one per core)",
     .shown_default = "`0` (cores)",
     .min = 0,
     .max = 256,
     .set_int = put_int<&Config::hash_workers>},
    {.name = "hash_max_queue",
     .kind = Kind::integer,
     .defaults = {"256"},
     .expected = "an integer from 1 to 1000000",
     .help = "bounded queue of the hash pool (beyond it: 503)",
     .min = 1,
     .max = 1000000,
     .set_int = put_int<&Config::hash_max_queue>},
    {.name = "argon2_memory_kib",
     .kind = Kind::integer,
     .defaults = {"19456"},
     .expected = "an integer of KiB from 8 to 4194304",
     .help = "Argon2id memory of the account and vault KDF, KiB",
     .doc = "Below 19456 is an error in production.",
     .min = 8,
     .max = 4194304,
     .set_int = put_int<&Config::argon2_memory_kib>},
    {.name = "argon2_passes",
     .kind = Kind::integer,
     .defaults = {"2"},
     .expected = "an integer from 1 to 64",
     .help = "Argon2id passes",
     .doc = "Below 2 is an error in production.",
     .min = 1,
     .max = 64,
     .set_int = put_int<&Config::argon2_passes>},
    {.name = "db_pool_size",
     .kind = Kind::integer,
     .defaults = {"10"},
     .expected = "an integer from 1 to 1000",
     .help = "PostgreSQL connections",
     .min = 1,
     .max = 1000,
     .set_int = put_int<&Config::db_pool_size>},
    {.name = "db_statement_timeout_ms",
     .kind = Kind::integer,
     .defaults = {"5000"},
     .expected = "an integer of milliseconds from 0 (no timeout) to 86400000",
     .help = "PostgreSQL statement_timeout, ms (0: none)",
     .min = 0,
     .max = 86400000,
     .set_int = put_int<&Config::db_statement_timeout_ms>},
    {.name = "metrics_allow",
     .kind = Kind::list,
     .defaults = {"127.0.0.1,::1"},
     .expected = "comma-separated IP addresses or CIDR ranges like 127.0.0.1,::1",
     .help = "IPs/CIDRs allowed to read /metrics (others: 403)",
     .list = &Config::metrics_allow,
     .item_ok = valid_ip_range},
    {.name = "log_file",
     .kind = Kind::text,
     .expected = "a file path",
     .help = "rotating JSON log file (10 MB x 10) besides stdout",
     .doc = "Empty = unset.",
     .set_text = put_path<&Config::log_file>},
    {.name = "log_level",
     .kind = Kind::text,
     .defaults = {"info"},
     .expected = "one of trace, debug, info, warn, warning, error, critical, off",
     .help = "trace, debug, info, warn, error, critical or off",
     .doc = "Lower-cased; `warning` = `warn`.",
     .set_text = put_log_level},
    {.name = "tls_cert",
     .kind = Kind::text,
     .expected = "a file path (PEM certificate chain)",
     .help = "PEM certificate chain for native TLS",
     .doc = "Set together with `tls_key`. `check` reads it: unreadable, unparsable, expired or "
            "not matching the key is an error, expiring within 14 days a warning.",
     .set_text = put_path<&Config::tls_cert>},
    {.name = "tls_key",
     .kind = Kind::text,
     .expected = "a file path (PEM private key)",
     .help = "PEM private key for native TLS",
     .doc = "Set together with `tls_cert`. Unencrypted PEM. Production refuses a key file "
            "readable by group or others.",
     .set_text = put_path<&Config::tls_key>},
    {.name = "behind_tls_proxy",
     .kind = Kind::boolean,
     .defaults = {"false"},
     .expected = "true or false",
     .help = "declares that a trusted proxy terminates TLS",
     .set_bool = put_bool<&Config::behind_tls_proxy>},
    {.name = "listen_redirect",
     .kind = Kind::text,
     .expected = "host:port with a port from 0 to 65535 (e.g. 0.0.0.0:80), or empty",
     .help = "plain-HTTP address:port answering 308 to the HTTPS origin",
     .doc = "Same syntax as `listen`; needs native TLS (`tls_cert`, `tls_key`) and an address "
            "other than `listen`. Empty = no redirect listener.",
     .set_text = put_listen_redirect},
    {.name = "threads",
     .kind = Kind::integer,
     .defaults = {"0"},
     .expected = "an integer from 0 (one per core) to 1024",
     .help = "network threads (0: one per core)",
     .shown_default = "`0` (cores)",
     .min = 0,
     .max = 1024,
     .set_int = put_int<&Config::threads>},
    {.name = "max_connections",
     .kind = Kind::integer,
     .defaults = {"10000"},
     .expected = "an integer from 1 to 1000000",
     .help = "concurrent connections",
     .min = 1,
     .max = 1000000,
     .set_int = put_int<&Config::max_connections>},
    {.name = "max_connections_per_ip",
     .kind = Kind::integer,
     .defaults = {"256"},
     .expected = "an integer from 1 to 1000000",
     .help = "concurrent connections of one client address",
     .doc = "Trusted proxies are exempt. A value above `max_connections` is allowed (the "
            "global cap then binds first).",
     .min = 1,
     .max = 1000000,
     .set_int = put_int<&Config::max_connections_per_ip>},
    {.name = "idle_timeout",
     .kind = Kind::integer,
     .defaults = {"60"},
     .expected = "an integer of seconds from 1 to 3600",
     .help = "seconds a kept-alive connection may wait for its next request",
     .doc = "Then the server closes it (SPEC 9's idle keep-alive timeout).",
     .min = 1,
     .max = 3600,
     .set_int = put_int<&Config::idle_timeout>},
    {.name = "vault_max_bytes",
     .kind = Kind::integer,
     .defaults = {"16777216"},
     .expected = "an integer of bytes from 65536 to 1073741824",
     .help = "size bound of one vault, bytes, counted as the entries' JSON renderings",
     .doc = "16 MiB by default; an add or update beyond it is 409. The lower bound holds one "
            "entry of the largest size.",
     .min = 65536,
     .max = 1073741824,
     .set_int = put_int<&Config::vault_max_bytes>},
    {.name = "password_composition_rules",
     .kind = Kind::boolean,
     .defaults = {"false"},
     .expected = "true or false",
     .help = "upper/lower/digit/special password rules (discouraged by NIST SP 800-63B)",
     .set_bool = put_bool<&Config::password_composition_rules>},
    {.name = "migrate_on_start",
     .kind = Kind::boolean,
     .defaults = {"true"},
     .expected = "true or false",
     .help = "serve applies schema migrations at start",
     .set_bool = put_bool<&Config::migrate_on_start>},
    {.name = "sqlite_exclusive",
     .kind = Kind::boolean,
     .defaults = {"true"},
     .expected = "true or false",
     .help = "SQLite only: hold the database file exclusively while running",
     .doc = "SQLite's `unix-excl` VFS: one process-wide lock, the WAL index in memory instead of "
            "the `-shm` file. That saves a lock system call per read transaction and removes the "
            "contention of the network threads on the shared WAL index: about +20% on an "
            "authenticated GET (docs/benchmarks.md). The price: no other process can open the "
            "database meanwhile (a second server or `strongroom migrate` refuses to start with a "
            "message naming the cause; the `sqlite3` shell says \"database is locked\"). Set "
            "`false` on every process that opens the file when you need that.",
     .set_bool = put_bool<&Config::sqlite_exclusive>},
    {.name = "backup_dir",
     .kind = Kind::text,
     .defaults = {"<data_dir>/backups"},
     .expected = "a directory path",
     .help = "directory of the SQLite backups",
     .doc = "Trailing `/` removed; empty = the default.",
     .empty_is_default = true,
     .set_text = put_dir<&Config::backup_dir>},
    {.name = "backup_interval",
     .kind = Kind::integer,
     .defaults = {"0", "0", "86400"},
     .expected = "an integer of seconds from 0 (off) to 31536000",
     .help = "seconds between scheduled SQLite backups (0: off)",
     .doc = "`check --deploy` warns when scheduled backups of a SQLite database are off.",
     .min = 0,
     .max = 31536000,
     .set_int = put_int<&Config::backup_interval>},
    {.name = "backup_keep",
     .kind = Kind::integer,
     .defaults = {"7"},
     .expected = "an integer from 1 to 10000",
     .help = "backups kept; the oldest beyond are removed",
     .min = 1,
     .max = 10000,
     .set_int = put_int<&Config::backup_keep>},
    {.name = "ui",
     .kind = Kind::boolean,
     .defaults = {"true"},
     .expected = "true or false",
     .help = "serve the web interface at / and /ui/",
     .set_bool = put_bool<&Config::ui>},
};

std::string escape_cell(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += '\\';
    out += ch;
  }
  return out;
}

std::string bounds_text(const KeyDecl& k) {
  if (k.kind != Kind::integer) return {};
  return "Integer `" + std::to_string(k.min) + "`..`" + std::to_string(k.max) + "`.";
}

}  // namespace

std::string_view Defaults::of(std::string_view profile) const {
  if (profile == "production") return production;
  if (profile == "test") return test;
  return development;
}

std::span<const KeyDecl> keys() {
  return kKeys;
}

const KeyDecl* find_key(std::string_view name) {
  for (const auto& k : kKeys)
    if (k.name == name) return &k;
  return nullptr;
}

std::string env_name(std::string_view key) {
  return "STRONGROOM_" + detail::upper(key);
}

std::string expected_text(const KeyDecl& k) {
  if (k.kind != Kind::rates) return std::string(k.expected);
  std::string names;
  for (const auto& r : ratelimit::kRules)
    names += (names.empty() ? "" : ", ") + std::string(r.name);
  return std::string(k.expected) + " (" + names + "), e.g. signin=5/60,signup=3/3600";
}

std::string default_text(const KeyDecl& k) {
  if (!k.shown_default.empty()) return std::string(k.shown_default);
  const bool list = k.kind == Kind::list || k.kind == Kind::secret_list;
  auto show = [&](std::string_view v) {
    return v.empty() ? std::string(list ? "empty" : "unset") : "`" + std::string(v) + "`";
  };
  const Defaults& d = k.defaults;
  if (d.development == d.test && d.test == d.production) return show(d.development);
  if (d.development == d.test) return "prod: " + show(d.production) + "; else " + show(d.test);
  if (d.test == d.production) return "dev: " + show(d.development) + "; else " + show(d.test);
  return "dev: " + show(d.development) + "; test: " + show(d.test) +
         "; prod: " + show(d.production);
}

std::string keys_markdown() {
  std::string out = "| key | env | default | meaning and validation |\n|---|---|---|---|\n";
  for (const auto& k : kKeys) {
    std::string text(k.help);
    if (!text.empty())
      text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
    text += ".";
    for (const std::string& more : {bounds_text(k), std::string(k.doc)})
      if (!more.empty()) text += " " + more;
    out += "| `" + std::string(k.name) + "` | `" + env_name(k.name) + "` | " +
           escape_cell(default_text(k)) + " | " + escape_cell(text) + " |\n";
  }
  out +=
      "\nRate-limit rules (`rate_limits` names; SPEC sections 8 and 13):\n\n"
      "| rule | default | counted per | requests |\n|---|---|---|---|\n";
  for (const auto& r : ratelimit::kRules)
    out += "| `" + std::string(r.name) + "` | " + std::to_string(r.count) + " per " +
           std::to_string(r.period) + " s | " + std::string(r.key) + " | " + escape_cell(r.what) +
           " |\n";
  return out;
}

std::string_view type_name(Kind kind) {
  switch (kind) {
    case Kind::integer:
      return "INT";
    case Kind::boolean:
      return "BOOL";
    case Kind::number:
      return "NUMBER";
    case Kind::list:
    case Kind::secret_list:
      return "LIST";
    case Kind::rates:
      return "RULES";
    case Kind::text:
    case Kind::secret:
      break;
  }
  return "TEXT";
}

std::string option_help(const KeyDecl& k) {
  std::string d = default_text(k);
  std::erase_if(d, [](char ch) { return ch == '`' || ch == '*'; });
  return std::string(k.help) + " [default: " + d + "; env " + env_name(k.name) + "]";
}

std::string secrets_help() {
  std::string out =
      "Secrets are read from the config file or the environment only (a command line is visible "
      "to other users of the machine):\n";
  for (const auto& k : kKeys)
    if (k.is_secret()) out += "  " + std::string(k.name) + ": " + option_help(k) + "\n";
  out += "Every key: docs/configuration.md, or `strongroom config-keys`.";
  return out;
}

}  // namespace sr::config
