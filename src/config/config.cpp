// Loading: profile defaults < TOML file < STRONGROOM_* environment < flags, every value validated,
// every problem collected before anything is thrown.
#include "config/config.hpp"

#include <arpa/inet.h>
#include <sodium.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <thread>

#include "config/detail.hpp"
#include "util/encoding.hpp"
#include "util/random.hpp"

extern char** environ;

namespace sr::config {
namespace {

enum class Kind { text, integer, boolean, number, list, secret, secret_list, rates };

struct KeyDef {
  const char* name;
  Kind kind;
};

// Every accepted key, in the order of the docs.
const KeyDef kKeys[] = {
    {"profile", Kind::text},
    {"listen", Kind::text},
    {"data_dir", Kind::text},
    {"database_url", Kind::text},
    {"redis_url", Kind::text},
    {"jwt_secret", Kind::secret},
    {"jwt_previous_secrets", Kind::secret_list},
    {"vault_session_key", Kind::secret},
    {"jwt_issuer", Kind::text},
    {"access_ttl", Kind::integer},
    {"refresh_ttl", Kind::integer},
    {"vault_ttl", Kind::integer},
    {"vault_max_ttl", Kind::integer},
    {"session_max_ttl", Kind::integer},
    {"cookie_secure", Kind::boolean},
    {"cookie_samesite", Kind::text},
    {"cors_origins", Kind::list},
    {"trusted_proxies", Kind::list},
    {"rate_limit_scale", Kind::number},
    {"rate_limits", Kind::rates},
    {"hash_workers", Kind::integer},
    {"hash_max_queue", Kind::integer},
    {"argon2_memory_kib", Kind::integer},
    {"argon2_passes", Kind::integer},
    {"db_pool_size", Kind::integer},
    {"db_statement_timeout_ms", Kind::integer},
    {"metrics_allow", Kind::list},
    {"log_file", Kind::text},
    {"log_level", Kind::text},
    {"tls_cert", Kind::text},
    {"tls_key", Kind::text},
    {"behind_tls_proxy", Kind::boolean},
    {"threads", Kind::integer},
    {"max_connections", Kind::integer},
    {"password_composition_rules", Kind::boolean},
    {"migrate_on_start", Kind::boolean},
    {"sqlite_exclusive", Kind::boolean},
};

const char* const kRateNames[] = {"signin",       "signin_user", "signup",        "refresh",
                                  "vault_unlock", "sensitive",   "authenticated", "anonymous"};

const KeyDef* find_key(std::string_view k) {
  for (const auto& d : kKeys)
    if (k == d.name) return &d;
  return nullptr;
}

bool is_rate_name(std::string_view n) {
  return std::find(std::begin(kRateNames), std::end(kRateNames), n) != std::end(kRateNames);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}
std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}
std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// " (did you mean x?)" for a near miss, else "".
std::string suggestion(std::string_view key, bool env) {
  const char* best = nullptr;
  size_t best_d = 3;
  for (const auto& d : kKeys) {
    size_t dist = edit_distance(key, d.name);
    if (dist < best_d) best_d = dist, best = d.name;
  }
  if (!best) return {};
  return std::string(" (did you mean ") + (env ? "STRONGROOM_" + upper(best) : best) + "?)";
}

// A value quoted for a message: escaped, truncated.
std::string quote(std::string_view v) {
  std::string out = "\"";
  size_t n = 0;
  for (unsigned char ch : v) {
    if (++n > 80) {
      out += "...";
      break;
    }
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch < 0x20 || ch == 0x7f) {
      static const char* hx = "0123456789abcdef";
      out += "\\x";
      out += hx[ch >> 4];
      out += hx[ch & 15];
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out + "\"";
}

// One value from one layer, before validation.
struct Raw {
  std::string origin;  // for messages: "config file x.toml", "STRONGROOM_X", "flag --x"
  std::string source;  // "file" | "env" | "flag"
  bool is_list = false;
  std::string text;
  std::vector<std::string> list;

  Raw() = default;
  Raw(const Raw&) = default;
  Raw& operator=(const Raw&) = default;
  ~Raw() {  // values may be secrets
    sodium_memzero(text.data(), text.size());
    for (auto& s : list) sodium_memzero(s.data(), s.size());
  }
};
using Layer = std::map<std::string, Raw>;

bool is_secret_key(std::string_view key) {
  const KeyDef* d = find_key(key);
  return d && (d->kind == Kind::secret || d->kind == Kind::secret_list);
}

std::string shown(std::string_view key, std::string_view v) {
  if (is_secret_key(key)) return "a value that is not shown";
  if (key == "database_url" || key == "redis_url") return quote(detail::redact_url(v));
  return quote(v);
}

std::string expected_of(std::string_view key) {
  static const std::map<std::string_view, std::string> m = {
      {"profile", "development, production or test"},
      {"listen", "host:port with a port from 0 to 65535 (e.g. 127.0.0.1:8080, [::1]:8080)"},
      {"data_dir", "a directory path"},
      {"database_url", "sqlite://<path> or postgresql://user:pass@host:port/db?sslmode=..."},
      {"redis_url", "redis://host[:port][/db], rediss://... or unix:///path"},
      {"jwt_secret", "a key (base64url, base64, hex or raw text)"},
      {"jwt_previous_secrets", "comma-separated keys (base64url, base64, hex or raw text)"},
      {"vault_session_key",
       "a 32-byte key (base64url of 43 characters, hex of 64 characters, or 32 raw bytes)"},
      {"jwt_issuer", "a non-empty printable string of at most 256 characters"},
      {"access_ttl", "a positive integer of seconds"},
      {"refresh_ttl", "a positive integer of seconds"},
      {"vault_ttl", "a positive integer of seconds"},
      {"vault_max_ttl", "a positive integer of seconds"},
      {"session_max_ttl", "a positive integer of seconds, at least refresh_ttl"},
      {"cookie_secure", "true or false"},
      {"cookie_samesite", "Strict or Lax (None is refused: the cookies carry credentials)"},
      {"cors_origins", "comma-separated exact origins like https://app.example.com"},
      {"trusted_proxies", "comma-separated IP addresses or CIDR ranges like 10.0.0.0/8"},
      {"rate_limit_scale", "a positive number"},
      {"rate_limits",
       "name=count/period entries (signin, signin_user, signup, refresh, vault_unlock, sensitive, "
       "authenticated, anonymous), e.g. signin=5/60,signup=3/3600"},
      {"hash_workers", "an integer from 0 (one per core) to 256"},
      {"hash_max_queue", "an integer from 1 to 1000000"},
      {"argon2_memory_kib", "an integer of KiB from 8 to 4194304"},
      {"argon2_passes", "an integer from 1 to 64"},
      {"db_pool_size", "an integer from 1 to 1000"},
      {"db_statement_timeout_ms", "an integer of milliseconds from 0 (no timeout) to 86400000"},
      {"metrics_allow", "comma-separated IP addresses or CIDR ranges like 127.0.0.1,::1"},
      {"log_file", "a file path"},
      {"log_level", "one of trace, debug, info, warn, warning, error, critical, off"},
      {"tls_cert", "a file path (PEM certificate chain)"},
      {"tls_key", "a file path (PEM private key)"},
      {"behind_tls_proxy", "true or false"},
      {"threads", "an integer from 0 (one per core) to 1024"},
      {"max_connections", "an integer from 1 to 1000000"},
      {"password_composition_rules", "true or false"},
      {"migrate_on_start", "true or false"},
      {"sqlite_exclusive", "true or false"},
  };
  auto it = m.find(key);
  return it == m.end() ? "a valid value" : it->second;
}

// ---- reading the layers --------------------------------------------------------------------

void wipe_secrets_in(toml::table& tbl) {
  for (auto&& [k, node] : tbl) {
    if (!is_secret_key(k.str())) continue;
    auto wipe = [](toml::node& n) {
      if (auto* s = n.as_string()) sodium_memzero(s->get().data(), s->get().size());
    };
    wipe(node);
    if (auto* arr = node.as_array())
      for (auto& el : *arr) wipe(el);
  }
}

void read_file(const std::string& path, Layer& layer, std::vector<std::string>& problems) {
  toml::table tbl;
  try {
    tbl = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    std::string where = "config file " + path;
    if (b.line) where += ":" + std::to_string(b.line) + ":" + std::to_string(b.column);
    problems.push_back(where + ": " + std::string(e.description()));
    return;
  }
  const std::string origin = "config file " + path;
  for (auto&& [k, node] : tbl) {
    std::string key(k.str());
    const KeyDef* d = find_key(key);
    if (!d) {
      problems.push_back(key + ": unknown key in " + origin + suggestion(key, false));
      continue;
    }
    Raw r;
    r.origin = origin;
    r.source = "file";
    auto type_error = [&](const char* got) {
      problems.push_back(key + ": expected " + expected_of(key) + ", got " + got + " (from " +
                         origin + ")");
    };
    if (d->kind == Kind::rates && node.is_table()) {
      bool ok = true;
      for (auto&& [rk, rn] : *node.as_table()) {
        std::string name(rk.str());
        std::string what = "rate_limits." + name;
        if (!is_rate_name(name)) {
          problems.push_back(what + ": unknown rate limit in " + origin +
                             " (names: signin, signin_user, signup, refresh, vault_unlock, "
                             "sensitive, authenticated, anonymous)");
          ok = false;
          continue;
        }
        std::string rule;
        if (auto* s = rn.as_string()) {
          rule = s->get();
        } else if (auto* t = rn.as_table()) {
          auto count = (*t)["count"].value_exact<int64_t>();
          auto period = (*t)["period"].value_exact<int64_t>();
          bool only_known = true;
          for (auto&& [fk, fv] : *t)
            if (fk.str() != "count" && fk.str() != "period") only_known = false;
          if (count && period && only_known)
            rule = std::to_string(*count) + "/" + std::to_string(*period);
        }
        if (rule.empty() || rule.find_first_of(",=") != std::string::npos) {
          problems.push_back(what +
                             ": expected \"count/period\" or {count = N, period = seconds} " +
                             "(from " + origin + ")");
          ok = false;
          continue;
        }
        if (!r.text.empty()) r.text += ",";
        r.text += name + "=" + rule;
      }
      if (!ok) continue;
    } else if (auto* arr = node.as_array()) {
      if (d->kind != Kind::list && d->kind != Kind::secret_list) {
        type_error("an array");
        continue;
      }
      bool ok = true;
      for (auto& el : *arr) {
        if (auto* s = el.as_string())
          r.list.push_back(s->get());
        else
          ok = false;
      }
      if (!ok) {
        type_error("an array with a non-string element");
        continue;
      }
      r.is_list = true;
    } else if (node.is_table()) {
      type_error("a table");
      continue;
    } else if (auto* s = node.as_string()) {
      r.text = s->get();
    } else if (auto* i = node.as_integer()) {
      r.text = std::to_string(i->get());
    } else if (auto* f = node.as_floating_point()) {
      char buf[64];
      auto res = std::to_chars(buf, buf + sizeof buf, f->get());
      r.text.assign(buf, res.ptr);
    } else if (auto* bl = node.as_boolean()) {
      r.text = bl->get() ? "true" : "false";
    } else {
      type_error("a date or time");
      continue;
    }
    layer[key] = r;
  }
  wipe_secrets_in(tbl);
}

void read_env(Layer& layer, std::vector<std::string>& warnings,
              std::optional<std::string>& config_path) {
  static const std::string_view prefix = "STRONGROOM_";
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (!kv.starts_with(prefix)) continue;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(kv.substr(0, eq));
    std::string key = lower(name.substr(prefix.size()));
    if (name == "STRONGROOM_CONFIG") {
      config_path = std::string(kv.substr(eq + 1));
      continue;
    }
    if (!find_key(key) || name != "STRONGROOM_" + upper(key)) {
      warnings.push_back(name + ": not a configuration variable, ignored" + suggestion(key, true));
      continue;
    }
    Raw r;
    r.origin = name;
    r.source = "env";
    r.text = std::string(kv.substr(eq + 1));
    layer[key] = r;
  }
}

// ---- value parsers -------------------------------------------------------------------------

std::optional<int64_t> parse_int(std::string_view s) {
  s = trim(s);
  int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(std::string_view s) {
  std::string l = lower(trim(s));
  if (l == "true" || l == "1" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "0" || l == "no" || l == "off") return false;
  return std::nullopt;
}

std::vector<std::string> items_of(const Raw& r) {
  std::vector<std::string> out;
  if (r.is_list) {
    for (const auto& s : r.list) {
      auto t = trim(s);
      if (!t.empty()) out.emplace_back(t);
    }
    return out;
  }
  std::string_view rest = r.text;
  while (true) {
    auto c = rest.find(',');
    auto t = trim(rest.substr(0, c));
    if (!t.empty()) out.emplace_back(t);
    if (c == std::string_view::npos) break;
    rest = rest.substr(c + 1);
  }
  return out;
}

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
    unsigned char buf[4];
    return inet_pton(AF_INET, std::string(h).c_str(), buf) == 1;
  }
  return true;
}

