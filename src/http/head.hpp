// Our own reader of the common request head: a complete, bodiless request already in the read
// buffer (a GET with a Bearer token, a health check, a DELETE). It reads the fields in place,
// where Beast's parser copies each one into a node of its field set; on a GET /personal/me it
// saved about a fifth of the server's instructions (docs/benchmarks.md, eighth round).
//
// It takes a head whole or not at all. Anything it does not take -- a body (Content-Length,
// Transfer-Encoding), a Connection value other than a bare "close" / "keep-alive", a version other
// than 1.0 / 1.1, a byte outside printable ASCII, a folded line, a head not yet complete or
// beyond its limits, anything malformed -- is left to Beast's parser, which reads the same bytes
// from the start and refuses or serves them exactly as before. So it never refuses anything, and
// it only takes heads that Beast reads the same way: fuzz_http_head checks that on every input
// (same method, target, version, fields in order, keep-alive, bytes consumed, no body).
#pragma once
#include <array>
#include <cstddef>
#include <string_view>
#include <utility>

#include "http/types.hpp"

namespace sr::http {

struct QuickHead {
  static constexpr std::size_t kMaxFields = 32;
  static constexpr std::size_t kMaxSize = 8192;

  Method method = Method::OTHER;
  std::string_view target;
  unsigned version = 11;    // 10 or 11
  bool keep_alive = false;  // as Beast's message::keep_alive() would say
  std::size_t size = 0;     // bytes of the head, its final empty line included
  std::size_t nfields = 0;
  // Names as sent, values without the optional white space around them; views into the bytes
  // given to parse_quick_head.
  std::array<std::pair<std::string_view, std::string_view>, kMaxFields> fields;

  // The value of the last (first) line of a field (names compare case-insensitively); empty if
  // absent.
  std::string_view last(std::string_view name) const noexcept;
  std::string_view first(std::string_view name) const noexcept;
  std::size_t count(std::string_view name) const noexcept;
};

// True when `in` starts with a head this reader takes whole, of at most min(limit - 1, kMaxSize)
// bytes; fills h. False leaves h unspecified.
bool parse_quick_head(std::string_view in, std::size_t limit, QuickHead& h) noexcept;

}  // namespace sr::http
