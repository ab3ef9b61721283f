// parse_request(): one pass of Boost.JSON's SAX parser (basic_parser) with our own handler. No DOM
// is built: the handler checks the shape of the body (one object, depth, duplicate keys) and
// validates each top-level value against its rule as it arrives, collecting every problem.
//
// Boost.JSON 1.81 already rejects invalid UTF-8 (overlongs, UTF-8-encoded surrogates, > U+10FFFF,
// stray bytes) and lone escaped surrogates ("\ud800"); the unit tests pin that down.
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <charconv>
#include <cstring>
#include <unordered_set>

#include "json/json.hpp"

namespace sr::json {

namespace bj = boost::json;

namespace {

constexpr int kMaxDepth = 32;
// Above this many keys in one object, duplicate detection switches from a linear scan to a hash
// set, so a 64 KiB body of tiny keys cannot make it quadratic.
constexpr std::size_t kLinearKeys = 16;

const char* type_message(Type t) noexcept {
  switch (t) {
    case Type::string:
      return "must be a string";
    case Type::integer:
      return "must be an integer";
    case Type::boolean:
      return "must be a boolean";
  }
  return "has the wrong type";
}

// below: the value is under min_int (else over max_int).
std::string int_bounds_message(const FieldRule& r, bool below) {
  constexpr int64_t lo = std::numeric_limits<int64_t>::min();
  constexpr int64_t hi = std::numeric_limits<int64_t>::max();
  if (r.min_int != lo && r.max_int != hi)
    return "must be between " + std::to_string(r.min_int) + " and " + std::to_string(r.max_int);
  if (below) return "must be at least " + std::to_string(r.min_int);
  return "must be at most " + std::to_string(r.max_int);
}

std::string chars(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " character" : " characters");
}

// The value is valid UTF-8 here (the parser guarantees it).
std::optional<std::string> check_string(const FieldRule& r, std::string_view v) {
  std::size_t cps = 0;
  bool bad_control = false;
  // Printable ASCII is counted 8 bytes at a time.
  std::size_t i = 0;
  constexpr uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  for (; i + 8 <= v.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, v.data() + i, 8);
    uint64_t del = w ^ (ones * 0x7F);
    if ((w & highs) | ((w - ones * 0x20) & ~w & highs) | ((del - ones) & ~del & highs)) break;
    cps += 8;
  }
  for (unsigned char c : v.substr(i)) {
    cps += (c & 0xC0) != 0x80;
    if (c < 0x20) {
      if (r.single_line || (c != '\t' && c != '\n' && c != '\r')) bad_control = true;
    } else if (c == 0x7F && r.single_line) {
      bad_control = true;
    }
  }
  if (bad_control) return std::string("must not contain control characters");
  if (cps < r.min_chars) {
    if (r.min_chars == 1) return std::string("must not be empty");
    return "must be at least " + chars(r.min_chars);
  }
  if (cps > r.max_chars) return "must be at most " + chars(r.max_chars);
  if (r.check) return r.check(v);
  return std::nullopt;
}

// Keys of one object, for duplicate detection.
class KeySet {
 public:
  void clear() {
    small_.clear();
    big_.clear();
  }
  // False when k was already there.
  bool insert(std::string_view k) {
    if (big_.empty()) {
      for (const auto& s : small_)
        if (s == k) return false;
      if (small_.size() < kLinearKeys) {
        small_.emplace_back(k);
        return true;
      }
      for (auto& s : small_) big_.insert(std::move(s));
      small_.clear();
    }
    return big_.emplace(k).second;
  }

 private:
  std::vector<std::string> small_;
  std::unordered_set<std::string> big_;
};

// One flag per rule, without a heap allocation for the usual schema.
class Flags {
 public:
  explicit Flags(std::size_t n) : p_(local_) {
    if (n > sizeof local_) {
      heap_.resize(n);
      p_ = heap_.data();
    } else {
      std::memset(local_, 0, sizeof local_);
    }
  }
  Flags(const Flags&) = delete;
  Flags& operator=(const Flags&) = delete;
  unsigned char& operator[](std::size_t i) noexcept { return p_[i]; }
  unsigned char operator[](std::size_t i) const noexcept { return p_[i]; }

 private:
  unsigned char local_[32];
  std::vector<unsigned char> heap_;
  unsigned char* p_;
};

class Handler {
 public:
  constexpr static std::size_t max_object_size = std::size_t(-1);
  constexpr static std::size_t max_array_size = std::size_t(-1);
  constexpr static std::size_t max_key_size = std::size_t(-1);
  constexpr static std::size_t max_string_size = std::size_t(-1);

