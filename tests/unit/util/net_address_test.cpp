// The one IP/CIDR parser (util/net_address): what it accepts, what it refuses, and the range
// predicates the configuration checks use.
#include "util/net_address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

using namespace sr::net;
using namespace std::string_literals;

namespace {

// The canonical text of a parsed network, through inet_ntop (an independent formatter).
std::string text_of(const Cidr& c) {
  char buf[INET6_ADDRSTRLEN] = {};
  EXPECT_NE(inet_ntop(c.v4 ? AF_INET : AF_INET6, c.addr, buf, sizeof buf), nullptr);
  return std::string(buf) + "/" + std::to_string(c.bits);
}

}  // namespace

TEST(NetAddress, ParsesAddressesAndRanges) {
  struct Case {
    const char* in;
    const char* out;
  };
  for (auto [in, out] :
       {Case{"10.0.0.1", "10.0.0.1/32"}, Case{"10.0.0.0/8", "10.0.0.0/8"},
        Case{" 192.168.1.0/24\t", "192.168.1.0/24"}, Case{"::1", "::1/128"},
        Case{"fd00::/8", "fd00::/8"}, Case{"2001:db8::/32", "2001:db8::/32"},
        Case{"0.0.0.0/0", "0.0.0.0/0"}, Case{"::/0", "::/0"}, Case{"10.0.0.0/08", "10.0.0.0/8"},
        // IPv4-mapped IPv6 is held as IPv4, its prefix counted within IPv4.
        Case{"::ffff:10.1.2.3", "10.1.2.3/32"}, Case{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
        Case{"::ffff:0.0.0.0/96", "0.0.0.0/0"}}) {
    auto c = parse_cidr(in);
    ASSERT_TRUE(c.has_value()) << in;
    EXPECT_EQ(text_of(*c), out) << in;
    if (c->v4) {
      for (int i = 4; i < 16; ++i) EXPECT_EQ(c->addr[i], 0) << in;
    }
  }
}

TEST(NetAddress, RefusesHostileInput) {
  const std::string long_v6 = std::string(40, '0') + "::1";  // > 45 characters
  for (const std::string& bad :
       {""s, " "s, "/"s, "/8"s, "abc"s, "localhost"s, "*"s, "10.0.0.0/"s, "10.0.0.0/33"s, "::/129"s,
        "1.2.3.4/-1"s, "1.2.3.4/+8"s, "1.2.3.4/1x"s, "1.2.3.4/0008"s, "1.2.3.4/8/8"s, "1.2.3.4 /8"s,
        "1.2.3"s, "1.2.3.4.5"s, "256.1.1.1"s, "1.2.3.4:80"s, "[::1]"s, "::1%eth0"s, "fe80::1%1"s,
        "1.2.3.4\0"s, "127.0.0.1\0@evil"s, "10.0.0.0\0/8"s, "\0"s, long_v6,
        // A mapped address with a prefix that would mix IPv4 and IPv6 space.
        "::ffff:10.0.0.0/8"s, "::ffff:10.0.0.0/95"s, "::ffff:10.0.0.0/129"s, "1.2.3.4/32\n"s,
        "\xff\xfe"s, std::string(1000, '1')}) {
    EXPECT_FALSE(parse_cidr(bad).has_value()) << '"' << bad << '"';
    EXPECT_FALSE(parse_ip(bad).has_value()) << '"' << bad << '"';
  }
  // parse_ip takes no prefix at all.
  EXPECT_FALSE(parse_ip("10.0.0.1/32").has_value());
  EXPECT_TRUE(parse_ip(" 10.0.0.1 ").has_value());
}

TEST(NetAddress, ContainsNeverMixesFamilies) {
  auto net = [](const char* t) { return *parse_cidr(t); };
  EXPECT_TRUE(contains(net("10.0.0.0/8"), net("10.255.0.1")));
  EXPECT_TRUE(contains(net("10.0.0.0/8"), net("10.1.0.0/16")));
  EXPECT_FALSE(contains(net("10.0.0.0/8"), net("10.0.0.0/7")));  // wider than the net
  EXPECT_FALSE(contains(net("10.0.0.0/8"), net("11.0.0.1")));
  EXPECT_TRUE(contains(net("0.0.0.0/0"), net("203.0.113.9")));
  EXPECT_FALSE(contains(net("::/0"), net("203.0.113.9")));
  EXPECT_FALSE(contains(net("0.0.0.0/0"), net("2001:db8::1")));
  EXPECT_TRUE(contains(net("10.0.0.0/8"), net("::ffff:10.9.9.9")));
  EXPECT_TRUE(contains(net("192.168.1.7"), net("192.168.1.7")));
  EXPECT_FALSE(contains(net("192.168.1.7"), net("192.168.1.8")));
  EXPECT_TRUE(contains(net("10.0.0.0/9"), net("10.127.255.255")));  // a prefix not on a byte
  EXPECT_FALSE(contains(net("10.0.0.0/9"), net("10.128.0.0")));
}

TEST(NetAddress, LoopbackAndNonPublicSpace) {
  auto net = [](const char* t) { return *parse_cidr(t); };
  for (const char* t : {"127.0.0.1", "127.0.0.0/8", "::1", "::ffff:127.0.0.1"})
    EXPECT_TRUE(is_loopback(net(t))) << t;
  for (const char* t : {"127.0.0.0/7", "10.0.0.1", "::2", "::/0"})
    EXPECT_FALSE(is_loopback(net(t))) << t;
  for (const char* t : {"10.0.0.0/8", "10.1.2.3", "172.16.0.0/12", "172.31.255.1", "192.168.0.0/16",
                        "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8", "fc00::/7", "fd12::/16",
                        "fe80::/10", "::1", "::ffff:192.168.1.1"})
    EXPECT_TRUE(is_non_public(net(t))) << t;
  for (const char* t : {"0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/7", "172.16.0.0/11",
                        "172.32.0.0/16", "100.0.0.0/8", "192.0.0.0/8", "8.8.8.8", "203.0.113.0/24",
                        "::/0", "2000::/3", "fc00::/6", "fe80::/9", "::ffff:8.8.8.8"})
    EXPECT_FALSE(is_non_public(net(t))) << t;
}
