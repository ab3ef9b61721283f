// SecretBytes: value semantics of locked and transient secrets (wiping is checked by the json
// module's wipe test, which inspects freed memory).
#include <gtest/gtest.h>

#include <cstring>

#include "util/secret.hpp"

TEST(SecretBytes, TransientHoldsAndMovesItsBytes) {
  auto t = sr::SecretBytes::transient(5);
  ASSERT_EQ(t.size(), 5u);
  std::memcpy(t.data(), "hello", 5);
  sr::SecretBytes moved(std::move(t));
  EXPECT_EQ(moved.view(), "hello");
  EXPECT_TRUE(t.empty());        // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  sr::SecretBytes copy = moved;  // a copy is an ordinary (locked) secret
  EXPECT_TRUE(copy.equals(moved));
  sr::SecretBytes assigned = sr::SecretBytes::from_view("other");
  assigned = std::move(copy);
  EXPECT_EQ(assigned.view(), "hello");
}

// What ct_equal answers. That it takes the same time whatever the content is libsodium's
// sodium_memcmp's property, not measured here (timing is never asserted in tests).
TEST(SecretBytes, CtEqualAnswersEqualityOfWholeStrings) {
  EXPECT_TRUE(sr::ct_equal("abc", "abc"));
  EXPECT_FALSE(sr::ct_equal("abc", "abd"));
  EXPECT_FALSE(sr::ct_equal("abc", "abcd"));
  EXPECT_TRUE(sr::ct_equal("", ""));
  auto r1 = sr::SecretBytes::random(32), r2 = sr::SecretBytes::random(32);
  EXPECT_FALSE(r1.equals(r2));
}
