// The key declarations (config/keys.hpp): complete, consistent, the source of the defaults, of the
// docs table and of the round-2 keys (SPEC 13-17).
#include "config/keys.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "config/config.hpp"
#include "config/test_helpers.hpp"
#include "ratelimit/rules.hpp"

using namespace sr::config;
using cfgtest::EnvGuard;
using cfgtest::flags_only;
using cfgtest::problems_of;
using cfgtest::TempDir;

namespace {

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// docs/configuration.md of this checkout, located from this file's path as the compiler saw it
// (relative to the build directory, where the test binary lives, or absolute).
std::string docs_path() {
  return SR_SOURCE_DIR "/docs/configuration.md";
}

}  // namespace

TEST(ConfigKeys, EveryDeclarationIsComplete) {
  std::set<std::string_view> names;
  for (const auto& k : keys()) {
    SCOPED_TRACE(std::string(k.name));
    EXPECT_TRUE(names.insert(k.name).second) << "declared twice";
    EXPECT_TRUE(std::all_of(k.name.begin(), k.name.end(), [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
    }));
    EXPECT_FALSE(k.help.empty());
    EXPECT_FALSE(k.expected.empty());
    EXPECT_EQ(find_key(k.name), &k);
    // Exactly the setter its kind uses.
    int setters = (k.set_int != nullptr) + (k.set_bool != nullptr) + (k.set_text != nullptr) +
                  (k.list != nullptr) + (k.secret != nullptr) + (k.secrets != nullptr);
    switch (k.kind) {
      case Kind::integer:
        EXPECT_TRUE(k.set_int && k.min <= k.max);
        break;
      case Kind::boolean:
        EXPECT_TRUE(k.set_bool);
        break;
      case Kind::text:
      case Kind::number:
        EXPECT_TRUE(k.set_text);
        break;
      case Kind::list:
        EXPECT_TRUE(k.list && k.item_ok);
        break;
      case Kind::secret:
        EXPECT_TRUE(k.secret && k.source);
        break;
      case Kind::secret_list:
        EXPECT_TRUE(k.secrets);
        break;
      case Kind::rates:
        break;
    }
    EXPECT_EQ(setters, k.kind == Kind::rates ? 0 : 1);
    EXPECT_EQ(env_name(k.name).rfind("STRONGROOM_", 0), 0u);
  }
  EXPECT_EQ(known_keys().size(), names.size());
}

// Every profile's defaults load without a problem, and a default-constructed Config holds the
// development defaults (one source: the declarations).
TEST(ConfigKeys, DefaultsComeFromTheDeclarations) {
  for (const char* profile : {"development", "test", "production"})
    EXPECT_NO_THROW(load(flags_only({{"profile", profile}}))) << profile;
  Config fresh;
  Config dev = load(flags_only({}));
  EXPECT_EQ(fresh.profile, dev.profile);
  EXPECT_EQ(fresh.listen, dev.listen);
  EXPECT_EQ(fresh.port, dev.port);
  EXPECT_EQ(fresh.database_url, dev.database_url);
  EXPECT_EQ(fresh.access_ttl, dev.access_ttl);
  EXPECT_EQ(fresh.cors_origins, dev.cors_origins);
  EXPECT_EQ(fresh.metrics_allow, dev.metrics_allow);
  EXPECT_EQ(fresh.rate_limit_scale, dev.rate_limit_scale);
  EXPECT_EQ(fresh.max_connections_per_ip, dev.max_connections_per_ip);
  EXPECT_EQ(fresh.vault_max_bytes, dev.vault_max_bytes);
  EXPECT_EQ(fresh.backup_dir, dev.backup_dir);
  EXPECT_EQ(fresh.ui, dev.ui);
  EXPECT_EQ(fresh.sqlite_exclusive, dev.sqlite_exclusive);
  EXPECT_EQ(fresh.totp_key_source, "missing");
  // Each declared integer default lies within its own bounds, in every profile.
  for (const auto& k : keys())
    if (k.kind == Kind::integer)
      for (const char* profile : {"development", "test", "production"}) {
        auto v = std::stoll(std::string(k.defaults.of(profile)));
        EXPECT_TRUE(v >= k.min && v <= k.max) << k.name << " " << profile;
      }
}

