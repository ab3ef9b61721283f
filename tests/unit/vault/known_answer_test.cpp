// Known answers from outside this code: the AEAD_XChaCha20_Poly1305 vector of
// draft-irtf-cfrg-xchacha-03 (appendix A.3.1), and vault blobs made by another implementation
// from docs/crypto.md alone (Python's PyNaCl, Debian python3-nacl, with the fixed keys, salt and
// nonces below), which our code must open. The crypto tests beside this one seal and open with
// our own code; tests/api/test_crypto_vectors.py opens blobs the server sealed with PyNaCl.
#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

#include "util/encoding.hpp"
#include "vault/crypto.hpp"

namespace sr::vault {
namespace {

std::string unhex(std::string_view h) {
  auto b = hex_decode(h);
  EXPECT_TRUE(b.has_value());
  return b.value_or("");
}

const unsigned char* uc(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// The primitive every vault blob uses, exactly as crypto.cpp calls it.
TEST(VaultKnownAnswer, XChaCha20Poly1305DraftVector) {
  ASSERT_GE(sodium_init(), 0);
  const std::string key = unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  const std::string nonce = unhex("404142434445464748494a4b4c4d4e4f5051525354555657");
  const std::string ad = unhex("50515253c0c1c2c3c4c5c6c7");
  const std::string plain =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.";
  const std::string want =
      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
      "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
      "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
      "21f9664c97637da9768812f615c68b13b52e"
      "c0875924c1c7987947deafd8780acf49";  // ciphertext || tag
  std::string sealed(plain.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long n = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(sealed.data()), &n,
                                             uc(plain), plain.size(), uc(ad), ad.size(), nullptr,
                                             uc(nonce), uc(key));
  ASSERT_EQ(n, sealed.size());
  EXPECT_EQ(hex_encode(sealed), want);
  std::string opened(plain.size(), '\0');
  const std::string ct = unhex(want);
  EXPECT_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt(
                reinterpret_cast<unsigned char*>(opened.data()), &n, nullptr, uc(ct), ct.size(),
                uc(ad), ad.size(), uc(nonce), uc(key)),
            0);
  EXPECT_EQ(opened, plain);
}

// Made with PyNaCl from docs/crypto.md: data key 00 01 .. 1f, user 7, entry 42, nonce 64 65 .. 7b:
//   0x01 || nonce || XChaCha20-Poly1305(plaintext; AD = 0x01 || be64(7) || be64(42))
TEST(VaultKnownAnswer, OpensAnEntrySealedElsewhere) {
  std::string k;
  for (int i = 0; i < 32; ++i) k.push_back(static_cast<char>(i));
  const auto key = SecretBytes::from_view(k);
  const std::string blob = unhex(
      "016465666768696a6b6c6d6e6f707172737475767778797a7b07519ddf924fe0eca50abf54c71b93ac23da3f"
      "018849e89cae250dc974310a4fdb67300d5bd985a3c83c476f67357a341ac7ade3af53038febf483f07be269"
      "9a50c702");
  auto plain = open_entry(key, 7, 42, blob);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->view(), R"({"domain":"kat.example","pin_or_password":"s3cret"})");
  EXPECT_FALSE(open_entry(key, 8, 42, blob));  // the user and the entry are bound
  EXPECT_FALSE(open_entry(key, 7, 43, blob));
}

// The envelope, made the same way: KEK = Argon2id("vault password one", salt 16 x 0x11,
// 1 pass, 64 KiB), nonce c8 c9 .. df, 0x01 || nonce || XChaCha20-Poly1305(data key;
// AD = 0x01 || be64(7)).
TEST(VaultKnownAnswer, UnwrapsAnEnvelopeMadeElsewhere) {
  Wrapped w;
  w.salt = std::string(16, '\x11');
  w.mem_kib = 64;
  w.passes = 1;
  w.blob = unhex(
      "01c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf701d7c8b9b6e680e3b96b7381fd4c518176d54"
      "46a30551ce2bc2ac510878050c6fe38eb4c49057ab137a39e28b40e8a4");
  auto key = unwrap_data_key(w, SecretString::from_view("vault password one"), 7);
  ASSERT_TRUE(key);
  std::string want;
  for (int i = 0; i < 32; ++i) want.push_back(static_cast<char>(i));
  EXPECT_EQ(key->view(), want);
  EXPECT_FALSE(unwrap_data_key(w, SecretString::from_view("vault password two"), 7));
  EXPECT_FALSE(unwrap_data_key(w, SecretString::from_view("vault password one"), 8));
}

}  // namespace
}  // namespace sr::vault
