#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config/test_helpers.hpp"
#include "config/tls_helpers.hpp"

using namespace sr::config;
using cfgtest::dump;
using cfgtest::TempDir;

namespace {

// A production configuration that passes every check.
Config good(const TempDir& d) {
  return cfgtest::good_production(d);
}

int count(const std::vector<Finding>& f, const std::string& key, Severity s) {
  int n = 0;
  for (const auto& x : f)
    if (x.key == key && x.severity == s) ++n;
  return n;
}
int errors(const std::vector<Finding>& f) {
  int n = 0;
  for (const auto& x : f)
    if (x.severity == Severity::error) ++n;
  return n;
}

}  // namespace

TEST(ConfigCheck, GoodProductionHasNoFindings) {
  TempDir d;
  Config c = good(d);
  auto f = check(c, true);
  EXPECT_TRUE(f.empty()) << dump(f);
  EXPECT_TRUE(production_problems(c).empty());
}

TEST(ConfigCheck, EveryFindingSaysHowToFixIt) {
  TempDir d;
  Sources s;
  s.use_environment = false;
  s.flags = {{"profile", "production"}, {"data_dir", d.path()},        {"cookie_secure", "false"},
             {"cors_origins", "*"},     {"argon2_memory_kib", "1024"}, {"argon2_passes", "1"}};
  Config c = load(s);
  prepare_secrets(c);
  auto f = check(c, true);
  ASSERT_GE(f.size(), 5u) << dump(f);
  for (const auto& x : f) EXPECT_FALSE(x.fix.empty()) << x.key << ": " << x.message;
}

TEST(ConfigCheck, ProductionListsEveryProblemAtOnce) {
  TempDir d;
  Sources s;
  s.use_environment = false;
  s.flags = {{"profile", "production"},     {"data_dir", d.path()},
             {"cookie_secure", "false"},    {"cors_origins", "*"},
             {"argon2_memory_kib", "1024"}, {"argon2_passes", "1"},
             {"rate_limit_scale", "0.5"},   {"jwt_previous_secrets", "old"}};
  Config c = load(s);
  prepare_secrets(c);
  auto p = production_problems(c);
  std::string all;
  for (auto& x : p) all += x + "\n";
  for (const char* key : {"jwt_secret:", "vault_session_key:", "totp_key:", "jwt_previous_secrets:",
                          "cookie_secure:", "cors_origins:", "behind_tls_proxy:",
                          "argon2_memory_kib:", "argon2_passes:", "rate_limit_scale:"})
    EXPECT_NE(all.find(key), std::string::npos) << key << " missing from\n" << all;
  EXPECT_EQ(p.size(), 10u) << all;  // totp_key (SPEC 13) is the tenth
  EXPECT_NE(all.find("fix:"), std::string::npos);
}

TEST(ConfigCheck, WeakSecrets) {
  TempDir d;
  Config c = good(d);
  c.jwt_secret = sr::SecretBytes::from_view("0123456789abcdef");  // 16 bytes
  auto f = check(c, true);
  EXPECT_EQ(count(f, "jwt_secret", Severity::error), 1) << dump(f);
  EXPECT_NE(f[0].message.find("shorter than 32"), std::string::npos);
  c = good(d);
  c.vault_session_key = sr::SecretBytes::from_view(std::string(32, 'a'));  // low entropy
  f = check(c, true);
  EXPECT_EQ(count(f, "vault_session_key", Severity::error), 1) << dump(f);
  EXPECT_NE(dump(f).find("low entropy"), std::string::npos);
  c = good(d);
  c.jwt_previous_secrets.push_back(
      sr::SecretBytes::from_view("abababababababababababababababab"
                                 "abab"));
  f = check(c, true);
  EXPECT_EQ(count(f, "jwt_previous_secrets", Severity::error), 1) << dump(f);
  // Development without deploy: a weak explicit key is a warning, a missing one only info.
  Config dev = load(Sources{{}, {{"jwt_secret", "short"}}, false});
  f = check(dev, false);
  EXPECT_EQ(count(f, "jwt_secret", Severity::warning), 1) << dump(f);
  EXPECT_EQ(count(f, "vault_session_key", Severity::info), 1) << dump(f);
  EXPECT_EQ(errors(f), 0) << dump(f);
}

TEST(ConfigCheck, CookiesAndCors) {
  TempDir d;
  Config c = good(d);
  c.cookie_secure = false;
  c.cookie_samesite = "Lax";
  c.cors_origins = {"https://ok.example.com", "http://app.example.com"};
  auto f = check(c, true);
  EXPECT_EQ(count(f, "cookie_secure", Severity::error), 1) << dump(f);
  EXPECT_EQ(count(f, "cookie_samesite", Severity::warning), 1) << dump(f);
  EXPECT_EQ(count(f, "cors_origins", Severity::error), 1) << dump(f);
  // A non-https origin is an error of the audit, but not one that stops a production start.
  auto p = production_problems(c);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].rfind("cookie_secure:", 0), 0u);
  c.cors_origins = {"*"};
  EXPECT_EQ(count(check(c, true), "cors_origins", Severity::error), 1);
  EXPECT_EQ(production_problems(c).size(), 2u);
}

