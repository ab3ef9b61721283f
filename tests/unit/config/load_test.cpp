#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "config/config.hpp"
#include "config/test_helpers.hpp"

using namespace sr::config;
using cfgtest::EnvGuard;
using cfgtest::flags_only;
using cfgtest::problems_of;
using cfgtest::TempDir;

namespace {

bool starts_with(const std::string& s, const std::string& p) {
  return s.rfind(p, 0) == 0;
}

}  // namespace

TEST(ConfigLoad, DevelopmentDefaults) {
  Config c = load(flags_only({}));
  EXPECT_EQ(c.profile, "development");
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 8080);
  EXPECT_EQ(c.data_dir, "./data");
  EXPECT_EQ(c.database_url, "sqlite://./data/strongroom.db");
  EXPECT_TRUE(c.redis_url.empty());
  EXPECT_FALSE(c.cookie_secure);
  EXPECT_EQ(c.cookie_samesite, "Strict");
  EXPECT_EQ(c.cors_origins,
            (std::vector<std::string>{"http://localhost:5173", "http://127.0.0.1:5173"}));
  EXPECT_EQ(c.metrics_allow, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(c.access_ttl, 900);
  EXPECT_EQ(c.refresh_ttl, 604800);
  EXPECT_EQ(c.vault_ttl, 300);
  EXPECT_EQ(c.argon2_memory_kib, 19456);
  EXPECT_EQ(c.argon2_passes, 2);
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_EQ(c.threads, static_cast<int>(cores));
  EXPECT_EQ(c.hash_workers, static_cast<int>(cores));
  EXPECT_TRUE(c.jwt_secret.empty());
  EXPECT_EQ(c.jwt_secret_source, "missing");
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigLoad, ProfilesDecideDefaults) {
  Config p = load(flags_only({{"profile", "production"}}));
  EXPECT_TRUE(p.cookie_secure);
  EXPECT_TRUE(p.cors_origins.empty());
  Config t = load(flags_only({{"profile", "test"}}));
  EXPECT_FALSE(t.cookie_secure);
  EXPECT_TRUE(t.cors_origins.empty());
  // An explicit value still wins over the profile's default.
  Config p2 = load(flags_only({{"profile", "production"}, {"cookie_secure", "false"}}));
  EXPECT_FALSE(p2.cookie_secure);
}

TEST(ConfigLoad, ProfileFromFileDecidesDefaultsAndEnvOverrides) {
  EnvGuard env;
  TempDir d;
  Sources s;
  s.config_file = d.file("c.toml", "profile = \"production\"\n");
  EXPECT_TRUE(load(s).cookie_secure);
  env.set("STRONGROOM_PROFILE", "development");
  Config c = load(s);
  EXPECT_EQ(c.profile, "development");
  EXPECT_FALSE(c.cookie_secure);
  EXPECT_EQ(c.cors_origins.size(), 2u);
}

TEST(ConfigLoad, PrecedenceFileEnvFlags) {
  EnvGuard env;
  TempDir d;
  Sources s;
  s.config_file = d.file("c.toml", "access_ttl = 100\nrefresh_ttl = 5000\nlog_level = \"warn\"\n");
  EXPECT_EQ(load(s).access_ttl, 100);
  env.set("STRONGROOM_ACCESS_TTL", "200");
  EXPECT_EQ(load(s).access_ttl, 200);
  s.flags["access_ttl"] = "300";
  Config c = load(s);
  EXPECT_EQ(c.access_ttl, 300);
  EXPECT_EQ(c.refresh_ttl, 5000);  // untouched keys keep the file's value
  EXPECT_EQ(c.log_level, "warn");
  s.use_environment = false;
  s.flags.clear();
  EXPECT_EQ(load(s).access_ttl, 100);
}