// SPEC 13-17: the round-2 keys and their defaults.
TEST(ConfigKeys, RoundTwoDefaults) {
  for (const char* profile : {"development", "test", "production"}) {
    SCOPED_TRACE(profile);
    Config c = load(flags_only({{"profile", profile}, {"data_dir", "/srv/sr/"}}));
    EXPECT_EQ(c.max_connections_per_ip, 256);
    EXPECT_EQ(c.vault_max_bytes, 16 * 1024 * 1024);
    EXPECT_EQ(c.backup_dir, "/srv/sr/backups");
    EXPECT_EQ(c.backup_interval, std::string(profile) == "production" ? 86400 : 0);
    EXPECT_EQ(c.backup_keep, 7);
    EXPECT_TRUE(c.ui);
    EXPECT_TRUE(c.listen_redirect.empty());
    EXPECT_TRUE(c.totp_key.empty());
    EXPECT_EQ(c.totp_key_source, "missing");
  }
}

TEST(ConfigKeys, RoundTwoValuesAndBounds) {
  struct Case {
    const char* key;
    const char* value;
    bool ok;
  };
  for (auto [key, value, ok] : {Case{"max_connections_per_ip", "1", true},
                                Case{"max_connections_per_ip", "0", false},
                                Case{"max_connections_per_ip", "1000000", true},
                                Case{"max_connections_per_ip", "1000001", false},
                                Case{"vault_max_bytes", "65536", true},
                                Case{"vault_max_bytes", "65535", false},
                                Case{"vault_max_bytes", "1073741824", true},
                                Case{"vault_max_bytes", "1073741825", false},
                                Case{"vault_max_bytes", "16MiB", false},
                                Case{"backup_interval", "0", true},
                                Case{"backup_interval", "31536000", true},
                                Case{"backup_interval", "31536001", false},
                                Case{"backup_interval", "-1", false},
                                Case{"backup_keep", "1", true},
                                Case{"backup_keep", "10000", true},
                                Case{"backup_keep", "0", false},
                                Case{"backup_keep", "10001", false},
                                Case{"ui", "off", true},
                                Case{"ui", "2", false},
                                Case{"backup_dir", "/var/backups/sr/", true},
                                Case{"listen_redirect", "80", false},
                                Case{"listen_redirect", "[::]80", false}}) {
    SCOPED_TRACE(std::string(key) + "=" + value);
    std::map<std::string, std::string> f = {{key, value}};
    if (ok) {
      EXPECT_NO_THROW(load(flags_only(f)));
    } else {
      auto p = problems_of(flags_only(f));
      ASSERT_EQ(p.size(), 1u);
      EXPECT_EQ(p[0].rfind(std::string(key) + ": expected", 0), 0u) << p[0];
    }
  }
  Config c = load(flags_only({{"backup_dir", "/var/backups/sr/"}, {"ui", "off"}}));
  EXPECT_EQ(c.backup_dir, "/var/backups/sr");
  EXPECT_FALSE(c.ui);
  // An empty backup_dir means the default.
  EXPECT_EQ(load(flags_only({{"backup_dir", ""}, {"data_dir", "/d"}})).backup_dir, "/d/backups");
}

TEST(ConfigKeys, ListenRedirectNeedsNativeTlsAndItsOwnAddress) {
  const std::map<std::string, std::string> tls = {{"tls_cert", "/c.pem"}, {"tls_key", "/k.pem"}};
  auto with = [&](std::map<std::string, std::string> more) {
    more.insert(tls.begin(), tls.end());
    return flags_only(more);
  };
  Config c = load(with({{"listen_redirect", "[::1]:8081"}}));
  EXPECT_EQ(c.listen_redirect, "[::1]:8081");
  EXPECT_EQ(c.redirect_host, "::1");
  EXPECT_EQ(c.redirect_port, 8081);
  EXPECT_EQ(load(with({{"listen_redirect", "0.0.0.0:0"}})).redirect_port, 0);  // a free port
  auto p = problems_of(flags_only({{"listen_redirect", "0.0.0.0:80"}}));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].rfind("listen_redirect: redirects to HTTPS", 0), 0u) << p[0];
  p = problems_of(with({{"listen", "127.0.0.1:8443"}, {"listen_redirect", "127.0.0.1:8443"}}));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].rfind("listen_redirect: must differ from listen", 0), 0u) << p[0];
}

