// fuzz_http_head: src/http/head.cpp's parse_quick_head, differentially against Boost.Beast.
//
// The server (http/server.cpp, serve_requests) reads a complete, bodiless request head with
// parse_quick_head and only falls back to Beast's request_parser when it returns false. So every
// head it takes must be one that Beast, configured as the server configures it (header_limit,
// body_limit 64 KiB, not eager for the header), reads identically: no error, header and message
// done (no body), the same number of bytes consumed, the same method, target, version,
// keep-alive, the same fields (names and values byte-equal; in the order Beast keeps them, which
// groups the lines of one name, each name's lines in wire order), framing_ok, and
// the same answers to last(name) / count(name) as the server's Beast path gives. When it returns
// false there is nothing to check: Beast reads the bytes from the start. A head it takes is also
// compared again at the tightest limit it is taken with (its size + 1), and must not be taken at
// its size.
//
// Input: the request bytes, read with the server's default header limit (16 KiB). If byte 0 is
// '!', bytes 1-2 are a header limit (big-endian, 0-65535) and the request starts at byte 3: this
// puts the limit boundary within reach of small inputs.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <utility>
#include <vector>

#include "fuzz_common.hpp"
#include "http/framing.hpp"
#include "http/head.hpp"
#include "http/server.hpp"

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using sr::http::QuickHead;