TEST(ConfigLoad, ConfigFileFromEnvironment) {
  EnvGuard env;
  TempDir d;
  env.set("STRONGROOM_CONFIG", d.file("c.toml", "listen = \"0.0.0.0:443\"\n"));
  Config c = load(Sources{});
  EXPECT_EQ(c.port, 443);
  EXPECT_EQ(c.config_file, d.path() + "/c.toml");
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigLoad, ListsFromArraysAndCommaStrings) {
  EnvGuard env;
  TempDir d;
  Sources s;
  s.config_file =
      d.file("c.toml",
             "cors_origins = [\"https://a.example.com\", \"https://b.example.com:8443\"]\n"
             "trusted_proxies = \"10.0.0.0/8, 192.168.1.1 ,\"\n"
             "jwt_previous_secrets = [\"" +
                 std::string(64, 'a') + "\"]\n");
  env.set("STRONGROOM_METRICS_ALLOW", "127.0.0.1,10.1.0.0/16,fd00::/8");
  Config c = load(s);
  EXPECT_EQ(c.cors_origins,
            (std::vector<std::string>{"https://a.example.com", "https://b.example.com:8443"}));
  EXPECT_EQ(c.trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "192.168.1.1"}));
  EXPECT_EQ(c.metrics_allow, (std::vector<std::string>{"127.0.0.1", "10.1.0.0/16", "fd00::/8"}));
  ASSERT_EQ(c.jwt_previous_secrets.size(), 1u);
  EXPECT_EQ(c.jwt_previous_secrets[0].size(), 32u);  // 64 hex digits
  // An empty string clears a list (no default CORS origins).
  EXPECT_TRUE(load(flags_only({{"cors_origins", ""}})).cors_origins.empty());
}

TEST(ConfigLoad, RateLimitsTableStringAndEnvMergePerName) {
  EnvGuard env;
  TempDir d;
  Sources s;
  s.config_file = d.file("c.toml",
                         "[rate_limits]\nsignin = \"5/60\"\nsignup = {count = 3, period = 3600}\n"
                         "anonymous = \"100/60\"\n");
  env.set("STRONGROOM_RATE_LIMITS", "signup=10/60, refresh=20/60");
  s.flags["rate_limits"] = "anonymous=50/30";
  Config c = load(s);
  ASSERT_EQ(c.rate_limits.size(), 4u);
  EXPECT_EQ(c.rate_limits["signin"].count, 5);
  EXPECT_EQ(c.rate_limits["signin"].period, 60);
  EXPECT_EQ(c.rate_limits["signup"].count, 10);  // env over file
  EXPECT_EQ(c.rate_limits["refresh"].period, 60);
  EXPECT_EQ(c.rate_limits["anonymous"].count, 50);  // flag over file
  EXPECT_EQ(c.rate_limits["anonymous"].period, 30);
}

TEST(ConfigLoad, RateLimitsMalformed) {
  TempDir d;
  for (std::string body : {"[rate_limits]\nsignin = \"5\"\n", "[rate_limits]\nsingin = \"5/60\"\n",
                           "[rate_limits]\nsignin = {count = 5}\n",
                           "[rate_limits]\nsignin = {count = 5, period = 60, burst = 2}\n",
                           "[rate_limits]\nsignin = \"0/60\"\n", "rate_limits = 5\n"}) {
    Sources s;
    s.use_environment = false;
    s.config_file = d.file("r.toml", body);
    auto p = problems_of(s);
    ASSERT_EQ(p.size(), 1u) << body;
    EXPECT_TRUE(starts_with(p[0], "rate_limits")) << p[0];
  }
  for (std::string v : {"signin", "signin=5/x", "nope=1/1", "signin=1/0"}) {
    auto p = problems_of(flags_only({{"rate_limits", v}}));
    ASSERT_EQ(p.size(), 1u);
    EXPECT_TRUE(starts_with(p[0], "rate_limits: expected")) << p[0];
  }
}

TEST(ConfigLoad, ListenParsing) {
  struct Case {
    const char* text;
    const char* host;
    int port;
  };
  for (auto [text, host, port] :
       {Case{"127.0.0.1:8080", "127.0.0.1", 8080}, Case{"[::1]:0", "::1", 0},
        Case{"0.0.0.0:443", "0.0.0.0", 443}, Case{"localhost:65535", "localhost", 65535}}) {
    Config c = load(flags_only({{"listen", text}}));
    EXPECT_EQ(c.host, host);
    EXPECT_EQ(c.port, port);
    EXPECT_EQ(c.listen, text);
  }
  for (const char* bad : {"127.0.0.1", "127.0.0.1:65536", "::1:80", "[::1]", "[::1]80",
                          "127.0.0.1:-1", ":8080", "1.2.3.999:80", "[zz]:80", "host:8o"}) {
    auto p = problems_of(flags_only({{"listen", bad}}));
    ASSERT_EQ(p.size(), 1u) << bad;
    EXPECT_TRUE(starts_with(p[0], "listen: expected")) << p[0];
  }
}