TEST(ConfigKeys, TotpKeyIsASecretLikeTheVaultKey) {
  EnvGuard env;
  const std::string key = generate_secret();
  env.set("STRONGROOM_TOTP_KEY", key);
  Config c = load(Sources{});
  EXPECT_EQ(c.totp_key.size(), 32u);
  EXPECT_EQ(c.totp_key_source, "env");
  // Exactly 32 bytes, and the value is never shown.
  auto p = problems_of(flags_only({{"totp_key", "too-short-secret-value"}}));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].rfind("totp_key: expected a 32-byte key", 0), 0u) << p[0];
  EXPECT_EQ(p[0].find("too-short"), std::string::npos) << p[0];
  // No command-line flag for secrets: --help routes them to the file and environment.
  EXPECT_NE(secrets_help().find("totp_key"), std::string::npos);
}

TEST(ConfigKeys, RateLimitNamesComeFromTheRulesTable) {
  std::string all;
  for (const auto& r : sr::ratelimit::kRules)
    all += (all.empty() ? "" : ",") + std::string(r.name) + "=1/1";
  Config c = load(flags_only({{"rate_limits", all}}));
  EXPECT_EQ(c.rate_limits.size(), std::size(sr::ratelimit::kRules));
  EXPECT_EQ(c.rate_limits.at("signin_2fa").count, 1);
  auto p = problems_of(flags_only({{"rate_limits", "signin_3fa=1/1"}}));
  ASSERT_EQ(p.size(), 1u);
  for (const auto& r : sr::ratelimit::kRules)
    EXPECT_NE(p[0].find(std::string(r.name)), std::string::npos) << p[0];
  // SPEC 13: the second step of signin, 5 per 5 minutes per user.
  const auto* twofa = sr::ratelimit::find_rule("signin_2fa");
  ASSERT_NE(twofa, nullptr);
  EXPECT_EQ(twofa->count, 5);
  EXPECT_EQ(twofa->period, 300);
  EXPECT_EQ(sr::ratelimit::find_rule("nope"), nullptr);
}

// Flags exist for every key that is not a secret; their help names the key's help and variable.
TEST(ConfigKeys, HelpTexts) {
  for (const auto& k : keys()) {
    std::string h = option_help(k);
    EXPECT_NE(h.find(std::string(k.help)), std::string::npos) << h;
    EXPECT_NE(h.find(env_name(k.name)), std::string::npos) << h;
    EXPECT_EQ(h.find('`'), std::string::npos) << h;  // plain text, not Markdown
    if (k.is_secret()) {
      EXPECT_NE(secrets_help().find(std::string(k.name)), std::string::npos);
    }
  }
  EXPECT_NO_THROW(load(flags_only({{"max-connections-per-ip", "9"}})));
}

// The key table of docs/configuration.md is the binary's own (`strongroom config-keys --markdown`):
// it cannot drift from the declarations.
TEST(ConfigKeys, DocsTableIsGeneratedFromTheDeclarations) {
  const std::string doc = slurp(docs_path());
  ASSERT_FALSE(doc.empty()) << docs_path();
  const std::string begin = "<!-- config-keys:begin", end = "<!-- config-keys:end -->";
  auto b = doc.find(begin), e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  b = doc.find('\n', b) + 1;
  const std::string table = doc.substr(b, e - b);
  EXPECT_EQ(table, keys_markdown())
      << "docs/configuration.md is out of date: replace its table between the config-keys "
         "markers with the output of `build/strongroom config-keys --markdown`";
  for (const auto& k : keys())
    EXPECT_NE(table.find("| `" + std::string(k.name) + "` |"), std::string::npos) << k.name;
}
