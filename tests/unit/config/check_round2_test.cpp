// The check --deploy findings of round 2 (SPEC 14, 15, 16): secrets that are text or read like
// words, per-rule limits above the defaults, trusted proxy ranges reaching public address space,
// the native TLS files, scheduled backups off.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cmath>

#include "config/config.hpp"
#include "config/detail.hpp"
#include "config/test_helpers.hpp"
#include "config/tls_helpers.hpp"
#include "ratelimit/rules.hpp"
#include "util/encoding.hpp"
#include "util/random.hpp"

using namespace sr::config;
using cfgtest::dump;
using cfgtest::TempDir;

namespace {

Config good(const TempDir& d, std::map<std::string, std::string> more = {}) {
  return cfgtest::good_production(d, std::move(more));
}

std::vector<Finding> of_key(const std::vector<Finding>& f, const std::string& key, Severity s) {
  std::vector<Finding> out;
  for (const auto& x : f)
    if (x.key == key && x.severity == s) out.push_back(x);
  return out;
}
bool mentions(const std::vector<std::string>& problems, const std::string& key) {
  for (const auto& p : problems)
    if (p.rfind(key + ":", 0) == 0) return true;
  return false;
}

// Phrases a person might use as a key that decode as base64url (the review's finding: such a
// phrase used to pass as "32 random bytes").
const char* const kPhrases[] = {
    "this-is-a-very-secret-phrase-for-the-jwt-signing-key",
    "CorrectHorseBatteryStapleIsMyFavoriteSecretKeyOk",
    "supersecretjwtkeythatnobodywillguessever1234",
    "THE_PRODUCTION_JWT_SIGNING_KEY_FOR_OUR_COMPANY_SITE",
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
};

}  // namespace

TEST(ConfigCheckRound2, PhrasesThatDecodeAsBase64urlAreNotRandom) {
  TempDir d;
  for (const char* phrase : kPhrases) {
    SCOPED_TRACE(phrase);
    auto decoded = sr::base64url_decode(phrase);
    ASSERT_TRUE(decoded && decoded->size() >= 32) << "precondition: decodes to >= 32 bytes";
    Config c = good(d, {{"jwt_secret", phrase}});
    ASSERT_EQ(c.jwt_secret.size(), decoded->size());
    auto f = check(c, true);
    auto errs = of_key(f, "jwt_secret", Severity::error);
    ASSERT_EQ(errs.size(), 1u) << dump(f);
    EXPECT_NE(errs[0].message.find("does not look random"), std::string::npos) << errs[0].message;
    EXPECT_EQ(dump(f).find(phrase), std::string::npos);  // the value is never shown
    EXPECT_TRUE(mentions(production_problems(c), "jwt_secret"));
    // Outside a deployment judgement it is a warning.
    Config dev = load(Sources{{}, {{"jwt_secret", phrase}}, false});
    EXPECT_EQ(of_key(check(dev, false), "jwt_secret", Severity::warning).size(), 1u);
  }
}

TEST(ConfigCheckRound2, SecretsThatArePrintableTextAreWeak) {
  TempDir d;
  const std::string text_key = "my production signing key: typed by hand!";  // raw text
  const std::string b64_text = sr::base64_encode("an ASCII sentence, base64-encoded, is no key");
  const std::string utf8_text =
      "\xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c "
      "\xd0\xb4\xd0\xbb\xd1\x8f \xd0\xbf\xd1\x80\xd0\xbe\xd0\xb4\xd0\xb0 "
      "\xd0\xb8 \xd0\xb2\xd1\x81\xd1\x91 \xd1\x82\xd1\x83\xd1\x82";
  for (const std::string& v : {text_key, b64_text, utf8_text}) {
    Config c = good(d, {{"vault_session_key", generate_secret()}, {"jwt_secret", v}});
    ASSERT_GE(c.jwt_secret.size(), 32u);
    auto errs = of_key(check(c, true), "jwt_secret", Severity::error);
    ASSERT_EQ(errs.size(), 1u) << v;
    EXPECT_NE(errs[0].message.find("printable text"), std::string::npos) << errs[0].message;
  }
  // Previous keys are judged the same way: a weak verify-only key still forges.
  Config c = good(d, {{"jwt_previous_secrets", text_key}});
  EXPECT_EQ(of_key(check(c, true), "jwt_previous_secrets", Severity::error).size(), 1u);
}