// Every key, given a malformed value, yields a problem that names it; all are reported at once.
TEST(ConfigLoad, EveryMalformedKeyIsNamedAndAllAreCollected) {
  const std::map<std::string, std::string> bad = {
      {"profile", "staging"},
      {"listen", "localhost"},
      {"data_dir", ""},
      {"database_url", "mysql://u:hunter2@db/x"},
      {"redis_url", "http://cache"},
      {"vault_session_key", "too-short-secret-value"},
      {"jwt_issuer", "has space"},
      {"access_ttl", "abc"},
      {"refresh_ttl", "0"},
      {"vault_ttl", "-1"},
      {"vault_max_ttl", "1.5"},
      {"session_max_ttl", "-5"},
      {"cookie_secure", "maybe"},
      {"cookie_samesite", "None"},
      {"cors_origins", "ftp://x.example"},
      {"trusted_proxies", "*"},
      {"rate_limit_scale", "0"},
      {"rate_limits", "signin=5"},
      {"hash_workers", "-1"},
      {"hash_max_queue", "0"},
      {"argon2_memory_kib", "4"},
      {"argon2_passes", "0"},
      {"db_pool_size", "0"},
      {"db_statement_timeout_ms", "soon"},
      {"metrics_allow", "localhost"},
      {"log_level", "verbose"},
      {"tls_cert", "/etc/cert.pem"},  // without tls_key
      {"behind_tls_proxy", "2"},
      {"threads", "2000"},
      {"max_connections", "0"},
      {"password_composition_rules", "sometimes"},
      {"migrate_on_start", "later"},
      {"sqlite_exclusive", "sometimes"},
      {"totp_key", "too-short-secret-value"},
      {"listen_redirect", "nowhere"},
      {"max_connections_per_ip", "0"},
      {"idle_timeout", "0"},
      {"vault_max_bytes", "65535"},
      {"backup_interval", "-1"},
      {"backup_keep", "0"},
      {"ui", "perhaps"},
  };
  // Keys whose any text is valid (paths, keys of any form).
  const std::set<std::string> free_text = {"jwt_secret", "jwt_previous_secrets", "log_file",
                                           "tls_key", "backup_dir"};
  for (const auto& k : known_keys())
    EXPECT_TRUE(bad.count(k) || free_text.count(k)) << "no malformed case for " << k;

  for (const auto& [key, value] : bad) {
    auto p = problems_of(flags_only({{key, value}}));
    ASSERT_EQ(p.size(), 1u) << key;
    std::string expect_key = key == "tls_cert" ? "tls_key" : key;
    EXPECT_TRUE(starts_with(p[0], expect_key + ":")) << p[0];
  }

  std::map<std::string, std::string> all(bad.begin(), bad.end());
  all.erase("profile");  // keep the profile valid so that nothing is masked
  auto p = problems_of(flags_only(all));
  EXPECT_EQ(p.size(), all.size());
}

TEST(ConfigLoad, MessagesNameWhatWasExpectedAndWhere) {
  EnvGuard env;
  env.set("STRONGROOM_ACCESS_TTL", "abc");
  Sources s;
  auto p = problems_of(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0],
            "access_ttl: expected a positive integer of seconds, got \"abc\" (from "
            "STRONGROOM_ACCESS_TTL)");
}

TEST(ConfigLoad, SecretsAndPasswordsNeverInMessages) {
  auto p = problems_of(flags_only({{"vault_session_key", "too-short-secret-value"}}));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].find("too-short"), std::string::npos) << p[0];
  try {
    load(flags_only({{"database_url", "mysql://u:hunter2@db/x"}}));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("database_url"), std::string::npos);
  }
  TempDir d;
  Sources s;
  s.use_environment = false;
  s.config_file = d.file("c.toml", "jwt_secret = [1, 2]\n");
  p = problems_of(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(starts_with(p[0], "jwt_secret: expected")) << p[0];
}

