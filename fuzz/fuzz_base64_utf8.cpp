// fuzz_base64_utf8: src/util/encoding.cpp and src/util/utf8.cpp.
//  - base64url / base64 / hex: decode is strict (canonical only), so decode -> encode gives the
//    input back; encode -> decode gives the bytes back.
//  - utf8_length / has_control_chars against a reference decoder written in fuzz_common.hpp.
#include "fuzz_common.hpp"
#include "util/encoding.hpp"
#include "util/utf8.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string_view s = sr::fuzz::as_view(data, size);

  // base64url, no padding (JWT, tokens).
  const std::string e = sr::base64url_encode(s);
  FUZZ_CHECK(e.size() == (size * 4 + 2) / 3);
  FUZZ_CHECK(
      e.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
      std::string::npos);
  auto d = sr::base64url_decode(e);
  FUZZ_CHECK(d && *d == s);
  if (auto d2 = sr::base64url_decode(s)) {
    FUZZ_CHECK(sr::base64url_encode(*d2) == s);  // canonical text only
    FUZZ_CHECK(s.size() % 4 != 1);
  }
  // Standard base64 with padding.
  const std::string e2 = sr::base64_encode(s);
  FUZZ_CHECK(e2.size() == (size + 2) / 3 * 4);
  auto d3 = sr::base64_decode(e2);
  FUZZ_CHECK(d3 && *d3 == s);
  if (auto d4 = sr::base64_decode(s)) FUZZ_CHECK(sr::base64_encode(*d4) == s);
  // Hex.
  const std::string h = sr::hex_encode(s);
  auto hd = sr::hex_decode(h);
  FUZZ_CHECK(hd && *hd == s);
  if (auto hd2 = sr::hex_decode(s)) {
    std::string lower(s);
    for (auto& c : lower)
      if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    FUZZ_CHECK(sr::hex_encode(*hd2) == lower);
  }

  // UTF-8.
  const auto n = sr::utf8_length(s);
  const long ref = sr::fuzz::ref_utf8_length(s);
  if (ref < 0) {
    FUZZ_CHECK(!n.has_value());
  } else {
    FUZZ_CHECK(n.has_value() && *n == static_cast<size_t>(ref));
  }
  bool ctl = false;
  for (unsigned char c : s) ctl = ctl || c < 0x20 || c == 0x7F;
  FUZZ_CHECK(sr::has_control_chars(s) == ctl);
  return 0;
}