bool parse_listen(std::string_view s, std::string& host, uint16_t& port) {
  std::string_view h, p;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return false;
    h = s.substr(1, close - 1);
    p = s.substr(close + 2);
    unsigned char buf[16];
    if (inet_pton(AF_INET6, std::string(h).c_str(), buf) != 1) return false;
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
    if (close == std::string_view::npos) return false;
    unsigned char buf[16];
    if (inet_pton(AF_INET6, std::string(rest.substr(1, close - 1)).c_str(), buf) != 1) return false;
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
    auto v = parse_int(port);
    if (!v || *v < 1 || *v > 65535 || port.size() > 5) return false;
  }
  return true;
}

// Key text -> bytes: hex or base64url/base64 of at least 32 bytes is decoded, anything else is
// taken as raw bytes.
SecretBytes decode_secret(std::string_view text) {
  auto take = [](std::optional<std::string>& d) {
    SecretBytes s = SecretBytes::from_view(*d);
    sodium_memzero(d->data(), d->size());
    return s;
  };
  if (text.size() >= 64 && text.size() % 2 == 0 &&
      std::all_of(text.begin(), text.end(),
                  [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)); })) {
    if (auto d = hex_decode(text)) return take(d);
  }
  if (auto d = base64url_decode(text); d && d->size() >= 32) return take(d);
  if (auto d = base64_decode(text); d && d->size() >= 32) return take(d);
  return SecretBytes::from_view(text);
}

