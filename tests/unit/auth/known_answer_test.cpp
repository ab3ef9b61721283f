// Known answers from sources independent of this code: HMAC-SHA256 (RFC 4231), the HS256 JWS of
// RFC 7515 appendix A.1, and Argon2id hashes made by the Argon2 reference implementation
// (phc-winner-argon2, the vectors of its src/test.c). The rest of the auth tests check our code
// against itself (sign then verify, hash then verify); these pin it to the outside world.
#include <gtest/gtest.h>

#include <string>

#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "util/encoding.hpp"

namespace sr::auth {
namespace {

std::string unhex(std::string_view h) {
  auto b = hex_decode(h);
  EXPECT_TRUE(b.has_value()) << h;
  return b.value_or("");
}

std::string mac_hex(const SecretBytes& key, std::string_view data) {
  unsigned char out[32];
  hmac_sha256(key, data, out);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
}

// RFC 4231 section 4: every test case (case 5's full 32-byte output begins with its truncated
// 16-byte answer).
TEST(KnownAnswer, HmacSha256Rfc4231) {
  struct Case {
    std::string key, data, mac;
  };
  const std::string aa131(131, '\xaa');
  const Case cases[] = {
      {std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), std::string(50, '\xcd'),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {aa131, "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {aa131,
       "This is a test using a larger than block-size key and a larger than block-size data. The "
       "key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(mac_hex(SecretBytes::from_view(c.key), c.data), c.mac) << c.data;
  EXPECT_EQ(mac_hex(SecretBytes::from_view(std::string(20, '\x0c')), "Test With Truncation")
                .substr(0, 32),
            "a3b6167473100ee06e0c796c2955552b");
}

// RFC 7515 appendix A.1: the example HS256 JWS and its key (the JWK "k"). Its header has the
// line breaks of the RFC's example; its payload has none of our claims. verify() checks the
// signature before it reads the payload, so this token gets past the signature and fails on the
// missing claims, while the same token under any other key (or with a changed byte) is
// bad_signature.
TEST(KnownAnswer, Hs256JwsRfc7515AppendixA1) {
  const std::string header = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9";
  const std::string payload =
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0"
      "cnVlfQ";
  const std::string signature = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  auto k = base64url_decode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  ASSERT_TRUE(k.has_value());
  ASSERT_EQ(base64url_decode(header).value_or(""), "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}");

  unsigned char mac[32];
  hmac_sha256(SecretBytes::from_view(*k), header + "." + payload, mac);
  EXPECT_EQ(base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), 32)), signature);

  JwtKeys keys;
  keys.current = SecretBytes::from_view(*k);
  const std::string token = header + "." + payload + "." + signature;
  EXPECT_EQ(verify(token, keys, "access", 1300819380 - 60).error, JwtError::missing_claim);

  JwtKeys other;
  other.current = SecretBytes::from_view(std::string(64, 'x'));
  EXPECT_EQ(verify(token, other, "access", 1300819380 - 60).error, JwtError::bad_signature);
  std::string flipped = token;
  flipped[header.size() + 5] ^= 0x01;  // one payload character
  EXPECT_EQ(verify(flipped, keys, "access", 1300819380 - 60).error, JwtError::bad_signature);
}

// Argon2id strings made by the reference implementation (phc-winner-argon2 src/test.c, version
// 0x13, password "password", salt "somesalt"). libsodium cannot take RFC 9106's own vector
// (4 lanes, a secret and associated data); tests/api/test_crypto_vectors.py checks that vector
// against the reference library and then recomputes the server's stored hashes with it.
TEST(KnownAnswer, Argon2idReferenceImplementationVectors) {
  const Argon2Params p{256, 2};  // below both vectors: never "needs a stronger hash"
  const char* vectors[] = {
      "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
  };
  for (const char* v : vectors) {
    auto r = verify_password(SecretString::from_view("password"), v, p);
    EXPECT_TRUE(r.ok) << v;
    EXPECT_FALSE(r.needs_rehash) << v;
    EXPECT_FALSE(verify_password(SecretString::from_view("passwore"), v, p).ok) << v;
  }
}

}  // namespace
}  // namespace sr::auth
