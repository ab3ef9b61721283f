#include "vault/crypto.hpp"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "util/encoding.hpp"

namespace sr::vault {
namespace {

// Small Argon2id cost for speed (libsodium's minimum memory is 8 KiB); production uses >= 19 MiB.
const auth::Argon2Params kSmall{64, 1};

SecretString pw(std::string_view s) {
  return SecretString::from_view(s);
}

std::string flip(std::string s, std::size_t i) {
  s[i] = static_cast<char>(s[i] ^ 0x01);
  return s;
}

TEST(VaultEnvelope, RoundTrip) {
  const auto key = new_data_key();
  ASSERT_EQ(key.size(), 32u);
  const auto w = wrap_data_key(key, pw("vault password one"), 7, kSmall);
  EXPECT_EQ(w.salt.size(), 16u);
  EXPECT_EQ(w.mem_kib, 64);
  EXPECT_EQ(w.passes, 1);
  EXPECT_EQ(w.blob.size(), 1u + 24 + 32 + 16);
  EXPECT_EQ(w.blob[0], '\x01');
  EXPECT_EQ(w.blob.find(key.view()), std::string::npos);
  const auto out = unwrap_data_key(w, pw("vault password one"), 7);
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->equals(key));
  // Fresh salt and nonce every time.
  const auto w2 = wrap_data_key(key, pw("vault password one"), 7, kSmall);
  EXPECT_NE(w.salt, w2.salt);
  EXPECT_NE(w.blob, w2.blob);
  EXPECT_FALSE(new_data_key().equals(new_data_key()));
}

TEST(VaultEnvelope, WrongPasswordOrUser) {
  const auto key = new_data_key();
  const auto w = wrap_data_key(key, pw("vault password one"), 7, kSmall);
  EXPECT_FALSE(unwrap_data_key(w, pw("vault password two"), 7));
  EXPECT_FALSE(unwrap_data_key(w, pw(""), 7));
  EXPECT_FALSE(unwrap_data_key(w, pw("vault password one"), 8));  // AD: another user's row
  EXPECT_FALSE(unwrap_data_key(w, pw("vault password one"), -7));
}

TEST(VaultEnvelope, EveryByteFlippedRefused) {
  const auto key = new_data_key();
  const auto w = wrap_data_key(key, pw("vault password one"), 7, kSmall);
  for (std::size_t i = 0; i < w.blob.size(); ++i) {
    auto t = w;
    t.blob = flip(t.blob, i);
    EXPECT_FALSE(unwrap_data_key(t, pw("vault password one"), 7)) << "byte " << i;
  }
  for (std::size_t i = 0; i < w.salt.size(); ++i) {
    auto t = w;
    t.salt = flip(t.salt, i);
    EXPECT_FALSE(unwrap_data_key(t, pw("vault password one"), 7)) << "salt byte " << i;
  }
  // Cost parameters are bound too (another cost = another key).
  auto t = w;
  t.mem_kib = 128;
  EXPECT_FALSE(unwrap_data_key(t, pw("vault password one"), 7));
  t = w;
  t.passes = 2;
  EXPECT_FALSE(unwrap_data_key(t, pw("vault password one"), 7));
  // Truncated, extended, empty.
  t = w;
  t.blob.pop_back();
  EXPECT_FALSE(unwrap_data_key(t, pw("vault password one"), 7));
  t = w;
  t.blob += 'x';
  EXPECT_FALSE(unwrap_data_key(t, pw("vault password one"), 7));
  t = w;
  t.blob.clear();
  EXPECT_FALSE(unwrap_data_key(t, pw("vault password one"), 7));
}

TEST(VaultEnvelope, HostileCostRefusedQuickly) {
  const auto w = wrap_data_key(new_data_key(), pw("vault password one"), 7, kSmall);
  for (auto [m, p] : {std::pair<int64_t, int64_t>{int64_t{1} << 40, 1},
                      {64, 1'000'000},
                      {0, 1},
                      {64, 0},
                      {-1, -1},
                      {7, 1}}) {
    auto t = w;
    t.mem_kib = m;
    t.passes = p;
    EXPECT_FALSE(unwrap_data_key(t, pw("vault password one"), 7));
  }
  EXPECT_THROW(wrap_data_key(new_data_key(), pw("x"), 1, auth::Argon2Params{4, 1}),
               std::invalid_argument);
  EXPECT_THROW(wrap_data_key(SecretBytes(16), pw("x"), 1, kSmall), std::invalid_argument);
}

TEST(VaultEntry, RoundTrip) {
  const auto key = new_data_key();
  const std::string plain = R"({"domain":"example.com","pin_or_password":"hunter2"})";
  const auto blob = seal_entry(key, 7, 100, plain);
  EXPECT_EQ(blob.size(), 1u + 24 + plain.size() + 16);
  EXPECT_EQ(blob.find("example.com"), std::string::npos);
  const auto out = open_entry(key, 7, 100, blob);
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->view() == plain);
  // Empty plaintext works too.
  const auto empty = open_entry(key, 7, 100, seal_entry(key, 7, 100, ""));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->size(), 0u);
  EXPECT_NE(seal_entry(key, 7, 100, plain), blob);  // random nonce
}