  Handler(const Schema& schema, std::size_t body_size, Fields& out, FieldErrors& errors)
      : schema_(schema),
        out_(out),
        errors_(errors),
        body_size_(body_size),
        seen_(schema.rules().size()),
        present_(schema.rules().size()) {}
  ~Handler() {
    wipe_capacity(value_);
    wipe_capacity(key_);
  }
  Handler(const Handler&) = delete;
  Handler& operator=(const Handler&) = delete;

  const char* failure() const noexcept { return fail_; }
  bool present(std::size_t rule) const noexcept { return present_[rule]; }

  bool on_document_begin(bj::error_code&) { return true; }
  bool on_document_end(bj::error_code&) { return true; }

  bool on_object_begin(bj::error_code& ec) {
    if (depth_ == 1) field_wrong_type();
    if (!enter(ec)) return false;
    if (depth_ >= 2) {
      if (key_sets_.size() < static_cast<std::size_t>(depth_ - 1)) key_sets_.resize(depth_ - 1);
      key_sets_[depth_ - 2].clear();
    }
    return true;
  }
  bool on_object_end(std::size_t, bj::error_code&) {
    --depth_;
    return true;
  }
  bool on_array_begin(bj::error_code& ec) {
    if (depth_ == 0) return fail(ec, "Request body must be a JSON object");
    if (depth_ == 1) field_wrong_type();
    return enter(ec);
  }
  bool on_array_end(std::size_t, bj::error_code&) {
    --depth_;
    return true;
  }

  // Keys and values without escapes arrive whole, as views into the body: they are used in
  // place. Only escaped ones come in parts and are gathered in key_ / value_.
  bool on_key_part(bj::string_view s, std::size_t, bj::error_code&) {
    key_.append(s.data(), s.size());
    key_in_parts_ = true;
    return true;
  }
  bool on_key(bj::string_view s, std::size_t, bj::error_code& ec) {
    std::string_view k(s.data(), s.size());
    if (key_in_parts_) {
      key_.append(s.data(), s.size());
      k = key_;
    }
    bool ok = depth_ == 1 ? top_key(k, ec) : nested_key(k, ec);
    key_.clear();
    key_in_parts_ = false;
    return ok;
  }

  bool on_string_part(bj::string_view s, std::size_t, bj::error_code& ec) {
    if (depth_ == 0) return not_object(ec);
    if (depth_ == 1 && rule_ && rule_->type == Type::string) {
      // A value unescapes to at most as many bytes as the body: reserved once, the buffer never
      // reallocates, so no stray copy of a password is left behind in freed memory.
      if (value_.capacity() < body_size_) value_.reserve(body_size_);
      value_.append(s.data(), s.size());
      value_in_parts_ = true;
    }
    return true;
  }
  bool on_string(bj::string_view s, std::size_t, bj::error_code& ec) {
    if (depth_ == 0) return not_object(ec);
    if (depth_ != 1) return true;
    if (rule_) {
      if (rule_->type != Type::string) {
        field_wrong_type();
      } else {
        std::string_view v(s.data(), s.size());
        if (value_in_parts_) {
          value_.append(s.data(), s.size());
          v = value_;
        }
        if (auto msg = check_string(*rule_, v)) {
          add_error(std::move(*msg));
        } else {
          out_.set_string(rule_->name, std::string(v));
          mark_present();
        }
        wipe(value_);  // cheaper per value: bytes past size() were wiped after their own use
        value_in_parts_ = false;
      }
    }
    rule_ = nullptr;
    return true;
  }

  bool on_number_part(bj::string_view s, bj::error_code& ec) {
    if (depth_ == 0) return not_object(ec);
    note_number_text(s);
    return true;
  }
  bool on_int64(int64_t v, bj::string_view s, bj::error_code& ec) {
    if (depth_ == 0) return not_object(ec);
    note_number_text(s);
    if (depth_ == 1) integer_value(v, 0);
    number_done();
    return true;
  }
  bool on_uint64(uint64_t, bj::string_view s, bj::error_code& ec) {
    if (depth_ == 0) return not_object(ec);
    note_number_text(s);
    // Only called above INT64_MAX.
    if (depth_ == 1) integer_value(0, +1);
    number_done();
    return true;
  }
  bool on_double(double d, bj::string_view s, bj::error_code& ec) {
    if (depth_ == 0) return not_object(ec);
    note_number_text(s);
    if (depth_ == 1) {
      if (number_is_float_) {
        // 1.0 and 1e3 are not integers here: we accept only what we would write ourselves.
        field_wrong_type();
      } else {
        // An integer literal beyond the 64-bit range.
        integer_value(0, d < 0 ? -1 : +1);
      }
    }
    number_done();
    return true;
  }

