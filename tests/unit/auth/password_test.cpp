#include "auth/password.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <chrono>
#include <string>

namespace sr::auth {
namespace {

struct Vector {
  const char* name;
  const char* password;
  const char* stored;
};

constexpr Vector kVectors[] = {
#include "auth/legacy_vectors.inc"
};

// Small parameters keep the tests fast; the production floor is 19456 KiB / 2 passes.
const Argon2Params kSmall{64, 1};

SecretString pw(std::string_view s) {
  return SecretString::from_view(s);
}

TEST(Password, Argon2RoundTrip) {
  const auto h = hash_password(pw("correct horse battery staple"), kSmall);
  EXPECT_EQ(h.rfind("$argon2id$v=19$m=64,t=1,p=1$", 0), 0u);
  const auto r = verify_password(pw("correct horse battery staple"), h, kSmall);
  EXPECT_TRUE(r.ok);
  EXPECT_FALSE(r.needs_rehash);
  // Salted: two hashes of one password differ.
  EXPECT_NE(h, hash_password(pw("correct horse battery staple"), kSmall));
}

TEST(Password, Argon2WrongPassword) {
  const auto h = hash_password(pw("correct horse battery staple"), kSmall);
  EXPECT_FALSE(verify_password(pw("correct horse battery stapl"), h, kSmall).ok);
  EXPECT_FALSE(verify_password(pw("correct horse battery staple "), h, kSmall).ok);
  EXPECT_FALSE(verify_password(pw(""), h, kSmall).ok);
}

TEST(Password, Argon2UnicodeAndEmbeddedNul) {
  const std::string p("p\xC3\xA4ss\0word", 10);
  const auto h = hash_password(pw(p), kSmall);
  EXPECT_TRUE(verify_password(pw(p), h, kSmall).ok);
  EXPECT_FALSE(verify_password(pw(p.substr(0, 7)), h, kSmall).ok);
}

TEST(Password, NeedsRehashOnlyWhenWeaker) {
  const auto weak = hash_password(pw("pw-for-rehash-test"), Argon2Params{64, 1});
  EXPECT_TRUE(verify_password(pw("pw-for-rehash-test"), weak, Argon2Params{128, 1}).needs_rehash);
  EXPECT_TRUE(verify_password(pw("pw-for-rehash-test"), weak, Argon2Params{64, 2}).needs_rehash);
  EXPECT_FALSE(verify_password(pw("pw-for-rehash-test"), weak, Argon2Params{64, 1}).needs_rehash);
  // A stronger stored hash is kept (never downgraded).
  const auto strong = hash_password(pw("pw-for-rehash-test"), Argon2Params{128, 2});
  const auto r = verify_password(pw("pw-for-rehash-test"), strong, Argon2Params{64, 1});
  EXPECT_TRUE(r.ok);
  EXPECT_FALSE(r.needs_rehash);
  // Wrong password: never "needs rehash".
  EXPECT_FALSE(verify_password(pw("wrong"), weak, Argon2Params{128, 1}).needs_rehash);
}

TEST(Password, Argon2iVerifiesAndNeedsRehash) {
  char out[crypto_pwhash_STRBYTES];
  const std::string p = "an argon2i password";
  ASSERT_EQ(
      crypto_pwhash_str_alg(out, p.data(), p.size(), 3, 64 * 1024, crypto_pwhash_ALG_ARGON2I13), 0);
  const auto r = verify_password(pw(p), out, kSmall);
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.needs_rehash);
}

TEST(Password, InvalidParametersThrow) {
  EXPECT_THROW(hash_password(pw("x"), Argon2Params{1, 1}), std::invalid_argument);
  EXPECT_THROW(hash_password(pw("x"), Argon2Params{64, 0}), std::invalid_argument);
}

TEST(Password, LegacyVectors) {
  ASSERT_GE(std::size(kVectors), 25u);
  int pbkdf2 = 0, scrypt = 0, bcrypt = 0;
  for (const auto& v : kVectors) {
    SCOPED_TRACE(v.name);  // the name only: never the password or the hash
    const auto r = verify_password(pw(v.password), v.stored, kSmall);
    EXPECT_TRUE(r.ok);
    EXPECT_TRUE(r.needs_rehash);
    std::string wrong = v.password;  // changed at the front: bcrypt ignores bytes past 72
    wrong.insert(wrong.begin(), '!');
    const auto w = verify_password(pw(wrong), v.stored, kSmall);
    EXPECT_FALSE(w.ok);
    EXPECT_FALSE(w.needs_rehash);
    const std::string_view s = v.stored;
    pbkdf2 += s.rfind("pbkdf2", 0) == 0;
    scrypt += s.rfind("scrypt", 0) == 0;
    bcrypt += s.rfind("$2", 0) == 0;
  }
  EXPECT_GE(pbkdf2, 8);
  EXPECT_GE(scrypt, 5);
  EXPECT_GE(bcrypt, 10);
}

// bcrypt uses only the first 72 bytes: documented, legacy verification only.
TEST(Password, BcryptTruncatesAt72Bytes) {
  for (const auto& v : kVectors) {
    const std::string_view s = v.stored;
    if (s.rfind("$2b$", 0) != 0 || std::string_view(v.password).size() <= 72) continue;
    const std::string longer = std::string(v.password) + "anything";
    EXPECT_TRUE(verify_password(pw(longer), v.stored, kSmall).ok);
    return;
  }
  FAIL() << "no bcrypt vector with a password over 72 bytes";
}

// Cheap vectors only (the expensive ones are covered by LegacyVectors), to keep the suite quick.
bool cheap(std::string_view stored) {
  return stored.rfind("pbkdf2:sha256:1000$", 0) == 0 ||
         stored.rfind("pbkdf2:sha512:2000$", 0) == 0 || stored.rfind("scrypt:16384", 0) == 0 ||
         stored.rfind("$2b$04$", 0) == 0 || stored.rfind("$2a$05$", 0) == 0 ||
         stored.rfind("$2y$04$", 0) == 0;
}

TEST(Password, LegacyTamperedHashRefused) {
  int tested = 0;
  for (const auto& v : kVectors) {
    if (!cheap(v.stored)) continue;
    ++tested;
    SCOPED_TRACE(v.name);
    std::string s = v.stored;
    // Flip the last character of the hash part.
    char& c = s.back();
    c = (c == 'a') ? 'b' : 'a';
    EXPECT_FALSE(verify_password(pw(v.password), s, kSmall).ok);
    // Werkzeug compares lowercase hex text: uppercase is not the same hash.
    if (std::string_view(v.stored).rfind("pbkdf2", 0) == 0) {
      std::string upper = v.stored;
      for (auto i = upper.rfind('$') + 1; i < upper.size(); ++i)
        upper[i] = static_cast<char>(toupper(upper[i]));
      EXPECT_FALSE(verify_password(pw(v.password), upper, kSmall).ok);
    }
    // Salt changed: a different hash.
    std::string salted = v.stored;
    const auto salt_at = salted.rfind("$2", 0) == 0 ? 8 : salted.find('$') + 1;
    salted[salt_at] = salted[salt_at] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(verify_password(pw(v.password), salted, kSmall).ok);
  }
  EXPECT_GE(tested, 15);
}

TEST(Password, MalformedStoredStringsNeverCrash) {
  const std::string long_str(10000, '$');
  const char* cases[] = {"",
                         "$",
                         "$$",
                         "$$$",
                         "plain$$x",
                         "md5$salt$abc",
                         "sha256$salt$abc",
                         "pbkdf2",
                         "pbkdf2:",
                         "pbkdf2:sha256",
                         "pbkdf2:sha256$",
                         "pbkdf2:sha256$salt",
                         "pbkdf2:sha256$salt$",
                         "pbkdf2:sha256:$salt$00",
                         "pbkdf2:sha256:abc$salt$00",
                         "pbkdf2:sha256:-1$salt$00",
                         "pbkdf2:sha256:0$salt$00",
                         "pbkdf2:sha256:+5$salt$00",
                         "pbkdf2:md5:1000$salt$00",
                         "pbkdf2:sha256:1000:1$salt$00",
                         "pbkdf2:sha256:1000$$00",
                         "pbkdf2:sha256:1000$salt$zz",
                         "scrypt:1:1$salt$00",
                         "scrypt:16384:8$salt$00",
                         "scrypt:a:b:c$salt$00",
                         "scrypt:16383:8:1$salt$00",
                         "scrypt:0:8:1$salt$00",
                         "scrypt:16384:0:1$salt$00",
                         "scrypt:16384:8:0$salt$00",
                         "scrypt:16:1:1$salt$" /* needs more than maxmem */,
                         "$2b$",
                         "$2b$12$",
                         "$2b$xx$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
                         "$2b$12$short",
                         "$2x$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
                         "$2b$04$!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
                         "$argon2id$",
                         "$argon2id$v=19$",
                         "$argon2id$v=19$m=64,t=1,p=1$",
                         "$argon2id$v=19$m=64,t=1,p=1$$",
                         "$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
                         "$argon2id$v=19$m=64,t=1$c2FsdA$aGFzaA",
                         "$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
                         "$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
                         "$argon2id$v=99$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
                         long_str.c_str()};
  for (const char* c : cases) {
    SCOPED_TRACE(c);
    const auto r = verify_password(pw("password"), c, kSmall);
    EXPECT_FALSE(r.ok);
    EXPECT_FALSE(r.needs_rehash);
  }
  // Embedded NUL in the stored string.
  EXPECT_FALSE(verify_password(pw("password"), std::string_view("$2b$\0", 5), kSmall).ok);
}

TEST(Password, DosBoundedParametersRefused) {
  // Each would take minutes or gigabytes; each must be refused at once.
  const char* cases[] = {
      "pbkdf2:sha256:10000001$salt$"
      "0000000000000000000000000000000000000000000000000000000000000000",
      "pbkdf2:sha256:2000001$salt$"
      "0000000000000000000000000000000000000000000000000000000000000000",
      "scrypt:262144:8:1$salt$"  // 256 MiB
      "0000000000000000000000000000000000000000000000000000000000000000"
      "0000000000000000000000000000000000000000000000000000000000000000",
      "scrypt:32768:8:16$salt$"  // 16x the default work
      "0000000000000000000000000000000000000000000000000000000000000000"
      "0000000000000000000000000000000000000000000000000000000000000000",
      "pbkdf2:sha256:4294967297$salt$"
      "0000000000000000000000000000000000000000000000000000000000000000",
      "scrypt:2097152:8:1$salt$"
      "0000000000000000000000000000000000000000000000000000000000000000"
      "0000000000000000000000000000000000000000000000000000000000000000",
      "scrypt:1048576:8:1$salt$"  // 1 GiB
      "0000000000000000000000000000000000000000000000000000000000000000"
      "0000000000000000000000000000000000000000000000000000000000000000",
      "scrypt:32768:8:1024$salt$"
      "0000000000000000000000000000000000000000000000000000000000000000"
      "0000000000000000000000000000000000000000000000000000000000000000",
      "$2b$31$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
      "$2b$15$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
      // Just past the tightened bounds (one stored row must not pin a worker for seconds).
      "$2b$14$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
      "pbkdf2:sha256:1000001$salt$"
      "0000000000000000000000000000000000000000000000000000000000000000",
      "scrypt:65536:8:2$salt$"  // N*r*p = 2^20 > 2^19
      "0000000000000000000000000000000000000000000000000000000000000000"
      "0000000000000000000000000000000000000000000000000000000000000000",
      "scrypt:131072:8:1$salt$"  // 128 MiB
      "0000000000000000000000000000000000000000000000000000000000000000"
      "0000000000000000000000000000000000000000000000000000000000000000",
      "$argon2id$v=19$m=65537,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
      "$argon2id$v=19$m=64,t=5,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
      "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
      "$argon2id$v=19$m=64,t=100000,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
      "$argon2id$v=19$m=262145,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
      "$argon2id$v=19$m=64,t=17,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
      "$argon2id$v=19$m=64,t=1,p=17$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
  };
  for (const char* c : cases) {
    SCOPED_TRACE(c);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(verify_password(pw("password"), c, kSmall).ok);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  }
}

}  // namespace
}  // namespace sr::auth