TEST(VaultEntry, EveryByteFlippedRefused) {
  const auto key = new_data_key();
  const auto blob = seal_entry(key, 7, 100, "secret entry");
  for (std::size_t i = 0; i < blob.size(); ++i) {
    EXPECT_FALSE(open_entry(key, 7, 100, flip(blob, i))) << "byte " << i;
  }
  EXPECT_FALSE(open_entry(key, 7, 100, blob.substr(0, blob.size() - 1)));
  EXPECT_FALSE(open_entry(key, 7, 100, blob + "x"));
  EXPECT_FALSE(open_entry(key, 7, 100, ""));
  EXPECT_FALSE(open_entry(key, 7, 100, blob.substr(0, 40)));
}

TEST(VaultEntry, AssociatedDataBindsUserAndEntry) {
  const auto key = new_data_key();
  const auto blob = seal_entry(key, 7, 100, "secret entry");
  EXPECT_FALSE(open_entry(key, 8, 100, blob));             // another user
  EXPECT_FALSE(open_entry(key, 7, 101, blob));             // another entry
  EXPECT_FALSE(open_entry(key, 100, 7, blob));             // swapped
  EXPECT_FALSE(open_entry(new_data_key(), 7, 100, blob));  // another key
  EXPECT_FALSE(open_entry(SecretBytes(16), 7, 100, blob));
  // Two users' entries swapped between their rows: each refused.
  const auto a = seal_entry(key, 1, 5, "a"), b = seal_entry(key, 2, 5, "b");
  EXPECT_FALSE(open_entry(key, 1, 5, b));
  EXPECT_FALSE(open_entry(key, 2, 5, a));
  EXPECT_TRUE(open_entry(key, 1, 5, a));
  EXPECT_TRUE(open_entry(key, 2, 5, b));
}

VaultSession session() {
  VaultSession s;
  s.user_id = 7;
  s.sid = "session-id-123";
  s.data_key = new_data_key();
  s.unlocked_at = 1'900'000'000;
  s.issued_at = 1'900'000'100;
  s.expires_at = 1'900'000'400;
  s.key_generation = 3;
  s.epoch = -5;
  return s;
}