  bool on_bool(bool b, bj::error_code& ec) {
    if (depth_ == 0) return not_object(ec);
    if (depth_ == 1 && rule_) {
      if (rule_->type != Type::boolean) {
        field_wrong_type();
      } else {
        out_.set_boolean(rule_->name, b);
        mark_present();
      }
      rule_ = nullptr;
    }
    return true;
  }
  bool on_null(bj::error_code& ec) {
    if (depth_ == 0) return not_object(ec);
    if (depth_ == 1 && rule_) {
      if (!rule_->nullable) field_wrong_type();
      // else: explicit null reads as absent.
      rule_ = nullptr;
    }
    return true;
  }
  bool on_comment_part(bj::string_view, bj::error_code&) { return true; }
  bool on_comment(bj::string_view, bj::error_code&) { return true; }

 private:
  bool fail(bj::error_code& ec, const char* why) {
    fail_ = why;
    ec = bj::error::exception;  // any code: what matters is fail_
    return false;
  }
  bool not_object(bj::error_code& ec) { return fail(ec, "Request body must be a JSON object"); }
  bool enter(bj::error_code& ec) {
    if (++depth_ > kMaxDepth) return fail(ec, "Request body nests deeper than 32 levels");
    return true;
  }

  bool top_key(std::string_view key, bj::error_code& ec) {
    const auto& rules = schema_.rules();
    for (std::size_t i = 0; i < rules.size(); ++i) {
      if (rules[i].name == key) {
        if (seen_[i]) return fail(ec, "Request body has a duplicate key");
        seen_[i] = 1;
        rule_ = &rules[i];
        rule_index_ = i;
        return true;
      }
    }
    if (!unknown_keys_.insert(key)) return fail(ec, "Request body has a duplicate key");
    rule_ = nullptr;
    errors_.emplace_back(key, "unknown field");
    return true;
  }
  bool nested_key(std::string_view key, bj::error_code& ec) {
    if (!key_sets_[depth_ - 2].insert(key)) return fail(ec, "Request body has a duplicate key");
    return true;
  }

  void add_error(std::string msg) { errors_.emplace_back(rule_->name, std::move(msg)); }
  // Records "wrong type" for the current top-level field (if known), once.
  void field_wrong_type() {
    if (rule_) add_error(type_message(rule_->type));
    rule_ = nullptr;
  }
  void mark_present() { present_[rule_index_] = 1; }

  void note_number_text(bj::string_view s) {
    for (char c : s)
      if (c == '.' || c == 'e' || c == 'E') number_is_float_ = true;
  }
  void number_done() { number_is_float_ = false; }
  // overflow: 0 = v is the value; +1 above INT64_MAX; -1 below INT64_MIN.
  void integer_value(int64_t v, int overflow) {
    if (!rule_) return;
    if (rule_->type != Type::integer) return field_wrong_type();
    bool below = overflow < 0 || (overflow == 0 && v < rule_->min_int);
    bool above = overflow > 0 || (overflow == 0 && v > rule_->max_int);
    if (below || above) {
      add_error(int_bounds_message(*rule_, below));
    } else {
      out_.set_integer(rule_->name, v);
      mark_present();
    }
    rule_ = nullptr;
  }

  const Schema& schema_;
  Fields& out_;
  FieldErrors& errors_;
  std::size_t body_size_;
  Flags seen_;     // per rule: key met (duplicate detection)
  Flags present_;  // per rule: accepted non-null value
  KeySet unknown_keys_;
  std::vector<KeySet> key_sets_;  // objects nested at depth 2.. (index depth-2)
  std::string key_;
  std::string value_;
  bool key_in_parts_ = false;
  bool value_in_parts_ = false;
  const FieldRule* rule_ = nullptr;  // rule of the top-level value being read, null if unknown
  std::size_t rule_index_ = 0;
  int depth_ = 0;
  bool number_is_float_ = false;
  const char* fail_ = nullptr;
};

}  // namespace

FieldRule str(std::string name, std::size_t min_chars, std::size_t max_chars, bool required) {
  FieldRule r;
  r.name = std::move(name);
  r.type = Type::string;
  r.required = required;
  r.min_chars = min_chars;
  r.max_chars = max_chars;
  return r;
}

FieldRule integer(std::string name, int64_t min, int64_t max, bool required) {
  FieldRule r;
  r.name = std::move(name);
  r.type = Type::integer;
  r.required = required;
  r.min_int = min;
  r.max_int = max;
  return r;
}

