// RFC 6238 TOTP and RFC 4226 HOTP against the RFCs' own test vectors, the +/-1 step window, the
// replay guard, hostile codes, and base32 (RFC 4648 section 10 vectors, strictness).
#include "auth/totp.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sr::auth::totp {
namespace {

// RFC 4226 Appendix D and RFC 6238 Appendix B: the SHA-1 key is the ASCII "12345678901234567890".
SecretBytes rfc_key() {
  return SecretBytes::from_view("12345678901234567890");
}

TEST(Hotp, Rfc4226AppendixD) {
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (uint64_t c = 0; c < 10; ++c) EXPECT_EQ(hotp(rfc_key(), c), expected[c]) << "counter " << c;
}

struct Rfc6238Row {
  int64_t time;
  const char* totp8;  // the RFC's 8-digit value (SHA-1 rows of Appendix B)
};
constexpr Rfc6238Row kRfc6238Sha1[] = {
    {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
    {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
};

TEST(Totp, Rfc6238AppendixBEightDigits) {
  for (const auto& row : kRfc6238Sha1) {
    EXPECT_EQ(hotp(rfc_key(), static_cast<uint64_t>(step_at(row.time)), 8), row.totp8)
        << "T = " << row.time;
  }
}

TEST(Totp, Rfc6238AppendixBSixDigits) {
  // The truncated value modulo 10^6 is the last six digits of the value modulo 10^8.
  for (const auto& row : kRfc6238Sha1) {
    const std::string six = std::string(row.totp8).substr(2);
    EXPECT_EQ(hotp(rfc_key(), static_cast<uint64_t>(step_at(row.time))), six) << "T = " << row.time;
    // And verify() accepts it at that time (no step used yet).
    EXPECT_EQ(verify(rfc_key(), six, row.time, -1), step_at(row.time)) << "T = " << row.time;
  }
}

TEST(Totp, StepsAreThirtySecondsFromTheEpoch) {
  EXPECT_EQ(step_at(0), 0);
  EXPECT_EQ(step_at(29), 0);
  EXPECT_EQ(step_at(30), 1);
  EXPECT_EQ(step_at(59), 1);
  EXPECT_EQ(step_at(60), 2);
  EXPECT_EQ(step_at(1111111109), 37037036);
  EXPECT_EQ(step_at(-5), 0);
}

TEST(Totp, WindowIsOneStepEitherSide) {
  const auto key = rfc_key();
  const int64_t now = 1700000015;  // in the middle of a step
  const int64_t s = step_at(now);
  for (int64_t d = -1; d <= 1; ++d) {
    const auto code = hotp(key, static_cast<uint64_t>(s + d));
    EXPECT_EQ(verify(key, code, now, -1), s + d) << "offset " << d;
  }
  for (int64_t d : {-3, -2, 2, 3}) {
    const auto code = hotp(key, static_cast<uint64_t>(s + d));
    // A chance equality with an accepted step's code would make this test lie: skip such a draw.
    bool collides = false;
    for (int64_t a = -1; a <= 1; ++a)
      collides = collides || code == hotp(key, static_cast<uint64_t>(s + a));
    if (collides) continue;
    EXPECT_EQ(verify(key, code, now, -1), std::nullopt) << "offset " << d;
  }
}

TEST(Totp, WindowAtTheEdgesOfAStep) {
  const auto key = rfc_key();
  const int64_t start = 30 * 56666666;  // first second of a step
  const int64_t s = step_at(start);
  // At the first and the last second of step s, s-1 and s+1 are in, s-2 and s+2 out.
  for (int64_t now : {start, start + 29}) {
    EXPECT_EQ(verify(key, hotp(key, s - 1), now, -1), s - 1);
    EXPECT_EQ(verify(key, hotp(key, s + 1), now, -1), s + 1);
    EXPECT_EQ(verify(key, hotp(key, s - 2), now, -1), std::nullopt);
    EXPECT_EQ(verify(key, hotp(key, s + 2), now, -1), std::nullopt);
  }
  // One second later the window has moved: s-1 is out, s+2 is in.
  EXPECT_EQ(verify(key, hotp(key, s - 1), start + 30, -1), std::nullopt);
  EXPECT_EQ(verify(key, hotp(key, s + 2), start + 30, -1), s + 2);
}

TEST(Totp, ReplayGuardAcceptsOnlyLaterSteps) {
  const auto key = rfc_key();
  const int64_t now = 1700000015;
  const int64_t s = step_at(now);
  const auto code = hotp(key, s);
  const auto used = verify(key, code, now, -1);
  ASSERT_EQ(used, s);
  // The same code again, in the same step or the next: refused (its step is spent).
  EXPECT_EQ(verify(key, code, now, *used), std::nullopt);
  EXPECT_EQ(verify(key, code, now + 30, *used), std::nullopt);
  // An older code, still inside the window, after a newer one was used: refused.
  EXPECT_EQ(verify(key, hotp(key, s - 1), now, *used), std::nullopt);
  // The next step's code: accepted.
  EXPECT_EQ(verify(key, hotp(key, s + 1), now, *used), s + 1);
  // A phone one step ahead used s+1: the current step's code must wait for the next one.
  EXPECT_EQ(verify(key, hotp(key, s), now, s + 1), std::nullopt);
}

TEST(Totp, WrongKeyRefused) {
  const int64_t now = 1700000015;
  const auto code = hotp(rfc_key(), step_at(now));
  const auto other = SecretBytes::from_view("12345678901234567891");
  bool any = false;
  for (int64_t d = -1; d <= 1; ++d) any = any || hotp(other, step_at(now) + d) == code;
  if (!any) {
    EXPECT_EQ(verify(other, code, now, -1), std::nullopt);
  }
}

TEST(Totp, HostileCodesRefused) {
  const auto key = rfc_key();
  const int64_t now = 1700000015;
  const std::string good = hotp(key, step_at(now));
  ASSERT_TRUE(verify(key, good, now, -1));
  const std::string hostile[] = {
      "",
      good.substr(0, 5),
      good + "0",
      " " + good,
      good + " ",
      good + "\n",
      good.substr(0, 3) + " " + good.substr(3),
      "+" + good.substr(1),
      "-" + good.substr(1),
      good.substr(0, 5) + "a",
      "12345\xd9",                 // a non-ASCII byte
      "\xd9\xa1\xd9\xa2\xd9\xa3",  // Arabic-Indic digits
      std::string("123\0"
                  "56",
                  6),             // NUL inside
      std::string(1 << 20, '1'),  // huge
      "0x1234",
      "1e5000",
  };
  for (const auto& h : hostile) {
    EXPECT_FALSE(is_code(h)) << h.size();
    EXPECT_EQ(verify(key, h, now, -1), std::nullopt) << h.size();
  }
  EXPECT_TRUE(is_code("000000"));
  EXPECT_TRUE(is_code("999999"));
}

TEST(Totp, ZeroPaddedCodes) {
  // RFC 6238's T = 1111111109 row starts with a zero: the code is text, not a number.
  EXPECT_EQ(hotp(rfc_key(), step_at(1111111109), 8), "07081804");
  EXPECT_EQ(hotp(rfc_key(), step_at(1234567890)), "005924");
}

TEST(Totp, DigitsOutOfRangeRefused) {
  EXPECT_THROW(hotp(rfc_key(), 1, 5), std::invalid_argument);
  EXPECT_THROW(hotp(rfc_key(), 1, 10), std::invalid_argument);
}

TEST(Base32, Rfc4648Vectors) {
  // RFC 4648 section 10, padding removed.
  const std::pair<const char*, const char*> v[] = {
      {"", ""},
      {"f", "MY"},
      {"fo", "MZXQ"},
      {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"},
      {"fooba", "MZXW6YTB"},
      {"foobar", "MZXW6YTBOI"},
  };
  for (const auto& [plain, enc] : v) {
    EXPECT_EQ(base32_encode(plain), enc);
    EXPECT_EQ(base32_decode(enc), std::string(plain));
  }
  EXPECT_EQ(base32_encode("12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(Base32, RoundTripsEveryLengthAndByte) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    bytes += static_cast<char>((i * 151 + 7) & 0xFF);
    const auto enc = base32_encode(bytes);
    EXPECT_EQ(enc.find('='), std::string::npos);
    EXPECT_EQ(base32_decode(enc), bytes) << i;
  }
}

TEST(Base32, StrictDecoding) {
  for (const char* bad : {"MY======", "my", "MZ", "M", "MZX", "MZXW6YTBO", "MZ XQ", "MZXQ\n",
                          "MZ1Q", "MZ8Q", "MZ=Q", "MZXW6YTBOJ"}) {
    EXPECT_EQ(base32_decode(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(base32_decode(std::string(1025, 'A')), std::nullopt);
  EXPECT_NE(base32_decode(std::string(1024, 'A')), std::nullopt);
}

TEST(OtpauthUri, ExactlyAsSpecified) {
  EXPECT_EQ(otpauth_uri("strongroom", "alice_01-x", "JBSWY3DPEHPK3PXP"),
            "otpauth://totp/strongroom:alice_01-x?secret=JBSWY3DPEHPK3PXP&issuer=strongroom"
            "&algorithm=SHA1&digits=6&period=30");
}

TEST(OtpauthUri, LabelPartsPercentEncoded) {
  const auto uri = otpauth_uri("a b", "x:y&z=1?#/%\xc3\xa9", "AA");
  EXPECT_EQ(uri,
            "otpauth://totp/a%20b:x%3Ay%26z%3D1%3F%23%2F%25%C3%A9?secret=AA&issuer=a%20b"
            "&algorithm=SHA1&digits=6&period=30");
}

}  // namespace
}  // namespace sr::auth::totp