TEST(ConfigCheckRound2, RandomKeysPass) {
  TempDir d;
  // gen-secret, and random bytes in each accepted spelling.
  for (int i = 0; i < 200; ++i) {
    std::string bytes(32 + i % 33, '\0');
    sr::random_fill(bytes.data(), bytes.size());
    for (const std::string& v : {generate_secret(), sr::hex_encode(bytes),
                                 sr::base64url_encode(bytes), sr::base64_encode(bytes)}) {
      Config c = good(d, {{"jwt_secret", v}});
      auto f = check(c, true);
      ASSERT_TRUE(f.empty()) << dump(f);
    }
  }
}

// The bound of the word test rests on its model being a probability distribution over texts of
// each length: then the mean likelihood ratio over uniformly random texts is exactly 1, and
// P(ratio >= 2^30) <= 2^-30 (Markov). Checked exhaustively for lengths 1 to 3.
TEST(ConfigCheckRound2, WordModelIsAProbabilityDistribution) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int n = 1; n <= 3; ++n) {
    double sum = 0;
    std::string t(static_cast<size_t>(n), 'A');
    const long total = std::lround(std::pow(64, n));
    for (long i = 0; i < total; ++i) {
      long x = i;
      for (int j = 0; j < n; ++j, x /= 64) t[static_cast<size_t>(j)] = alphabet[x % 64];
      sum += std::exp2(detail::word_likeness_bits(t));
    }
    EXPECT_NEAR(sum / static_cast<double>(total), 1.0, 1e-9) << "length " << n;
  }
  // Random keys score far below the limit; the phrases above far beyond it.
  double worst = -1e9;
  for (int i = 0; i < 20000; ++i)
    worst = std::max(worst, detail::word_likeness_bits(sr::random_token(32)));
  EXPECT_LT(worst, detail::kWordLikenessLimit);
  for (const char* phrase : kPhrases)
    EXPECT_GE(detail::word_likeness_bits(phrase), detail::kWordLikenessLimit) << phrase;
}

TEST(ConfigCheckRound2, RateLimitsRaisedAboveTheDefaults) {
  TempDir d;
  const auto* signin = sr::ratelimit::find_rule("signin");
  ASSERT_NE(signin, nullptr);
  auto rule = [](int64_t count, int64_t period) {
    return std::to_string(count) + "/" + std::to_string(period);
  };
  struct Case {
    std::string value;
    int warnings;
  };
  for (const auto& [value, warnings] :
       {Case{"signin=100000/1", 1},                                        // the review's 100000/s
        Case{"signin=" + rule(signin->count + 1, signin->period), 1},      // more per period
        Case{"signin=" + rule(signin->count, signin->period - 1), 1},      // faster rate
        Case{"signin=" + rule(signin->count * 2, signin->period * 2), 1},  // larger burst
        Case{"signin=" + rule(signin->count, signin->period), 0},          // the default
        Case{"signin=" + rule(signin->count, signin->period * 2), 0},      // stricter
        Case{"signin=1/3600,signup=1/86400", 0},
        Case{"anonymous=100000/60,sensitive=50/3600,signin_2fa=6/300", 3}}) {
    Config c = good(d, {{"rate_limits", value}});
    auto f = check(c, true);
    EXPECT_EQ(static_cast<int>(of_key(f, "rate_limits", Severity::warning).size()), warnings)
        << value << "\n"
        << dump(f);
    EXPECT_TRUE(production_problems(c).empty()) << value;  // a warning does not stop a start
  }
  // Outside a deployment judgement (development profile, no --deploy): not reported.
  Config dev = load(Sources{{}, {{"rate_limits", "signin=100000/1"}}, false});
  EXPECT_TRUE(of_key(check(dev, false), "rate_limits", Severity::warning).empty());
}

