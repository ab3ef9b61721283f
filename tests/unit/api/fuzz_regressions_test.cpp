// Regressions found by the libFuzzer harnesses (fuzz/regressions/{cookie_header,url}/).
#include <gtest/gtest.h>

#include <string>

#include "api/net.hpp"
#include "api/validation.hpp"

using namespace sr::api;
using namespace std::string_literals;

// fuzz_cookie_header: inet_pton reads a C string, so "127.0.0.1\0junk" parsed as 127.0.0.1 and
// client_ip() returned the whole string (NUL and junk included) as the client address.
TEST(FuzzRegressions, AddressWithEmbeddedNulIsNotAnAddress) {
  EXPECT_FALSE(parse_cidr("127.0.0.1\0@x"s).has_value());
  EXPECT_FALSE(parse_cidr("10.0.0.0\0/8"s).has_value());
  AddressSet proxies({"127.0.0.1", "10.0.0.0/8"});
  EXPECT_FALSE(proxies.contains("127.0.0.1\0evil"s));
  // A garbage hop stops the walk: the last trusted hop is used, never the garbage.
  EXPECT_EQ(client_ip("127.0.0.1", "203.0.113.9, 10.1.2.3\0x"s, proxies), "127.0.0.1");
  EXPECT_EQ(client_ip("127.0.0.1", "1.2.3.4\0zz, 10.1.2.3"s, proxies), "10.1.2.3");
}

// fuzz_url: Boost.URL 1.81 accepts an IP literal or a port followed by a path that does not
// start with '/', which RFC 3986 forbids (and browsers refuse).
TEST(FuzzRegressions, UrlAuthorityMustBeFollowedBySlash) {
  for (const char* bad :
       {"http://[::1]28080/a", "http://[::1]x/a", "http://a:80x/a", "https://[::1]:x/"})
    EXPECT_TRUE(check_url(bad).has_value()) << bad;
  for (const char* ok : {"http://[::1]:8080/a", "http://a:80/x", "https://a", "https://a?q#f"})
    EXPECT_FALSE(check_url(ok).has_value()) << ok;
}