std::optional<std::map<std::string, RateRule>> parse_rates(std::string_view text) {
  std::map<std::string, RateRule> out;
  Raw tmp;
  tmp.text = std::string(text);
  for (const auto& item : items_of(tmp)) {
    auto eq = item.find('=');
    if (eq == std::string::npos) return std::nullopt;
    std::string name(trim(std::string_view(item).substr(0, eq)));
    std::string_view rule = trim(std::string_view(item).substr(eq + 1));
    auto slash = rule.find('/');
    if (!is_rate_name(name) || slash == std::string_view::npos) return std::nullopt;
    auto count = parse_int(rule.substr(0, slash));
    auto period = parse_int(rule.substr(slash + 1));
    if (!count || !period || *count < 1 || *period < 1 || *count > 1000000000 || *period > 31536000)
      return std::nullopt;
    out[name] = RateRule{*count, *period};
  }
  return out;
}

Config defaults_for(const std::string& profile) {
  Config c;
  c.profile = profile;
  if (profile == "development") c.cors_origins = {"http://localhost:5173", "http://127.0.0.1:5173"};
  if (profile == "production") c.cookie_secure = true;
  return c;
}

// ---- applying the merged values --------------------------------------------------------------

struct Loader {
  Layer merged;
  std::vector<Raw> rate_layers;  // rate_limits merge per name, lowest layer first
  std::vector<std::string> problems;

