// Pure helpers of the API layer: client IP behind proxies, CIDR sets, cookies, ids, field checks.
#include <gtest/gtest.h>

#include "api/cookies.hpp"
#include "api/net.hpp"
#include "api/params.hpp"
#include "api/validation.hpp"
#include "util/error.hpp"

using namespace sr::api;

TEST(AddressSet, MatchesCidrsAndExactAddresses) {
  AddressSet s({"10.0.0.0/8", "192.168.1.7", "::1", "2001:db8::/32"});
  EXPECT_TRUE(s.contains("10.255.1.2"));
  EXPECT_FALSE(s.contains("11.0.0.1"));
  EXPECT_TRUE(s.contains("192.168.1.7"));
  EXPECT_FALSE(s.contains("192.168.1.8"));
  EXPECT_TRUE(s.contains("::1"));
  EXPECT_TRUE(s.contains("2001:db8:1::5"));
  EXPECT_FALSE(s.contains("2001:db9::1"));
  EXPECT_TRUE(s.contains("::ffff:10.1.2.3"));  // IPv4-mapped IPv6
  EXPECT_FALSE(s.contains("not-an-ip"));
  EXPECT_FALSE(s.contains(""));
}

TEST(AddressSet, RejectsMalformedEntries) {
  for (const char* bad : {"10.0.0.0/33", "::/129", "abc", "10.0.0.0/", "1.2.3.4/-1", "1.2.3.4/1x"})
    EXPECT_THROW(AddressSet({bad}), std::invalid_argument) << bad;
}

TEST(ClientIp, PeerUnlessTrustedProxy) {
  AddressSet none;
  EXPECT_EQ(client_ip("127.0.0.1", "1.2.3.4", none), "127.0.0.1");
  AddressSet proxies({"127.0.0.1", "10.0.0.0/8"});
  EXPECT_EQ(client_ip("127.0.0.1", "1.2.3.4", proxies), "1.2.3.4");
  // Right-most untrusted hop wins; left-most spoofed entries are ignored.
  EXPECT_EQ(client_ip("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.1.1.1", proxies), "1.2.3.4");
  // Garbage stops the walk at the last trusted hop.
  EXPECT_EQ(client_ip("127.0.0.1", "1.2.3.4, <script>", proxies), "127.0.0.1");
  EXPECT_EQ(client_ip("127.0.0.1", "", proxies), "127.0.0.1");
  // All hops trusted: the left-most one.
  EXPECT_EQ(client_ip("127.0.0.1", "10.0.0.2, 10.0.0.3", proxies), "10.0.0.2");
  EXPECT_EQ(client_ip("8.8.8.8", "1.2.3.4", proxies), "8.8.8.8");
}

TEST(Cookies, ACredentialNameTwiceIsSeen) {
  for (bool secure : {false, true}) {
    const auto names = CookieNames::for_secure(secure);
    for (const std::string* n :
         {&names.access, &names.refresh, &names.csrf_access, &names.csrf_refresh, &names.vault}) {
      EXPECT_FALSE(names.repeated_in(*n + "=a; other=1")) << *n;
      EXPECT_TRUE(names.repeated_in(*n + "=a; " + *n + "=b")) << *n;
      EXPECT_TRUE(names.repeated_in(*n + "=a; x=1;" + *n + "=a")) << *n << ": even the same value";
      EXPECT_TRUE(names.repeated_in("x=1;\t" + *n + "=;  " + *n + " = b"))
          << *n << ": empty, spaced";
    }
  }
  const auto plain = CookieNames::for_secure(false);
  EXPECT_FALSE(plain.repeated_in(""));
  EXPECT_FALSE(plain.repeated_in("theme=a; theme=b")) << "only credential names count";
  EXPECT_FALSE(plain.repeated_in("access_token_cookie=a; xaccess_token_cookie=b"));
  EXPECT_FALSE(
      plain.repeated_in("access_token_cookie=a; refresh_token_cookie=b; "
                        "csrf_access_token=c; csrf_refresh_token=d; vault_session=e"));
  EXPECT_FALSE(plain.repeated_in("access_token_cookie=a; Access_Token_Cookie=b"))
      << "names are case-sensitive (RFC 6265)";
}

