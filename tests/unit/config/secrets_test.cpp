#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config/config.hpp"
#include "config/test_helpers.hpp"
#include "util/encoding.hpp"

using namespace sr::config;
using cfgtest::EnvGuard;
using cfgtest::mode_of;
using cfgtest::TempDir;

namespace {
Config loaded(const std::string& profile, const std::string& data_dir,
              std::map<std::string, std::string> more = {}) {
  Sources s;
  s.use_environment = false;
  s.flags = std::move(more);
  s.flags["profile"] = profile;
  s.flags["data_dir"] = data_dir;
  return load(s);
}
std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

TEST(ConfigSecrets, DevelopmentCreatesOnceAndReuses) {
  TempDir d;
  const std::string dir = d.path() + "/nested/data";
  Config a = loaded("development", dir);
  prepare_secrets(a);
  EXPECT_EQ(a.jwt_secret.size(), 32u);
  EXPECT_EQ(a.vault_session_key.size(), 32u);
  EXPECT_EQ(a.jwt_secret_source, "generated");
  EXPECT_EQ(a.vault_session_key_source, "generated");
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(mode_of(dir + "/secrets"), 0600u);
  std::string text = slurp(dir + "/secrets");
  EXPECT_NE(text.find("jwt_secret="), std::string::npos);
  EXPECT_NE(text.find("vault_session_key="), std::string::npos);

  Config b = loaded("development", dir);  // a restart
  prepare_secrets(b);
  EXPECT_TRUE(a.jwt_secret.equals(b.jwt_secret));
  EXPECT_TRUE(a.vault_session_key.equals(b.vault_session_key));
  EXPECT_FALSE(a.jwt_secret.equals(a.vault_session_key));
  EXPECT_EQ(slurp(dir + "/secrets"), text);  // not rewritten
}

TEST(ConfigSecrets, ExistingDataDirIsKeptAndNoTempFilesLeft) {
  TempDir d;
  Config c = loaded("development", d.path());
  prepare_secrets(c);
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(d.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(ConfigSecrets, ExplicitSecretWinsAndIsNotStoredAgain) {
  TempDir d;
  const std::string key = generate_secret();
  Config c = loaded("development", d.path(), {{"jwt_secret", key}});
  prepare_secrets(c);
  EXPECT_EQ(c.jwt_secret_source, "flag");
  EXPECT_EQ(c.vault_session_key_source, "generated");
  Config again = loaded("development", d.path(), {{"jwt_secret", key}});
  prepare_secrets(again);
  EXPECT_TRUE(c.jwt_secret.equals(again.jwt_secret));
}

TEST(ConfigSecrets, MissingEntryIsAddedPreservingTheOther) {
  TempDir d;
  Config a = loaded("development", d.path());
  prepare_secrets(a);
  // Drop the vault key from the file: the next start adds one and keeps the JWT key.
  std::string text = slurp(d.path() + "/secrets"), kept;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("vault_session_key=", 0) != 0) kept += line + "\n";
  d.file("secrets", kept, 0600);
  Config b = loaded("development", d.path());
  prepare_secrets(b);
  EXPECT_TRUE(a.jwt_secret.equals(b.jwt_secret));
  EXPECT_EQ(b.vault_session_key.size(), 32u);
  EXPECT_EQ(mode_of(d.path() + "/secrets"), 0600u);
}

TEST(ConfigSecrets, RefusesGroupOrWorldReadableFile) {
  TempDir d;
  Config a = loaded("development", d.path());
  prepare_secrets(a);
  for (mode_t m : {0640, 0604, 0660}) {
    ::chmod((d.path() + "/secrets").c_str(), m);
    Config b = loaded("development", d.path());
    try {
      prepare_secrets(b);
      FAIL() << "accepted mode " << std::oct << m;
    } catch (const ConfigError& e) {
      ASSERT_EQ(e.problems().size(), 1u);
      EXPECT_NE(e.problems()[0].find("group or others"), std::string::npos) << e.problems()[0];
      EXPECT_TRUE(b.jwt_secret.empty());
    }
  }
}

TEST(ConfigSecrets, RefusesCorruptFileWithoutPrintingIt) {
  TempDir d;
  d.file("secrets", "jwt_secret=c2hvcnQ\nvault_session_key=!!!\n", 0600);
  Config c = loaded("development", d.path());
  try {
    prepare_secrets(c);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("c2hvcnQ"), std::string::npos) << e.what();
  }
}

TEST(ConfigSecrets, TestProfileIsEphemeral) {
  TempDir d;
  Config c = loaded("test", d.path() + "/data");
  prepare_secrets(c);
  EXPECT_EQ(c.jwt_secret.size(), 32u);
  EXPECT_EQ(c.jwt_secret_source, "ephemeral");
  EXPECT_EQ(c.vault_session_key_source, "ephemeral");
  EXPECT_FALSE(std::filesystem::exists(d.path() + "/data"));
  Config c2 = loaded("test", d.path() + "/data");
  prepare_secrets(c2);
  EXPECT_FALSE(c.jwt_secret.equals(c2.jwt_secret));
}

TEST(ConfigSecrets, ProductionLeavesThemMissing) {
  TempDir d;
  Config c = loaded("production", d.path() + "/data");
  prepare_secrets(c);
  EXPECT_TRUE(c.jwt_secret.empty());
  EXPECT_TRUE(c.vault_session_key.empty());
  EXPECT_EQ(c.jwt_secret_source, "missing");
  EXPECT_FALSE(std::filesystem::exists(d.path() + "/data"));
  auto p = production_problems(c);
  int secrets = 0;
  for (auto& s : p)
    if (s.rfind("jwt_secret:", 0) == 0 || s.rfind("vault_session_key:", 0) == 0) ++secrets;
  EXPECT_EQ(secrets, 2);
}

TEST(ConfigSecrets, EnvironmentSecretSource) {
  EnvGuard env;
  TempDir d;
  env.set("STRONGROOM_VAULT_SESSION_KEY", generate_secret());
  env.set("STRONGROOM_PROFILE", "test");
  Config c = load(Sources{});
  prepare_secrets(c);
  EXPECT_EQ(c.vault_session_key_source, "env");
  EXPECT_EQ(c.jwt_secret_source, "ephemeral");
}

// SPEC 13: totp_key is kept in the secrets file like the other keys.
TEST(ConfigSecrets, TotpKeyGeneratedStoredAndReused) {
  TempDir d;
  Config a = loaded("development", d.path());
  prepare_secrets(a);
  EXPECT_EQ(a.totp_key.size(), 32u);
  EXPECT_EQ(a.totp_key_source, "generated");
  EXPECT_NE(slurp(d.path() + "/secrets").find("totp_key="), std::string::npos);
  EXPECT_FALSE(a.totp_key.equals(a.vault_session_key));
  Config b = loaded("development", d.path());
  prepare_secrets(b);
  EXPECT_TRUE(a.totp_key.equals(b.totp_key));
  Config t = loaded("test", d.path() + "/t");
  prepare_secrets(t);
  EXPECT_EQ(t.totp_key_source, "ephemeral");
  EXPECT_EQ(t.totp_key.size(), 32u);
}

// A secrets file written before totp_key existed gets it on the next start; its other lines stay
// exactly as they were (sessions and vault sessions survive the upgrade).
TEST(ConfigSecrets, OlderFileGetsTotpKeyAndKeepsTheOthers) {
  TempDir d;
  const std::string jwt = generate_secret(), vault = generate_secret();
  const std::string old_file =
      "# strongroom development secrets\njwt_secret=" + jwt + "\nvault_session_key=" + vault + "\n";
  d.file("secrets", old_file, 0600);
  Config c = loaded("development", d.path());
  prepare_secrets(c);
  EXPECT_EQ(c.totp_key.size(), 32u);
  EXPECT_EQ(c.jwt_secret.view(), *sr::base64url_decode(jwt));
  EXPECT_EQ(c.vault_session_key.view(), *sr::base64url_decode(vault));
  const std::string now = slurp(d.path() + "/secrets");
  EXPECT_NE(now.find("jwt_secret=" + jwt + "\n"), std::string::npos) << now;
  EXPECT_NE(now.find("vault_session_key=" + vault + "\n"), std::string::npos) << now;
  EXPECT_NE(now.find("totp_key="), std::string::npos);
  EXPECT_EQ(mode_of(d.path() + "/secrets"), 0600u);
  // And the key is stable from then on.
  Config again = loaded("development", d.path());
  prepare_secrets(again);
  EXPECT_TRUE(c.totp_key.equals(again.totp_key));
  EXPECT_EQ(slurp(d.path() + "/secrets"), now);
}

TEST(ConfigSecrets, StoredTotpKeyOfTheWrongSizeIsRefused) {
  TempDir d;
  d.file("secrets",
         "jwt_secret=" + generate_secret() + "\nvault_session_key=" + generate_secret() +
             "\ntotp_key=" + sr::base64url_encode(std::string(40, 'x')) + "\n",
         0600);
  Config c = loaded("development", d.path());
  try {
    prepare_secrets(c);
    FAIL() << "accepted a 40-byte totp_key";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("totp_key"), std::string::npos) << e.what();
  }
}