  const Raw* get(const char* key) const {
    auto it = merged.find(key);
    return it == merged.end() ? nullptr : &it->second;
  }
  void fail(const std::string& key, const Raw& r, std::string_view got_text,
            const std::string& expected = {}) {
    problems.push_back(key + ": expected " + (expected.empty() ? expected_of(key) : expected) +
                       ", got " + shown(key, got_text) + " (from " + r.origin + ")");
  }
  void fail(const std::string& key, const Raw& r) {
    std::string all;
    if (r.is_list)
      for (const auto& s : r.list) all += (all.empty() ? "" : ",") + s;
    else
      all = r.text;
    fail(key, r, all);
    sodium_memzero(all.data(), all.size());
  }

  template <class T>
  void integer(const char* key, T& field, int64_t lo, int64_t hi) {
    const Raw* r = get(key);
    if (!r) return;
    auto v = r->is_list ? std::nullopt : parse_int(r->text);
    if (!v || *v < lo || *v > hi) return fail(key, *r);
    field = static_cast<T>(*v);
  }
  void boolean(const char* key, bool& field) {
    const Raw* r = get(key);
    if (!r) return;
    auto v = r->is_list ? std::nullopt : parse_bool(r->text);
    if (!v) return fail(key, *r);
    field = *v;
  }
  // Plain strings; an empty value means unset.
  void path(const char* key, std::string& field) {
    const Raw* r = get(key);
    if (!r) return;
    if (r->is_list || r->text.find('\0') != std::string::npos) return fail(key, *r);
    field = std::string(trim(r->text));
  }
  void ip_list(const char* key, std::vector<std::string>& field) {
    const Raw* r = get(key);
    if (!r) return;
    std::vector<std::string> out;
    for (const auto& item : items_of(*r)) {
      if (!detail::parse_ip_range(item)) return fail(key, *r, item);
      out.push_back(item);
    }
    field = out;
  }
  void secret(const char* key, SecretBytes& field, std::string& source) {
    const Raw* r = get(key);
    if (!r) return;
    if (r->is_list) return fail(key, *r);
    auto t = trim(r->text);
    if (t.empty()) return;  // explicitly empty: missing
    field = decode_secret(t);
    source = r->source;
  }
};

}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error([&] {
        std::string m = "invalid configuration (" + std::to_string(problems.size()) +
                        (problems.size() == 1 ? " problem):" : " problems):");
        for (const auto& p : problems) m += "\n  - " + p;
        return m;
      }()),
      problems_(std::move(problems)) {}

