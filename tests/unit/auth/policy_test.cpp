#include "auth/policy.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <string>

namespace sr::auth {
namespace {

const PolicyOptions kDefault{};
const PolicyOptions kComposition{true};

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(Policy, LengthInCodePoints) {
  // "é" is 2 bytes, "𝄞" 4 bytes: length counts code points, not bytes.
  EXPECT_TRUE(check_password_policy(repeat("é", 11), "alice", kDefault).has_value());
  EXPECT_FALSE(check_password_policy(repeat("é", 12), "alice", kDefault).has_value());
  EXPECT_FALSE(check_password_policy(repeat("𝄞", 128), "alice", kDefault).has_value());
  EXPECT_TRUE(check_password_policy(repeat("𝄞", 129), "alice", kDefault).has_value());
  EXPECT_TRUE(check_password_policy("kq7-vx2-mpz", "alice", kDefault).has_value());    // 11
  EXPECT_FALSE(check_password_policy("kq7-vx2-mpzw", "alice", kDefault).has_value());  // 12
  EXPECT_FALSE(check_password_policy(std::string(128, 'q'), "alice", kDefault).has_value());
  EXPECT_TRUE(check_password_policy(std::string(129, 'q'), "alice", kDefault).has_value());
  // 128 code points of 4 bytes = 512 bytes: still fine.
  EXPECT_EQ(repeat("𝄞", 128).size(), 512u);
}

TEST(Policy, InvalidUtf8Refused) {
  EXPECT_TRUE(check_password_policy("abcdefghijkl\xFF", "alice", kDefault).has_value());
  EXPECT_TRUE(check_password_policy("abcdefghijkl\xC0\xAF", "alice", kDefault).has_value());
}

TEST(Policy, MessageNeverEchoesPassword) {
  const std::string p = "tooshort";
  const auto m = check_password_policy(p, "alice", kDefault);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->find(p), std::string::npos);
}

TEST(Policy, CommonPasswordsRefusedCaseInsensitively) {
  EXPECT_GE(common_password_count(), 10000u);
  EXPECT_TRUE(is_common_password("password"));
  EXPECT_TRUE(is_common_password("PassWord"));
  EXPECT_TRUE(is_common_password("123456"));
  EXPECT_TRUE(is_common_password("qwertyuiop"));
  EXPECT_FALSE(is_common_password("kq7-vx2-mpzw-4tt"));
  EXPECT_FALSE(is_common_password(""));
  // Long enough for the length rule, yet in the list.
  EXPECT_TRUE(is_common_password("1q2w3e4r5t6y"));
  EXPECT_TRUE(check_password_policy("1q2w3e4r5t6y", "alice", kDefault).has_value());
  EXPECT_TRUE(check_password_policy("1Q2W3E4R5T6Y", "alice", kDefault).has_value());
}

// Every entry of the bundled data file is found (which a binary search over an unsorted array
// would not do), in any case, and the compiled-in list is exactly that file.
TEST(Policy, EveryListedPasswordIsFound) {
  const std::string path = SR_SOURCE_DIR "/src/auth/data/common-passwords.txt";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::size_t n = 0;
  std::string line, prev;
  while (std::getline(in, line)) {
    ++n;
    EXPECT_LT(prev, line);
    prev = line;
    if (!is_common_password(line)) ADD_FAILURE() << "entry " << n << " not found";
    std::string upper = line;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!is_common_password(upper)) ADD_FAILURE() << "entry " << n << " not found in upper case";
  }
  EXPECT_EQ(n, common_password_count());
}

TEST(Policy, ListIsSortedAndLookupIsExact) {
  // Exact matches only: a near miss is not in the list.
  EXPECT_TRUE(is_common_password("iloveyou"));
  EXPECT_FALSE(is_common_password("iloveyou "));
  EXPECT_FALSE(is_common_password(" iloveyou"));
  EXPECT_FALSE(is_common_password("iloveyouxqz"));
}

TEST(Policy, UsernameRefusedCaseInsensitively) {
  EXPECT_TRUE(check_password_policy("xx-Alice_Smith-99", "alice_smith", kDefault).has_value());
  EXPECT_TRUE(check_password_policy("alice_smith-xyz-97", "ALICE_SMITH", kDefault).has_value());
  EXPECT_FALSE(check_password_policy("xx-alic-smith-99", "alice_smith", kDefault).has_value());
  EXPECT_FALSE(check_password_policy("xx-alic-smith-99", "", kDefault).has_value());
}

TEST(Policy, CompositionRules) {
  const std::string lower_only = "kqvxmpzwttrr";
  EXPECT_FALSE(check_password_policy(lower_only, "alice", kDefault).has_value());
  EXPECT_TRUE(check_password_policy(lower_only, "alice", kComposition).has_value());
  EXPECT_TRUE(check_password_policy("Kqvxmpzwttrr7", "alice", kComposition).has_value());
  EXPECT_TRUE(check_password_policy("Kqvxmpzwttrr!", "alice", kComposition).has_value());
  EXPECT_TRUE(check_password_policy("KQVXMPZWT7R!", "alice", kComposition).has_value());
  EXPECT_FALSE(check_password_policy("Kqvxmpzwttrr7!", "alice", kComposition).has_value());
  EXPECT_FALSE(check_password_policy("Kqvxmpzwttrr7é", "alice", kComposition).has_value());
  // Length and the list still apply with composition on.
  EXPECT_TRUE(check_password_policy("Kq7!", "alice", kComposition).has_value());
}

}  // namespace
}  // namespace sr::auth