TEST(ConfigCheckRound2, TrustedProxyRangesReachingPublicSpace) {
  TempDir d;
  struct Case {
    const char* proxies;
    int warnings, errors;
  };
  for (auto [proxies, warnings, errors] :
       {Case{"128.0.0.0/1", 1, 0},  // the review's half of the Internet
        Case{"10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fd00::/8,fe80::/10", 0, 0},
        Case{"127.0.0.1,::1,169.254.0.0/16", 0, 0}, Case{"203.0.113.7", 0, 0},  // one address
        Case{"2001:db8::1", 0, 0}, Case{"2001:db8::/32", 1, 0}, Case{"8.0.0.0/8", 1, 0},
        Case{"10.0.0.0/7", 1, 0},  // 10/8 and the public 11/8
        Case{"0.0.0.0/0,::/0", 0, 2}, Case{"::ffff:0.0.0.0/96", 0, 1}}) {
    Config c = good(d, {{"trusted_proxies", proxies}});
    for (bool deploy : {true, false}) {
      auto f = check(c, deploy);
      EXPECT_EQ(static_cast<int>(of_key(f, "trusted_proxies", Severity::warning).size()), warnings)
          << proxies << "\n"
          << dump(f);
      EXPECT_EQ(static_cast<int>(of_key(f, "trusted_proxies", Severity::error).size()), errors)
          << proxies << "\n"
          << dump(f);
    }
  }
}

TEST(ConfigCheckRound2, TlsCertificateValidity) {
  TempDir d;
  const long day = 86400;
  struct Case {
    const char* name;
    long from, to;
    int errors, warnings;
  };
  for (auto [name, from, to, errors, warnings] :
       {Case{"fresh", -day, 90 * day, 0, 0}, Case{"expiring", -day, 5 * day, 0, 1},
        Case{"almost", -day, 15 * day, 0, 0}, Case{"expired", -90 * day, -day, 1, 0},
        Case{"future", day, 90 * day, 1, 0}}) {
    SCOPED_TRACE(name);
    auto pair = cfgtest::make_tls_pair(d.path(), name, from, to);
    Config c =
        good(d, {{"tls_cert", pair.cert}, {"tls_key", pair.key}, {"behind_tls_proxy", "false"}});
    auto f = check(c, true);
    EXPECT_EQ(static_cast<int>(of_key(f, "tls_cert", Severity::error).size()), errors) << dump(f);
    EXPECT_EQ(static_cast<int>(of_key(f, "tls_cert", Severity::warning).size()), warnings)
        << dump(f);
    EXPECT_TRUE(of_key(f, "tls_key", Severity::error).empty()) << dump(f);
    // A certificate problem is reported, but the listener can load the pair: no refused start.
    EXPECT_TRUE(production_problems(c).empty()) << dump(f);
  }
}

TEST(ConfigCheckRound2, TlsPairThatCannotBeUsedStopsProduction) {
  TempDir d;
  auto good_pair = cfgtest::make_tls_pair(d.path(), "ok", -60, 90L * 86400);
  auto other = cfgtest::make_tls_pair(d.path(), "other", -60, 90L * 86400, /*other_key=*/true);
  const std::string garbage = d.file("garbage.pem", "-----BEGIN CERTIFICATE-----\nnope\n", 0600);
  // An encrypted key: the check must refuse it, not prompt for a passphrase.
  std::string encrypted = d.path() + "/encrypted.key";
  {
    EVP_PKEY* k = cfgtest::new_ec_key();
    FILE* f = std::fopen(encrypted.c_str(), "w");
    ASSERT_NE(f, nullptr);
    const char* pass = "passphrase";
    ASSERT_EQ(PEM_write_PKCS8PrivateKey(f, k, EVP_aes_256_cbc(), pass, 10, nullptr, nullptr), 1);
    std::fclose(f);
    ::chmod(encrypted.c_str(), 0600);
    EVP_PKEY_free(k);
  }
  struct Case {
    std::string cert, key, bad_key;
    const char* words;
  };
  for (const auto& [cert, key, bad_key, words] :
       {Case{other.cert, other.key, "tls_key", "does not belong"},
        Case{garbage, good_pair.key, "tls_cert", "no PEM certificate"},
        Case{good_pair.key, good_pair.key, "tls_cert", "no PEM certificate"},
        Case{good_pair.cert, good_pair.cert, "tls_key", "no unencrypted PEM private key"},
        Case{good_pair.cert, encrypted, "tls_key", "no unencrypted PEM private key"}}) {
    SCOPED_TRACE(words);
    Config c = good(d, {{"tls_cert", cert}, {"tls_key", key}});
    auto f = check(c, true);
    auto errs = of_key(f, bad_key, Severity::error);
    ASSERT_EQ(errs.size(), 1u) << dump(f);
    EXPECT_NE(errs[0].message.find(words), std::string::npos) << errs[0].message;
    EXPECT_TRUE(mentions(production_problems(c), bad_key));
  }
}