const std::vector<std::string>& known_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> v;
    for (const auto& d : kKeys) v.emplace_back(d.name);
    return v;
  }();
  return keys;
}

std::string generate_secret() {
  return random_token(32);
}

Config load(const Sources& src) {
  Loader L;
  std::vector<std::string> warnings;

  Layer env, flags;
  std::optional<std::string> env_config;
  if (src.use_environment) read_env(env, warnings, env_config);

  std::optional<std::string> flag_config;
  for (const auto& [k, v] : src.flags) {
    std::string key = k;
    std::replace(key.begin(), key.end(), '-', '_');
    if (key == "config") {
      flag_config = v;
      continue;
    }
    if (!find_key(key)) {
      L.problems.push_back(key + ": unknown flag" + suggestion(key, false));
      continue;
    }
    Raw r;
    r.origin = "flag --" + key;
    r.source = "flag";
    r.text = v;
    flags[key] = r;
  }

  Layer file;
  std::string config_file = src.config_file ? *src.config_file
                            : flag_config   ? *flag_config
                            : env_config    ? *env_config
                                            : std::string();
  if (!config_file.empty()) read_file(config_file, file, L.problems);

  for (Layer* layer : {&file, &env, &flags})
    for (auto& [k, v] : *layer) {
      if (k == "rate_limits")
        L.rate_layers.push_back(v);
      else
        L.merged[k] = v;
    }

  // The profile decides the defaults, so it comes first.
  std::string profile = "development";
  if (const Raw* r = L.get("profile")) {
    std::string p(trim(r->text));
    if (!r->is_list && (p == "development" || p == "production" || p == "test"))
      profile = p;
    else
      L.fail("profile", *r);
  }
  Config c = defaults_for(profile);
  c.config_file = config_file;
  c.warnings = std::move(warnings);

  if (const Raw* r = L.get("listen")) {
    std::string t(trim(r->text));
    if (r->is_list || !parse_listen(t, c.host, c.port))
      L.fail("listen", *r);
    else
      c.listen = t;
  }

  if (const Raw* r = L.get("data_dir")) {
    std::string t(trim(r->text));
    if (r->is_list || t.empty() || t.find('\0') != std::string::npos)
      L.fail("data_dir", *r);
    else
      c.data_dir = t;
  }
  while (c.data_dir.size() > 1 && c.data_dir.back() == '/') c.data_dir.pop_back();

  if (const Raw* r = L.get("database_url")) {
    std::string t(trim(r->text)), why;
    if (r->is_list)
      L.fail("database_url", *r);
    else if (!t.empty() && !detail::parse_database_url(t, &why))
      L.fail("database_url", *r, t, expected_of("database_url") + " (" + why + ")");
    else
      c.database_url = t;
  }
  if (c.database_url.empty()) c.database_url = "sqlite://" + c.data_dir + "/strongroom.db";

  if (const Raw* r = L.get("redis_url")) {
    std::string t(trim(r->text)), why;
    if (r->is_list)
      L.fail("redis_url", *r);
    else if (!t.empty() && !detail::parse_redis_url(t, &why))
      L.fail("redis_url", *r, t, expected_of("redis_url") + " (" + why + ")");
    else
      c.redis_url = t;
  }

  L.secret("jwt_secret", c.jwt_secret, c.jwt_secret_source);
  L.secret("vault_session_key", c.vault_session_key, c.vault_session_key_source);
  if (!c.vault_session_key.empty() && c.vault_session_key.size() != 32) {
    const Raw* r = L.get("vault_session_key");
    L.problems.push_back("vault_session_key: expected " + expected_of("vault_session_key") +
                         ", got a value of " + std::to_string(c.vault_session_key.size()) +
                         " bytes (from " + r->origin + ")");
    c.vault_session_key = SecretBytes();
    c.vault_session_key_source.clear();
  }
  if (const Raw* r = L.get("jwt_previous_secrets")) {
    for (const auto& item : items_of(*r)) c.jwt_previous_secrets.push_back(decode_secret(item));
  }
  if (c.jwt_secret_source.empty()) c.jwt_secret_source = "missing";
  if (c.vault_session_key_source.empty()) c.vault_session_key_source = "missing";

  if (const Raw* r = L.get("jwt_issuer")) {
    std::string t(trim(r->text));
    bool ok = !r->is_list && !t.empty() && t.size() <= 256 &&
              std::all_of(t.begin(), t.end(), [](char ch) { return ch > 0x20 && ch < 0x7f; });
    if (ok)
      c.jwt_issuer = t;
    else
      L.fail("jwt_issuer", *r);
  }

  constexpr int64_t kTenYears = 315360000;
  L.integer("access_ttl", c.access_ttl, 1, kTenYears);
  L.integer("refresh_ttl", c.refresh_ttl, 1, kTenYears);
  L.integer("vault_ttl", c.vault_ttl, 1, kTenYears);
  L.integer("vault_max_ttl", c.vault_max_ttl, 1, kTenYears);
  L.integer("session_max_ttl", c.session_max_ttl, 1, kTenYears);
  L.boolean("cookie_secure", c.cookie_secure);

  if (const Raw* r = L.get("cookie_samesite")) {
    std::string t = lower(trim(r->text));
    if (!r->is_list && t == "strict")
      c.cookie_samesite = "Strict";
    else if (!r->is_list && t == "lax")
      c.cookie_samesite = "Lax";
    else
      L.fail("cookie_samesite", *r);
  }

  if (const Raw* r = L.get("cors_origins")) {
    std::vector<std::string> out;
    bool ok = true;
    for (const auto& o : items_of(*r)) {
      if (!valid_origin(o)) {
        L.fail("cors_origins", *r, o);
        ok = false;
        break;
      }
      out.push_back(o);
    }
    if (ok) c.cors_origins = out;
  }
  L.ip_list("trusted_proxies", c.trusted_proxies);
  L.ip_list("metrics_allow", c.metrics_allow);

  if (const Raw* r = L.get("rate_limit_scale")) {
    std::string t(trim(r->text));
    double v = 0;
    auto res = std::from_chars(t.data(), t.data() + t.size(), v);
    if (r->is_list || t.empty() || res.ec != std::errc() || res.ptr != t.data() + t.size() ||
        !std::isfinite(v) || v <= 0 || v > 1e9)
      L.fail("rate_limit_scale", *r);
    else
      c.rate_limit_scale = v;
  }
  for (const Raw& r : L.rate_layers) {
    auto rules = r.is_list ? std::nullopt : parse_rates(r.text);
    if (!rules) {
      L.fail("rate_limits", r);
      continue;
    }
    for (auto& [name, rule] : *rules) c.rate_limits[name] = rule;
  }

  L.integer("hash_workers", c.hash_workers, 0, 256);
  L.integer("hash_max_queue", c.hash_max_queue, 1, 1000000);
  L.integer("argon2_memory_kib", c.argon2_memory_kib, 8, 4194304);
  L.integer("argon2_passes", c.argon2_passes, 1, 64);
  L.integer("db_pool_size", c.db_pool_size, 1, 1000);
  L.integer("db_statement_timeout_ms", c.db_statement_timeout_ms, 0, 86400000);
  L.path("log_file", c.log_file);

  if (const Raw* r = L.get("log_level")) {
    std::string t = lower(trim(r->text));
    static const char* levels[] = {"trace",   "debug", "info",     "warn",
                                   "warning", "error", "critical", "off"};
    if (!r->is_list && std::find(std::begin(levels), std::end(levels), t) != std::end(levels))
      c.log_level = t;
    else
      L.fail("log_level", *r);
  }

  L.path("tls_cert", c.tls_cert);
  L.path("tls_key", c.tls_key);
  L.boolean("behind_tls_proxy", c.behind_tls_proxy);
  L.integer("threads", c.threads, 0, 1024);
  L.integer("max_connections", c.max_connections, 1, 1000000);
  L.boolean("password_composition_rules", c.password_composition_rules);
  L.boolean("migrate_on_start", c.migrate_on_start);
  L.boolean("sqlite_exclusive", c.sqlite_exclusive);

  // Rules across keys.
  if (c.tls_cert.empty() != c.tls_key.empty())
    L.problems.push_back(std::string(c.tls_cert.empty() ? "tls_cert" : "tls_key") +
                         ": tls_cert and tls_key must be set together (native TLS needs both)");
  if (c.access_ttl > c.refresh_ttl)
    L.problems.push_back("access_ttl: must not exceed refresh_ttl (" +
                         std::to_string(c.access_ttl) + " > " + std::to_string(c.refresh_ttl) +
                         ")");
  if (c.refresh_ttl > c.session_max_ttl)
    L.problems.push_back("session_max_ttl: must be at least refresh_ttl (" +
                         std::to_string(c.session_max_ttl) + " < " + std::to_string(c.refresh_ttl) +
                         ")");
  if (c.vault_ttl > c.vault_max_ttl)
    L.problems.push_back("vault_ttl: must not exceed vault_max_ttl (" +
                         std::to_string(c.vault_ttl) + " > " + std::to_string(c.vault_max_ttl) +
                         ")");

  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  if (c.threads == 0) c.threads = static_cast<int>(cores);
  if (c.hash_workers == 0) c.hash_workers = static_cast<int>(cores);

  if (!L.problems.empty()) throw ConfigError(std::move(L.problems));
  return c;
}

}  // namespace sr::config
