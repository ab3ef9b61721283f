// Strict JSON for request bodies and a fast writer for responses.
//
// Requests: every body of this API is one flat JSON object whose values are strings, integers,
// booleans or null. parse_request() enforces SPEC section 2 in one pass (no DOM):
//   - invalid JSON / invalid UTF-8 / top level not an object / nesting deeper than 32 /
//     duplicate keys (at any depth)                      -> ApiError(invalid_json)
//   - unknown field, missing required field, wrong type, too short/long (Unicode code points),
//     control characters in a single-line field, NUL anywhere, failed custom check
//                                                          -> ApiError(validation_failed,
//                                                          fields{...})
//     listing every problem at once.
// Fields owns copies of the accepted values and wipes them (sodium_memzero) on destruction, since
// passwords pass through here.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.hpp"
#include "util/secret.hpp"

namespace sr::json {

enum class Type { string, integer, boolean };

struct FieldRule {
  std::string name;
  Type type = Type::string;
  bool required = false;      // absent -> "is required"
  bool nullable = false;      // explicit null accepted (reads as absent); else null -> wrong type
  std::size_t min_chars = 0;  // strings: code points
  std::size_t max_chars = std::numeric_limits<std::size_t>::max();
  bool single_line = true;  // true: any C0 control or DEL rejected; false: only NUL (and other C0
                            // controls except \t \n \r) rejected
  int64_t min_int = std::numeric_limits<int64_t>::min();  // integers: inclusive bounds
  int64_t max_int = std::numeric_limits<int64_t>::max();
  // Extra check on a string value; returns the message for `fields` when the value is bad.
  std::function<std::optional<std::string>(std::string_view)> check;
  // For the API description only, never used to validate: what the value must be beyond its type
  // and bounds, in words (checked by `check`, or by the service that takes it), and an ECMA-262
  // pattern that says the same when there is one.
  std::string doc;
  std::string pattern;
};

// Convenience builders, e.g. str("username", 3, 50, true), integer("age", 13, 120), boolean("x").
FieldRule str(std::string name, std::size_t min_chars, std::size_t max_chars, bool required);
FieldRule integer(std::string name, int64_t min, int64_t max, bool required);
FieldRule boolean(std::string name, bool required);
// r with a check, described in words (and as a pattern when one says the same) for the docs.
FieldRule with_check(FieldRule r, std::function<std::optional<std::string>(std::string_view)> check,
                     std::string doc, std::string pattern = {});

class Schema {
 public:
  Schema(std::initializer_list<FieldRule> rules) : rules_(rules) {}
  const std::vector<FieldRule>& rules() const noexcept { return rules_; }

 private:
  std::vector<FieldRule> rules_;
};

class Fields {
 public:
  Fields() = default;
  Fields(Fields&&) noexcept = default;
  Fields& operator=(Fields&&) noexcept;  // wipes the values it replaces
  ~Fields();
  // Present (and not null) values. str() views stay valid while this Fields lives.
  std::optional<std::string_view> str(std::string_view name) const;
  std::optional<int64_t> integer(std::string_view name) const;
  std::optional<bool> boolean(std::string_view name) const;
  bool has(std::string_view name) const;  // present and not null
  // Copies a string value into a self-wiping secret (empty when absent).
  SecretString secret(std::string_view name) const;

  // Used by the parser.
  void set_string(std::string name, std::string value);
  void set_integer(std::string name, int64_t v);
  void set_boolean(std::string name, bool v);

 private:
  struct Item {
    std::string name;
    Type type;
    std::string s;
    int64_t i = 0;
    bool b = false;
  };
  const Item* find(std::string_view name) const;
  std::vector<Item> items_;
};

// Parses and validates a request body against the schema (see the top of this file).
Fields parse_request(std::string_view body, const Schema& schema);

// Escapes a string for inclusion in JSON (quotes not added): '"', '\\' and the C0 controls (\n, \t
// ... or \u00XX), nothing JSON does not require; invalid UTF-8 bytes become \ufffd, so the output
// is always valid JSON and a user string can never break out of its string.
void escape_into(std::string& out, std::string_view s);
// The same for log lines, which also escape DEL, the C1 controls and U+2028/U+2029 (terminals and
// line-oriented log viewers may act on them).
void escape_log_into(std::string& out, std::string_view s);

// A streaming writer; commas are handled for you.
//   Writer w; w.begin_object().kv("id", 3).kv("name", s).key("links").begin_array()...;
//   std::string body = w.take();
class Writer {
 public:
  Writer() { out_.reserve(256); }
  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  Writer& key(std::string_view k);
  Writer& value(std::string_view v);
  Writer& value(const char* v) { return value(std::string_view(v)); }
  Writer& value(const std::string& v) { return value(std::string_view(v)); }
  Writer& value(int64_t v);
  Writer& value(int v) { return value(static_cast<int64_t>(v)); }
  Writer& value(bool v);
  Writer& value(double v);
  Writer& value(std::nullptr_t);
  template <class T>
  Writer& value(const std::optional<T>& v) {
    if (v) return value(*v);
    return value(nullptr);
  }
  // Inserts already-serialized JSON as a value.
  Writer& raw(std::string_view json);
  template <class T>
  Writer& kv(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }
  const std::string& str() const noexcept { return out_; }
  std::string take() noexcept { return std::move(out_); }

 private:
  void comma();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace sr::json