TEST(Cookies, FindAndBuild) {
  EXPECT_EQ(find_cookie("a=1; access_token_cookie=tok; b=2", "access_token_cookie"), "tok");
  EXPECT_EQ(find_cookie("xaccess_token_cookie=no; access_token_cookie=yes", "access_token_cookie"),
            "yes");
  EXPECT_EQ(find_cookie("a=\"quoted\"", "a"), "quoted");
  EXPECT_EQ(find_cookie("", "a"), "");
  EXPECT_EQ(find_cookie(";;;=;a", "a"), "");
  auto c = set_cookie({"n", "v", "/auth", 60, true, true, "Strict"});
  EXPECT_EQ(c, "n=v; Path=/auth; Max-Age=60; HttpOnly; Secure; SameSite=Strict");
  auto cleared = set_cookie({"n", "", "/", 0, false, false, "Lax"});
  EXPECT_NE(cleared.find("Max-Age=0"), std::string::npos);
  EXPECT_NE(cleared.find("Expires=Thu, 01 Jan 1970"), std::string::npos);
  EXPECT_EQ(cleared.find("HttpOnly"), std::string::npos);
  auto secure = CookieNames::for_secure(true);
  EXPECT_EQ(secure.access, "__Host-access_token_cookie");
  EXPECT_EQ(secure.refresh, "__Secure-refresh_token_cookie");
  EXPECT_EQ(CookieNames::for_secure(false).csrf_access, "csrf_access_token");
}

TEST(PathId, OnlyCanonicalPositiveDecimals) {
  EXPECT_EQ(path_id("1"), 1);
  EXPECT_EQ(path_id("123456789012345678"), 123456789012345678);
  for (const char* bad : {"", "0", "-1", "+1", "01", "1.5", "1e3", "abc", " 1",
                          "1234567890123456789", "99999999999999999999999"}) {
    try {
      path_id(bad);
      ADD_FAILURE() << bad;
    } catch (const sr::ApiError& e) {
      EXPECT_EQ(e.code(), sr::ErrorCode::not_found) << bad;
    }
  }
}

TEST(Validation, Urls) {
  for (const char* ok : {"https://example.org", "http://a.b/c?d=e#f", "HTTPS://EXAMPLE.ORG:8443/x",
                         "https://[2001:db8::1]/", "https://xn--bcher-kva.example/"})
    EXPECT_FALSE(check_url(ok)) << ok;
  for (const char* bad : {"javascript:alert(1)", "data:text/html,x", "ftp://x.org", "//x.org", "/x",
                          "https://u:p@x.org", "https://u@x.org", "https:///x", "http://a b.org",
                          "https://x.org/\x01", "mailto:a@b.org", ""})
    EXPECT_TRUE(check_url(bad)) << bad;
}

TEST(Validation, UsernameEmailPhonePlatform) {
  EXPECT_FALSE(check_username("Ada_Lovelace-1"));
  EXPECT_TRUE(check_username("ada lovelace"));
  EXPECT_TRUE(check_username("ada\xc3\xa9"));
  EXPECT_FALSE(check_email("a@b.co"));
  for (const char* bad : {"ab.co", "a@@b.co", "@b.co", "a@b", "a@.b.co", "a@b.co.", "a@b..co",
                          "a b@c.de", "a@b.co\n"})
    EXPECT_TRUE(check_email(bad)) << bad;
  EXPECT_FALSE(check_phone("+1 (555) 010-9999"));
  EXPECT_TRUE(check_phone("555-CALL"));
  EXPECT_FALSE(check_platform("My Site_1.0-x"));
  EXPECT_TRUE(check_platform("a/b"));
}

TEST(RateKeyIp, Ipv6ReducedToSlash64) {
  EXPECT_EQ(rate_key_ip("203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(rate_key_ip("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(rate_key_ip("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
  EXPECT_NE(rate_key_ip("2001:db8:1:3::1"), rate_key_ip("2001:db8:1:2::1"));
  EXPECT_EQ(rate_key_ip("::ffff:10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(rate_key_ip("::1"), "::/64");
}