// Blobs from empty to 200 KB (a list index chunk is up to about 32 KB + one item): round trip,
// every kind of damage refused, and no plaintext left in an output buffer on failure.
TEST(VaultAead, EverySizeRoundTripsAndRefusesDamage) {
  const auto key = new_data_key();
  const auto other = new_data_key();
  uint32_t seed = 12345;
  auto letters = [&](std::size_t n) {  // plaintext bytes never equal '#' or NUL
    std::string s(n, 'a');
    for (auto& c : s) c = static_cast<char>('a' + (seed = seed * 1103515245u + 12345u) % 26);
    return s;
  };
  for (std::size_t n : {0, 1, 100, 4095, 4096, 4097, 10000, 40000, 200000}) {
    const std::string plain = letters(n);
    const auto entry = seal_entry(key, 7, 9, plain);
    auto e = open_entry(key, 7, 9, entry);
    ASSERT_TRUE(e) << n;
    EXPECT_TRUE(e->view() == plain) << n;
    EXPECT_FALSE(open_entry(key, 7, 10, entry)) << n;
    EXPECT_FALSE(open_entry(other, 7, 9, entry)) << n;

    const auto chunk = seal_index_chunk(key, 7, 2, plain);
    auto c = open_index_chunk(key, 7, 2, chunk);
    ASSERT_TRUE(c) << n;
    EXPECT_TRUE(c->view() == plain) << n;
    std::string into(n, '#');
    ASSERT_TRUE(open_index_chunk_into(key, 7, 2, chunk, into.data())) << n;
    EXPECT_EQ(into, plain) << n;

    // Damage anywhere: version, nonce (both halves), first/middle/last ciphertext byte, every
    // tag byte; another user, chunk or key. Refused, and the buffer holds only '#' or zeros.
    std::vector<std::size_t> at = {0, 1, 16, 17, 24};
    if (n > 0) at.insert(at.end(), {25, 25 + n / 2, 24 + n});
    for (std::size_t t = 0; t < 16; ++t) at.push_back(25 + n + t);
    std::vector<std::pair<std::string, std::string>> bad;  // (what, blob)
    for (std::size_t i : at) bad.emplace_back("byte " + std::to_string(i), flip(chunk, i));
    for (const auto& [what, blob] : bad) {
      EXPECT_FALSE(open_index_chunk(key, 7, 2, blob)) << n << " " << what;
      std::string out(n, '#');
      EXPECT_FALSE(open_index_chunk_into(key, 7, 2, blob, out.data())) << n << " " << what;
      EXPECT_EQ(out.find_first_not_of(std::string("#\0", 2)), std::string::npos)
          << n << " " << what;
    }
    for (auto [uid, no, k] :
         {std::tuple{8, 2, &key}, std::tuple{7, 3, &key}, std::tuple{7, 2, &other}}) {
      std::string out(n, '#');
      EXPECT_FALSE(open_index_chunk_into(*k, uid, no, chunk, out.data())) << n;
      EXPECT_EQ(out.find_first_not_of(std::string("#\0", 2)), std::string::npos) << n;
    }
  }
}

TEST(VaultSession, RoundTrip) {
  const auto server = SecretBytes::random(32);
  const auto s = session();
  const auto token = seal_session(s, server);
  EXPECT_TRUE(base64url_decode(token).has_value());
  const auto out = open_session(token, server);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->user_id, 7);
  EXPECT_EQ(out->sid, "session-id-123");
  EXPECT_TRUE(out->data_key.equals(s.data_key));
  EXPECT_EQ(out->unlocked_at, s.unlocked_at);
  EXPECT_EQ(out->issued_at, s.issued_at);
  EXPECT_EQ(out->expires_at, s.expires_at);
  EXPECT_EQ(out->key_generation, 3);
  EXPECT_EQ(out->epoch, -5);
  // Empty sid, long sid.
  auto e = session();
  e.sid = "";
  ASSERT_TRUE(open_session(seal_session(e, server), server));
  e.sid = std::string(256, 's');
  ASSERT_TRUE(open_session(seal_session(e, server), server));
  EXPECT_EQ(open_session(seal_session(e, server), server)->sid, e.sid);
  e.sid = std::string(257, 's');
  EXPECT_THROW(seal_session(e, server), std::invalid_argument);
}

TEST(VaultSession, EveryByteFlippedRefused) {
  const auto server = SecretBytes::random(32);
  const auto token = seal_session(session(), server);
  const auto raw = *base64url_decode(token);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    EXPECT_FALSE(open_session(base64url_encode(flip(raw, i)), server)) << "byte " << i;
  }
  // Every character of the text token, too.
  for (std::size_t i = 0; i < token.size(); ++i) {
    std::string t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(open_session(t, server)) << "char " << i;
  }
  EXPECT_FALSE(open_session(base64url_encode(raw.substr(0, raw.size() - 1)), server));
  EXPECT_FALSE(open_session(base64url_encode(raw + "x"), server));
}

TEST(VaultSession, OtherKeyOrGarbageRefused) {
  const auto server = SecretBytes::random(32);
  const auto token = seal_session(session(), server);
  EXPECT_FALSE(open_session(token, SecretBytes::random(32)));
  EXPECT_FALSE(open_session(token, SecretBytes(16)));
  // An entry blob sealed with the same key bytes is not a session (different AD).
  const auto entry = seal_entry(server, 7, 1, std::string(100, 'x'));
  EXPECT_FALSE(open_session(base64url_encode(entry), server));
  for (const std::string& g : std::vector<std::string>{
           "", "A", "!!!!", "AAAA", std::string(5000, 'A'), token + "=", " " + token}) {
    EXPECT_FALSE(open_session(g, server));
  }
  EXPECT_THROW(seal_session(session(), SecretBytes(31)), std::invalid_argument);
}

}  // namespace
}  // namespace sr::vault
