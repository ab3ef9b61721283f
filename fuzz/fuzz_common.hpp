// Shared helpers of the libFuzzer harnesses (see docs/fuzzing.md).
#pragma once
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

// An invariant of the code under test: a violation aborts, so libFuzzer records a crash (with the
// input) exactly like a sanitizer report. Always on (independent of NDEBUG).
#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace sr::fuzz {

inline std::string_view as_view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// True when `inner` is a view into `outer` (or empty).
inline bool within(std::string_view outer, std::string_view inner) {
  if (inner.empty()) return true;
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

// Reference UTF-8 decoder, written independently of src/util/utf8.cpp: decodes one code point at
// s[i] the long way (value first, validity after). Returns the sequence length, 0 when invalid.
inline size_t ref_utf8_seq(std::string_view s, size_t i, uint32_t* cp_out = nullptr) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t len;
  uint32_t cp;
  if (c < 0x80) {
    len = 1, cp = c;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len]) return 0;                // overlong
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;  // surrogate
  if (cp > 0x10FFFF) return 0;                 // beyond Unicode
  if (cp_out) *cp_out = cp;
  return len;
}

// Code points of valid UTF-8, or -1.
inline long ref_utf8_length(std::string_view s) {
  long n = 0;
  for (size_t i = 0; i < s.size();) {
    size_t len = ref_utf8_seq(s, i);
    if (!len) return -1;
    i += len;
    ++n;
  }
  return n;
}

}  // namespace sr::fuzz