// SPEC 15: production refuses a key file readable by group or others.
TEST(ConfigCheckRound2, TlsKeyReadableByOthersStopsProduction) {
  TempDir d;
  for (mode_t mode : {0640, 0604, 0644}) {
    SCOPED_TRACE(mode);
    auto pair =
        cfgtest::make_tls_pair(d.path(), "k" + std::to_string(mode), -60, 90L * 86400, false, mode);
    Config c = good(d, {{"tls_cert", pair.cert}, {"tls_key", pair.key}});
    EXPECT_EQ(of_key(check(c, true), "tls_key", Severity::error).size(), 1u);
    EXPECT_TRUE(mentions(production_problems(c), "tls_key"));
    Config dev = load(Sources{
        {}, {{"data_dir", d.path()}, {"tls_cert", pair.cert}, {"tls_key", pair.key}}, false});
    EXPECT_EQ(of_key(check(dev, false), "tls_key", Severity::warning).size(), 1u);
  }
  for (mode_t mode : {0600, 0400}) {
    auto pair = cfgtest::make_tls_pair(d.path(), "ok" + std::to_string(mode), -60, 90L * 86400,
                                       false, mode);
    Config c = good(d, {{"tls_cert", pair.cert}, {"tls_key", pair.key}});
    EXPECT_TRUE(production_problems(c).empty()) << mode;
  }
}

// Native TLS alone satisfies production's TLS requirement (no behind_tls_proxy needed).
TEST(ConfigCheckRound2, NativeTlsIsEnoughForProduction) {
  TempDir d;
  auto pair = cfgtest::make_tls_pair(d.path(), "srv", -60, 90L * 86400);
  Config c = good(d, {{"tls_cert", pair.cert},
                      {"tls_key", pair.key},
                      {"behind_tls_proxy", "false"},
                      {"trusted_proxies", ""}});
  auto f = check(c, true);
  EXPECT_TRUE(f.empty()) << dump(f);
  EXPECT_TRUE(production_problems(c).empty());
}

TEST(ConfigCheckRound2, TotpKeyIsRequiredInProductionAndJudged) {
  TempDir d;
  Config c = good(d, {{"totp_key", ""}});
  prepare_secrets(c);
  EXPECT_EQ(c.totp_key_source, "missing");
  EXPECT_TRUE(mentions(production_problems(c), "totp_key"));
  c = good(d, {{"totp_key", sr::hex_encode(std::string(32, 'a'))}});  // 32 bytes, all alike
  EXPECT_EQ(of_key(check(c, true), "totp_key", Severity::error).size(), 1u);
}

TEST(ConfigCheckRound2, ScheduledBackupsOff) {
  TempDir d;
  Config c = good(d, {{"backup_interval", "0"}});
  EXPECT_EQ(of_key(check(c, true), "backup_interval", Severity::warning).size(), 1u);
  EXPECT_TRUE(production_problems(c).empty());
  // Not a SQLite database: backups are PostgreSQL's own business.
  c = good(d, {{"backup_interval", "0"}, {"database_url", "postgresql://localhost/sr"}});
  EXPECT_TRUE(of_key(check(c, true), "backup_interval", Severity::warning).empty());
}