FieldRule boolean(std::string name, bool required) {
  FieldRule r;
  r.name = std::move(name);
  r.type = Type::boolean;
  r.required = required;
  return r;
}

FieldRule with_check(FieldRule r, std::function<std::optional<std::string>(std::string_view)> check,
                     std::string doc, std::string pattern) {
  r.check = std::move(check);
  r.doc = std::move(doc);
  r.pattern = std::move(pattern);
  return r;
}

Fields parse_request(std::string_view body, const Schema& schema) {
  Fields fields;
  FieldErrors errors;
  const char* failure = nullptr;
  bool complete = false;
  {
    bj::parse_options opt;
    opt.max_depth = kMaxDepth + 1;  // our handler refuses depth 33 first, with its own message
    bj::basic_parser<Handler> p(opt, schema, body.size(), fields, errors);
    bj::error_code ec;
    std::size_t n = p.write_some(false, body.data(), body.size(), ec);
    failure = p.handler().failure();
    if (!failure) {
      if (body.empty() || ec == bj::error::incomplete) {
        failure = body.empty() ? "Request body is empty" : "Request body is truncated JSON";
      } else if (ec == bj::error::too_deep) {
        failure = "Request body nests deeper than 32 levels";
      } else if (ec) {
        failure = "Request body is not valid JSON (or not valid UTF-8)";
      } else if (n != body.size()) {
        failure = "Request body has data after the JSON object";
      }
    }
    complete = p.done();
    if (failure || !complete) {
      throw ApiError(ErrorCode::invalid_json, failure ? failure : "Request body is not valid JSON");
    }
    const auto& rules = schema.rules();
    for (std::size_t i = 0; i < rules.size(); ++i) {
      if (rules[i].required && !p.handler().present(i)) {
        // Not reported twice: a field with a bad value already has its message.
        bool listed = false;
        for (const auto& e : errors) listed = listed || e.first == rules[i].name;
        if (!listed) errors.emplace_back(rules[i].name, "is required");
      }
    }
  }
  if (!errors.empty()) throw ApiError(ErrorCode::validation_failed, "Validation failed", errors);
  return fields;
}

// ---- Fields ----

Fields::~Fields() {
  for (auto& it : items_) wipe_capacity(it.s);
}

Fields& Fields::operator=(Fields&& o) noexcept {
  if (this != &o) {
    for (auto& it : items_) wipe_capacity(it.s);
    items_ = std::move(o.items_);
    o.items_.clear();
  }
  return *this;
}

const Fields::Item* Fields::find(std::string_view name) const {
  for (const auto& it : items_)
    if (it.name == name) return &it;
  return nullptr;
}

std::optional<std::string_view> Fields::str(std::string_view name) const {
  const Item* it = find(name);
  if (!it || it->type != Type::string) return std::nullopt;
  return std::string_view(it->s);
}

std::optional<int64_t> Fields::integer(std::string_view name) const {
  const Item* it = find(name);
  if (!it || it->type != Type::integer) return std::nullopt;
  return it->i;
}

std::optional<bool> Fields::boolean(std::string_view name) const {
  const Item* it = find(name);
  if (!it || it->type != Type::boolean) return std::nullopt;
  return it->b;
}

bool Fields::has(std::string_view name) const {
  return find(name) != nullptr;
}

SecretString Fields::secret(std::string_view name) const {
  const Item* it = find(name);
  if (!it || it->type != Type::string) return SecretString();
  return SecretString::from_view(it->s);
}

namespace {
// Items move on reallocation; a short (SSO) string leaves its bytes in the old slot. Grow in
// place of the default doubling so that every old slot is wiped before it is freed.
template <class V>
void grow_wiping(V& items) {
  if (items.size() < items.capacity()) return;
  V bigger;
  bigger.reserve(items.empty() ? 8 : items.size() * 2);
  for (auto& it : items) {
    bigger.push_back(std::move(it));
    wipe_capacity(it.s);
  }
  items.swap(bigger);
}
}  // namespace

void Fields::set_string(std::string name, std::string value) {
  grow_wiping(items_);
  items_.push_back(Item{std::move(name), Type::string, std::move(value)});
  wipe_capacity(value);
}

void Fields::set_integer(std::string name, int64_t v) {
  grow_wiping(items_);
  items_.push_back(Item{std::move(name), Type::integer, {}, v});
}

void Fields::set_boolean(std::string name, bool v) {
  grow_wiping(items_);
  items_.push_back(Item{std::move(name), Type::boolean, {}, 0, v});
}

}  // namespace sr::json