namespace {

void print_escaped(const char* label, std::string_view s) {
  std::fprintf(stderr, "  %s (%zu): \"", label, s.size());
  for (unsigned char c : s) {
    if (c == '"' || c == '\\')
      std::fprintf(stderr, "\\%c", c);
    else if (c >= 0x20 && c < 0x7f)
      std::fputc(c, stderr);
    else
      std::fprintf(stderr, "\\x%02x", c);
  }
  std::fprintf(stderr, "\"\n");
}

// FUZZ_CHECK(a == b) for two strings, printing both first when they differ.
#define SAME(what, quick, beast_)                                      \
  do {                                                                 \
    const std::string_view q_ = (quick), b_ = (beast_);                \
    if (q_ != b_) {                                                    \
      std::fprintf(stderr, "quick head and Beast differ: %s\n", what); \
      print_escaped("quick", q_);                                      \
      print_escaped("beast", b_);                                      \
    }                                                                  \
    FUZZ_CHECK(q_ == b_);                                              \
  } while (0)

// Names looked up whether present or not: the ones the server and handlers ask for.
constexpr std::string_view kProbeNames[] = {
    "Host",           "Connection",        "Cookie", "Authorization",   "X-Request-ID",
    "Content-Length", "Transfer-Encoding", "Origin", "X-Forwarded-For", "X-CSRF-TOKEN",
};

const sr::http::ServerOptions kOpts;  // the server's default limits (16 KiB / 64 KiB)

template <class Msg>
void check_lookup(const Msg& msg, const QuickHead& h, std::string_view name) {
  std::string_view last;
  for (auto [it, end] = msg.equal_range(name); it != end; ++it) last = it->value();
  SAME("last(name)", h.last(name), last);
  SAME("first(name)", h.first(name), msg[name]);  // the X-Request-ID rule of both paths
  FUZZ_CHECK(h.count(name) == msg.count(name));
}

// Everything parse_quick_head returned for `in` under `limit`, against Beast under that limit.
void compare(std::string_view in, std::size_t limit, const QuickHead& h) {
  // What parse_quick_head promises on its own.
  FUZZ_CHECK(h.size <= in.size());
  FUZZ_CHECK(h.size < limit);
  FUZZ_CHECK(h.size <= QuickHead::kMaxSize);
  FUZZ_CHECK(h.nfields <= QuickHead::kMaxFields);
  FUZZ_CHECK(h.version == 10 || h.version == 11);
  FUZZ_CHECK(h.method != sr::http::Method::OTHER);
  const std::string_view head = in.substr(0, h.size);
  FUZZ_CHECK(head.size() >= 4 && head.substr(head.size() - 4) == "\r\n\r\n");
  FUZZ_CHECK(sr::fuzz::within(head, h.target));
  for (std::size_t i = 0; i < h.nfields; ++i) {
    FUZZ_CHECK(sr::fuzz::within(head, h.fields[i].first));
    FUZZ_CHECK(sr::fuzz::within(head, h.fields[i].second));
  }

  // Beast over the same bytes, as the server would run it (parse_buffered_header).
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limit));
  parser.body_limit(kOpts.body_limit);
  parser.eager(false);
  beast::error_code ec;
  std::size_t used = 0;
  while (!parser.is_header_done()) {
    if (used == in.size()) {
      std::fprintf(stderr, "quick head took %zu bytes; Beast wants more after %zu\n", h.size, used);
      FUZZ_CHECK(false && "Beast needs more bytes");
    }
    const std::size_t k = parser.put(boost::asio::buffer(in.data() + used, in.size() - used), ec);
    used += k;
    if (ec == bhttp::error::need_more && k > 0) {
      ec = {};
      continue;
    }
    if (ec) std::fprintf(stderr, "Beast refused a quick head: %s\n", ec.message().c_str());
    FUZZ_CHECK(!ec);
    FUZZ_CHECK(k > 0);
  }
  FUZZ_CHECK(parser.is_done());  // no body
  if (used != h.size) std::fprintf(stderr, "bytes consumed: quick %zu, Beast %zu\n", h.size, used);
  FUZZ_CHECK(used == h.size);

  const auto& msg = parser.get();
  FUZZ_CHECK(sr::http::to_method(msg.method()) == h.method);
  SAME("target", h.target, msg.target());
  FUZZ_CHECK(msg.version() == h.version);
  FUZZ_CHECK(msg.keep_alive() == h.keep_alive);
  FUZZ_CHECK(msg.body().empty());
  FUZZ_CHECK(sr::http::framing_ok(msg, h.version));

  // Beast's field list is not in wire order: basic_fields::insert puts a line right after the
  // last earlier line of the same name (case-insensitive). The quick head's lines, in wire order,
  // are put in that order here, then compared with Beast's list line by line.
  std::vector<std::pair<std::string_view, std::string_view>> expected;
  for (std::size_t k = 0; k < h.nfields; ++k) {
    auto at = expected.end();
    for (auto it = expected.begin(); it != expected.end(); ++it)
      if (beast::iequals(it->first, h.fields[k].first)) at = it + 1;
    expected.insert(at, h.fields[k]);
  }
  std::size_t i = 0;
  for (const auto& f : msg) {
    if (i >= expected.size()) {
      std::fprintf(stderr, "Beast has more fields than the quick head's %zu\n", h.nfields);
      FUZZ_CHECK(i < expected.size());
    }
    SAME("field name", expected[i].first, f.name_string());
    SAME("field value", expected[i].second, f.value());
    ++i;
  }
  if (i != h.nfields) std::fprintf(stderr, "fields: quick %zu, Beast %zu\n", h.nfields, i);
  FUZZ_CHECK(i == h.nfields);

  // The server's lookups: the last line of a name, and how many lines it has.
  for (const auto& f : msg) check_lookup(msg, h, f.name_string());
  for (std::string_view name : kProbeNames) check_lookup(msg, h, name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 20000) return 0;
  std::string_view in = sr::fuzz::as_view(data, size);
  std::size_t limit = kOpts.header_limit;
  if (size >= 3 && data[0] == '!') {
    limit = (std::size_t{data[1]} << 8) | data[2];
    in.remove_prefix(3);
  }

  QuickHead h;
  if (!sr::http::parse_quick_head(in, limit, h)) return 0;
  compare(in, limit, h);

  // The same head at the tightest limit it is taken with (one byte to spare), where Beast's own
  // count of its limit is closest; one byte less and it is not taken.
  const std::size_t tight = h.size + 1;
  QuickHead t;
  FUZZ_CHECK(!sr::http::parse_quick_head(in, h.size, t));
  if (tight != limit) {
    FUZZ_CHECK(sr::http::parse_quick_head(in, tight, t));
    FUZZ_CHECK(t.size == h.size);
    compare(in, tight, t);
  }
  return 0;
}
