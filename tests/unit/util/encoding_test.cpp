// base64url: our table decoder must agree with the encoder on every length and refuse every
// non-canonical or foreign form.
#include <gtest/gtest.h>

#include <string>

#include "util/encoding.hpp"
#include "util/random.hpp"

using namespace std::string_literals;

TEST(Base64Url, RoundTripsEveryLength) {
  for (size_t n = 0; n < 200; ++n) {
    std::string raw(n, '\0');
    sr::random_fill(raw.data(), n);
    auto enc = sr::base64url_encode(raw);
    auto dec = sr::base64url_decode(enc);
    ASSERT_TRUE(dec.has_value()) << n;
    EXPECT_EQ(*dec, raw) << n;
  }
}

TEST(Base64Url, KnownVectors) {
  EXPECT_EQ(*sr::base64url_decode(""), "");
  EXPECT_EQ(*sr::base64url_decode("Zg"), "f");
  EXPECT_EQ(*sr::base64url_decode("Zm8"), "fo");
  EXPECT_EQ(*sr::base64url_decode("Zm9v"), "foo");
  EXPECT_EQ(*sr::base64url_decode("-_8"), "\xfb\xff"s);
}

TEST(Base64Url, RefusesNonCanonicalAndForeignForms) {
  for (const char* bad :
       {"Z", "Zm9vY", "Zg==", "Zm8=", "Zm9v+", "Zm9v/", "Zm 9v", "Zm9v\n", "Zm9v.", "*"})
    EXPECT_FALSE(sr::base64url_decode(bad).has_value()) << bad;
  EXPECT_FALSE(sr::base64url_decode("Zm9").has_value());  // trailing bits set: not canonical
  EXPECT_FALSE(sr::base64url_decode("Zh").has_value());
}
