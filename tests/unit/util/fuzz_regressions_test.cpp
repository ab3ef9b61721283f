// Regressions found by the libFuzzer harnesses (fuzz/regressions/base64_utf8/).
#include <gtest/gtest.h>

#include <string>

#include "util/encoding.hpp"

using namespace std::string_literals;

// fuzz_base64_utf8: libsodium 1.0.18's sodium_base642bin() takes every byte >= 0x80 for an
// alphabet character, so base64url_decode("aé€😀...") "succeeded" and many texts decoded to the
// same bytes (JWT signatures and vault tokens were malleable).
TEST(FuzzRegressions, Base64RejectsNonAsciiBytes) {
  EXPECT_FALSE(sr::base64url_decode("QUF\xc3"s).has_value());
  EXPECT_FALSE(sr::base64url_decode(
                   "a\xc3\xa9\xe2\xe2\x82\xac\xf0\x9f\x98\x80\x82\xac\xf0\x9f\x98\x80\xe2\x80\xa8"s)
                   .has_value());
  for (int c = 0x80; c < 0x100; ++c) {
    std::string s = "QUFB";
    s[1] = static_cast<char>(c);
    EXPECT_FALSE(sr::base64url_decode(s).has_value()) << c;
    EXPECT_FALSE(sr::base64_decode(s).has_value()) << c;
  }
  EXPECT_FALSE(sr::base64url_decode("QUF\0"s).has_value());
  EXPECT_FALSE(sr::base64url_decode("QU+B").has_value());  // standard alphabet in base64url
  EXPECT_FALSE(sr::base64_decode("QU-B").has_value());     // base64url alphabet in standard
  EXPECT_EQ(sr::base64url_decode("QUFB").value(), "AAA");
  EXPECT_EQ(sr::base64url_decode("-_8").value(), "\xfb\xff"s);
  EXPECT_EQ(sr::base64_decode("+/8=").value(), "\xfb\xff"s);
}
