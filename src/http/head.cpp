#include "http/head.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "http/token.hpp"

namespace sr::http {

namespace {

// tchar as a table: a field name's bytes are the most looked at after its value's.
constexpr auto kTchar = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = is_tchar(static_cast<unsigned char>(c));
  return t;
}();

bool name_byte(char c) noexcept {
  return kTchar[static_cast<unsigned char>(c)];
}

// A byte this reader takes in a request target: printable ASCII but the space.
bool target_byte(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f;
}

// A byte this reader takes in a field value: printable ASCII or a horizontal tab.
bool value_byte(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 0x20 && u < 0x7f) || u == '\t';
}

// The first byte at or after p that is not a value byte (end if none).
const char* scan_value(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
  // 16 bytes at a time: bad = (signed byte < 0x20, which includes 0x80..0xff) or 0x7f, but not tab.
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i tab = _mm_set1_epi8('\t');
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i bad = _mm_andnot_si128(
        _mm_cmpeq_epi8(v, tab), _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del)));
    const int mask = _mm_movemask_epi8(bad);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (p < end && value_byte(*p)) ++p;
  return p;
}

struct MethodName {
  std::string_view text;  // with its trailing space
  Method method;
};
constexpr MethodName kMethods[] = {
    {"GET ", Method::GET},         {"HEAD ", Method::HEAD},   {"POST ", Method::POST},
    {"PUT ", Method::PUT},         {"PATCH ", Method::PATCH}, {"DELETE ", Method::DELETE_},
    {"OPTIONS ", Method::OPTIONS},
};

}  // namespace

std::string_view QuickHead::last(std::string_view name) const noexcept {
  std::string_view v;
  for (std::size_t i = 0; i < nfields; ++i)
    if (iequals_ascii(fields[i].first, name)) v = fields[i].second;
  return v;
}

std::string_view QuickHead::first(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < nfields; ++i)
    if (iequals_ascii(fields[i].first, name)) return fields[i].second;
  return {};
}

std::size_t QuickHead::count(std::string_view name) const noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < nfields; ++i) n += iequals_ascii(fields[i].first, name) ? 1 : 0;
  return n;
}

bool parse_quick_head(std::string_view in, std::size_t limit, QuickHead& h) noexcept {
  // The head must end within the limit, with a byte to spare (Beast's own count of its limit
  // must not be reached either).
  const std::size_t cap = std::min(limit > 0 ? limit - 1 : 0, QuickHead::kMaxSize);
  if (in.size() > cap) in = in.substr(0, cap);
  const char* p = in.data();
  const char* const end = p + in.size();

  // Request line: METHOD SP target SP HTTP/1.x CRLF
  h.method = Method::OTHER;
  for (const auto& m : kMethods) {
    if (in.substr(0, m.text.size()) == m.text) {
      h.method = m.method;
      p += m.text.size();
      break;
    }
  }
  if (h.method == Method::OTHER) return false;
  const char* t = p;
  while (p < end && target_byte(*p)) ++p;
  if (p == t || p == end || *p != ' ') return false;
  h.target = std::string_view(t, static_cast<std::size_t>(p - t));
  ++p;
  if (end - p < 10 || std::memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
      p[8] != '\r' || p[9] != '\n')
    return false;
  h.version = p[7] == '1' ? 11 : 10;
  p += 10;

  // Fields, up to the empty line.
  h.nfields = 0;
  int hosts = 0;
  int connections = 0;
  bool close = false;
  bool keep = false;
  for (;;) {
    if (end - p < 2) return false;
    if (p[0] == '\r') {
      if (p[1] != '\n') return false;
      p += 2;
      break;
    }
    const char* n = p;
    while (p < end && name_byte(*p)) ++p;
    if (p == n || p == end || *p != ':') return false;
    const std::string_view name(n, static_cast<std::size_t>(p - n));
    ++p;
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    const char* v = p;
    p = scan_value(p, end);
    // CRLF, and the next line must not start with white space (a folded line).
    if (end - p < 3 || p[0] != '\r' || p[1] != '\n' || p[2] == ' ' || p[2] == '\t') return false;
    const char* ve = p;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) --ve;
    p += 2;
    if (h.nfields == QuickHead::kMaxFields) return false;
    const std::string_view value(v, static_cast<std::size_t>(ve - v));
    h.fields[h.nfields++] = {name, value};
    // The fields that shape the message: what takes a body, or a connection option beyond the
    // two plain ones, is Beast's to read.
    switch (name.size()) {
      case 4:
        if (iequals_ascii(name, "host")) ++hosts;
        break;
      case 10:
        if (iequals_ascii(name, "connection")) {
          ++connections;
          if (iequals_ascii(value, "close"))
            close = true;
          else if (iequals_ascii(value, "keep-alive"))
            keep = true;
          else
            return false;
        }
        break;
      case 14:
        if (iequals_ascii(name, "content-length")) return false;
        break;
      case 16:
        if (iequals_ascii(name, "proxy-connection")) return false;
        break;
      case 17:
        if (iequals_ascii(name, "transfer-encoding")) return false;
        break;
      default:
        break;
    }
  }
  if (connections > 1) return false;
  // SPEC 14's framing rule (http/framing.hpp): one Host on HTTP/1.1, at most one on 1.0.
  if (h.version == 11 ? hosts != 1 : hosts > 1) return false;
  h.keep_alive = h.version == 11 ? !close : keep;
  h.size = static_cast<std::size_t>(p - in.data());
  return true;
}

}  // namespace sr::http
