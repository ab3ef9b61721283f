// Values that passed through parse_request() must not be left in freed heap memory.
//
// This binary replaces the global operator new/delete: while `g_scan` is on, every block is
// searched for the markers just before it is freed. Only heap memory is covered (the parser's
// stack buffers are not observable portably).
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "json/json.hpp"

namespace {
std::atomic<bool> g_scan{false};
std::atomic<int> g_leaks{0};
// Searched for inside the values "Long-S3cr3t-Marker-Pw" and "Pw0123x": a moved-from or cleared
// std::string keeps its bytes except the first, which becomes the terminating NUL.
const char* const kMarkers[] = {"S3cr3t-Marker", "w0123x"};

bool contains(const char* p, std::size_t n, const char* m) {
  std::size_t len = std::strlen(m);
  if (n < len) return false;
  for (std::size_t i = 0; i + len <= n; ++i)
    if (p[i] == m[0] && std::memcmp(p + i, m, len) == 0) return true;
  return false;
}

void check_block(void* p) {
  if (!p || !g_scan.load(std::memory_order_relaxed)) return;
  std::size_t n = malloc_usable_size(p);
  for (const char* m : kMarkers)
    if (contains(static_cast<const char*>(p), n, m)) g_leaks.fetch_add(1);
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  check_block(p);
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  check_block(p);
  std::free(p);
}

namespace sr::json {
namespace {

// The scanner itself must be able to see a leak, or the tests below prove nothing.
TEST(Wipe, ScannerDetectsAnUnwipedBlock) {
  g_leaks = 0;
  auto* s = new std::string("xx Long-S3cr3t-Marker-Pw yy");
  g_scan = true;
  delete s;  // the std::string's heap buffer is freed with the marker in it
  g_scan = false;
  EXPECT_GE(g_leaks.load(), 1);
}

Schema schema() {
  FieldRule a = str("a", 0, 100, false);
  return Schema{str("long", 0, 100, true), str("short", 0, 100, true), a,
                str("b", 0, 100, false),   str("c", 0, 100, false),    str("d", 0, 100, false),
                str("e", 0, 100, false),   str("f", 0, 100, false)};
}

TEST(Wipe, AcceptedValuesAreWipedOnDestruction) {
  const Schema s = schema();
  // Many fields, so that the storage of Fields grows while values are added.
  const std::string body = R"({"long":"Long-S3cr3t-Marker-Pw","short":"Pw0123x",)"
                           R"("a":"1","b":"2","c":"3","d":"4","e":"5","f":"6"})";
  g_leaks = 0;
  g_scan = true;
  {
    Fields f = parse_request(body, s);
    EXPECT_EQ(f.str("long"), "Long-S3cr3t-Marker-Pw");
    EXPECT_EQ(f.str("short"), "Pw0123x");
    SecretString sec = f.secret("long");
    Fields moved(std::move(f));
    Fields target;
    target.set_string("x", "y");
    target = std::move(moved);
    Fields other = parse_request(body, s);
    other = std::move(target);  // replaces values holding the markers
  }
  g_scan = false;
  EXPECT_EQ(g_leaks.load(), 0);
}

TEST(Wipe, RejectedValuesAreWipedToo) {
  const Schema s = schema();
  // "short" is fine, but the body fails validation afterwards (unknown field).
  const std::string body = R"({"long":"Long-S3cr3t-Marker-Pw","short":"Pw0123x","zz":1})";
  g_leaks = 0;
  g_scan = true;
  EXPECT_THROW(parse_request(body, s), ApiError);
  g_scan = false;
  EXPECT_EQ(g_leaks.load(), 0);
}

TEST(Wipe, EscapedValuesAreWiped) {
  const Schema s = schema();
  // Escapes make Boost.JSON deliver the value in parts through our buffer.
  const std::string body = R"({"long":"Long-S3cr3t-Marker-Pw\n","short":"Pw0123x\u0041"})";
  const std::string ok = R"({"long":"Long-S3cr3t-Marker-Pw\u0041","short":"\u0050w0123x"})";
  g_leaks = 0;
  g_scan = true;
  EXPECT_THROW(parse_request(body, s), ApiError);  // \n in a single-line field
  {
    Fields f = parse_request(ok, s);
    EXPECT_EQ(f.str("long"), "Long-S3cr3t-Marker-PwA");
    EXPECT_EQ(f.str("short"), "Pw0123x");
  }
  g_scan = false;
  EXPECT_EQ(g_leaks.load(), 0);
}

TEST(Wipe, ParserBufferIsWiped) {
  // One value only: nothing overwrites the parser's buffer after it.
  const Schema s{str("long", 0, 100, true)};
  const std::string ok = R"({"long":"Long-S3cr3t-Marker-Pw"})";
  const std::string bad = R"({"long":"Long-S3cr3t-Marker-Pw"} trailing)";
  g_leaks = 0;
  g_scan = true;
  { Fields f = parse_request(ok, s); }
  EXPECT_THROW(parse_request(bad, s), ApiError);
  g_scan = false;
  EXPECT_EQ(g_leaks.load(), 0);
}

TEST(Wipe, GrowingFieldsWipesOldSlots) {
  g_leaks = 0;
  g_scan = true;
  {
    Fields f;
    f.set_string("short", "Pw0123x");  // short: stored inside the item itself (SSO)
    for (int i = 0; i < 40; ++i) f.set_integer(std::to_string(i), i);
    EXPECT_EQ(f.str("short"), "Pw0123x");
  }
  g_scan = false;
  EXPECT_EQ(g_leaks.load(), 0);
}

}  // namespace
}  // namespace sr::json
