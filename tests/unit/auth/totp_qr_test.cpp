// The QR code SVG: decoded by an independent reader (zbarimg, Debian's zbar-tools) after the
// SVG's rectangles are painted into a bitmap, and checked to carry nothing but numbers.
#include "auth/totp_qr.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "auth/totp.hpp"

namespace sr::auth::totp {
namespace {

constexpr int kScale = 4;  // pixels per SVG unit in the bitmap handed to zbarimg

struct Bitmap {
  int size = 0;  // SVG units (modules, quiet zone included)
  std::vector<bool> dark;
};

// The dark path's commands. Found with plain string search: libstdc++'s std::regex recurses
// once per repeated character, which overflows the stack on a path of several KiB (seen under
// AddressSanitizer, whose frames are larger).
constexpr std::string_view kDarkPathOpen = R"(<path fill="#000000" d=")";
constexpr std::string_view kSvgClose = R"("/></svg>)";

std::string dark_path(const std::string& svg) {
  const auto at = svg.find(kDarkPathOpen);
  EXPECT_NE(at, std::string::npos);
  if (at == std::string::npos) return {};
  const auto from = at + kDarkPathOpen.size();
  const auto to = svg.find('"', from);
  EXPECT_NE(to, std::string::npos);
  if (to == std::string::npos) return {};
  return svg.substr(from, to - from);
}

// Paints the SVG: its viewBox gives the size; the second path's subpaths "Mx yhWv1h-Wz" are
// filled rectangles (the first path is the white background).
Bitmap paint(const std::string& svg) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(svg, m, std::regex(R"re(viewBox="0 0 (\d+) (\d+)")re")));
  Bitmap b;
  b.size = std::stoi(m[1]);
  EXPECT_EQ(m[1], m[2]);
  b.dark.assign(static_cast<std::size_t>(b.size * b.size), false);
  const std::string d = dark_path(svg);
  const std::regex rect(R"re(M(\d+) (\d+)h(\d+)v1h-(\d+)z)re");
  std::size_t covered = 0;
  for (auto it = std::sregex_iterator(d.begin(), d.end(), rect); it != std::sregex_iterator();
       ++it) {
    const int x = std::stoi((*it)[1]), y = std::stoi((*it)[2]), w = std::stoi((*it)[3]);
    EXPECT_EQ((*it)[3], (*it)[4]);
    for (int i = 0; i < w; ++i) b.dark[static_cast<std::size_t>(y * b.size + x + i)] = true;
    covered += static_cast<std::size_t>(it->length());
  }
  EXPECT_EQ(covered, d.size()) << "the path holds only rectangles";
  return b;
}

std::string zbar_decode(const Bitmap& b) {
  char tmpl[] = "/tmp/sr-qr-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  EXPECT_GE(fd, 0);
  ::close(fd);
  const std::string path = std::string(tmpl) + ".pgm";
  std::filesystem::rename(tmpl, path);
  {
    std::ofstream f(path, std::ios::binary);
    const int px = b.size * kScale;
    f << "P5\n" << px << " " << px << "\n255\n";
    for (int y = 0; y < px; ++y)
      for (int x = 0; x < px; ++x)
        f.put(b.dark[static_cast<std::size_t>((y / kScale) * b.size + x / kScale)] ? '\0' : '\xff');
  }
  std::string out;
  FILE* p = ::popen(
      ("zbarimg --nodbus --quiet --raw -Sdisable -Sqrcode.enable " + path + " 2>&1").c_str(), "r");
  EXPECT_NE(p, nullptr) << "zbarimg (Debian zbar-tools) is needed: make deps";
  if (p) {
    std::array<char, 4096> buf{};
    std::size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    EXPECT_EQ(::pclose(p), 0) << out;
  }
  std::filesystem::remove(path);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TEST(TotpQr, AnIndependentReaderDecodesTheUri) {
  const std::string uri =
      otpauth_uri("strongroom", "alice_01", base32_encode(std::string(20, 'k')));
  EXPECT_EQ(zbar_decode(paint(qr_svg(uri))), uri);
}

TEST(TotpQr, QuietZoneAndCrispEdges) {
  const auto svg = qr_svg("otpauth://totp/strongroom:bob?secret=AAAA");
  EXPECT_NE(svg.find(R"re(shape-rendering="crispEdges")re"), std::string::npos);
  const auto b = paint(svg);
  // Four white modules on every side.
  for (int i = 0; i < b.size; ++i) {
    for (int q = 0; q < 4; ++q) {
      EXPECT_FALSE(b.dark[static_cast<std::size_t>(q * b.size + i)]);
      EXPECT_FALSE(b.dark[static_cast<std::size_t>((b.size - 1 - q) * b.size + i)]);
      EXPECT_FALSE(b.dark[static_cast<std::size_t>(i * b.size + q)]);
      EXPECT_FALSE(b.dark[static_cast<std::size_t>(i * b.size + b.size - 1 - q)]);
    }
  }
  // The finder pattern's corner module is dark (the symbol starts right after the quiet zone).
  EXPECT_TRUE(b.dark[static_cast<std::size_t>(4 * b.size + 4)]);
}

TEST(TotpQr, NoTextOfTheInputReachesTheSvg) {
  const std::string hostile = "<script>alert('x')</script>\"&amp;]]><!--";
  const auto svg = qr_svg(hostile);
  // Everything but the fixed template is numbers and path commands.
  // The fixed head up to the dark path, then only rectangles (paint() checks that the path is
  // nothing else), then the fixed tail.
  const std::regex head(
      R"re(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \d+ \d+" width="\d+" height="\d+" )re"
      R"re(shape-rendering="crispEdges"><path fill="#ffffff" d="M0 0h\d+v\d+H0z"/>)re"
      R"re(<path fill="#000000" d=")re");
  const auto d = dark_path(svg);
  ASSERT_FALSE(d.empty());
  const auto head_end = svg.find(kDarkPathOpen) + kDarkPathOpen.size();
  EXPECT_TRUE(std::regex_match(svg.substr(0, head_end), head));
  EXPECT_EQ(svg.substr(head_end + d.size()), kSvgClose);
  EXPECT_EQ(zbar_decode(paint(svg)), hostile);
}

TEST(TotpQr, UnencodableInputThrows) {
  EXPECT_THROW(qr_svg(""), std::runtime_error);
  EXPECT_THROW(qr_svg(std::string("a\0b", 3)), std::runtime_error);
  EXPECT_THROW(qr_svg(std::string(5000, 'x')), std::runtime_error);
}

}  // namespace
}  // namespace sr::auth::totp
