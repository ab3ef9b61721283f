// The reader of the common request head (http/head.hpp): what it takes, what it reads, and what
// it leaves to Beast's parser. fuzz_http_head checks on arbitrary input that whatever it takes,
// Beast reads the same way.
#include "http/head.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sr::http {
namespace {

constexpr std::size_t kLimit = 16 * 1024;

// A view, not a std::string: h's fields point into `in`, so a temporary string made from a
// literal here would be gone before the test reads them (ASan: heap-use-after-free).
bool takes(std::string_view in, QuickHead& h, std::size_t limit = kLimit) {
  return parse_quick_head(in, limit, h);
}

bool takes(std::string_view in) {
  QuickHead h;
  return takes(in, h);
}

TEST(QuickHead, ReadsABearerGetInPlace) {
  const std::string token(375, 'a');
  const std::string head =
      "GET /personal/me?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
      "Authorization: Bearer " +
      token + "\r\nX-Request-ID:  abc \t\r\n\r\n";
  const std::string in = head + "GET /healthz HTTP/1.1\r\n";  // the next, pipelined request
  QuickHead h;
  ASSERT_TRUE(takes(in, h));
  EXPECT_EQ(h.method, Method::GET);
  EXPECT_EQ(h.target, "/personal/me?x=1");
  EXPECT_EQ(h.version, 11u);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_EQ(h.size, head.size());
  ASSERT_EQ(h.nfields, 3u);
  EXPECT_EQ(h.fields[0].first, "Host");
  EXPECT_EQ(h.fields[0].second, "127.0.0.1:8080");
  EXPECT_EQ(h.last("authorization"), "Bearer " + token);
  EXPECT_EQ(h.last("X-REQUEST-ID"), "abc");  // optional white space around a value is not in it
  EXPECT_EQ(h.last("Cookie"), "");
  // Views into the input, not copies.
  EXPECT_EQ(h.target.data(), in.data() + 4);
}

TEST(QuickHead, EveryMethodWithoutABody) {
  for (auto [text, m] : {std::pair{"GET", Method::GET},
                         {"HEAD", Method::HEAD},
                         {"POST", Method::POST},
                         {"PUT", Method::PUT},
                         {"PATCH", Method::PATCH},
                         {"DELETE", Method::DELETE_},
                         {"OPTIONS", Method::OPTIONS}}) {
    QuickHead h;
    const std::string in = std::string(text) + " /x HTTP/1.1\r\nHost: a\r\n\r\n";
    ASSERT_TRUE(takes(in, h)) << text;
    EXPECT_EQ(h.method, m);
    EXPECT_EQ(h.target, "/x");
  }
  EXPECT_FALSE(takes("get /x HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_FALSE(takes("TRACE /x HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_FALSE(takes("GETS /x HTTP/1.1\r\nHost: a\r\n\r\n"));
}

TEST(QuickHead, KeepAliveAsBeastReadsIt) {
  QuickHead h;
  ASSERT_TRUE(takes("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n", h));
  EXPECT_FALSE(h.keep_alive);
  ASSERT_TRUE(takes("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", h));
  EXPECT_TRUE(h.keep_alive);
  ASSERT_TRUE(takes("GET / HTTP/1.0\r\n\r\n", h));
  EXPECT_EQ(h.version, 10u);
  EXPECT_FALSE(h.keep_alive);
  ASSERT_TRUE(takes("GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n", h));
  EXPECT_TRUE(h.keep_alive);
  // A list, an upgrade or a second line is Beast's to read.
  EXPECT_FALSE(takes("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n\r\n"));
  EXPECT_FALSE(
      takes("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nConnection: close\r\n\r\n"));
  EXPECT_FALSE(takes("GET / HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n"));
}

TEST(QuickHead, LeavesBodiesToBeast) {
  EXPECT_FALSE(takes("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_FALSE(takes("POST /x HTTP/1.1\r\nHost: a\r\ncontent-length: 2\r\n\r\n{}"));
  EXPECT_FALSE(takes("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
}

TEST(QuickHead, LeavesTheHostRuleToTheServer) {
  // SPEC 14: one Host on HTTP/1.1, at most one on 1.0. Beast's path refuses the others.
  EXPECT_FALSE(takes("GET / HTTP/1.1\r\n\r\n"));
  EXPECT_FALSE(takes("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"));
  EXPECT_FALSE(takes("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"));
  EXPECT_TRUE(takes("GET / HTTP/1.0\r\nHost: a\r\n\r\n"));
}

TEST(QuickHead, LeavesAnythingMalformedToBeast) {
  const char* bad[] = {
      "",
      "GET / HTTP/1.1\r\nHost: a\r\n",                    // not complete
      "GET / HTTP/1.1\r\nHost: a\r\n\r",                  // not complete
      "GET / HTTP/2.0\r\nHost: a\r\n\r\n",                // version
      "GET / HTTP/1.1\nHost: a\r\n\r\n",                  // bare LF
      "GET / HTTP/1.1\r\nHost: a\n\r\n",                  // bare LF
      "GET / HTTP/1.1\r\nHost: a\r\n\n",                  // bare LF at the end
      "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",               // two spaces
      "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",            // DEL in the target
      "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",        // not ASCII in the target
      "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n",            // control byte in a value
      "GET / HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n",         // not ASCII in a value
      "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",  // folded line
      "GET / HTTP/1.1\r\nHost: a\r\nX : b\r\n\r\n",       // space before the colon
      "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n",         // empty name
      "GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n",     // separator in a name
      "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",            // a leading empty line
  };
  for (const char* in : bad) EXPECT_FALSE(takes(in)) << in;
}

TEST(QuickHead, TakesTabsAndEmptyValues) {
  QuickHead h;
  ASSERT_TRUE(takes("GET / HTTP/1.1\r\nHost: a\r\nX-A:\r\nX-B: \t \r\nX-C:\tb\tc\t\r\n\r\n", h));
  EXPECT_EQ(h.last("X-A"), "");
  EXPECT_EQ(h.last("X-B"), "");
  EXPECT_EQ(h.last("X-C"), "b\tc");
  EXPECT_EQ(h.count("x-a"), 1u);
}

TEST(QuickHead, RepeatedFieldsKeepTheirOrderAndTheLastWins) {
  QuickHead h;
  ASSERT_TRUE(
      takes("GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\nX-Forwarded-For: 1.1.1.1\r\n"
            "cookie: b=2\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
            h));
  EXPECT_EQ(h.count("Cookie"), 2u);
  EXPECT_EQ(h.last("X-Forwarded-For"), "10.0.0.1");
  EXPECT_EQ(h.first("X-Forwarded-For"), "1.1.1.1");
  EXPECT_EQ(h.first("X-Missing"), "");
  EXPECT_EQ(h.fields[1].second, "a=1");
  EXPECT_EQ(h.fields[3].second, "b=2");
}

TEST(QuickHead, LimitsOfSizeAndFieldCount) {
  std::string in = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (std::size_t i = 1; i < QuickHead::kMaxFields; ++i)
    in += "X-" + std::to_string(i) + ": v\r\n";
  in += "\r\n";
  QuickHead h;
  ASSERT_TRUE(takes(in, h));
  EXPECT_EQ(h.nfields, QuickHead::kMaxFields);
  std::string more = in.substr(0, in.size() - 2) + "X-Last: v\r\n\r\n";
  EXPECT_FALSE(takes(more));  // one field too many: Beast's

  // The head must end below the limit, and within kMaxSize whatever the limit.
  const std::string small = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_TRUE(takes(small, h, small.size() + 1));
  EXPECT_FALSE(takes(small, h, small.size()));
  EXPECT_FALSE(takes(small, h, 0));
  const std::string big =
      "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(QuickHead::kMaxSize, 'v') + "\r\n\r\n";
  EXPECT_FALSE(takes(big, h, 1 << 20));
}

}  // namespace
}  // namespace sr::http
