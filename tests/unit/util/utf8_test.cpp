// utf8_length: counts code points of valid UTF-8 and refuses everything else, wherever in the
// string the sequence sits (its ASCII path takes eight bytes at a time, so every offset around an
// eight-byte boundary is tried).
#include <gtest/gtest.h>

#include <string>

#include "util/utf8.hpp"

using namespace std::string_literals;

namespace {

// `piece` at byte offset `at` of `total` ASCII bytes ('a'), the rest after it.
std::string around(std::size_t total, std::size_t at, const std::string& piece) {
  return std::string(at, 'a') + piece + std::string(total - at, 'a');
}

}  // namespace

TEST(Utf8Length, AsciiOfEveryLengthIsItsLength) {
  for (std::size_t n = 0; n < 40; ++n) EXPECT_EQ(sr::utf8_length(std::string(n, 'x')), n) << n;
  EXPECT_EQ(sr::utf8_length("\x00\x7f"s), 2u);  // NUL and DEL are valid UTF-8 (callers check)
}

TEST(Utf8Length, ValidSequencesCountAsOneAtEveryOffset) {
  const std::string valid[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x94\x92", "\xc2\x80",
                               "\xdf\xbf", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"};
  for (const auto& v : valid)
    for (std::size_t at = 0; at <= 24; ++at) {
      EXPECT_EQ(sr::utf8_length(around(24, at, v)), 25u) << at;
      EXPECT_EQ(sr::utf8_length(around(24, at, v + v)), 26u) << at;
    }
}

TEST(Utf8Length, InvalidBytesAreRefusedAtEveryOffset) {
  const std::string invalid[] = {
      "\x80",              // a continuation byte alone
      "\xbf",              //
      "\xc0\xaf",          // overlong '/'
      "\xc1\xbf",          // overlong
      "\xe0\x80\xaf",      // overlong, three bytes
      "\xf0\x80\x80\xaf",  // overlong, four bytes
      "\xed\xa0\x80",      // a surrogate (U+D800)
      "\xf4\x90\x80\x80",  // above U+10FFFF
      "\xf5\x80\x80\x80",  // no such lead byte
      "\xff",              //
      "\xc3",              // a lead byte without its continuation
      "\xe2\x82",          //
      "\xf0\x9f\x94",      //
      "\xc3\x41",          // a lead byte followed by ASCII
  };
  for (const auto& v : invalid)
    for (std::size_t at = 0; at <= 24; ++at) {
      EXPECT_FALSE(sr::utf8_length(around(24, at, v))) << at;
      EXPECT_FALSE(sr::utf8_length(std::string(at, 'a') + v)) << at;  // at the very end
    }
}