TEST(ConfigLoad, UnknownFileKeyIsAnError) {
  TempDir d;
  Sources s;
  s.use_environment = false;
  s.config_file = d.file("c.toml", "acess_ttl = 5\nlisten = \"127.0.0.1:9\"\n[server]\nx = 1\n");
  auto p = problems_of(s);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_TRUE(starts_with(p[0], "acess_ttl: unknown key")) << p[0];
  EXPECT_NE(p[0].find("did you mean access_ttl"), std::string::npos) << p[0];
  EXPECT_TRUE(starts_with(p[1], "server: unknown key")) << p[1];
}

TEST(ConfigLoad, UnknownFlagIsAnError) {
  auto p = problems_of(flags_only({{"acces-ttl", "5"}}));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(starts_with(p[0], "acces_ttl: unknown flag")) << p[0];
  EXPECT_EQ(load(flags_only({{"access-ttl", "5"}})).access_ttl, 5);
}

TEST(ConfigLoad, UnknownEnvironmentVariableIsAWarning) {
  EnvGuard env;
  env.set("STRONGROOM_ACESS_TTL", "5");
  env.set("STRONGROOM_access_ttl", "6");  // names are upper case
  env.set("STRONGROOM_LISTEN", "127.0.0.1:9000");
  Config c = load(Sources{});
  EXPECT_EQ(c.port, 9000);
  EXPECT_EQ(c.access_ttl, 900);
  ASSERT_EQ(c.warnings.size(), 2u);
  std::string all = c.warnings[0] + "\n" + c.warnings[1];
  EXPECT_NE(all.find("STRONGROOM_ACESS_TTL: not a configuration variable"), std::string::npos);
  EXPECT_NE(all.find("did you mean STRONGROOM_ACCESS_TTL"), std::string::npos);
  EXPECT_NE(all.find("STRONGROOM_access_ttl"), std::string::npos);
  // With the environment turned off, nothing is read or warned about.
  Sources s;
  s.use_environment = false;
  Config c2 = load(s);
  EXPECT_EQ(c2.port, 8080);
  EXPECT_TRUE(c2.warnings.empty());
}

TEST(ConfigLoad, TomlSyntaxErrorAndMissingFile) {
  TempDir d;
  Sources s;
  s.use_environment = false;
  s.config_file = d.file("bad.toml", "listen = \"127.0.0.1:80\nx = \n");
  auto p = problems_of(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(starts_with(p[0], "config file " + d.path() + "/bad.toml:")) << p[0];
  s.config_file = d.path() + "/absent.toml";
  p = problems_of(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].find("absent.toml"), std::string::npos);
}

TEST(ConfigLoad, FileTypesAreChecked) {
  TempDir d;
  Sources s;
  s.use_environment = false;
  s.config_file = d.file("c.toml",
                         "access_ttl = [1]\ncors_origins = [1]\nlisten = {a = 1}\n"
                         "cookie_secure = true\nrate_limit_scale = 2.5\nthreads = 3\n");
  auto p = problems_of(s);
  ASSERT_EQ(p.size(), 3u);
  s.config_file = d.file("ok.toml", "cookie_secure = true\nrate_limit_scale = 2.5\nthreads = 3\n");
  Config c = load(s);
  EXPECT_TRUE(c.cookie_secure);
  EXPECT_DOUBLE_EQ(c.rate_limit_scale, 2.5);
  EXPECT_EQ(c.threads, 3);
}