TEST(ConfigCheck, Tls) {
  TempDir d;
  Config c = good(d);
  c.behind_tls_proxy = false;
  auto f = check(c, true);
  EXPECT_EQ(count(f, "behind_tls_proxy", Severity::error), 1) << dump(f);
  // Native TLS needs a usable pair (check_round2_test.cpp covers the broken ones).
  auto pair = cfgtest::make_tls_pair(d.path(), "server", 0, 90L * 86400);
  c.tls_cert = pair.cert;
  c.tls_key = d.path() + "/absent.pem";
  f = check(c, true);
  EXPECT_EQ(count(f, "tls_key", Severity::error), 1) << dump(f);
  EXPECT_EQ(count(f, "behind_tls_proxy", Severity::error), 1) << dump(f);
  c.tls_key = pair.key;
  f = check(c, true);
  EXPECT_EQ(errors(f), 0) << dump(f);
  EXPECT_TRUE(production_problems(c).empty());
}

TEST(ConfigCheck, Argon2AndRateScale) {
  TempDir d;
  Config c = good(d);
  c.argon2_memory_kib = 19455;
  c.argon2_passes = 1;
  c.rate_limit_scale = 0.9;
  auto f = check(c, true);
  EXPECT_EQ(count(f, "argon2_memory_kib", Severity::error), 1) << dump(f);
  EXPECT_EQ(count(f, "argon2_passes", Severity::error), 1) << dump(f);
  EXPECT_EQ(count(f, "rate_limit_scale", Severity::error), 1) << dump(f);
  c = good(d);
  c.rate_limit_scale = 100;
  EXPECT_EQ(count(check(c, true), "rate_limit_scale", Severity::warning), 1);
}

TEST(ConfigCheck, PostgresTransport) {
  TempDir d;
  Config c = good(d);
  struct Case {
    const char* url;
    int errors, warnings;
  };
  for (auto [url, e, w] : {Case{"postgresql://u:p@db.example.com/sr", 1, 0},
                           Case{"postgresql://u:p@db.example.com/sr?sslmode=disable", 1, 0},
                           Case{"postgresql://u:p@db.example.com/sr?sslmode=require", 0, 1},
                           Case{"postgresql://u:p@db.example.com/sr?sslmode=verify-ca", 0, 1},
                           Case{"postgresql://u:p@db.example.com/sr?sslmode=verify-full", 0, 0},
                           Case{"postgresql://u:p@localhost/sr", 0, 0},
                           Case{"postgresql://u:p@127.0.0.1:5432/sr", 0, 0},
                           Case{"postgresql://u:p@[::1]:5432/sr", 0, 0},
                           Case{"postgresql:///sr?host=/run/postgresql", 0, 0},
                           Case{"postgresql://localhost,10.1.2.3/sr", 1, 0}}) {
    c.database_url = url;
    auto f = check(c, true);
    EXPECT_EQ(count(f, "database_url", Severity::error), e) << url << "\n" << dump(f);
    EXPECT_EQ(count(f, "database_url", Severity::warning), w) << url << "\n" << dump(f);
    EXPECT_EQ(dump(f).find("u:p@"), std::string::npos);
  }
}

TEST(ConfigCheck, DataDirPermissions) {
  TempDir d;
  Config c = good(d);
  ::chmod(d.path().c_str(), 0777);
  EXPECT_EQ(count(check(c, true), "data_dir", Severity::error), 1);
  ::chmod(d.path().c_str(), 0755);
  EXPECT_EQ(count(check(c, true), "data_dir", Severity::warning), 1);
  ::chmod(d.path().c_str(), 0700);
  d.file("secrets", "jwt_secret=x\n", 0644);
  EXPECT_EQ(count(check(c, true), "data_dir", Severity::error), 1);
  c.data_dir = d.path() + "/does-not-exist";
  EXPECT_EQ(count(check(c, true), "data_dir", Severity::error), 0);
}

TEST(ConfigCheck, NetworksAndProfile) {
  TempDir d;
  Config c = good(d);
  c.metrics_allow = {"127.0.0.1", "::1", "10.0.0.0/8"};
  c.trusted_proxies = {"0.0.0.0/0", "::/0", "10.0.0.5"};
  auto f = check(c, true);
  EXPECT_EQ(count(f, "metrics_allow", Severity::warning), 1) << dump(f);
  EXPECT_EQ(count(f, "trusted_proxies", Severity::error), 2) << dump(f);

  c = good(d);
  c.profile = "development";
  f = check(c, true);
  EXPECT_EQ(count(f, "profile", Severity::warning), 1) << dump(f);
  EXPECT_EQ(count(check(c, false), "profile", Severity::warning), 0);

  c = good(d);
  c.behind_tls_proxy = true;
  c.trusted_proxies.clear();
  EXPECT_EQ(count(check(c, true), "trusted_proxies", Severity::warning), 1);
}

TEST(ConfigCheck, DevelopmentDefaultsHaveNoErrors) {
  TempDir d;
  Config c = load(Sources{{}, {{"data_dir", d.path()}}, false});
  ::chmod(d.path().c_str(), 0700);
  prepare_secrets(c);
  auto f = check(c, false);
  EXPECT_EQ(errors(f), 0) << dump(f);
  // The same configuration judged as a deployment fails.
  auto deploy = check(c, true);
  EXPECT_GT(errors(deploy), 0);
  EXPECT_EQ(count(deploy, "cookie_secure", Severity::error), 1);
  EXPECT_EQ(count(deploy, "jwt_secret", Severity::warning), 1) << dump(deploy);  // generated
}
