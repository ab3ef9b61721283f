// Loading: profile defaults < TOML file < STRONGROOM_* environment < flags, every value validated,
// every problem collected before anything is thrown. What each key accepts is declared in keys.cpp.
#include "config/config.hpp"

#include <sodium.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <thread>

#include "config/detail.hpp"
#include "config/keys.hpp"
#include "ratelimit/rules.hpp"
#include "util/encoding.hpp"
#include "util/random.hpp"

extern char** environ;

namespace sr::config {
namespace {

std::string rule_names() {
  std::string out;
  for (const auto& r : ratelimit::kRules) out += (out.empty() ? "" : ", ") + std::string(r.name);
  return out;
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
  std::string_view best;
  size_t best_d = 3;
  for (const auto& d : keys()) {
    size_t dist = edit_distance(key, d.name);
    if (dist < best_d) best_d = dist, best = d.name;
  }
  if (best.empty()) return {};
  return " (did you mean " + (env ? env_name(best) : std::string(best)) + "?)";
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

std::string shown(const KeyDecl& k, std::string_view v) {
  if (k.is_secret()) return "a value that is not shown";
  if (k.name == "database_url" || k.name == "redis_url") return quote(detail::redact_url(v));
  return quote(v);
}

// ---- reading the layers --------------------------------------------------------------------

void wipe_secrets_in(toml::table& tbl) {
  for (auto&& [k, node] : tbl) {
    const KeyDecl* d = find_key(k.str());
    if (!d || !d->is_secret()) continue;
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
    const KeyDecl* d = find_key(key);
    if (!d) {
      problems.push_back(key + ": unknown key in " + origin + suggestion(key, false));
      continue;
    }
    Raw r;
    r.origin = origin;
    r.source = "file";
    auto type_error = [&](const char* got) {
      problems.push_back(key + ": expected " + expected_text(*d) + ", got " + got + " (from " +
                         origin + ")");
    };
    if (d->kind == Kind::rates && node.is_table()) {
      bool ok = true;
      for (auto&& [rk, rn] : *node.as_table()) {
        std::string name(rk.str());
        std::string what = "rate_limits." + name;
        if (!ratelimit::find_rule(name)) {
          problems.push_back(what + ": unknown rate limit in " + origin +
                             " (names: " + rule_names() + ")");
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
    std::string key = detail::lower(name.substr(prefix.size()));
    if (name == "STRONGROOM_CONFIG") {
      config_path = std::string(kv.substr(eq + 1));
      continue;
    }
    if (!find_key(key) || name != env_name(key)) {
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

std::vector<std::string> items_of(const Raw& r) {
  std::vector<std::string> out;
  if (r.is_list) {
    for (const auto& s : r.list) {
      auto t = detail::trim(s);
      if (!t.empty()) out.emplace_back(t);
    }
    return out;
  }
  std::string_view rest = r.text;
  while (true) {
    auto c = rest.find(',');
    auto t = detail::trim(rest.substr(0, c));
    if (!t.empty()) out.emplace_back(t);
    if (c == std::string_view::npos) break;
    rest = rest.substr(c + 1);
  }
  return out;
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
    std::string name(detail::trim(std::string_view(item).substr(0, eq)));
    std::string_view rule = detail::trim(std::string_view(item).substr(eq + 1));
    auto slash = rule.find('/');
    if (!ratelimit::find_rule(name) || slash == std::string_view::npos) return std::nullopt;
    auto count = detail::parse_int(rule.substr(0, slash));
    auto period = detail::parse_int(rule.substr(slash + 1));
    if (!count || !period || *count < 1 || *period < 1 || *count > 1000000000 || *period > 31536000)
      return std::nullopt;
    out[name] = RateRule{*count, *period};
  }
  return out;
}

// ---- applying the merged values --------------------------------------------------------------

struct Loader {
  Layer merged;
  std::vector<Raw> rate_layers;  // rate_limits merge per name, lowest layer first
  std::vector<std::string> problems;

  const Raw* get(std::string_view key) const {
    auto it = merged.find(std::string(key));
    return it == merged.end() ? nullptr : &it->second;
  }
  void fail(const KeyDecl& k, const Raw& r, std::string_view got_text,
            const std::string& why = {}) {
    problems.push_back(std::string(k.name) + ": expected " + expected_text(k) +
                       (why.empty() ? "" : " (" + why + ")") + ", got " + shown(k, got_text) +
                       " (from " + r.origin + ")");
  }
  void fail(const KeyDecl& k, const Raw& r) {
    std::string all;
    if (r.is_list)
      for (const auto& s : r.list) all += (all.empty() ? "" : ",") + s;
    else
      all = r.text;
    fail(k, r, all);
    sodium_memzero(all.data(), all.size());
  }

  // One key from one value (given, or the profile's default); problems are collected.
  void apply(Config& c, const KeyDecl& k, const Raw& r) {
    switch (k.kind) {
      case Kind::integer: {
        auto v = r.is_list ? std::nullopt : detail::parse_int(r.text);
        if (!v || *v < k.min || *v > k.max) return fail(k, r);
        return k.set_int(c, *v);
      }
      case Kind::boolean: {
        auto v = r.is_list ? std::nullopt : detail::parse_bool(r.text);
        if (!v) return fail(k, r);
        return k.set_bool(c, *v);
      }
      case Kind::text:
      case Kind::number: {
        std::string why;
        if (r.is_list || !k.set_text(c, r.text, &why)) fail(k, r, r.text, why);
        return;
      }
      case Kind::list: {
        std::vector<std::string> out;
        for (auto& item : items_of(r)) {
          if (!k.item_ok(item)) return fail(k, r, item);
          out.push_back(std::move(item));
        }
        c.*k.list = std::move(out);
        return;
      }
      case Kind::secret: {
        if (r.is_list) return fail(k, r);
        auto t = detail::trim(r.text);
        c.*k.secret = SecretBytes();
        c.*k.source = "missing";
        if (t.empty()) return;  // explicitly empty: missing
        SecretBytes v = decode_secret(t);
        if (k.exact_bytes && v.size() != k.exact_bytes) {
          problems.push_back(std::string(k.name) + ": expected " + expected_text(k) +
                             ", got a value of " + std::to_string(v.size()) + " bytes (from " +
                             r.origin + ")");
          return;
        }
        c.*k.secret = std::move(v);
        c.*k.source = r.source;
        return;
      }
      case Kind::secret_list: {
        std::vector<SecretBytes> out;
        for (auto& item : items_of(r)) {
          out.push_back(decode_secret(item));
          sodium_memzero(item.data(), item.size());
        }
        c.*k.secrets = std::move(out);
        return;
      }
      case Kind::rates: {
        auto rules = r.is_list ? std::nullopt : parse_rates(r.text);
        if (!rules) return fail(k, r);
        for (auto& [name, rule] : *rules) c.rate_limits[name] = rule;
        return;
      }
    }
  }

  // The profile's default of a key, as a value from the "default" layer.
  static Raw default_of(const KeyDecl& k, const Config& c) {
    Raw r;
    r.origin = "the default";
    r.source = "default";
    r.text = std::string(k.defaults.of(c.profile));
    if (auto p = r.text.find("<data_dir>"); p != std::string::npos)
      r.text.replace(p, 10, c.data_dir);
    return r;
  }
};

void apply_defaults(Config& c) {
  Loader L;
  for (const auto& k : keys())
    if (k.kind != Kind::rates) L.apply(c, k, Loader::default_of(k, c));
  c.rate_limits.clear();
  if (!L.problems.empty()) throw ConfigError(std::move(L.problems));  // a bad declaration
}

}  // namespace

Config::Config() {
  apply_defaults(*this);
}

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error([&] {
        std::string m = "invalid configuration (" + std::to_string(problems.size()) +
                        (problems.size() == 1 ? " problem):" : " problems):");
        for (const auto& p : problems) m += "\n  - " + p;
        return m;
      }()),
      problems_(std::move(problems)) {}

const std::vector<std::string>& known_keys() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& k : keys()) v.emplace_back(k.name);
    return v;
  }();
  return names;
}

std::string generate_secret() {
  while (true) {
    std::string s = random_token(32);
    auto bytes = base64url_decode(s);
    bool ok = detail::secret_weakness(SecretBytes::from_view(*bytes)).empty();
    sodium_memzero(bytes->data(), bytes->size());
    if (ok) return s;
    sodium_memzero(s.data(), s.size());
  }
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
  Config c;
  if (const Raw* r = L.get("profile")) L.apply(c, *find_key("profile"), *r);
  c.config_file = config_file;
  c.warnings = std::move(warnings);

  // Every other key in declaration order (data_dir before the defaults that name it), from the
  // highest layer that gives it, else from the profile's default.
  for (const auto& k : keys()) {
    if (k.name == "profile") continue;
    if (k.kind == Kind::rates) {
      for (const Raw& r : L.rate_layers) L.apply(c, k, r);
      continue;
    }
    const Raw* r = L.get(k.name);
    if (r && k.empty_is_default && !r->is_list && detail::trim(r->text).empty()) r = nullptr;
    L.apply(c, k, r ? *r : Loader::default_of(k, c));
  }

  // Rules across keys.
  if (c.tls_cert.empty() != c.tls_key.empty())
    L.problems.push_back(std::string(c.tls_cert.empty() ? "tls_cert" : "tls_key") +
                         ": tls_cert and tls_key must be set together (native TLS needs both)");
  if (!c.listen_redirect.empty() && c.tls_cert.empty())
    L.problems.push_back(
        "listen_redirect: redirects to HTTPS, so it needs native TLS (tls_cert and tls_key)");
  if (!c.listen_redirect.empty() && c.redirect_port != 0 && c.redirect_port == c.port &&
      c.redirect_host == c.host)
    L.problems.push_back("listen_redirect: must differ from listen (" + c.listen + ")");
  // Served over TLS (natively or by a declared proxy), cookies are Secure unless a layer says
  // otherwise (SPEC 15: "as with behind_tls_proxy").
  if (!L.get("cookie_secure") && (!c.tls_cert.empty() || c.behind_tls_proxy))
    c.cookie_secure = true;
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