TEST(ConfigLoad, SecretEncodings) {
  const std::string hex(64, 'f');                                          // 32 bytes of 0xff
  const std::string b64u = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";  // bytes 0..31
  const std::string b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  const std::string raw = "correct horse battery staple, but longer";
  Config c = load(flags_only({{"jwt_secret", hex}, {"vault_session_key", b64u}}));
  ASSERT_EQ(c.jwt_secret.size(), 32u);
  EXPECT_EQ(c.jwt_secret.data()[0], 0xff);
  ASSERT_EQ(c.vault_session_key.size(), 32u);
  EXPECT_EQ(c.vault_session_key.data()[31], 31);
  EXPECT_EQ(c.jwt_secret_source, "flag");
  c = load(flags_only({{"jwt_secret", raw}, {"vault_session_key", b64}}));
  EXPECT_EQ(c.jwt_secret.view(), raw);
  EXPECT_EQ(c.vault_session_key.data()[1], 1);
  c = load(flags_only({{"jwt_secret", "short"}}));  // short keys load; check() reports them
  EXPECT_EQ(c.jwt_secret.size(), 5u);
}

TEST(ConfigLoad, DatabaseUrls) {
  Config c = load(flags_only({{"data_dir", "/var/lib/sr/"}}));
  EXPECT_EQ(c.data_dir, "/var/lib/sr");
  EXPECT_EQ(c.database_url, "sqlite:///var/lib/sr/strongroom.db");
  for (const char* ok : {"postgresql://u:p@db.example.com:5432/sr?sslmode=verify-full",
                         "postgres://localhost/sr", "postgresql:///sr?host=/run/postgresql",
                         "postgresql://h1:5432,h2:5433/sr", "sqlite:///tmp/x.db"})
    EXPECT_EQ(load(flags_only({{"database_url", ok}})).database_url, ok);
  for (const char* bad : {"mysql://x/y", "sqlite://", "postgresql://h/db?sslmode=sometimes",
                          "postgresql://h:99999/db", "/tmp/x.db"}) {
    auto p = problems_of(flags_only({{"database_url", bad}}));
    ASSERT_EQ(p.size(), 1u) << bad;
    EXPECT_TRUE(starts_with(p[0], "database_url: expected")) << p[0];
  }
}

TEST(ConfigLoad, CrossKeyRules) {
  auto p = problems_of(flags_only({{"access_ttl", "1000"}, {"refresh_ttl", "999"}}));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(starts_with(p[0], "access_ttl:"));
  p = problems_of(flags_only({{"vault_ttl", "2000"}}));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(starts_with(p[0], "vault_ttl:"));
  Config c = load(flags_only({{"tls_cert", "/a"}, {"tls_key", "/b"}, {"cookie_samesite", "lax"}}));
  EXPECT_EQ(c.cookie_samesite, "Lax");
}

TEST(ConfigLoad, TlsMakesCookiesSecureUnlessSaidOtherwise) {
  EnvGuard env;
  EXPECT_FALSE(load(flags_only({})).cookie_secure);
  EXPECT_TRUE(load(flags_only({{"tls_cert", "/a"}, {"tls_key", "/b"}})).cookie_secure);
  EXPECT_TRUE(load(flags_only({{"behind_tls_proxy", "true"}})).cookie_secure);
  EXPECT_FALSE(load(flags_only({{"tls_cert", "/a"}, {"tls_key", "/b"}, {"cookie_secure", "false"}}))
                   .cookie_secure);
}

TEST(ConfigLoad, KnownKeysAndGenerateSecret) {
  const auto& keys = known_keys();
  for (const char* k : {"profile",
                        "listen",
                        "data_dir",
                        "database_url",
                        "redis_url",
                        "jwt_secret",
                        "jwt_previous_secrets",
                        "vault_session_key",
                        "access_ttl",
                        "refresh_ttl",
                        "vault_ttl",
                        "cookie_secure",
                        "cookie_samesite",
                        "cors_origins",
                        "trusted_proxies",
                        "rate_limit_scale",
                        "hash_workers",
                        "hash_max_queue",
                        "argon2_memory_kib",
                        "argon2_passes",
                        "db_pool_size",
                        "metrics_allow",
                        "log_file",
                        "tls_cert",
                        "tls_key",
                        "behind_tls_proxy",
                        "threads"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  std::string a = generate_secret(), b = generate_secret();
  EXPECT_EQ(a.size(), 43u);
  EXPECT_NE(a, b);
  Config c = load(flags_only({{"jwt_secret", a}}));
  EXPECT_EQ(c.jwt_secret.size(), 32u);
}
