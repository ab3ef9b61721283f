// Recovery codes: shape, alphabet, entropy, distinctness, and the input forms accepted.
#include "auth/recovery_codes.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <regex>
#include <set>

namespace sr::auth::recovery {
namespace {

TEST(RecoveryCodes, ShapeAndAlphabet) {
  const std::regex shape("^[2-9A-HJKMNP-TV-Z]{4}(-[2-9A-HJKMNP-TV-Z]{4}){3}$");
  for (int i = 0; i < 200; ++i) {
    const auto c = generate();
    EXPECT_TRUE(std::regex_match(c, shape)) << c;
    for (char bad : std::string("01ILOU")) EXPECT_EQ(c.find(bad), std::string::npos) << c;
  }
}

TEST(RecoveryCodes, AtLeastFiftyRandomBits) {
  EXPECT_GE(kLength * std::log2(static_cast<double>(kAlphabet.size())), 50.0);
}

TEST(RecoveryCodes, EveryCharacterOfTheAlphabetAtEveryPositionIsUsed) {
  // 3000 codes: each of the 30 characters is expected 100 times per position; a generator that
  // skipped a character, or biased one heavily, fails. (Loose bounds: 40..200.)
  std::map<std::pair<std::size_t, char>, int> seen;
  for (int i = 0; i < 3000; ++i) {
    const auto c = *normalize(generate());
    for (std::size_t p = 0; p < c.size(); ++p) ++seen[{p, c[p]}];
  }
  for (std::size_t p = 0; p < kLength; ++p) {
    for (char ch : kAlphabet) {
      const int n = seen[{p, ch}];
      EXPECT_GT(n, 40) << "position " << p << " char " << ch;
      EXPECT_LT(n, 200) << "position " << p << " char " << ch;
    }
  }
}

TEST(RecoveryCodes, ASetIsTenDistinctCodes) {
  const auto set = generate_set();
  ASSERT_EQ(set.size(), 10u);
  EXPECT_EQ(std::set<std::string>(set.begin(), set.end()).size(), 10u);
  EXPECT_NE(generate_set(), set);
}

TEST(RecoveryCodes, NormalizeAcceptsShownFormBareFormAnyCase) {
  const auto c = generate();
  std::string bare;
  for (char ch : c)
    if (ch != '-') bare += ch;
  std::string lower;
  for (char ch : c) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_EQ(normalize(c), bare);
  EXPECT_EQ(normalize(bare), bare);
  EXPECT_EQ(normalize(lower), bare);
  EXPECT_EQ(normalize("abcd-efgh-jkmn-pqrs"), "ABCDEFGHJKMNPQRS");
  EXPECT_EQ(normalize("aBcDeFgHjKmNpQrS"), "ABCDEFGHJKMNPQRS");
}

TEST(RecoveryCodes, NormalizeRefusesEverythingElse) {
  const char* bad[] = {
      "",
      "ABCD-EFGH-JKMN-PQR",    // short
      "ABCD-EFGH-JKMN-PQRST",  // long
      "ABCDEFGHJKMNPQR",       // short, bare
      "ABCDEFGHJKMNPQRST",     // long, bare
      "ABCD EFGH JKMN PQRS",   // spaces are not separators
      "ABCD_EFGH_JKMN_PQRS",
      "ABC-DEFGH-JKMN-PQRS",  // hyphen misplaced
      "ABCD-EFGH-JKMNPQRS-",
      "-ABCDEFGHJKMNPQRS-A",
      "ABCD-EFGH-JKMN-PQR0",  // 0 is not in the alphabet
      "ABCD-EFGH-JKMN-PQRO",  // nor O, I, L, 1, U
      "ABCD-EFGH-JKMN-PQRI",
      "ABCD-EFGH-JKMN-PQRL",
      "ABCD-EFGH-JKMN-PQR1",
      "ABCD-EFGH-JKMN-PQRU",
      "ABCD-EFGH-JKMN-PQR\xc3",
      " ABCDEFGHJKMNPQRS",
      "123456",
  };
  for (const char* b : bad) EXPECT_EQ(normalize(b), std::nullopt) << b;
  EXPECT_EQ(normalize(std::string("ABCD-EFGH-JKMN-PQR\0", 19)), std::nullopt);
  EXPECT_EQ(normalize(std::string(1 << 20, 'A')), std::nullopt);
}

}  // namespace
}  // namespace sr::auth::recovery
