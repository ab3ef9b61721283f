// fuzz_json_request: sr::json::parse_request() against the real schemas of signup, the vault entry
// (multi-line, nullable) and the personal profile (integers), checked against Boost.JSON's DOM
// parser as an independent oracle; and escape_into() / Writer round trips through Boost.JSON.
//
// Input: byte 0 selects the mode, the rest is the body (or the string to escape).
#include <boost/json.hpp>

#include <cmath>
#include <cstring>

#include "api/validation.hpp"
#include "fuzz_common.hpp"
#include "json/json.hpp"
#include "util/error.hpp"

namespace bj = boost::json;
using sr::fuzz::ref_utf8_length;
using sr::fuzz::ref_utf8_seq;

namespace {

sr::json::FieldRule with_check(sr::json::FieldRule r,
                               std::optional<std::string> (*fn)(std::string_view)) {
  r.check = fn;
  return r;
}

// As in src/api/routes.cpp (signup).
const sr::json::Schema& signup_schema() {
  static const sr::json::Schema s{
      with_check(sr::json::str("username", 3, 50, true), sr::api::check_username),
      with_check(sr::json::str("email", 3, 254, true), sr::api::check_email),
      sr::json::str("password", 1, 1024, true),
  };
  return s;
}

// As in src/api/routes.cpp (entry_body).
const sr::json::Schema& entry_schema() {
  static const sr::json::Schema s = [] {
    auto url = sr::json::str("url", 1, 2048, false);
    url.check = sr::api::check_url;
    url.nullable = true;
    auto notes = sr::json::str("notes", 0, 10000, false);
    notes.single_line = false;
    notes.nullable = true;
    return sr::json::Schema{sr::json::str("domain", 1, 255, true),
                            sr::json::str("account_name", 1, 255, true),
                            sr::json::str("pin_or_password", 1, 1024, true), url, notes};
  }();
  return s;
}

// As in src/api/routes.cpp (handbook_body), plus a boolean (signin's return_tokens).
const sr::json::Schema& personal_schema() {
  static const sr::json::Schema s = [] {
    auto name = sr::json::str("full_name", 0, 100, false);
    auto age = sr::json::integer("age", 13, 120, false);
    auto phone = sr::json::str("phone", 0, 20, false);
    phone.check = sr::api::check_phone;
    auto address = sr::json::str("address", 0, 255, false);
    auto bio = sr::json::str("bio", 0, 2000, false);
    bio.single_line = false;
    for (auto* r : {&name, &age, &phone, &address, &bio}) r->nullable = true;
    auto big = sr::json::integer("big", std::numeric_limits<int64_t>::min(),
                                 std::numeric_limits<int64_t>::max(), false);
    return sr::json::Schema{
        name, age, phone, address, bio, big, sr::json::boolean("return_tokens", false)};
  }();
  return s;
}

bool has_bad_control(std::string_view v, bool single_line) {
  for (unsigned char c : v) {
    if (c == 0) return true;
    if (c < 0x20 && (single_line || (c != '\t' && c != '\n' && c != '\r'))) return true;
    if (c == 0x7F && single_line) return true;
  }
  return false;
}

std::optional<bj::value> dom(std::string_view body) {
  bj::parse_options opt;
  opt.max_depth = 64;  // we decide on depth ourselves
  bj::error_code ec;
  bj::value v = bj::parse(bj::string_view(body.data(), body.size()), ec, {}, opt);
  if (ec) return std::nullopt;
  return v;
}

// The oracle: what Boost.JSON sees must agree with what parse_request accepted.
void check_accepted(std::string_view body, const sr::json::Schema& schema,
                    const sr::json::Fields& f) {
  auto v = dom(body);
  FUZZ_CHECK(v.has_value());  // never accept what a strict parser refuses
  FUZZ_CHECK(v->is_object());
  const bj::object& o = v->as_object();
  for (const auto& kv : o) {  // no unknown field
    bool known = false;
    for (const auto& r : schema.rules()) known = known || r.name == std::string_view(kv.key());
    FUZZ_CHECK(known);
  }
  for (const auto& r : schema.rules()) {
    const bj::value* x = o.if_contains(r.name);
    if (!x || x->is_null()) {
      FUZZ_CHECK(!r.required);
      FUZZ_CHECK(!x || r.nullable);
      FUZZ_CHECK(!f.has(r.name));
      continue;
    }
    FUZZ_CHECK(f.has(r.name));
    switch (r.type) {
      case sr::json::Type::string: {
        FUZZ_CHECK(x->is_string());
        std::string_view got = *f.str(r.name);
        const bj::string& want = x->as_string();
        FUZZ_CHECK(got == std::string_view(want.data(), want.size()));
        long cps = ref_utf8_length(got);
        FUZZ_CHECK(cps >= 0);
        FUZZ_CHECK(static_cast<size_t>(cps) >= r.min_chars &&
                   static_cast<size_t>(cps) <= r.max_chars);
        FUZZ_CHECK(!has_bad_control(got, r.single_line));
        if (r.check) FUZZ_CHECK(!r.check(got).has_value());
        break;
      }
      case sr::json::Type::integer: {
        FUZZ_CHECK(x->is_int64() || (x->is_uint64() && x->as_uint64() <= INT64_MAX));
        int64_t want = x->is_int64() ? x->as_int64() : static_cast<int64_t>(x->as_uint64());
        FUZZ_CHECK(*f.integer(r.name) == want);
        FUZZ_CHECK(want >= r.min_int && want <= r.max_int);
        break;
      }
      case sr::json::Type::boolean:
        FUZZ_CHECK(x->is_bool());
        FUZZ_CHECK(*f.boolean(r.name) == x->as_bool());
        break;
    }
  }
}

void run_parse(std::string_view body, const sr::json::Schema& schema) {
  try {
    sr::json::Fields f = sr::json::parse_request(body, schema);
    check_accepted(body, schema, f);
  } catch (const sr::ApiError& e) {
    if (e.code() == sr::ErrorCode::validation_failed) {
      // Field errors only for a body that is valid JSON: a JSON object, with a reason given.
      auto v = dom(body);
      FUZZ_CHECK(v.has_value() && v->is_object());
      FUZZ_CHECK(!e.fields().empty());
    } else {
      FUZZ_CHECK(e.code() == sr::ErrorCode::invalid_json);
      FUZZ_CHECK(e.fields().empty());
    }
  }
  // Any other exception escapes and libFuzzer reports it (parse_request throws only ApiError).
}

// What escape_into must produce, decoded: the input with every byte that does not start a valid
// UTF-8 sequence replaced by U+FFFD.
std::string expected_unescaped(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t len = ref_utf8_seq(s, i);
    if (!len) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

// escape_into (log = false) or escape_log_into (log = true) round-trips through Boost.JSON.
void run_escape(std::string_view s, bool log) {
  std::string esc;
  if (log)
    sr::json::escape_log_into(esc, s);
  else
    sr::json::escape_into(esc, s);
  // Nothing raw that could break JSON itself; in log mode nothing a terminal or a line-oriented
  // viewer acts on either (DEL, C1 controls, U+2028/U+2029).
  for (size_t i = 0; i < esc.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(esc[i]);
    FUZZ_CHECK(c >= 0x20);
    if (!log) continue;
    FUZZ_CHECK(c != 0x7F);
    if (c == 0xC2 && i + 1 < esc.size()) FUZZ_CHECK(static_cast<unsigned char>(esc[i + 1]) >= 0xA0);
    if (c == 0xE2 && i + 2 < esc.size())
      FUZZ_CHECK(!(esc[i + 1] == '\x80' && (esc[i + 2] == '\xA8' || esc[i + 2] == '\xA9')));
  }
  FUZZ_CHECK(ref_utf8_length(esc) >= 0);
  std::string quoted = "\"" + esc + "\"";
  auto v = dom(quoted);
  FUZZ_CHECK(v.has_value() && v->is_string());
  const bj::string& got = v->as_string();
  std::string_view g(got.data(), got.size());
  if (ref_utf8_length(s) >= 0)
    FUZZ_CHECK(g == s);  // valid UTF-8: exactly the same bytes
  else
    FUZZ_CHECK(g == expected_unescaped(s));
}

void run_writer(FuzzedDataProvider& fdp) {
  std::string k = fdp.ConsumeRandomLengthString(64);
  std::string s = fdp.ConsumeRandomLengthString(512);
  int64_t i = fdp.ConsumeIntegral<int64_t>();
  bool b = fdp.ConsumeBool();
  double d;
  uint64_t bits = fdp.ConsumeIntegral<uint64_t>();
  std::memcpy(&d, &bits, sizeof d);
  std::optional<std::string> opt;
  if (fdp.ConsumeBool()) opt = s;

  sr::json::Writer w;
  w.begin_object()
      .kv("s", s)
      .kv("i", i)
      .kv("b", b)
      .kv("d", d)
      .kv("n", nullptr)
      .kv("opt", opt)
      .key("a")
      .begin_array()
      .value(s)
      .value(i)
      .begin_object()
      .end_object()
      .begin_array()
      .end_array()
      .end_array()
      .key("o")
      .begin_object()
      .kv(k, s)
      .end_object()
      .end_object();
  std::string out = w.take();
  auto v = dom(out);
  FUZZ_CHECK(v.has_value() && v->is_object());
  const bj::object& o = v->as_object();
  const std::string want_s = ref_utf8_length(s) >= 0 ? s : expected_unescaped(s);
  const std::string want_k = ref_utf8_length(k) >= 0 ? k : expected_unescaped(k);
  auto str_eq = [](const bj::value& x, std::string_view w) {
    return x.is_string() && std::string_view(x.as_string().data(), x.as_string().size()) == w;
  };
  FUZZ_CHECK(o.size() == 8);
  FUZZ_CHECK(str_eq(o.at("s"), want_s));
  FUZZ_CHECK(o.at("i").is_int64() && o.at("i").as_int64() == i);
  FUZZ_CHECK(o.at("b").is_bool() && o.at("b").as_bool() == b);
  FUZZ_CHECK(o.at("n").is_null());
  FUZZ_CHECK(opt ? str_eq(o.at("opt"), want_s) : o.at("opt").is_null());
  const bj::value& dv = o.at("d");
  if (!std::isfinite(d)) {
    FUZZ_CHECK(dv.is_null());
  } else {
    FUZZ_CHECK(dv.is_number());
    double got = dv.to_number<double>();
    if (std::fabs(d) > 1e-300 && std::fabs(d) < 1e300)
      FUZZ_CHECK(std::fabs(got - d) <= std::fabs(d) * 1e-14);
  }
  const bj::array& a = o.at("a").as_array();
  FUZZ_CHECK(a.size() == 4 && str_eq(a[0], want_s) && a[1].as_int64() == i);
  const bj::object& inner = o.at("o").as_object();
  FUZZ_CHECK(inner.size() == 1);
  FUZZ_CHECK(std::string_view(inner.begin()->key()) == want_k);
  FUZZ_CHECK(str_eq(inner.begin()->value(), want_s));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 70 * 1024) return 0;  // the server caps bodies at 64 KiB
  const uint8_t mode = data[0];
  std::string_view rest = sr::fuzz::as_view(data + 1, size - 1);
  switch (mode % 6) {
    case 0:
      run_parse(rest, signup_schema());
      break;
    case 1:
      run_parse(rest, entry_schema());
      break;
    case 2:
      run_parse(rest, personal_schema());
      break;
    case 3:
      run_escape(rest, false);
      run_escape(rest, true);
      break;
    case 4: {
      FuzzedDataProvider fdp(data + 1, size - 1);
      run_writer(fdp);
      break;
    }
    case 5:  // the same body against all three schemas
      run_parse(rest, signup_schema());
      run_parse(rest, entry_schema());
      run_parse(rest, personal_schema());
      break;
  }
  return 0;
}
