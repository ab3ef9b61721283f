// escape_into() and Writer. Every output is also checked by Boost.JSON's own strict parser.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <string>

#include "json/json.hpp"

namespace sr::json {
namespace {

using namespace std::string_literals;

// "k" + std::to_string(i) without GCC 12's false -Wrestrict warning.
std::string numbered(const char* prefix, int i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

std::string esc(std::string_view s) {
  std::string out;
  escape_into(out, s);
  return out;
}

// The escaped text, inside quotes, parses as a JSON string; returns the decoded string.
std::string roundtrip(std::string_view s) {
  std::string doc = "\"" + esc(s) + "\"";
  boost::json::error_code ec;
  auto v = boost::json::parse(doc, ec);
  EXPECT_FALSE(ec) << "not valid JSON: " << doc;
  if (ec || !v.is_string()) return "<invalid>";
  return std::string(v.as_string());
}

TEST(EscapeInto, PlainTextUnchanged) {
  EXPECT_EQ(esc("hello world"), "hello world");
  EXPECT_EQ(esc(""), "");
  EXPECT_EQ(esc("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(esc("</script>&'"), "</script>&'");
}

TEST(EscapeInto, AppendsToExistingContent) {
  std::string out = "abc";
  escape_into(out, "\"");
  EXPECT_EQ(out, "abc\\\"");
}

TEST(EscapeInto, QuotesAndBackslash) {
  EXPECT_EQ(esc("a\"b"), "a\\\"b");
  EXPECT_EQ(esc("a\\b"), "a\\\\b");
  EXPECT_EQ(esc("\"\\\""), "\\\"\\\\\\\"");
}

std::string esc_log(std::string_view s) {
  std::string out;
  escape_log_into(out, s);
  return out;
}

// RFC 8259 section 7: the short forms where JSON has one, \u00XX for the other C0 controls.
TEST(EscapeInto, EveryControlCharacterEscaped) {
  const std::map<int, std::string> short_forms = {
      {'\b', "\\b"}, {'\f', "\\f"}, {'\n', "\\n"}, {'\r', "\\r"}, {'\t', "\\t"}};
  for (int c = 0; c < 0x20; ++c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04x", c);
    const std::string want = short_forms.count(c) ? short_forms.at(c) : std::string(buf);
    EXPECT_EQ(esc(std::string(1, static_cast<char>(c))), want) << c;
    EXPECT_EQ(esc_log(std::string(1, static_cast<char>(c))), want) << c;
  }
  EXPECT_EQ(esc("line1\nline2\r\n"), "line1\\nline2\\r\\n");
  EXPECT_EQ(esc("a\0b"s), "a\\u0000b");
}

// What JSON does not require is not escaped in responses (issue 14: DEL and U+2028 grew a list
// sixfold); log lines escape them, and the C1 controls, for terminals and line-based viewers.
TEST(EscapeInto, DelC1AndSeparatorsOnlyEscapedInLogs) {
  const std::string seps =
      "a\xE2\x80\xA8"
      "b\xE2\x80\xA9"
      "c";
  EXPECT_EQ(esc(seps), seps);
  EXPECT_EQ(esc_log(seps), "a\\u2028b\\u2029c");
  EXPECT_EQ(esc("\x7f"), "\x7f");
  EXPECT_EQ(esc_log("\x7f"), "\\u007f");
  EXPECT_EQ(esc("\xC2\x9B"), "\xC2\x9B");  // U+009B (CSI on some terminals)
  EXPECT_EQ(esc_log("\xC2\x9B"), "\\u009b");
  EXPECT_EQ(esc_log("\xC2\x80\xC2\x9F"), "\\u0080\\u009f");
  // neighbours are not touched
  EXPECT_EQ(esc_log("\xC2\xA0\xE2\x80\xA7\xE2\x80\xAA"), "\xC2\xA0\xE2\x80\xA7\xE2\x80\xAA");
}

TEST(EscapeInto, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(esc("a\xFF"
                "b"),
            "a\\ufffdb");
  EXPECT_EQ(esc("\x80"), "\\ufffd");
  EXPECT_EQ(esc("\xC0\xAF"), "\\ufffd\\ufffd");                        // overlong
  EXPECT_EQ(esc("\xE0\x80\xAF"), "\\ufffd\\ufffd\\ufffd");             // overlong
  EXPECT_EQ(esc("\xED\xA0\x80"), "\\ufffd\\ufffd\\ufffd");             // surrogate
  EXPECT_EQ(esc("\xF4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd");  // > U+10FFFF
  EXPECT_EQ(esc("\xC3"), "\\ufffd");                                   // truncated at the end
  EXPECT_EQ(esc("\xE2\x82"
                "x"),
            "\\ufffd\\ufffdx");  // truncated in the middle
  EXPECT_EQ(esc("\xC3\xA9\xFF\xC3\xA9"), "\xC3\xA9\\ufffd\xC3\xA9");
}

TEST(EscapeInto, SpecialByteFoundAtEveryPositionOfLongRuns) {
  // Plain text is skipped 8 bytes at a time: each special byte must be seen wherever it sits.
  const std::pair<std::string, std::string> cases[] = {
      {"\"", "\\\""},          {"\\", "\\\\"},     {"\x01", "\\u0001"},
      {"\x1f", "\\u001f"},     {"\n", "\\n"},      {"\xff", "\\ufffd"},
      {"\x80", "\\ufffd"},     {"\0"s, "\\u0000"}, {"\xE2\x80\xA8", "\xE2\x80\xA8"},
      {"\xC3\xA9", "\xC3\xA9"}};
  for (const auto& [special, escaped] : cases) {
    for (std::size_t pos = 0; pos <= 24; ++pos) {
      std::string in = std::string(pos, 'a') + special + std::string(24 - pos, 'b');
      std::string want = std::string(pos, 'a') + escaped + std::string(24 - pos, 'b');
      EXPECT_EQ(esc(in), want) << "pos " << pos << " escaped " << escaped;
    }
  }
  for (std::size_t pos = 0; pos <= 24; ++pos) {  // DEL, in log mode only
    std::string in = std::string(pos, 'a') + "\x7f" + std::string(24 - pos, 'b');
    EXPECT_EQ(esc(in), in);
    EXPECT_EQ(esc_log(in), std::string(pos, 'a') + "\\u007f" + std::string(24 - pos, 'b'));
  }
  // bytes just outside the special ranges are copied as they are
  EXPECT_EQ(esc(" !#$%&'()*+,-./0123456789[]^_`{|}~ABCDEFGH"),
            " !#$%&'()*+,-./0123456789[]^_`{|}~ABCDEFGH");
}

TEST(EscapeInto, OutputAlwaysValidJsonAndRoundTrips) {
  // every single byte, every pair of bytes from an interesting set
  for (int c = 0; c < 256; ++c) {
    std::string s(1, static_cast<char>(c));
    std::string back = roundtrip(s);
    if (c < 0x80) {
      EXPECT_EQ(back, s) << c;
    }
  }
  const unsigned char pick[] = {0x00, 0x1f, '"',  '\\', 'a',  0x7f, 0x80, 0xbf, 0xc2, 0xdf,
                                0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f};
  for (unsigned char a : pick)
    for (unsigned char b : pick)
      for (unsigned char c : pick) {
        std::string s{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)};
        roundtrip(s);
      }
  // valid text survives exactly
  std::string text = "x\"\\\n\t\x01\x7f\xC3\xA9\xE2\x80\xA8\xF0\x9F\x98\x80";
  EXPECT_EQ(roundtrip(text), text);
}

TEST(WriterTest, CommasAndNesting) {
  Writer w;
  w.begin_object()
      .kv("id", 3)
      .kv("name", "alice")
      .key("links")
      .begin_array()
      .begin_object()
      .kv("a", 1)
      .end_object()
      .begin_object()
      .end_object()
      .value(2)
      .begin_array()
      .end_array()
      .end_array()
      .kv("ok", true)
      .end_object();
  EXPECT_EQ(w.str(), R"({"id":3,"name":"alice","links":[{"a":1},{},2,[]],"ok":true})");
}

TEST(WriterTest, EmptyContainersAndTopLevelArray) {
  Writer a;
  a.begin_object().end_object();
  EXPECT_EQ(a.str(), "{}");
  Writer b;
  b.begin_array().value(1).value("x").value(nullptr).value(false).end_array();
  EXPECT_EQ(b.str(), R"([1,"x",null,false])");
}

TEST(WriterTest, ScalarTypes) {
  Writer w;
  std::string s = "str";
  w.begin_object()
      .kv("i", int64_t{-42})
      .kv("imin", std::numeric_limits<int64_t>::min())
      .kv("imax", std::numeric_limits<int64_t>::max())
      .kv("int", 7)
      .kv("t", true)
      .kv("f", false)
      .kv("n", nullptr)
      .kv("s", s)
      .kv("sv", std::string_view("v"))
      .kv("d", 1.5)
      .end_object();
  EXPECT_EQ(w.str(), R"({"i":-42,"imin":-9223372036854775808,"imax":9223372036854775807,"int":7,)"
                     R"("t":true,"f":false,"n":null,"s":"str","sv":"v","d":1.5})");
}

TEST(WriterTest, DoublesNeverNanOrInf) {
  Writer w;
  w.begin_array()
      .value(std::numeric_limits<double>::quiet_NaN())
      .value(std::numeric_limits<double>::infinity())
      .value(-std::numeric_limits<double>::infinity())
      .value(0.1)
      .value(-0.0)
      .value(1e300)
      .value(5e-324)
      .end_array();
  EXPECT_EQ(w.str().substr(0, 16), "[null,null,null,");
  EXPECT_EQ(w.str().find("nan"), std::string::npos);
  EXPECT_EQ(w.str().find("inf"), std::string::npos);
  auto v = boost::json::parse(w.str());
  auto& arr = v.as_array();
  ASSERT_EQ(arr.size(), 7u);
  EXPECT_DOUBLE_EQ(arr[3].to_number<double>(), 0.1);
  EXPECT_DOUBLE_EQ(arr[5].to_number<double>(), 1e300);
  EXPECT_EQ(arr[6].to_number<double>(), 5e-324);
}

TEST(WriterTest, Optionals) {
  Writer w;
  std::optional<int64_t> none, some = 5;
  std::optional<std::string> s = "x";
  w.begin_object().kv("a", none).kv("b", some).kv("c", s).end_object();
  EXPECT_EQ(w.str(), R"({"a":null,"b":5,"c":"x"})");
}

TEST(WriterTest, KeysAndValuesAreEscaped) {
  Writer w;
  w.begin_object().kv("k\"\n", "v\"\x01\xFF\x7F").end_object();
  EXPECT_EQ(w.str(), R"({"k\"\n":"v\"\u0001\ufffd)"
                     "\x7F"
                     R"("})");
  EXPECT_NO_THROW(boost::json::parse(w.str()));
}

TEST(WriterTest, RawInsertsJsonWithCommas) {
  Writer w;
  w.begin_object().kv("a", 1).key("b").raw(R"({"x":[1,2]})").key("c").raw("3").end_object();
  EXPECT_EQ(w.str(), R"({"a":1,"b":{"x":[1,2]},"c":3})");
  Writer arr;
  arr.begin_array().raw("1").raw("{}").value(2).end_array();
  EXPECT_EQ(arr.str(), "[1,{},2]");
}

TEST(WriterTest, TakeMovesTheBuffer) {
  Writer w;
  w.begin_object().kv("a", 1).end_object();
  std::string body = w.take();
  EXPECT_EQ(body, R"({"a":1})");
}

TEST(WriterTest, OutputParsesWithBoostAndMatches) {
  Writer w;
  w.begin_object();
  for (int i = 0; i < 20; ++i) {
    w.key(numbered("k", i)).begin_array();
    for (int j = 0; j < i; ++j) w.value(j).value(numbered("s", j));
    w.end_array();
  }
  w.end_object();
  auto v = boost::json::parse(w.str());
  EXPECT_EQ(v.as_object().size(), 20u);
  EXPECT_EQ(v.at("k19").as_array().size(), 38u);
  EXPECT_EQ(boost::json::serialize(v), w.str());
}

}  // namespace
}  // namespace sr::json
