// escape_into() and Writer: the output half of the json module.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "json/json.hpp"

namespace sr::json {

namespace {

// 1 for bytes that cannot be copied as they are: C0 controls and '"', '\\' (which JSON requires
// escaped), and every non-ASCII byte (checked as UTF-8 before it is copied). Nothing else is
// escaped: DEL and U+2028/U+2029 are valid in a JSON string, and each escape JSON does not require
// only makes a response bigger (a notes field of 10,000 of them grew sixfold).
constexpr auto kSpecial = [] {
  struct Table {
    bool v[256] = {};
  } t;
  for (int c = 0; c < 0x20; ++c) t.v[c] = true;
  t.v[static_cast<unsigned char>('"')] = true;
  t.v[static_cast<unsigned char>('\\')] = true;
  for (int c = 0x80; c < 256; ++c) t.v[c] = true;
  return t;
}();

constexpr char kHex[] = "0123456789abcdef";

void append_u(std::string& out, unsigned cp) {
  char buf[6] = {
      '\\',          'u', kHex[(cp >> 12) & 0xF], kHex[(cp >> 8) & 0xF], kHex[(cp >> 4) & 0xF],
      kHex[cp & 0xF]};
  out.append(buf, 6);
}

// True when one of the 8 bytes at p is special (see kSpecial; in log mode DEL too), SWAR-style:
// plain text is skipped 8 bytes at a time.
template <bool Log>
inline bool has_special8(const unsigned char* p) noexcept {
  constexpr uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  uint64_t w;
  std::memcpy(&w, p, 8);
  auto has_zero = [](uint64_t v) { return (v - ones) & ~v & highs; };
  uint64_t special = (w & highs)                         // >= 0x80
                     | ((w - ones * 0x20) & ~w & highs)  // < 0x20
                     | has_zero(w ^ (ones * '"')) | has_zero(w ^ (ones * '\\'));
  if constexpr (Log) special |= has_zero(w ^ (ones * 0x7F));
  return special != 0;
}

bool cont(unsigned char c) noexcept {
  return (c & 0xC0) == 0x80;
}

// Length of the valid UTF-8 sequence starting at p (lead byte >= 0x80), 0 when invalid.
std::size_t utf8_seq(const unsigned char* p, std::size_t left) noexcept {
  unsigned char c = p[0];
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && cont(p[1]) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !cont(p[1]) || !cont(p[2])) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;  // overlong
    if (c == 0xED && p[1] > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !cont(p[1]) || !cont(p[2]) || !cont(p[3])) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;  // overlong
    if (c == 0xF4 && p[1] > 0x8F) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

// Log mode additionally escapes what a terminal or a line-oriented log viewer may act on: DEL, the
// C1 controls U+0080..U+009F (U+009B is CSI on some terminals) and U+2028/U+2029.
template <bool Log>
void escape_impl(std::string& out, std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    std::size_t run = i;
    while (run + 8 <= n && !has_special8<Log>(p + run)) run += 8;
    while (run < n && !kSpecial.v[p[run]] && !(Log && p[run] == 0x7F)) ++run;
    if (run != i) out.append(s.data() + i, run - i);
    i = run;
    if (i >= n) break;
    unsigned char c = p[i];
    if (c == '"') {
      out.append("\\\"", 2);
      ++i;
    } else if (c == '\\') {
      out.append("\\\\", 2);
      ++i;
    } else if (c < 0x20) {  // C0 control: the two-byte form where JSON has one
      switch (c) {
        case '\n':
          out.append("\\n", 2);
          break;
        case '\r':
          out.append("\\r", 2);
          break;
        case '\t':
          out.append("\\t", 2);
          break;
        case '\b':
          out.append("\\b", 2);
          break;
        case '\f':
          out.append("\\f", 2);
          break;
        default:
          append_u(out, c);
      }
      ++i;
    } else if (c == 0x7F) {  // only reached in log mode
      append_u(out, c);
      ++i;
    } else {
      std::size_t len = utf8_seq(p + i, n - i);
      if (len == 0) {
        out.append("\\ufffd", 6);  // never let a stray byte make the output invalid
        ++i;
      } else if (Log && len == 2 && c == 0xC2 && p[i + 1] < 0xA0) {
        append_u(out, p[i + 1]);  // C1 control
        i += 2;
      } else if (Log && len == 3 && c == 0xE2 && p[i + 1] == 0x80 &&
                 (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
        append_u(out, p[i + 2] == 0xA8 ? 0x2028 : 0x2029);
        i += 3;
      } else {
        out.append(s.data() + i, len);
        i += len;
      }
    }
  }
}

}  // namespace

void escape_into(std::string& out, std::string_view s) {
  escape_impl<false>(out, s);
}

void escape_log_into(std::string& out, std::string_view s) {
  escape_impl<true>(out, s);
}

// ---- Writer ----

void Writer::comma() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (first_.back())
      first_.back() = false;
    else
      out_.push_back(',');
  }
}

Writer& Writer::begin_object() {
  comma();
  out_.push_back('{');
  first_.push_back(true);
  return *this;
}

Writer& Writer::end_object() {
  out_.push_back('}');
  if (!first_.empty()) first_.pop_back();
  return *this;
}

Writer& Writer::begin_array() {
  comma();
  out_.push_back('[');
  first_.push_back(true);
  return *this;
}

Writer& Writer::end_array() {
  out_.push_back(']');
  if (!first_.empty()) first_.pop_back();
  return *this;
}

Writer& Writer::key(std::string_view k) {
  comma();
  out_.push_back('"');
  escape_into(out_, k);
  out_.append("\":", 2);
  after_key_ = true;
  return *this;
}

Writer& Writer::value(std::string_view v) {
  comma();
  out_.push_back('"');
  escape_into(out_, v);
  out_.push_back('"');
  return *this;
}

Writer& Writer::value(int64_t v) {
  comma();
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, r.ptr);
  return *this;
}

Writer& Writer::value(bool v) {
  comma();
  if (v)
    out_.append("true", 4);
  else
    out_.append("false", 5);
  return *this;
}

Writer& Writer::value(double v) {
  if (!std::isfinite(v)) return value(nullptr);  // JSON has no NaN or Infinity
  comma();
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  out_.append(buf, r.ptr);
  return *this;
}

Writer& Writer::value(std::nullptr_t) {
  comma();
  out_.append("null", 4);
  return *this;
}

Writer& Writer::raw(std::string_view json) {
  comma();
  out_.append(json);
  return *this;
}

}  // namespace sr::json
